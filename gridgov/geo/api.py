from ninja import Query, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from gridgov.core.schemas import ErrorOut
from gridgov.core.scope import prefix_q

from . import selectors
from .coords import to_wgs84
from .export import feature_collection
from .locator import locate
from .models import Grid
from .schemas import (
    AreaDetailOut,
    AreaOut,
    FeatureCollectionOut,
    GridDetailOut,
    GridOut,
    LocateOut,
    LocateQuery,
)

router = Router(tags=["geo"])
ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class AreaFilterQuery(Schema):
    level: str | None = None
    parent: str | None = None
    q: str | None = None


class GridFilterQuery(Schema):
    area: str | None = None
    kind: str | None = None
    q: str | None = None


@router.get("/locate", response={200: LocateOut, **ERRORS}, summary="Which grid holds a point")
def locate_point(request, query: Query[LocateQuery]):
    lon, lat = to_wgs84(query.lon, query.lat, query.coord_sys)
    hit = locate(lon, lat)
    if hit is None:
        return {"inside": False, "lon_wgs84": lon, "lat_wgs84": lat}
    grid = Grid.objects.select_related("community").filter(pk=hit.id).first()
    if grid is None:  # deleted a moment ago, before this process rebuilt its locator
        return {"inside": False, "lon_wgs84": lon, "lat_wgs84": lat}
    return {"inside": True, "lon_wgs84": lon, "lat_wgs84": lat, "grid": grid, "community": grid.community}


@router.get("/areas", response={200: list[AreaOut], **ERRORS}, summary="Areas in my scope")
@paginate(PageNumberPagination)
def area_list(request, filters: Query[AreaFilterQuery]):
    return selectors.area_list(user=request.auth, filters=filters.dict(exclude_none=True))


@router.get("/areas/{code}", response={200: AreaDetailOut, **ERRORS}, summary="One area")
def area_detail(request, code: str):
    return selectors.area_get(user=request.auth, code=code)


@router.get("/areas/{code}/geojson", response={200: FeatureCollectionOut, **ERRORS},
            summary="GeoJSON of an area, its sub-areas and grids")
def area_geojson(request, code: str):
    area = selectors.area_get(user=request.auth, code=code)
    areas = selectors.area_list(user=request.auth).filter(prefix_q("path", area.path))
    return feature_collection(areas=areas, grids=selectors.grids_under(user=request.auth, area=area))


@router.get("/grids", response={200: list[GridOut], **ERRORS}, summary="Grids in my scope")
@paginate(PageNumberPagination)
def grid_list(request, filters: Query[GridFilterQuery]):
    return selectors.grid_list(user=request.auth, filters=filters.dict(exclude_none=True))


@router.get("/grids/{code}", response={200: GridDetailOut, **ERRORS}, summary="One grid with its members")
def grid_detail(request, code: str):
    return selectors.grid_get(user=request.auth, code=code)


@router.get("/grids/{code}/geojson", response={200: FeatureCollectionOut, **ERRORS}, summary="GeoJSON of a grid")
def grid_geojson(request, code: str):
    grid = selectors.grid_get(user=request.auth, code=code)
    return feature_collection(areas=[], grids=Grid.objects.filter(pk=grid.pk))

