"""The governance-effectiveness screens: the leader's dashboard (and its wall-display mode), the department's
dashboard, the grid member's scorecard, the map layers of the dashboard as GeoJSON, and the downloads (every
table as xlsx, the monthly report as xlsx and PDF).

Thin views: the figures come from views_data (the selectors and the index); a bad parameter (an unknown area,
grid, department or KPI, a bad period or range) is shown on the page's form, naming the parameter, with the
selector's 4xx status; a node outside the user's scope is a 404 like an unknown one.
"""

from __future__ import annotations

from dataclasses import replace
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from gridgov.accounts.choices import Role
from gridgov.cases import selectors as case_selectors
from gridgov.cases.choices import State
from gridgov.core.downloads import attachment
from gridgov.core.errors import ServiceError

from . import exports, selectors, views_data
from .kpis import BY_CODE
from .views_common import (
    ASPECTS,
    DEFAULT_KPI,
    LEVEL_LABELS,
    PERIOD_LABELS,
    PeriodForm,
    breadcrumbs,
    fmt,
    fmt_index,
    form_errors,
    kpi_cells,
    kpi_choices,
    kpi_label,
    movement,
    node_query,
    period_nav,
    place_error,
    query,
    read_params,
    row_cells,
    row_columns,
    shifted,
    status_of,
    tiles_of,
)

MAP_LIMIT = 500  # open cases on the dashboard's map, overdue ones first
CHART_ROWS = 15  # bars in the breakdown chart
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _breakdown_label(by: str) -> str:
    labels = {"category": _("Category"), "source": _("Source"), "kind": _("Category kind"),
              "department": _("Department")}
    return labels.get(by, by)


def _wall(request) -> bool:
    return request.GET.get("wall") in ("1", "true", "on")


def _read(request, *, wall: bool = False):
    """(form, params, exc): params is None when the form or the period is bad (the error is on the form)."""
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return form, None, None
    try:
        return form, read_params(form, wall=wall), None
    except ServiceError as exc:
        place_error(form, exc)
        return form, None, exc


def _base_context(request, form, params) -> dict:
    """What every page's forms need, also when the parameters were refused (the values as given)."""
    get = request.GET
    kind = "" if (get.get("start") or get.get("end")) else (get.get("period") or "month")
    return {
        "form": form, "errors": form_errors(form), "params": params, "wall": bool(params and params.wall),
        "kpi_choices": kpi_choices(),
        "hidden": {k: get[k] for k in ("area", "grid", "department") if get.get(k)},
        "keep_kpi": get.get("kpi") if get.get("kpi") in BY_CODE and get.get("kpi") != DEFAULT_KPI else "",
        "on_value": get.get("on", ""), "start_value": get.get("start", ""), "end_value": get.get("end", ""),
        "period_buttons": [{"key": k, "label": v, "active": k == kind} for k, v in PERIOD_LABELS.items()],
        "keep_level": "",  # the dashboard's ranking level, once it is known to be good
    }


def _download(data: bytes, filename: str, ascii_name: str, content_type: str) -> HttpResponse:
    return attachment(data, filename=filename, ascii_name=ascii_name, content_type=content_type)


def _error_page(request, form, exc: ServiceError | None, title: str):
    return render(request, "analytics/error.html", {"form": form, "errors": form_errors(form), "title": title},
                  status=status_of(exc, form))


# --- the leader's dashboard -----------------------------------------------------------------------------------

@login_required
def dashboard(request):
    user = request.user
    if not selectors.may_read(user):
        if views_data.is_handler(user):
            return redirect("analytics:department")
        raise PermissionDenied
    if request.GET.get("export"):
        return export(request)
    wall = _wall(request)
    form, params, exc = _read(request, wall=wall)
    context = _base_context(request, form, params)
    context["wall"] = wall
    if params is not None:
        try:
            data = views_data.dashboard_data(user=user, params=params)
        except ServiceError as error:
            place_error(form, error)
            exc = error
            context["errors"] = form_errors(form)
        else:
            context.update(_dashboard_context(request, params, data))
    template = "analytics/wall.html" if wall else "analytics/dashboard.html"
    return render(request, template, context, status=status_of(exc, form))


