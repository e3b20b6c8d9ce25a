"""The area and grid browser: a tree you walk down, a Leaflet map of grids, grid pages and search."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import ALL, prefix_q, scope_paths

from . import selectors
from .choices import GRID_KIND_COLORS, GridKind
from .export import feature_collection
from .models import Area, Grid


def _area_or_404(user, code: str) -> Area:
    try:
        return selectors.area_get(user=user, code=code)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def browser(request):
    """Start at the user's scope: the top of the tree for city-wide users, their own grids for grid members."""
    paths = scope_paths(request.user)
    if paths is ALL:
        top = Area.objects.filter(parent__isnull=True).order_by("code").first()
    elif not paths:
        top = None
    else:
        # the highest node of the scope: an area itself, or the community of a grid
        top = Area.objects.filter(path__in=paths).order_by("depth", "code").first()
        if top is None:
            grid = Grid.objects.filter(path__in=paths).select_related("community").order_by("code").first()
            top = grid.community if grid else None
    if top is None:
        return render(request, "geo/empty.html")
    return redirect("geo:area", code=top.code)


@login_required
def area_detail(request, code: str):
    area = _area_or_404(request.user, code)
    children = selectors.area_children(user=request.user, area=area).order_by("code")
    grids = selectors.grids_under(user=request.user, area=area).select_related("community").order_by("code")
    page = Paginator(grids, 50).get_page(request.GET.get("page"))
    context = {
        "area": area,
        "ancestors": selectors.area_ancestors(area=area),
        "children": children,
        "grids_page": page,
        "grid_total": page.paginator.count,
        "kinds": [(k.value, k.label, GRID_KIND_COLORS[k]) for k in GridKind],
    }
    if request.headers.get("HX-Request") and request.GET.get("partial") == "grids":
        return render(request, "geo/_grid_table.html", context)
    return render(request, "geo/area_detail.html", context)


@login_required
def area_map_geojson(request, code: str):
    """The grids under an area for the map (lighter than the export: no sub-area boundaries)."""
    area = _area_or_404(request.user, code)
    data = feature_collection(areas=[], grids=selectors.grids_under(user=request.user, area=area))
    for feature in data["features"]:
        props = feature["properties"]
        props["color"] = GRID_KIND_COLORS.get(props["kind"], "#64748b")
        props["url"] = reverse("geo:grid", args=[props["code"]])
        props["kind_label"] = str(GridKind(props["kind"]).label) if props["kind"] in GridKind.values else ""
    return JsonResponse(data)


@login_required
def area_export(request, code: str):
    area = _area_or_404(request.user, code)
    areas = selectors.area_list(user=request.user).filter(prefix_q("path", area.path))
    data = feature_collection(areas=areas, grids=selectors.grids_under(user=request.user, area=area))
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="{area.code}.geojson"'
    return response


@login_required
def grid_detail(request, code: str):
    try:
        grid = selectors.grid_get(user=request.user, code=code)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    context = {
        "grid": grid,
        "ancestors": selectors.area_ancestors(area=grid.community) + [grid.community],
        "members": grid.members.filter(is_active=True).order_by("username"),
        "color": GRID_KIND_COLORS.get(grid.kind, "#64748b"),
    }
    return render(request, "geo/grid_detail.html", context)


@login_required
def search(request):
    """Areas, grids and standard addresses by code, name or part of the address, in the user's scope — the same
    search as GET /api/v1/geo/search (htmx live search; a plain GET renders the full page)."""
    q = (request.GET.get("q") or "").strip()
    error = ""
    found = {"areas": [], "grids": [], "addresses": []}
    try:
        if q:
            found = selectors.geo_search(user=request.user, q=q, limit=30)
    except InvalidInput as exc:
        error = exc.message
    template = "geo/_search_results.html" if request.headers.get("HX-Request") else "geo/search.html"
    return render(request, template, {"q": q, "results": found["grids"], "areas": found["areas"],
                                      "addresses": found["addresses"], "error": error},
                  status=422 if error else 200)
