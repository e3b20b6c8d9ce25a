from typing import Any, Literal

from ninja import Field, Schema

from .choices import CoordSys


class AreaOut(Schema):
    code: str
    name: str
    level: str
    parent: str | None = Field(None, description="code of the parent area")
    path: str
    center_lon: float | None
    center_lat: float | None

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None


class AreaDetailOut(AreaOut):
    ancestors: list[AreaOut]
    children: list[AreaOut] = Field(..., description="the areas one level down, within my scope")
    grid_count: int = Field(..., description="grids under this area, within my scope")

    @staticmethod
    def resolve_ancestors(obj):
        from .selectors import area_ancestors

        return area_ancestors(area=obj)

    @staticmethod
    def resolve_children(obj, context):
        from .selectors import area_children

        return list(area_children(user=context["request"].auth, area=obj).select_related("parent"))

    @staticmethod
    def resolve_grid_count(obj, context):
        from .selectors import grids_under

        return grids_under(user=context["request"].auth, area=obj).count()


class GridOut(Schema):
    code: str
    name: str
    kind: str
    community: str = Field(..., description="code of the community")
    path: str
    bbox: list[float] = Field(..., description="[min_lon, min_lat, max_lon, max_lat]")
    center: list[float] = Field(..., description="[lon, lat], a point inside the grid")
    area_m2: float

    @staticmethod
    def resolve_community(obj):
        return obj.community.code

    @staticmethod
    def resolve_bbox(obj):
        return [obj.min_lon, obj.min_lat, obj.max_lon, obj.max_lat]

    @staticmethod
    def resolve_center(obj):
        return [obj.center_lon, obj.center_lat]


class MemberOut(Schema):
    username: str
    display_name: str
    phone: str


class GridDetailOut(GridOut):
    community_name: str
    geometry: dict[str, Any]
    members: list[MemberOut]

    @staticmethod
    def resolve_community_name(obj):
        return obj.community.name

    @staticmethod
    def resolve_members(obj):
        return [{"username": m.username, "display_name": str(m), "phone": m.phone}
                for m in obj.members.filter(is_active=True).order_by("username")]


class LocateQuery(Schema):
    lon: float = Field(..., ge=-180, le=180, description="longitude")
    lat: float = Field(..., ge=-90, le=90, description="latitude")
    coord_sys: CoordSys = Field(CoordSys.WGS84, description="coordinate system of lon/lat")


class PlaceRef(Schema):
    code: str
    name: str


class LocatedGrid(PlaceRef):
    kind: str


class LocateOut(Schema):
    """Which grid serves a point: public information (grids and their names are posted on every street),
    so any authenticated user gets it; the grid's details stay behind the scoped /geo/grids/{code}."""

    inside: bool = Field(..., description="false when the point lies outside every grid")
    lon_wgs84: float
    lat_wgs84: float
    grid: LocatedGrid | None = None
    community: PlaceRef | None = None


class FeatureCollectionOut(Schema):
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


class AddressHitOut(Schema):
    id: int
    full_text: str
    grid: str = Field(..., description="code of the grid")
    community: str = Field(..., description="code of the community")
    lon: float | None
    lat: float | None

    @staticmethod
    def resolve_grid(obj):
        return obj.grid.code

    @staticmethod
    def resolve_community(obj):
        return obj.community.code


class SearchQuery(Schema):
    q: str = Field(..., min_length=1, max_length=100,
                   description="a code prefix or part of a name (areas, grids) or of an address")
    limit: int = Field(20, ge=1, le=50, description="at most this many of each kind")


class SearchOut(Schema):
    areas: list[AreaOut] = Field(..., description="as GET /geo/areas finds them (your scope and the way to it)")
    grids: list[GridOut]
    addresses: list[AddressHitOut] = Field(..., description="standard addresses (标准地址) in your scope")


class GeoImportForm(Schema):
    dry_run: bool = Field(False, description="true: check the file and report what would change; write nothing")


class GeoImportOut(Schema):
    """An accepted file: per level (city … community, grid), how many it creates and updates, and what moved."""

    dry_run: bool
    created: dict[str, int]
    updated: dict[str, int]
    moved: list[str] = Field(..., description="codes of the existing areas and grids put under another parent")
