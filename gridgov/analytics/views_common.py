"""What the analytics screens share: the GET form of the node and the period, the placing of a selector's
refusal on that form, links that keep the period, breadcrumbs, the formatting of KPI values, the optional
governance index, and the ranks that a user who may not read the parent node is still shown.

Every number comes from gridgov.analytics.selectors (and gridgov.analytics.index); this module only shapes
them for the templates.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import forms
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from gridgov.core.errors import InvalidInput, NotFound, ServiceError
from gridgov.core.scope import ancestor_paths, in_scope
from gridgov.geo.models import Area

from . import selectors
from .kpis import BY_CODE, KPIS

# the tiles of a dashboard, in this order (every KPI is in the KPI table below them)
TILE_KPIS = ("reported", "closed", "resolution_rate", "on_time_closure_rate", "satisfaction_rate", "response_rate",
             "overdue", "median_hours_to_close", "grid_level_rate", "community_level_rate")
# the KPIs shown beside a row of a ranking or a breakdown (exports hold every KPI)
ROW_KPIS = ("reported", "closed", "resolution_rate", "on_time_closure_rate", "satisfaction_rate", "overdue")
DEFAULT_KPI = "resolution_rate"
PERIOD_LABELS = {
    "day": pgettext_lazy("period", "Day"),
    "week": pgettext_lazy("period", "Week"),
    "month": pgettext_lazy("period", "Month"),
    "quarter": pgettext_lazy("period", "Quarter"),
    "year": pgettext_lazy("period", "Year"),
}
LEVEL_LABELS = {
    "city": gettext_lazy("City"),
    "district": gettext_lazy("District"),
    "street": gettext_lazy("Street"),
    "community": gettext_lazy("Community"),
    "grid": gettext_lazy("Grid"),
}
PERIOD_KEYS = ("period", "on", "start", "end")


class PeriodForm(forms.Form):
    """The node and the period of a dashboard (all optional). The period's words and the KPI are checked by the
    selectors, whose refusals name the parameter (place_error puts them on the field)."""

    area = forms.CharField(label=gettext_lazy("Area"), required=False, max_length=64)
    grid = forms.CharField(label=gettext_lazy("Grid"), required=False, max_length=64)
    department = forms.CharField(label=gettext_lazy("Department"), required=False, max_length=64)
    period = forms.CharField(label=gettext_lazy("Period"), required=False, max_length=16)
    on = forms.DateField(label=gettext_lazy("Day in the period"), required=False,
                         widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kpi = forms.CharField(label=gettext_lazy("Rank by"), required=False, max_length=40)
    by = forms.CharField(label=gettext_lazy("Break down by"), required=False, max_length=20)
    level = forms.CharField(label=gettext_lazy("Rank by level"), required=False, max_length=20)
    month = forms.CharField(label=gettext_lazy("Month"), required=False, max_length=7)
    table = forms.CharField(label=gettext_lazy("Table"), required=False, max_length=20)


@dataclass
class Params:
    """The cleaned parameters of a request, and the period they name."""

    period: selectors.Period
    area: str = ""
    grid: str = ""
    department: str = ""
    kpi: str = DEFAULT_KPI
    by: str = ""
    level: str = ""  # the ranking's level ("" = the node's children); kept only by links to the same node
    table: str = ""
    month: str = ""
    wall: bool = False
    keep: dict = field(default_factory=dict)  # the period parameters as given, kept by every link

    @property
    def node_kwargs(self) -> dict:
        return {"area": self.area or None, "grid": self.grid or None}


def place_error(form: forms.Form, exc: ServiceError) -> None:
    """A selector's refusal on the form: on the field its details name, otherwise on the form."""
    placed = False
    for detail in exc.details if isinstance(exc.details, list) else []:
        if isinstance(detail, dict) and detail.get("field") in form.fields:
            form.add_error(detail["field"], str(detail.get("message") or exc.message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def form_errors(form: forms.Form) -> list[dict]:
    """Each error with the parameter it concerns (shown above the figures)."""
    out = []
    for name, errors in form.errors.items():
        for error in errors:
            out.append({"field": "" if name == "__all__" else name, "message": error})
    return out


def read_params(form: PeriodForm, *, wall: bool = False) -> Params:
    """The parameters of a valid form; the period from selectors.parse_period (InvalidInput naming the
    parameter when it is bad)."""
    if not form.is_valid():
        raise InvalidInput("invalid parameters", code="invalid")
    data = form.cleaned_data
    period = selectors.parse_period(period=data["period"] or None, on=data["on"], start=data["start"],
                                    end=data["end"])
    keep: dict = {}
    if data["start"] or data["end"]:
        keep = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
    else:
        if data["period"]:
            keep["period"] = data["period"]
        if data["on"]:
            keep["on"] = data["on"].isoformat()
    return Params(period=period, area=data["area"].strip(), grid=data["grid"].strip(),
                  department=data["department"].strip(), kpi=data["kpi"].strip() or DEFAULT_KPI,
                  by=data["by"].strip(), level=data["level"].strip(), table=data["table"].strip(),
                  month=data["month"].strip(), wall=wall, keep=keep)


def status_of(exc: ServiceError | None, form: forms.Form) -> int:
    if exc is not None:
        return exc.status
    return 422 if form.errors else 200


def query(params: Params | None, **extra) -> str:
    """'?…' with the period parameters of the request, the ranking KPI and wall mode kept, plus `extra` (a value
    of None drops the key)."""
    values: dict = {}
    if params is not None:
        values.update(params.keep)
        if params.kpi and params.kpi != DEFAULT_KPI:
            values["kpi"] = params.kpi
        if params.wall:
            values["wall"] = "1"
    values.update(extra)
    clean = {k: v for k, v in values.items() if v not in (None, "")}
    return "?" + urlencode(clean) if clean else "?"


def node_query(params: Params | None, node, **extra) -> str:
    """The query string of the dashboard of `node` (a selectors.Node, or a dict with code and level)."""
    code = node["code"] if isinstance(node, dict) else node.code
    level = node["level"] if isinstance(node, dict) else node.level
    key = "grid" if level == "grid" else "area"
    return query(params, **{key: code}, **extra)


def breadcrumbs(user, node: selectors.Node, params: Params | None, url_name: str = "analytics:dashboard",
                **extra) -> list[dict]:
    """city › district › street › community › grid: each ancestor the user may read is a link to its dashboard
    with the same period (and `extra` parameters); the node itself last, not a link."""
    crumbs = []
    base = reverse(url_name)
    for area in Area.objects.filter(path__in=ancestor_paths(node.path)).exclude(path=node.path).order_by("depth"):
        if in_scope(user, area.path):
            crumbs.append({"code": area.code, "name": area.name, "level": area.level,
                           "level_label": LEVEL_LABELS.get(area.level, area.level),
                           "url": base + query(params, area=area.code, **extra)})
    crumbs.append({"code": node.code, "name": node.name, "level": node.level,
                   "level_label": LEVEL_LABELS.get(node.level, node.level), "url": ""})
    return crumbs


# --- formatting ---------------------------------------------------------------------------------------------

def fmt(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "hours":
        return _("%(hours)s h") % {"hours": f"{value:g}"}
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def fmt_change(change, unit: str) -> str:
    if change is None:
        return ""
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    number = abs(change)
    text = f"{number:.1f}" if unit == "%" else f"{number:g}"
    if unit == "%":
        return _("%(sign)s%(value)s pp") % {"sign": sign, "value": text}
    if unit == "hours":
        return _("%(sign)s%(value)s h") % {"sign": sign, "value": text}
    return f"{sign}{text}"


def direction(change) -> str:
    if change is None:
        return ""
    return "up" if change > 0 else "down" if change < 0 else "flat"


def verdict(change, higher_is_better: bool | None) -> str:
    """good | bad | "" (no change, nothing to compare, or a KPI that is neither good nor bad when it rises)."""
    if not change or higher_is_better is None:
        return ""
    return "good" if (change > 0) == higher_is_better else "bad"


def kpi_cells(rows: list[dict]) -> list[dict]:
    """The KPI rows of selectors.kpi_summary with their texts, arrows and colours."""
    out = []
    for row in rows:
        unit = row["unit"]
        out.append({**row, "value_text": fmt(row["value"], unit), "previous_text": fmt(row["previous"], unit),
                    "change_text": fmt_change(row["change"], unit), "direction": direction(row["change"]),
                    "verdict": verdict(row["change"], row["higher_is_better"])})
    return out


def tiles_of(cells: list[dict]) -> list[dict]:
    by_code = {c["code"]: c for c in cells}
    return [by_code[code] for code in TILE_KPIS if code in by_code]


def kpi_choices() -> list[tuple[str, str]]:
    return [(k.code, str(k.label)) for k in KPIS]


def kpi_label(code: str) -> str:
    return str(BY_CODE[code].label) if code in BY_CODE else code


def row_columns() -> list[dict]:
    return [{"code": c, "label": kpi_label(c), "unit": BY_CODE[c].unit} for c in ROW_KPIS]


def row_cells(row: dict, codes=ROW_KPIS) -> list[dict]:
    return [{"code": c, "text": fmt(row.get(c), BY_CODE[c].unit)} for c in codes]


def trend_step(period: selectors.Period) -> str:
    if period.days <= 62:
        return "day"
    if period.days <= 731:
        return "week"
    return "month"


def period_nav(params: Params) -> dict:
    """The period buttons and the links to the period before and after (same kind, same length)."""
    p = params.period
    kind = "" if "start" in params.keep else params.keep.get("period", "month")
    if kind:
        before = {"period": kind, "on": (p.start - dt.timedelta(days=1)).isoformat()}
        after = {"period": kind, "on": (p.end + dt.timedelta(days=1)).isoformat()}
    else:
        before = {"start": (p.start - dt.timedelta(days=p.days)).isoformat(),
                  "end": (p.start - dt.timedelta(days=1)).isoformat()}
        after = {"start": (p.end + dt.timedelta(days=1)).isoformat(),
                 "end": (p.end + dt.timedelta(days=p.days)).isoformat()}
    return {"kind": kind, "buttons": [{"key": k, "label": v, "active": k == kind} for k, v in PERIOD_LABELS.items()],
            "before": before, "after": after}


def shifted(params: Params, node_kwargs: dict, values: dict) -> str:
    """A link to the same node for another period (`values` replace the period parameters)."""
    other = Params(period=params.period, kpi=params.kpi, wall=params.wall, keep=values)
    return query(other, **{k: v for k, v in node_kwargs.items() if v})


# --- the governance index (gridgov.analytics.index, optional until it exists) --------------------------------

def index_module():
    """gridgov.analytics.index, or None while it does not exist (the index sections are then left out)."""
    try:
        return importlib.import_module("gridgov.analytics.index")
    except ImportError:
        return None


ASPECTS = {
    "concept": gettext_lazy("Concept"),
    "subjects": gettext_lazy("Subjects"),
    "methods": gettext_lazy("Methods"),
    "effectiveness": gettext_lazy("Effectiveness"),
}


def index_ranking(*, user, node: selectors.Node, period: selectors.Period) -> dict | None:
    """index.index_ranking of the node's children, or None (no index module, a grid, or a level the index does
    not rank)."""
    module = index_module()
    if module is None or node.level == "grid":
        return None
    try:
        return module.index_ranking(user=user, **_node_arg(node), period=period)
    except (InvalidInput, NotFound):
        return None


def index_of(*, user, node: selectors.Node, period: selectors.Period) -> dict | None:
    module = index_module()
    if module is None:
        return None
    try:
        return module.index_of(user=user, **_node_arg(node), period=period)
    except (InvalidInput, NotFound):
        return None


def _node_arg(node: selectors.Node) -> dict:
    return {"grid": node.code} if node.level == "grid" else {"area": node.code}


def fmt_index(value) -> str:
    return "—" if value is None else f"{value:.1f}"


# --- ranks among siblings, for a user who may not read the parent node ---------------------------------------

def _order_key(code: str, value):
    spec = BY_CODE[code]
    return (value is None, -(value or 0) if spec.higher_is_better is not False else (value or 0))


def rank_rows(rows: list[dict], code: str, key: str = "code") -> list[dict]:
    """Rows ({key, <kpis>, previous: {<kpis>}}) ranked by one KPI the way selectors.kpi_ranking ranks: best first,
    rows without a value last and unranked; previous_rank from the previous period's values."""
    rows = sorted(rows, key=lambda r: (_order_key(code, r.get(code)), r[key]))
    previous = sorted(rows, key=lambda r: (_order_key(code, (r.get("previous") or {}).get(code)), r[key]))
    previous_rank = {r[key]: i + 1 for i, r in enumerate(previous) if (r.get("previous") or {}).get(code) is not None}
    for i, row in enumerate(rows):
        row["rank"] = i + 1 if row.get(code) is not None else None
        row["previous_rank"] = previous_rank.get(row[key])
    return rows


def sibling_rows(paths: list[str], period: selectors.Period, *, dim: str = "", dim_prefix: str = "") -> dict:
    """{(path, dim): {<kpis>, previous: {<kpis>}}} read from the rollups with the selectors' own sums (for the
    scorecard's and the department page's positions, whose users may not read the parent node)."""
    now = selectors.rollup_sums(paths, period, dim=dim, dim_prefix=dim_prefix)
    before = selectors.rollup_sums(paths, period.previous(), dim=dim, dim_prefix=dim_prefix)
    keys = set(now) | set(before) if dim_prefix else {(p, dim) for p in paths}
    return {key: {**selectors.values_at(now, key), "previous": selectors.values_at(before, key)} for key in keys}


def movement(rank, previous_rank) -> dict:
    """How a rank moved since the previous period: up / down / same / new (no previous rank)."""
    if rank is None:
        return {"key": "", "text": ""}
    if previous_rank is None:
        return {"key": "new", "text": _("new")}
    delta = previous_rank - rank
    if delta > 0:
        return {"key": "up", "text": f"▲{delta}"}
    if delta < 0:
        return {"key": "down", "text": f"▼{-delta}"}
    return {"key": "same", "text": "="}
