"""The analytics API (`/api/v1/analytics/`): the KPI catalogue, KPI summaries with the previous period beside
them, trends, breakdowns, rankings, the governance effectiveness index, and the hotspot and open-case map
layers. Thin: gridgov.analytics.selectors (and .index) read and refuse; the ServiceErrors they raise become the
JSON 4xx answers of config/api.py.

Every figure is scoped to the caller. Leaders, dispatchers, mediators, party secretaries and grid members read
their own area or grids (and everything under it); an area or grid outside it — or unknown — is a 404
`unknown_area`/`unknown_grid` naming the parameter, as if it did not exist. Other roles (handlers, residents)
have no figures: every read but the catalogue is a 404 `not_found` for them. Bad parameters are a 422 naming
the parameter (`invalid_range`, `invalid_period`, `invalid_step`, `invalid_breakdown`, `invalid_level`,
`unknown_kpi`, or `validation_error` for a value that is not even a date or too long).

The downloads (a dashboard table as xlsx, the monthly report as xlsx or PDF) are the web UI's files, written by
gridgov.analytics.exports and audited there (`analytics.export`); as in the UI, a role without figures gets a
403 (a handler may download their department's table).
"""


from django.http import HttpResponse
from django.urls import reverse
from ninja import Query, Router

from gridgov.cases import selectors as case_selectors
from gridgov.cases.choices import State
from gridgov.core.downloads import attachment
from gridgov.core.errors import Forbidden
from gridgov.core.schemas import ErrorOut

from . import exports, selectors, views_data
from .kpis import KPIS
from .schemas import (
    BreakdownOut,
    BreakdownQuery,
    CasesMapOut,
    CasesMapQuery,
    ExportQuery,
    HotspotsOut,
    IndexNodeOut,
    IndexRankingOut,
    KpiOut,
    MapNodesOut,
    MapNodesQuery,
    NodeQuery,
    RankingOut,
    RankingQuery,
    ReportQuery,
    SummaryOut,
    TrendOut,
    TrendQuery,
)
from .views_common import Params

router = Router(tags=["analytics"])

READ_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
CASES_MAP_LIMIT = 5000
PERIOD_HELP = ("Where: `area` (any level) or `grid`, default your own. When: `period` (day, week, month, "
               "quarter, year; default month) containing `on` (default today), or `start`–`end` (inclusive, at most "
               "GRIDGOV_ANALYTICS_MAX_DAYS days). ")


def _node(params) -> dict:
    return {"area": params.area, "grid": params.grid}


def _period(params) -> selectors.Period:
    return selectors.parse_period(**params.period_args())


@router.get("/kpis", response={200: list[KpiOut], 401: ErrorOut}, summary="The KPI catalogue",
            description="Each KPI's code, label, unit, the rollup counters of its numerator and denominator, and "
                        "whether higher is better. Definitions in docs/kpis.md.")
def kpi_catalogue(request):
    return KPIS


@router.get("/summary", response={200: SummaryOut, **READ_ERRORS},
            summary="Every KPI of an area or grid in a period, with the previous period beside it",
            description=PERIOD_HELP)
def kpi_summary(request, params: Query[NodeQuery]):
    period = _period(params)
    return selectors.kpi_summary(user=request.auth, period=period, **_node(params))


@router.get("/trend", response={200: TrendOut, **READ_ERRORS}, exclude_unset=True,
            summary="KPIs per day, week or month over a period",
            description=PERIOD_HELP + "`step` day, week or month (at most 400 points: 422 `invalid_step`); `kpi` "
                                      "repeatable (an unknown code: 422 `unknown_kpi`). Each point holds only the "
                                      "KPIs asked for.")
def kpi_trend(request, params: Query[TrendQuery]):
    period = _period(params)
    return selectors.kpi_trend(user=request.auth, period=period, step=params.step, kpis=params.kpi or None,
                               **_node(params))


@router.get("/breakdown", response={200: BreakdownOut, **READ_ERRORS},
            summary="Every KPI per main category, source, lead department or category kind",
            description=PERIOD_HELP + "`by` category, source, department or kind (a grid: source or kind); "
                                      "otherwise 422 `invalid_breakdown`.")
