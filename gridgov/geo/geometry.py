"""Geometry helpers on GeoJSON dicts (WGS84): bounds, a representative centre, an area in m²."""

from __future__ import annotations

import math

import shapely
from shapely.geometry import mapping, shape

EARTH_RADIUS_M = 6_371_008.8


def geom_from_geojson(geojson: dict):
    return shape(geojson)


def geom_to_geojson(geom) -> dict:
    data = mapping(geom)
    # tuples -> lists, so the JSON stored is what json.loads would give back
    return _listify(data)


def _listify(value):
    if isinstance(value, (tuple, list)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


def area_m2(geom) -> float:
    """Area in square metres via a local equirectangular projection (good to <0.5 % at grid scale)."""
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(lat0)
    ky = math.radians(1) * EARTH_RADIUS_M
    projected = shapely.transform(geom, lambda xy: xy * [kx, ky])
    return float(projected.area)


def describe(geojson: dict) -> dict:
    """The derived columns of a grid: bounding box, centre (a point inside the polygon) and area."""
    geom = shape(geojson)
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    center = geom.representative_point()
    return {
        "min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat,
        "center_lon": center.x, "center_lat": center.y, "area_m2": round(area_m2(geom), 1),
    }
