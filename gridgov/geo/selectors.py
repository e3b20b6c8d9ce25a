"""Reads on geography, always scoped to the acting user (out of scope looks like not found)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import ALL, ancestor_paths, prefix_q, scope_paths, scope_q

from .filters import AreaFilter, GridFilter
from .models import Area, Grid


def _apply(filterset_class, data: dict | None, queryset: QuerySet) -> QuerySet:
    fs = filterset_class(data=data or {}, queryset=queryset)
    if not fs.is_valid():
        details = [{"field": f, "message": " ".join(str(m) for m in msgs)} for f, msgs in fs.errors.items()]
        raise InvalidInput("; ".join(f"{d['field']}: {d['message']}" for d in details),
                           code="invalid_filter", details=details)
    return fs.qs


def area_visible_q(user) -> Q:
    """Areas under the user's scope, plus the ancestors of the scope (to navigate down to it)."""
    paths = scope_paths(user)
    if paths is ALL:
        return Q()
    ancestors = {a for p in paths for a in ancestor_paths(p)}
    return scope_q(user) | Q(path__in=ancestors)


def area_list(*, user, filters: dict | None = None) -> QuerySet[Area]:
    qs = Area.objects.filter(area_visible_q(user)).select_related("parent")
    return _apply(AreaFilter, filters, qs)


def area_get(*, user, code: str) -> Area:
    area = Area.objects.filter(area_visible_q(user), code=code).select_related("parent").first()
    if area is None:
        raise NotFound(f"No area with code {code}.")
    return area


def area_children(*, user, area: Area | None) -> QuerySet[Area]:
    qs = Area.objects.filter(area_visible_q(user))
    return qs.filter(parent=area) if area else qs.filter(parent__isnull=True)


def area_ancestors(*, area: Area) -> list[Area]:
    paths = ancestor_paths(area.path)[:-1]
    return list(Area.objects.filter(path__in=paths).order_by("depth"))


def grid_list(*, user, filters: dict | None = None) -> QuerySet[Grid]:
    qs = Grid.objects.filter(scope_q(user)).select_related("community")
    return _apply(GridFilter, filters, qs)


def grid_get(*, user, code: str) -> Grid:
    grid = Grid.objects.filter(scope_q(user), code=code).select_related("community").first()
    if grid is None:
        raise NotFound(f"No grid with code {code}.")
    return grid


def grids_under(*, user, area: Area) -> QuerySet[Grid]:
    return Grid.objects.filter(scope_q(user), prefix_q("path", area.path))


def grids_extent() -> list[float] | None:
    """[west, south, east, north] of every grid: the area served (public information, for the report map)."""
    from django.db.models import Max, Min

    b = Grid.objects.aggregate(a=Min("min_lon"), b=Min("min_lat"), c=Max("max_lon"), d=Max("max_lat"))
    return None if b["a"] is None else [b["a"], b["b"], b["c"], b["d"]]


def grid_outlines_in_bbox(*, west: float, south: float, east: float, north: float, limit: int) -> list[dict]:
    """Names and outlines of the grids meeting a box (public, for the report map); at most `limit` + 1 rows, so
    the caller can tell "too many"."""
    grids = Grid.objects.filter(min_lon__lte=east, max_lon__gte=west, min_lat__lte=north, max_lat__gte=south)
    return list(grids.order_by("path").values("name", "geometry")[:limit + 1])


def geo_search(*, user, q: str, limit: int = 20) -> dict[str, list]:
    """Areas, grids and standard addresses matching `q`, each as its own list would find them (areas and grids
    by code prefix or part of the name, addresses by part of the full text), within the user's scope; at most
    `limit` of each, in tree / code / address order."""
    from gridgov.residents.selectors import address_list  # the addresses' reader lives with the registry

    q = (q or "").strip()
    if not q:
        raise InvalidInput("q: enter a code, a name or part of an address.", code="invalid_filter",
                           details=[{"field": "q", "message": "required"}])
    return {
        "areas": list(area_list(user=user, filters={"q": q}).order_by("path")[:limit]),
        "grids": list(grid_list(user=user, filters={"q": q}).order_by("code")[:limit]),
        "addresses": list(address_list(user=user, q=q)[:limit]),
    }