def _dashboard_context(request, params, data) -> dict:
    user, node, summary = request.user, data["node"], data["summary"]
    here = reverse("analytics:dashboard")
    at = views_data.node_arg(node)
    # the ranking's level stays on links to this node (other periods, the wall, the breakdown, the ranking's
    # export), never on links to other nodes, where it may not be a level below
    same = {**at, "level": params.level or None}
    nav = period_nav(params)
    cells = kpi_cells(summary["kpis"])
    context = {
        "node": node,
        "level_label": LEVEL_LABELS.get(node.level, node.level),
        "crumbs": breadcrumbs(user, node, params),
        "period": summary["period"],
        "previous_period": summary["previous_period"],
        "nav": nav,
        "before_url": here + shifted(params, same, nav["before"]),
        "after_url": here + shifted(params, same, nav["after"]),
        "hidden": at,
        "keep_level": params.level,
        "cells": cells,
        "tiles": tiles_of(cells),
        "kpi": data["kpi"],
        "kpi_label": kpi_label(data["kpi"]),
        "columns": row_columns(),
        "trend_chart": _trend_chart(data["trend"]),
        "wall_url": here + query(params, **same, wall="1"),
        "normal_url": here + query(_unwalled(params), **same),
    }
    context.update(_breakdown_context(data["breakdown"], data["by"], node, here + query(params, **same)))
    if data["ranking"]:
        context.update(_level_context(data, here + query(params, **at, by=params.by or None)))
    context["ranking"] = _ranking_rows(params, data["ranking"], data["kpi"]) if data["ranking"] else None
    context["departments"] = (_department_rows(params, data["departments"], data["kpi"], node)
                              if data["departments"] is not None else None)
    context["index_rows"] = _index_rows(params, data["index_ranking"]) if data["index_ranking"] else None
    context["index_weights"] = _weights(data["index_ranking"]) if data["index_ranking"] else None
    context["index_of"] = _index_of(data["index_of"]) if data["index_of"] else None
    context["aspects"] = [{"key": k, "label": v} for k, v in ASPECTS.items()]
    map_query = query(params, **at)
    context["map"] = {
        "nodes": reverse("analytics:map_nodes") + map_query,
        "hotspots": reverse("analytics:hotspots") + map_query if node.level != "grid" else "",
        "cases": reverse("analytics:cases_map") + map_query,
    }
    export = reverse("analytics:export")
    context["exports"] = {t: export + query(params, **(same if t == "ranking" else at), table=t)
                          for t in exports.TABLES if t != "department"}
    if node.level != "grid":
        month = params.period.start.strftime("%Y-%m")
        context["report_xlsx"] = reverse("analytics:report_xlsx") + query(None, area=node.code, month=month)
        context["report_pdf"] = reverse("analytics:report_pdf") + query(None, area=node.code, month=month)
    return context


def _unwalled(params):
    return replace(params, wall=False)


def _trend_chart(trend: dict) -> dict:
    return {
        "labels": [s["start"] if s["start"] == s["end"] else f"{s['start']}…{s['end'][5:]}" for s in trend["series"]],
        "series": [{"code": code, "name": kpi_label(code), "data": [s[code] for s in trend["series"]]}
                   for code in trend["kpis"]],
        "title": _("Reported and closed"),
    }


def _breakdown_context(breakdown: dict, by: str, node, url: str) -> dict:
    rows = [{**r, "cells": row_cells(r), "previous_reported": fmt(r["previous"]["reported"], "count")}
            for r in breakdown["rows"]]
    top = breakdown["rows"][:CHART_ROWS]
    choices = ["kind", "source"] if node.level == "grid" else ["category", "kind", "source"]
    return {
        "breakdown": rows,
        "by": by,
        "by_label": _breakdown_label(by),
        "by_choices": [{"key": k, "label": _breakdown_label(k), "active": k == by,
                        "url": f"{url}&by={k}"}
                       for k in choices],
        "breakdown_chart": {"labels": [r["label"] for r in top],
                            "series": [{"name": kpi_label("reported"), "data": [r["reported"] for r in top]},
                                       {"name": kpi_label("closed"), "data": [r["closed"] for r in top]}],
                            "title": _("Reported and closed by %(by)s") % {"by": _breakdown_label(by)}},
    }


