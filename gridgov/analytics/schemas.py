"""Schemas of the analytics API: the query parameters of each read and the shape of every answer (KPI summaries,
trends, breakdowns, rankings, the governance effectiveness index, the hotspot and open-case map layers).
Resolvers only shape data; every figure is read by gridgov.analytics.selectors (and .index).

Enumerations (`period`, `step`, `by`) and KPI codes are plain strings here: the selectors check them, so that an
unknown value is a 422 with a stable code (`invalid_period`, `invalid_step`, `invalid_breakdown`, `unknown_kpi`)
naming the parameter. Dates are checked by the selectors too (1900–2999, `end` not before `start`, a range of
at most GRIDGOV_ANALYTICS_MAX_DAYS days). Strings are bounded and refuse a NUL character, so that no input
reaches the database unchecked.

The KPI values of a row are one field per KPI code (`reported`, `resolution_rate`, …; see `GET
/analytics/kpis` and docs/kpis.md): a count (integer), a percentage with one decimal, or hours; null when the
denominator is 0 (or nothing closed, for the hours).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import create_model, field_validator

from .kpis import KPIS, PERCENTILES

Value = int | float | None


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


# --- input ---------------------------------------------------------------------------------------------------

class NodeQuery(Schema):
    """Where and when: an area (any level) or a grid, in your scope (default: your own area or grid), and a
    named period containing `on` or an explicit range `start`–`end`."""

    area: str | None = Field(None, max_length=40, description="area code (city, district, street or community); "
                                                               "default your own area (or grid, for grid members)")
    grid: str | None = Field(None, max_length=40, description="grid code (instead of area)")
    period: str | None = Field(None, max_length=20, description="day, week, month, quarter or year (default month); "
                                                               "ignored when start and end are given")
    on: dt.date | None = Field(None, description="a day in the period (default today)")
    start: dt.date | None = Field(None, description="first day of a range (with end)")
    end: dt.date | None = Field(None, description="last day of a range, inclusive (with start)")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value):
        return _no_nul(value)

    def period_args(self) -> dict:
        return {"period": self.period, "on": self.on, "start": self.start, "end": self.end}


class TrendQuery(NodeQuery):
    step: str = Field("day", max_length=20, description="day, week or month: one point per step (at most 400)")
    kpi: list[str] | None = Field(None, max_length=20, description="KPI codes (repeatable); default reported, "
                                                                     "closed, resolution_rate, on_time_closure_rate, "
                                                                     "satisfaction_rate")

    @field_validator("kpi")
    @classmethod
    def _short_codes(cls, codes: list[str] | None) -> list[str] | None:
        if codes and any(len(c) > 40 for c in codes):
            raise ValueError("a KPI code has at most 40 characters")
        return codes


class BreakdownQuery(NodeQuery):
    by: str = Field(..., max_length=20, description="category (main class), source, department (lead) or kind "
                                                    "(category kind); a grid: source or kind only")


class RankingQuery(NodeQuery):
    kpi: str = Field("resolution_rate", max_length=40, description="the KPI code to rank by")
    level: str | None = Field(None, max_length=20, description="district, street, community or grid: rank every "
                                                               "area (or grid) at that level under the node, e.g. "
                                                               "every community of the city; grids only under a "
                                                               "street or a community. Default: the node's children")


class CasesMapQuery(Schema):
    area: str | None = Field(None, max_length=40, description="area code; default your own area or grid")
    grid: str | None = Field(None, max_length=40, description="grid code (instead of area)")
    overdue: bool = Field(False, description="true: only the open cases that are overdue")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value):
        return _no_nul(value)


# --- output --------------------------------------------------------------------------------------------------

class KpiOut(Schema):
    code: str
    label: str = Field(..., description="in the request's language")
    unit: str = Field(..., description='"%", "count" or "hours"')
    numerator: list[str] = Field(..., description="rollup counters summed above the line (a count: the counters "
                                                  "summed; empty for the hours percentiles)")
    denominator: list[str] = Field(..., description="rollup counters summed below the line; empty for a count")
    higher_is_better: bool | None

    @staticmethod
    def resolve_label(obj) -> str:
        return str(obj.label)


class NodeOut(Schema):
    code: str = Field(..., description="area or grid code")
    name: str
    level: str = Field(..., description="city, district, street, community or grid")


class PeriodOut(Schema):
    start: dt.date
    end: dt.date = Field(..., description="inclusive")


def _sum(counters: tuple[str, ...]) -> str:
    return " + ".join(counters) if len(counters) == 1 else f"({' + '.join(counters)})"


def _kpi_description(kpi) -> str:
    if kpi.code in PERCENTILES:
        what = f"{int(PERCENTILES[kpi.code] * 100)}th percentile of the hours from report to close"
    elif kpi.denominator:
        what = f"% = 100 × {_sum(kpi.numerator)} / {_sum(kpi.denominator)}"
    else:
        what = f"count of {' + '.join(kpi.numerator)}"
    return f"{kpi.code}: {what}; {'neither higher nor lower is better' if kpi.higher_is_better is None else ('higher' if kpi.higher_is_better else 'lower') + ' is better'}"


_KPI_FIELDS = {k.code: (Value, Field(None, description=_kpi_description(k))) for k in KPIS}

# Every KPI as a field (a breakdown or ranking row has them all; a trend point only the KPIs asked for).
KpiValuesOut = create_model("KpiValuesOut", __base__=Schema, __doc__="The value of each KPI (docs/kpis.md).",
                            **_KPI_FIELDS)


class KpiSummaryRowOut(Schema):
    code: str
    label: str
    unit: str
    value: Value
    previous: Value = Field(..., description="the value in the previous period")
    change: float | None = Field(..., description="value − previous (percentage points for a rate); null when "
                                                  "either is null")
    higher_is_better: bool | None


class SummaryOut(Schema):
    node: NodeOut
    period: PeriodOut
    previous_period: PeriodOut = Field(..., description="the previous month, quarter or year for a calendar one; "
                                                        "otherwise as many days ending the day before")
    kpis: list[KpiSummaryRowOut] = Field(..., description="every KPI, in the catalogue's order")


TrendPointOut = create_model("TrendPointOut", __base__=KpiValuesOut,
                             __doc__="One step: its days and the KPIs asked for (only those).",
                             start=(dt.date, ...), end=(dt.date, Field(..., description="inclusive")))


class TrendOut(Schema):
    node: NodeOut
    period: PeriodOut
    step: str
    kpis: list[str] = Field(..., description="the KPI codes of each point")
    series: list[TrendPointOut]


BreakdownRowOut = create_model(
    "BreakdownRowOut", __base__=KpiValuesOut, __doc__="One category, source, department or kind with every KPI.",
    key=(str, Field(..., description="category code, source, department code or kind")),
    label=(str, ...),
    previous=(KpiValuesOut, Field(..., description="every KPI in the previous period")))


class BreakdownOut(Schema):
    node: NodeOut
    period: PeriodOut
    by: str
    rows: list[BreakdownRowOut] = Field(..., description="most reported first")


RankingRowOut = create_model(
    "RankingRowOut", __base__=KpiValuesOut, __doc__="One area or grid below the node, with every KPI.",
    code=(str, ...), name=(str, ...), level=(str, ...),
    previous=(KpiValuesOut, Field(..., description="every KPI in the previous period")),
    rank=(int | None, Field(..., description="1 = best by the ranking KPI; null without a value")),
    previous_rank=(int | None, Field(..., description="the rank in the previous period")))


class RankingOut(Schema):
    node: NodeOut
    period: PeriodOut
    kpi: str = Field(..., description="the KPI ranked by")
    level: str | None = Field(..., description="the level of the rows (district, street, community or grid); null "
                                               "when there is nothing below the node")
    rows: list[RankingRowOut] = Field(..., description="the areas (or grids) at `level` under the node — by default "
                                                       "the children — best first; rows without a value last")


class AspectsOut(Schema):
    concept: float | None = Field(None, description="share of service work, 0–100")
    subjects: float | None = Field(None, description="participation of departments, party members, volunteers "
                                                     "and residents, 0–100")
    methods: float | None = Field(None, description="digital reporting, data quality, patrol and visit "
                                                    "coverage, 0–100")
    effectiveness: float | None = Field(None, description="the rates, 0–100")


class WeightsOut(Schema):
    concept: float
    subjects: float
    methods: float
    effectiveness: float


class IndexRowOut(Schema):
    code: str
    name: str
    level: str
    index: float | None = Field(..., description="governance effectiveness index 0–100, one decimal")
    aspects: AspectsOut
    previous_index: float | None = Field(..., description="the index in the previous period")
    previous_aspects: AspectsOut | None = Field(None, description="the aspects in the previous period")
    rank: int | None = Field(..., description="1 = the highest index; null without an index")
    previous_rank: int | None


class IndexRankingOut(Schema):
    node: NodeOut
    period: PeriodOut
    previous_period: PeriodOut | None = None
    weights: WeightsOut = Field(..., description="the aspects' weights (GRIDGOV_INDEX_WEIGHTS)")
    rows: list[IndexRowOut] = Field(..., description="the districts of a city, streets of a district, communities "
                                                     "of a street or grids of a community, best first (those "
                                                     "without an index last)")
    snapshot_at: str | None = Field(None, description="when the snapshot indicators (data quality, visit "
                                                     "coverage, …) were counted, ISO 8601; they enter both periods "
                                                     "with their current value")


class IndicatorOut(Schema):
    code: str
    label: str
    aspect: str = Field(..., description="concept, subjects, methods or effectiveness")
    value: float | None = Field(..., description="its score 0–100 (null: not measured)")
    measured: float | None = Field(None, description="the measured value before scoring")
    target: float | None = Field(None, description="the value that scores 100, for an indicator with a target")
    snapshot: bool | None = Field(None, description="true: counted from the current state (a snapshot), not "
                                                    "from the period")
    weight: float | None = Field(None, description="its weight in the index (null when not measured)")


class IndexNodeOut(Schema):
    node: NodeOut
    period: PeriodOut | None = None
    previous_period: PeriodOut | None = None
    weights: WeightsOut | None = Field(None, description="the aspects' weights (GRIDGOV_INDEX_WEIGHTS)")
    index: float | None = Field(..., description="governance effectiveness index 0–100, one decimal")
    aspects: AspectsOut
    indicators: list[IndicatorOut]
    previous_index: float | None
    previous_aspects: AspectsOut | None = None
    snapshot_at: str | None = Field(None, description="when the snapshot indicators (data quality, visit "
                                                     "coverage, …) were counted, ISO 8601; they enter both periods "
                                                     "with their current value")


class PolygonOut(Schema):
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]] = Field(..., description="one closed ring of [lon, lat], WGS 84")


class HotspotPropertiesOut(Schema):
    cell: str = Field(..., description="H3 cell index")
    reported: int = Field(..., description="cases reported in the cell in the months")


class HotspotFeatureOut(Schema):
    type: Literal["Feature"]
    geometry: PolygonOut
    properties: HotspotPropertiesOut


class HotspotsOut(Schema):
    type: Literal["FeatureCollection"]
    node: NodeOut
    months: list[dt.date] = Field(..., description="first days of the whole months counted (hotspots are monthly)")
    features: list[HotspotFeatureOut] = Field(..., description="most reports first")


class PointOut(Schema):
    type: Literal["Point"]
    coordinates: list[float] = Field(..., description="[lon, lat], WGS 84")


class CasePropertiesOut(Schema):
    id: int
    number: str
    category: str = Field(..., description="the category's name")
    state: str
    state_label: str
    overdue: bool
    url: str = Field(..., description="the case's page in the web UI")


class CaseFeatureOut(Schema):
    type: Literal["Feature"]
    geometry: PointOut
    properties: CasePropertiesOut


class CasesMapOut(Schema):
    type: Literal["FeatureCollection"]
    node: NodeOut
    features: list[CaseFeatureOut] = Field(..., description="the most recently reported first")
    truncated: bool = Field(..., description="true: more cases than `limit`; only the first `limit` are given")
    limit: int


# --- downloads and the area-outline layer ---------------------------------------------------------------------

class ExportQuery(NodeQuery):
    """One table of a dashboard, as the web UI's export.xlsx."""

    table: Literal["kpis", "ranking", "breakdown", "departments", "index", "department"] = Field(
        "ranking", description="kpis, ranking (of the children, or of every area at `level`), breakdown (by `by`), "
                               "departments (the league), index (the governance index), department (the KPIs of "
                               "`department`, as its dashboard)")
    kpi: str = Field("resolution_rate", max_length=40, description="the KPI a ranking or league is ordered by")
    by: str | None = Field(None, max_length=20, description="breakdown: category, source, department or kind")
    level: str | None = Field(None, max_length=20, description="ranking: the level ranked (default the children)")
    department: str | None = Field(None, max_length=64, description="department code (table=department)")