def kpi_breakdown(request, params: Query[BreakdownQuery]):
    period = _period(params)
    return selectors.kpi_breakdown(user=request.auth, by=params.by, period=period, **_node(params))


@router.get("/ranking", response={200: RankingOut, **READ_ERRORS},
            summary="The areas one level below (the grids of a community), or every area at a level below, "
                    "ranked by a KPI",
            description=PERIOD_HELP + "`level` district, street, community or grid ranks every area (or grid) at "
                                      "that level under the node — e.g. every community of the city — instead of "
                                      "its children; grids only under a street or a community. A level not below "
                                      "the node, or grids under a city or district: 422 `invalid_level`. Each row "
                                      "has every KPI, the previous period's and its previous rank. An unknown "
                                      "`kpi`: 422 `unknown_kpi`. A grid has no rows.")
def kpi_ranking(request, params: Query[RankingQuery]):
    period = _period(params)
    return selectors.kpi_ranking(user=request.auth, kpi=params.kpi, level=params.level or None, period=period,
                                 **_node(params))


@router.get("/index", response={200: IndexRankingOut, **READ_ERRORS},
            summary="The governance effectiveness index of the areas (or grids) one level below, ranked",
            description=PERIOD_HELP + "The index (0–100) and its four aspects — concept, subjects, methods, "
                                      "effectiveness — with the weights used, the previous period's index and "
                                      "rank. Definitions in docs/kpis.md.")
def index_ranking(request, params: Query[NodeQuery]):
    from . import index  # written alongside; imported when used

    period = _period(params)
    return index.index_ranking(user=request.auth, period=period, **_node(params))


@router.get("/index/node", response={200: IndexNodeOut, **READ_ERRORS},
            summary="The governance effectiveness index of one area or grid, with its indicators",
            description=PERIOD_HELP)
def index_node(request, params: Query[NodeQuery]):
    from . import index

    period = _period(params)
    return index.index_of(user=request.auth, period=period, **_node(params))


@router.get("/hotspots", response={200: HotspotsOut, **READ_ERRORS},
            summary="Where cases are reported: H3 hexagons under an area, as GeoJSON polygons",
            description=PERIOD_HELP + "Counted over the whole months the period touches (hotspots are kept per "
                                      "month). Per area only: a `grid` is a 422 naming `grid`.")
def hotspots(request, params: Query[NodeQuery]):
    period = _period(params)
    return selectors.hotspots(user=request.auth, period=period, **_node(params))


@router.get("/cases-map", response={200: CasesMapOut, **READ_ERRORS},
            summary="The open cases under an area or grid as GeoJSON points (only the overdue ones with "
                    "overdue=true)",
            description=f"At most {CASES_MAP_LIMIT} cases, the most recently reported first; `truncated` says "
                        "when there are more. Scoped like the case lists.")
def cases_map(request, params: Query[CasesMapQuery]):
    node = selectors.resolve_node(user=request.auth, area=params.area, grid=params.grid)
    filters = {"open": True, "grid" if node.level == "grid" else "area": node.code}
    if params.overdue:
        filters["overdue"] = True
    cases = case_selectors.case_list(user=request.auth, filters=filters)
    rows = list(cases.order_by("-reported_at").values("pk", "number", "state", "lon", "lat", "overdue",
                                                      "category__name")[:CASES_MAP_LIMIT + 1])
    labels = dict(State.choices)
    features = [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
        "properties": {"id": r["pk"], "number": r["number"], "category": r["category__name"], "state": r["state"],
                       "state_label": str(labels.get(r["state"], r["state"])), "overdue": r["overdue"],
                       "url": reverse("cases:detail", args=[r["pk"]])},
    } for r in rows[:CASES_MAP_LIMIT]]
    return {"type": "FeatureCollection", "node": node.as_dict(), "features": features,
            "truncated": len(rows) > CASES_MAP_LIMIT, "limit": CASES_MAP_LIMIT}


# --- the area-outline layer and the downloads ----------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOAD_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _binary(content_type: str, what: str) -> dict:
    return {"responses": {200: {"description": what, "content": {content_type: {
        "schema": {"type": "string", "format": "binary"}}}}}}