def _level_context(data: dict, url: str) -> dict:
    """The "rank by level" buttons: each level the node's ranking may be shown at, the children's without a
    `level` parameter (the default); none when there is only one."""
    levels, default = data["levels"], data["children_level"] or (data["levels"] or [None])[0]
    shown = data["ranking"]["level"] or default
    choices = [{"key": k, "label": LEVEL_LABELS.get(k, k), "active": k == shown,
                "url": url + ("" if k == default else f"&level={k}") + "#ranking"} for k in levels]
    return {"level_choices": choices if len(choices) > 1 else [],
            "ranking_level_label": LEVEL_LABELS.get(shown, shown) if shown else ""}


def _ranking_rows(params, ranking: dict, kpi: str) -> list[dict]:
    here = reverse("analytics:dashboard")
    unit = BY_CODE[kpi].unit
    rows = []
    for r in ranking["rows"]:
        rows.append({**r, "url": here + node_query(params, r), "level_label": LEVEL_LABELS.get(r["level"], r["level"]),
                     "value_text": fmt(r[kpi], unit), "previous_text": fmt(r["previous"][kpi], unit),
                     "move": movement(r["rank"], r["previous_rank"]), "cells": row_cells(r)})
    return rows


def _department_rows(params, league: list[dict], kpi: str, node) -> list[dict]:
    base = reverse("analytics:department")
    unit = BY_CODE[kpi].unit
    return [{**r, "url": base + query(params, department=r["key"], area=node.code),
             "value_text": fmt(r[kpi], unit), "previous_text": fmt(r["previous"][kpi], unit),
             "move": movement(r["rank"], r["previous_rank"]), "cells": row_cells(r)} for r in league]


def _index_rows(params, ranking: dict) -> list[dict]:
    here = reverse("analytics:dashboard")
    rows = []
    for r in ranking.get("rows", []):
        aspects = r.get("aspects") or {}
        rows.append({**r, "url": here + node_query(params, r), "index_text": fmt_index(r.get("index")),
                     "previous_text": fmt_index(r.get("previous_index")),
                     "move": movement(r.get("rank"), r.get("previous_rank")),
                     "aspect_texts": [fmt_index(aspects.get(k)) for k in ASPECTS]})
    return rows


def _weights(ranking: dict) -> list[dict]:
    weights = ranking.get("weights") or {}
    return [{"label": label, "weight": weights.get(key)} for key, label in ASPECTS.items()]


def _index_of(index: dict) -> dict:
    aspects = index.get("aspects") or {}
    return {**index, "index_text": fmt_index(index.get("index")),
            "previous_text": fmt_index(index.get("previous_index")),
            "aspect_rows": [{"label": label, "text": fmt_index(aspects.get(key))} for key, label in ASPECTS.items()],
            "indicator_rows": [{**i, "text": fmt_index(i.get("value")) if isinstance(i.get("value"), int | float)
                                else str(i.get("value") if i.get("value") is not None else "—"),
                                "aspect_label": ASPECTS.get(i.get("aspect"), i.get("aspect"))}
                               for i in index.get("indicators") or []]}


# --- the map layers -------------------------------------------------------------------------------------------

def _json_error(form, exc: ServiceError | None) -> JsonResponse:
    if exc is None:
        details = [{"field": f, "message": " ".join(str(m) for m in msgs)} for f, msgs in form.errors.items()]
        return JsonResponse({"code": "invalid", "message": "; ".join(f"{d['field']}: {d['message']}" for d in details),
                             "details": details}, status=422)
    return JsonResponse({"code": exc.code, "message": exc.message, "details": exc.details}, status=exc.status)


