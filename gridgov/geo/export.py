"""GeoJSON export of an area: its boundary, the areas below it and their grids, in the import format."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Area, Grid


def area_feature(area: Area) -> dict:
    return {
        "type": "Feature",
        "geometry": area.geometry,
        "properties": {
            "level": area.level, "code": area.code, "name": area.name,
            "parent": area.parent.code if area.parent_id else None,
        },
    }


def grid_feature(grid: Grid, *, community_code: str | None = None) -> dict:
    return {
        "type": "Feature",
        "id": grid.code,
        "geometry": grid.geometry,
        "properties": {
            "level": "grid", "code": grid.code, "name": grid.name, "kind": grid.kind,
            "parent": community_code or grid.community.code, "area_m2": grid.area_m2,
        },
    }


def feature_collection(*, areas: QuerySet[Area] | list[Area], grids: QuerySet[Grid]) -> dict:
    features = [area_feature(a) for a in areas]
    codes = dict(Area.objects.filter(level="community", pk__in=grids.values("community_id"))
                 .values_list("pk", "code"))
    features += [grid_feature(g, community_code=codes.get(g.community_id))
                 for g in grids.defer("created_by", "updated_by").iterator(chunk_size=2000)]
    return {"type": "FeatureCollection", "features": features}