def _params(query, **extra) -> Params:
    """The web UI's parameters (views_common.Params) from an API query: the exports read nothing else."""
    period_args = query.period_args() if hasattr(query, "period_args") else {}
    keep: dict = {}  # the period as given, kept by the links of the map layer (as views_common.read_params)
    if period_args.get("start") or period_args.get("end"):
        keep = {k: period_args[k].isoformat() for k in ("start", "end") if period_args[k]}
    else:
        keep = {k: str(period_args[k]) for k in ("period", "on") if period_args.get(k)}
    return Params(period=selectors.parse_period(**period_args) if period_args else None,
                  area=(query.area or "").strip(), grid=(query.grid or "").strip(),
                  kpi=(query.kpi or "").strip() or "resolution_rate", keep=keep, **extra)


def _download(data: bytes, filename: str, ascii_name: str, content_type: str) -> HttpResponse:
    return attachment(data, filename=filename, ascii_name=ascii_name, content_type=content_type)


def _reader(user, *, handler_too: bool = False) -> None:
    # the web UI's rule (analytics.views.export/_report): readers of figures; handlers for their department's table
    if not (selectors.may_read(user) or (handler_too and views_data.is_handler(user))):
        raise Forbidden("You may not download figures.")


@router.get("/map/nodes", response={200: MapNodesOut, **READ_ERRORS},
            summary="The dashboard's area outlines: the node's children as GeoJSON shapes valued by a KPI",
            description=PERIOD_HELP + "Each child of the node (areas: their boundary, or the extent of their grids; "
                                      "a community: its grids) with its value of `kpi` and rank among the "
                                      "children, coloured by its third of the ranking; a grid: itself. The same "
                                      "layer as the web dashboard's map.")
def map_nodes(request, params: Query[MapNodesQuery]):
    return views_data.map_nodes(user=request.auth, params=_params(params))


@router.get("/export", response={200: None, **DOWNLOAD_ERRORS},
            summary="One table of a dashboard as an xlsx workbook (audited)",
            description=PERIOD_HELP + "The table with every KPI and its previous-period value, an About sheet and "
                                      "the KPI definitions — the web UI's export. `table=department` needs "
                                      "`department` (a handler: their own). A grid has no ranking or departments "
                                      "table (422 `invalid_table`).",
            openapi_extra=_binary(XLSX, "The workbook (Content-Disposition names the file)"))
def export_table(request, params: Query[ExportQuery]):
    _reader(request.auth, handler_too=True)
    data, filename, ascii_name = exports.export_table(user=request.auth, params=_params(
        params, table=params.table, by=(params.by or "").strip(), level=(params.level or "").strip(),
        department=(params.department or "").strip()))
    return _download(data, filename, ascii_name, XLSX)


REPORT_HELP = ("The month `month` (YYYY-MM, default the month before this one) of an area or grid (default your "
               "own): the KPIs against the previous month, the ranking of its children by `kpi`, the categories and "
               "the governance index — the web UI's monthly report. A bad month: 422 `invalid_period`.")


@router.get("/report.xlsx", response={200: None, **DOWNLOAD_ERRORS},
            summary="The monthly report as an xlsx workbook (audited)", description=REPORT_HELP,
            openapi_extra=_binary(XLSX, "The workbook (Content-Disposition names the file)"))
def report_xlsx(request, params: Query[ReportQuery]):
    _reader(request.auth)
    data, filename, ascii_name = exports.report_xlsx(user=request.auth,
                                                     params=_params(params, month=(params.month or "").strip()))
    return _download(data, filename, ascii_name, XLSX)


@router.get("/report.pdf", response={200: None, **DOWNLOAD_ERRORS},
            summary="The monthly report as a PDF (audited)", description=REPORT_HELP,
            openapi_extra=_binary("application/pdf", "The PDF (Content-Disposition names the file)"))
def report_pdf(request, params: Query[ReportQuery]):
    _reader(request.auth)
    data, filename, ascii_name = exports.report_pdf(user=request.auth,
                                                    params=_params(params, month=(params.month or "").strip()))
    return _download(data, filename, ascii_name, "application/pdf")
