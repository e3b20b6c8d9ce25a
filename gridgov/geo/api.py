from typing import Annotated, Literal

from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gridgov.core.errors import Forbidden, InvalidInput
from gridgov.core.pagination import Pagination, ordered
from gridgov.core.schemas import ErrorOut
from gridgov.core.scope import prefix_q

from . import selectors
from .coords import to_wgs84
from .export import feature_collection
from .geojson_import import geojson_import
from .locator import locate
from .models import Grid
from .schemas import (
    AreaDetailOut,
    AreaOut,
    FeatureCollectionOut,
    GeoImportForm,
    GeoImportOut,
    GridDetailOut,
    GridOut,
    LocateOut,
    LocateQuery,
    SearchOut,
    SearchQuery,
)
from .views_import import GeoJSONUploadForm

router = Router(tags=["geo"])
ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class AreaFilterQuery(Schema):
    level: str | None = None
    parent: str | None = None
    q: str | None = None
    ordering: Literal["code", "-code", "name", "-name", "level", "-level"] | None = Field(
        None, description="default: the tree order (by path)")


class GridFilterQuery(Schema):
    area: str | None = None
    kind: str | None = None
    q: str | None = None
    ordering: Literal["code", "-code", "name", "-name"] | None = Field(None, description="default: by code")


AREA_ORDER = {"code": "code", "name": "name", "level": "depth"}
GRID_ORDER = {"code": "code", "name": "name"}


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
@paginate(Pagination)
def area_list(request, filters: Query[AreaFilterQuery]):
    areas = selectors.area_list(user=request.auth, filters=filters.dict(exclude_none=True, exclude={"ordering"}))
    return ordered(areas, filters.ordering, AREA_ORDER)


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
@paginate(Pagination)
def grid_list(request, filters: Query[GridFilterQuery]):
    grids = selectors.grid_list(user=request.auth, filters=filters.dict(exclude_none=True, exclude={"ordering"}))
    return ordered(grids, filters.ordering, GRID_ORDER)


@router.get("/grids/{code}", response={200: GridDetailOut, **ERRORS}, summary="One grid with its members")
def grid_detail(request, code: str):
    return selectors.grid_get(user=request.auth, code=code)


@router.get("/grids/{code}/geojson", response={200: FeatureCollectionOut, **ERRORS}, summary="GeoJSON of a grid")
def grid_geojson(request, code: str):
    grid = selectors.grid_get(user=request.auth, code=code)
    return feature_collection(areas=[], grids=Grid.objects.filter(pk=grid.pk))



@router.get("/search", response={200: SearchOut, **ERRORS}, summary="Areas, grids and addresses matching a text",
            description="One search over the geography in your scope: areas and grids by code prefix or part of "
                        "the name (as `GET /geo/areas?q=` and `GET /geo/grids?q=`), standard addresses by part "
                        "of the full address (as `GET /residents/addresses?q=`); at most `limit` of each. A blank "
                        "`q` is a 422 naming `q`.")
def search(request, query: Query[SearchQuery]):
    return selectors.geo_search(user=request.auth, q=query.q, limit=query.limit)


GeoJSONFile = Annotated[UploadedFile, File(
    ..., description="A GeoJSON FeatureCollection in the export format (docs/geo.md), at most 200 MB")]


@router.post("/import", response={200: GeoImportOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Import areas and grids from GeoJSON (administrators; multipart/form-data)",
             description="As the web UI's import page: the whole file is checked against itself and the database "
                         "first; any problem refuses it with a 422 `geojson_invalid` whose `details` list every "
                         "problem as `{feature, code, kind, message}` (`feature` the 1-based index in `features`, "
                         "null for the file as a whole), and nothing is written. An accepted file is written in "
                         "one transaction with one audit entry (`geo.import`); with `dry_run=true` it is only "
                         "checked. Answers the created and updated counts per level and the moved codes. Larger "
                         "than 200 MB: 422 `invalid_file` naming `geojson`.")
def geo_import(request, geojson: GeoJSONFile, payload: Form[GeoImportForm]):
    if not request.auth.is_admin_role:
        raise Forbidden("Only administrators import the geography.")
    # The web UI's upload form holds the size limit: the API applies the very same.
    form = GeoJSONUploadForm(data={"dry_run": payload.dry_run}, files={"file": geojson})
    if not form.is_valid():
        message = " ".join(str(m) for m in form.errors.get("file", form.errors.get("__all__", [])))
        raise InvalidInput(f"geojson: {message}", code="invalid_file",
                           details=[{"field": "geojson", "message": message}])
    geojson.seek(0)
    return geojson_import(raw=geojson.read(), by=request.auth, dry_run=payload.dry_run)
