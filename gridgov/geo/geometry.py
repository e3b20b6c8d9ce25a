"""Geometry helpers on GeoJSON dicts (WGS84): bounds, a representative centre, an area in m²."""

from __future__ import annotations

import math

import numpy as np
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


def describe_many(geoms: list) -> list[dict]:
    """The derived columns of many grids at once: bounding box, centre (a point inside) and area in m²."""
    array = np.array(geoms, dtype=object)
    bounds = shapely.bounds(array)
    centers = shapely.get_coordinates(shapely.point_on_surface(array))  # = representative_point()
    lat0 = np.radians(shapely.get_coordinates(shapely.centroid(array))[:, 1])
    k = math.radians(1) * EARTH_RADIUS_M
    areas = shapely.area(array) * k * k * np.cos(lat0)  # the local equirectangular projection of area_m2()
    return [{"min_lon": float(b[0]), "min_lat": float(b[1]), "max_lon": float(b[2]), "max_lat": float(b[3]),
             "center_lon": float(c[0]), "center_lat": float(c[1]), "area_m2": round(float(a), 1)}
            for b, c, a in zip(bounds, centers, areas, strict=True)]


def describe(geojson: dict) -> dict:
    """The derived columns of one grid (see describe_many)."""
    return describe_many([shape(geojson)])[0]