def _json_reader(view):
    """A map layer: the user must read figures; bad parameters are a JSON 4xx naming them."""

    @login_required
    @wraps(view)
    def wrapped(request):
        if not selectors.may_read(request.user):
            raise PermissionDenied
        form, params, exc = _read(request)
        if params is None:
            return _json_error(form, exc)
        try:
            data = view(request, params)
        except ServiceError as error:
            return _json_error(form, error)
        return JsonResponse(data, json_dumps_params={"ensure_ascii": False})

    return wrapped


@_json_reader
def map_nodes(request, params):
    """The node's children as shapes, each with its value of the ranking KPI (views_data.map_nodes)."""
    return views_data.map_nodes(user=request.user, params=params)


@_json_reader
def hotspots(request, params):
    """Reports per H3 hexagon in the area (selectors.hotspots), with the largest count for the colour scale."""
    data = selectors.hotspots(user=request.user, **params.node_kwargs, period=params.period)
    data["max"] = max((f["properties"]["reported"] for f in data["features"]), default=0)
    return data


@_json_reader
def cases_map(request, params):
    """The open cases of the node (the cases app's scoped case_list), overdue ones first, at most MAP_LIMIT."""
    node = selectors.resolve_node(user=request.user, **params.node_kwargs)
    filters = {"open": "true", **({"grid": node.code} if node.level == "grid" else {"area": node.code})}
    cases = case_selectors.case_list(user=request.user, filters=filters)
    rows = list(cases.order_by("-overdue", "-reported_at").values(
        "pk", "number", "state", "lon", "lat", "overdue", "category__name")[:MAP_LIMIT + 1])
    labels = dict(State.choices)
    features = [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
        "properties": {"id": r["pk"], "number": r["number"], "state": r["state"],
                       "state_label": str(labels.get(r["state"], r["state"])), "category": r["category__name"],
                       "overdue": r["overdue"], "url": reverse("cases:detail", args=[r["pk"]])},
    } for r in rows[:MAP_LIMIT]]
    return {"type": "FeatureCollection", "node": node.as_dict(), "features": features,
            "truncated": len(rows) > MAP_LIMIT, "limit": MAP_LIMIT}


# --- the department's dashboard ------------------------------------------------------------------------------

def _department_reader(user) -> bool:
    return views_data.is_handler(user) or (selectors.may_read(user) and user.role != Role.GRID_MEMBER)


@login_required
def department(request):
    user = request.user
    if not _department_reader(user):
        raise PermissionDenied
    form, params, exc = _read(request)
    context = _base_context(request, form, params)
    if params is not None:
        try:
            data = views_data.department_data(user=user, params=params)
        except ServiceError as error:
            place_error(form, error)
            exc = error
            context["errors"] = form_errors(form)
        else:
            context.update(_department_context(request, params, data))
    return render(request, "analytics/department.html", context, status=status_of(exc, form))


def _department_context(request, params, data) -> dict:
    node, kpi = data["node"], data["kpi"]
    here = reverse("analytics:department")
    unit = BY_CODE[kpi].unit
    keep = {"department": data["department"].code if data["department"] else None,
            **({} if data["handler"] else {"area": node.code})}
    nav = period_nav(params)
    context = {
        "node": node, "kpi": kpi, "kpi_label": kpi_label(kpi), "handler": data["handler"],
        "department": data["department"], "choices": data["choices"],
        "nav": nav, "hidden": {k: v for k, v in keep.items() if v},
        "before_url": here + shifted(params, keep, nav["before"]),
        "after_url": here + shifted(params, keep, nav["after"]),
        "period": params.period.as_dict(), "previous_period": params.period.previous().as_dict(),
        "columns": row_columns(),
        "crumbs": [] if data["handler"] else breadcrumbs(request.user, node, params, "analytics:department",
                                                          department=keep["department"]),
    }
    if not data["handler"]:
        context["league"] = [{**r, "url": here + query(params, department=r["key"], area=node.code),
                              "value_text": fmt(r[kpi], unit), "previous_text": fmt(r["previous"][kpi], unit),
                              "move": movement(r["rank"], r["previous_rank"]), "cells": row_cells(r),
                              "mine": data["department"] is not None and r["key"] == data["department"].code}
                             for r in data["league"]]
        context["league_export"] = reverse("analytics:export") + query(params, area=node.code, table="departments")
    if data["department"] is not None:
        cells = kpi_cells(data["kpis"])
        context.update({"cells": cells, "tiles": tiles_of(cells), "position": data["position"],
                        "previous_position": data["previous_position"], "of": data["of"],
                        "move": movement(data["position"], data["previous_position"]),
                        "export_url": reverse("analytics:export") + query(params, table="department", **keep)})
    return context


