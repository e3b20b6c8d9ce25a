"""The figures of each analytics screen, gathered from the selectors (and the index) for one user and one set of
parameters. The views render them; the exports write the same figures to files.

Scope: the dashboard reads only nodes the user may read (selectors.resolve_node). Two screens show a position
among nodes the user may not read, and never those nodes' figures: the grid member's rank among the grids of
their community, and a department handler's place in the department league table at the root of the tree.
"""

from __future__ import annotations

from django.db.models import Max, Min
from django.urls import reverse
from django.utils.translation import gettext as _

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import prefix_q
from gridgov.geo.models import Area, Grid

from . import selectors
from .kpis import BY_CODE
from .views_common import (
    LEVEL_LABELS,
    Params,
    fmt,
    index_of,
    index_ranking,
    kpi_label,
    node_query,
    rank_rows,
    sibling_rows,
    trend_step,
)

TREND_KPIS = ["reported", "closed"]


def check_kpi(code: str) -> str:
    return selectors.kpi_codes([code])[0]  # InvalidInput naming "kpi" when unknown


def node_arg(node) -> dict:
    level = node["level"] if isinstance(node, dict) else node.level
    code = node["code"] if isinstance(node, dict) else node.code
    return {"grid": code} if level == "grid" else {"area": code}


def is_handler(user) -> bool:
    return user.role == Role.HANDLER and not user.is_admin_role


# --- the leader's dashboard ---------------------------------------------------------------------------------

def rank_levels(node) -> list[str]:
    """The levels the node's ranking may be shown at (those selectors.nodes_below accepts): every level below
    it, grids only under a street or a community."""
    below = selectors.LEVEL_ORDER[selectors.LEVEL_ORDER.index(node.level) + 1:]
    return [level for level in below if level in selectors.RANK_LEVELS
            and (level != "grid" or node.level in selectors.GRID_RANKING_FROM)]


def children_level(node, ranking: dict, level: str) -> str | None:
    """The level of the node's children: the ranking's own when it ranks them (no `level` asked for)."""
    if not level:
        return ranking["level"]
    children = selectors.children_of(node)
    return children[0].level if children else None


def dashboard_data(*, user, params: Params) -> dict:
    kpi = check_kpi(params.kpi)
    node = selectors.resolve_node(user=user, **params.node_kwargs)
    at = node_arg(node)
    period = params.period
    data = {"node": node, "kpi": kpi, "ranking": None, "departments": None, "index_ranking": None, "index_of": None,
            "levels": [], "children_level": None}
    if node.level == "grid":
        if params.level:
            selectors.nodes_below(node, params.level)  # nothing is ranked under a grid: refused naming `level`
        data["by"] = params.by or "kind"
        data["index_of"] = index_of(user=user, node=node, period=period)
    else:
        # the ranking first: a bad `level` is refused before the other reads
        data["ranking"] = selectors.kpi_ranking(user=user, **at, period=period, kpi=kpi, level=params.level or None)
        data["levels"] = rank_levels(node)
        data["children_level"] = children_level(node, data["ranking"], params.level)
        data["by"] = params.by or "category"
        data["departments"] = department_league(
            selectors.kpi_breakdown(user=user, by="department", **at, period=period)["rows"], kpi)
        data["index_ranking"] = index_ranking(user=user, node=node, period=period)
    data["summary"] = selectors.kpi_summary(user=user, **at, period=period)
    data["trend"] = selectors.kpi_trend(user=user, **at, period=period, step=trend_step(period), kpis=TREND_KPIS)
    data["breakdown"] = selectors.kpi_breakdown(user=user, by=data["by"], **at, period=period)
    return data


def department_league(rows: list[dict], kpi: str) -> list[dict]:
    """The rows of a breakdown by department, ranked by the KPI (best first)."""
    return rank_rows([dict(r) for r in rows], kpi, key="key")


# --- the department's dashboard -----------------------------------------------------------------------------

def root_node() -> selectors.Node:
    root = Area.objects.filter(parent__isnull=True).order_by("code").first()
    if root is None:
        raise NotFound("There is no area yet.", code="unknown_area", details=[{"field": "area", "message": "none"}])
    return selectors.Node(root.path, root.code, root.name, root.level)


def _unknown_department() -> NotFound:
    return NotFound(_("department: no such department"), code="unknown_department",
                    details=[{"field": "department", "message": _("unknown department")}])


def department_data(*, user, params: Params) -> dict:
    """A department's KPIs (its lead cases: the "d:<code>" rows) at a node, with its place in the league of the
    departments there. A handler reads their own department at the root; a reader (a dispatcher, a leader) any
    department at a node they may read (their own by default)."""
    kpi = check_kpi(params.kpi)
    period = params.period
    handler = is_handler(user)
    if handler:
        if not user.department_id:
            raise NotFound(_("department: you belong to no department"), code="unknown_department",
                           details=[{"field": "department", "message": _("no department")}])
        node = root_node()
        sums = sibling_rows([node.path], period, dim_prefix="d:")
        labels = selectors.dim_labels("department", [dim for _path, dim in sums])
        league_rows = [{"key": dim[2:], "label": labels.get(dim, dim[2:]), **values}
                       for (_path, dim), values in sums.items()]
        league_rows.sort(key=lambda r: (-(r["reported"] or 0), r["key"]))
    else:
        node = selectors.resolve_node(user=user, **params.node_kwargs)
        if node.level == "grid":
            raise InvalidInput(_("grid: department figures are kept per area"), code="invalid_breakdown",
                               details=[{"field": "grid", "message": _("department figures are kept per area")}])
        league_rows = selectors.kpi_breakdown(user=user, by="department", area=node.code, period=period)["rows"]
    league = department_league(league_rows, kpi)
    code = params.department or (user.department.code if handler else "")
    data = {"node": node, "kpi": kpi, "league": league, "department": None, "handler": handler,
            "choices": list(Department.objects.filter(is_active=True).order_by("code").values("code", "name"))}
    if not code:
        return data
    department = Department.objects.filter(code=code).first()
    if department is None or (handler and department.pk != user.department_id):
        raise _unknown_department()
    row = next((r for r in league if r["key"] == department.code), None)
    zero = selectors.values_at({}, None)
    current = {c: row[c] for c in BY_CODE} if row else zero
    previous = row["previous"] if row else zero
    data.update({
        "department": department,
        "kpis": selectors.kpi_rows(current, previous),
        "position": row["rank"] if row else None,
        "previous_position": row["previous_rank"] if row else None,
        "of": len(league),  # every department with cases here (those without a value are last, unranked)
    })
    return data