class ReportQuery(Schema):
    area: str | None = Field(None, max_length=40, description="area code; default your own area")
    grid: str | None = Field(None, max_length=40, description="grid code (instead of area)")
    month: str | None = Field(None, max_length=7, description="YYYY-MM; default the month before this one")
    kpi: str = Field("resolution_rate", max_length=40, description="the KPI the ranking is ordered by")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value):
        return _no_nul(value)


class MapNodesQuery(NodeQuery):
    kpi: str = Field("resolution_rate", max_length=40, description="the KPI each shape is valued and coloured by")


class NodePropertiesOut(Schema):
    code: str
    name: str
    level: str = Field(..., description="city, district, street, community or grid")
    level_label: str | None = Field(None, description="the level in the request's language")
    url: str = Field(..., description="the shape's dashboard in the web UI (empty for the node itself)")
    rank: int | None = Field(None, description="its rank by `kpi` among the node's children (null: no value)")
    value: Value = Field(None, description="its value of `kpi`")
    value_text: str | None = Field(None, description="the value formatted as on the dashboard")
    kpi_label: str | None = None
    colour: str = Field(..., description="best third green, middle amber, last red, no value grey; the node "
                                         "itself (a grid) blue")
    self: bool | None = Field(None, description="true: the shape is the node itself (a grid has no children)")


class NodeFeatureOut(Schema):
    type: Literal["Feature"]
    geometry: dict[str, Any] = Field(..., description="GeoJSON Polygon or MultiPolygon, WGS 84")
    properties: NodePropertiesOut


class MapNodesOut(Schema):
    type: Literal["FeatureCollection"]
    node: NodeOut
    kpi: str
    features: list[NodeFeatureOut] = Field(..., description="the node's children (areas: their boundary or the "
                                                             "extent of their grids; a community: its grids); a "
                                                             "grid: itself")