# --- the grid member's scorecard ------------------------------------------------------------------------------

@login_required
def scorecard(request):
    user = request.user
    if not selectors.may_read(user):
        raise PermissionDenied
    form, params, exc = _read(request)
    context = _base_context(request, form, params)
    if params is not None:
        try:
            data = views_data.scorecard_data(user=user, params=params)
        except ServiceError as error:
            place_error(form, error)
            exc = error
            context["errors"] = form_errors(form)
        else:
            context.update(_scorecard_context(request, params, data))
    return render(request, "analytics/scorecard.html", context, status=status_of(exc, form))


def _scorecard_context(request, params, data) -> dict:
    here = reverse("analytics:scorecard")
    kpi = data["kpi"]
    unit = BY_CODE[kpi].unit
    keep = {"grid": data["grid"].code} if params.grid else {}
    nav = period_nav(params)
    cells = kpi_cells(data["summary"]["kpis"])
    return {
        "node": data["node"], "grid": data["grid"], "kpi": kpi, "kpi_label": kpi_label(kpi),
        "period": data["summary"]["period"], "previous_period": data["summary"]["previous_period"],
        "nav": nav, "hidden": keep,
        "before_url": here + shifted(params, keep, nav["before"]),
        "after_url": here + shifted(params, keep, nav["after"]),
        "cells": cells, "tiles": tiles_of(cells),
        "rank": data["rank"], "previous_rank": data["previous_rank"], "of": data["of"],
        "move": movement(data["rank"], data["previous_rank"]),
        "value_text": fmt(data["value"], unit), "previous_value_text": fmt(data["previous_value"], unit),
        "index_of": _index_of(data["index"]) if data["index"] else None,
        "export_url": reverse("analytics:export") + query(params, grid=data["grid"].code, table="kpis"),
    }


# --- downloads ------------------------------------------------------------------------------------------------

@login_required
def export(request):
    """One table of a dashboard as xlsx (?table=kpis|ranking|breakdown|departments|index|department)."""
    user = request.user
    if not (selectors.may_read(user) or views_data.is_handler(user)):
        raise PermissionDenied
    form, params, exc = _read(request)
    if params is not None:
        try:
            data, filename, ascii_name = exports.export_table(user=user, params=params)
        except ServiceError as error:
            place_error(form, error)
            exc = error
        else:
            return _download(data, filename, ascii_name, XLSX)
    return _error_page(request, form, exc, _("Export"))


def _report(request, fmt_name: str):
    user = request.user
    if not selectors.may_read(user):
        raise PermissionDenied
    form, params, exc = _read(request)
    if params is not None:
        try:
            if fmt_name == "pdf":
                data, filename, ascii_name = exports.report_pdf(user=user, params=params)
            else:
                data, filename, ascii_name = exports.report_xlsx(user=user, params=params)
        except ServiceError as error:
            place_error(form, error)
            exc = error
        else:
            return _download(data, filename, ascii_name, "application/pdf" if fmt_name == "pdf" else XLSX)
    return _error_page(request, form, exc, _("Monthly report"))


@login_required
def report_xlsx(request):
    return _report(request, "xlsx")


@login_required
def report_pdf(request):
    return _report(request, "pdf")