# --- the grid member's scorecard --------------------------------------------------------------------------------

def scorecard_data(*, user, params: Params) -> dict:
    """A grid's KPIs over the period (a month by default) against the one before, its rank among the grids of
    its community by a KPI, and its governance index."""
    kpi = check_kpi(params.kpi)
    period = params.period
    if params.grid:
        node = selectors.resolve_node(user=user, grid=params.grid)
    else:
        node = selectors.resolve_node(user=user)
        if node.level != "grid":
            raise InvalidInput(_("grid: choose a grid"), code="unknown_grid",
                               details=[{"field": "grid", "message": _("choose a grid")}])
    grid = Grid.objects.select_related("community").get(code=node.code)
    siblings = list(Grid.objects.filter(community_id=grid.community_id).order_by("code").values("code", "name", "path"))
    sums = sibling_rows([g["path"] for g in siblings], period)
    rows = rank_rows([{"code": g["code"], **sums[(g["path"], "")]} for g in siblings], kpi)
    mine = next(r for r in rows if r["code"] == grid.code)
    return {
        "node": node,
        "grid": grid,
        "kpi": kpi,
        "summary": selectors.kpi_summary(user=user, grid=grid.code, period=period),
        "rank": mine["rank"],
        "previous_rank": mine["previous_rank"],
        "value": mine[kpi],
        "previous_value": mine["previous"][kpi],
        "of": len(rows),  # every grid of the community (those without a value are last, unranked)
        "index": index_of(user=user, node=node, period=period),
    }


# --- the map's area outlines ------------------------------------------------------------------------------------

def _bbox(path: str) -> dict | None:
    box = Grid.objects.filter(prefix_q("path", path)).aggregate(w=Min("min_lon"), s=Min("min_lat"), e=Max("max_lon"),
                                                                 n=Max("max_lat"))
    if box["w"] is None:
        return None
    w, s, e, n = box["w"], box["s"], box["e"], box["n"]
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _shade(rank, ranked: int) -> str:
    """Green for the best third of the ranking, amber for the middle, red for the last; grey without a value."""
    if rank is None or not ranked:
        return "#94a3b8"
    share = (rank - 1) / ranked
    return "#16a34a" if share < 1 / 3 else "#f59e0b" if share < 2 / 3 else "#dc2626"


def map_nodes(*, user, params: Params) -> dict:
    """The dashboard's area-outline layer (a GeoJSON FeatureCollection): the node's children as shapes (areas:
    their boundary, or the extent of their grids; a community: its grids), each with its value of the ranking KPI,
    a colour by its third of the ranking and the link to its dashboard; a grid: itself. The dashboard's map
    (map/nodes.json) and GET /api/v1/analytics/map/nodes both answer this."""
    kpi = check_kpi(params.kpi)
    node = selectors.resolve_node(user=user, **params.node_kwargs)
    here = reverse("analytics:dashboard")
    unit = BY_CODE[kpi].unit
    features = []
    if node.level == "grid":
        grid = Grid.objects.get(code=node.code)
        features.append({"type": "Feature", "geometry": grid.geometry,
                         "properties": {"code": node.code, "name": node.name, "level": "grid", "url": "",
                                        "colour": "#2563eb", "self": True}})
        return {"type": "FeatureCollection", "node": node.as_dict(), "kpi": kpi, "features": features}
    ranking = {r["code"]: r for r in selectors.kpi_ranking(user=user, **node_arg(node),
                                                           period=params.period, kpi=kpi)["rows"]}
    ranked = sum(1 for r in ranking.values() if r["rank"] is not None)
    children = selectors.children_of(node)
    paths = [c.path for c in children]
    if node.level == "community":
        shapes = dict(Grid.objects.filter(path__in=paths).values_list("code", "geometry"))
    else:
        shapes = dict(Area.objects.filter(path__in=paths).values_list("code", "geometry"))
    for child in children:
        geometry = shapes.get(child.code) or (_bbox(child.path) if child.level != "grid" else None)
        if not geometry:
            continue
        row = ranking.get(child.code, {})
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "code": child.code, "name": child.name, "level": child.level,
            "level_label": str(LEVEL_LABELS.get(child.level, child.level)),
            "url": here + node_query(params, child), "rank": row.get("rank"),
            "value": row.get(kpi), "value_text": fmt(row.get(kpi), unit), "kpi_label": kpi_label(kpi),
            "colour": _shade(row.get("rank"), ranked)}})
    return {"type": "FeatureCollection", "node": node.as_dict(), "kpi": kpi, "features": features}
