"""Reads of the governance figures, scoped to the acting user, from the rollups only (never the raw cases):
KPI summaries with the previous period beside them, trends, breakdowns, rankings and hotspots. `direct_kpis`
computes the same numbers from the raw cases, for the tests and the benchmarks.

A range [start, end] is read as the whole calendar years inside it (year rows), the whole months in the rest
(month rows) and the days at its edges (day rows).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import h3
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.choices import Role
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import ALL, in_scope, prefix_q, scope_paths
from gridgov.geo.models import Area, Grid

from .kpis import BY_CODE, KPIS, PERCENTILES, values_of
from .models import COUNTERS, Grain, Rollup
from .rollups import EVENT_FIELDS, FIELDS, close_hours, counts_of, day_bounds, keys_of

PERIODS = ("day", "week", "month", "quarter", "year")
BREAKDOWNS = {"category": "c:", "source": "s:", "department": "d:", "kind": "k:"}
GRID_BREAKDOWNS = ("source", "kind")
STEPS = ("day", "week", "month")


def _one_of(choices) -> str:
    return _("one of %(choices)s") % {"choices": ", ".join(choices)}


def _bad(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


# --- periods -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before: the previous month for a calendar month, the previous
        quarter or year likewise, otherwise the same number of days ending the day before."""
        s, e = self.start, self.end
        if s.day == 1 and (e + dt.timedelta(days=1)).day == 1:
            months = (e.year - s.year) * 12 + e.month - s.month + 1
            first = _add_months(s, -months)
            return Period(first, s - dt.timedelta(days=1))
        return Period(s - dt.timedelta(days=self.days), s - dt.timedelta(days=1))

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _check_date(name: str, value: dt.date | None) -> None:
    if value is not None and not 1900 <= value.year <= 2999:
        raise _bad(name, _("a date between 1900 and 2999"), "invalid_range")


def parse_period(*, period: str | None = None, on: dt.date | None = None, start: dt.date | None = None,
                 end: dt.date | None = None) -> Period:
    """A named period (day, week, month, quarter, year) containing `on` (default today), or [start, end]."""
    for name, value in (("on", on), ("start", start), ("end", end)):
        _check_date(name, value)
    if start is not None or end is not None:
        if start is None or end is None:
            raise _bad("start" if start is None else "end", _("give both start and end"), "invalid_range")
        if end < start:
            raise _bad("end", _("the range ends before it starts"), "invalid_range")
        limit = getattr(settings, "GRIDGOV_ANALYTICS_MAX_DAYS", 3660)
        if (end - start).days + 1 > limit:
            raise _bad("end", _("the range spans more than %(n)d days") % {"n": limit}, "invalid_range")
        return Period(start, end)
    period = period or "month"
    if period not in PERIODS:
        raise _bad("period", _one_of(PERIODS), "invalid_period")
    on = on or timezone.localdate()
    if period == "day":
        return Period(on, on)
    if period == "week":
        monday = on - dt.timedelta(days=on.weekday())
        return Period(monday, monday + dt.timedelta(days=6))
    if period == "month":
        first = on.replace(day=1)
        return Period(first, _add_months(first, 1) - dt.timedelta(days=1))
    if period == "quarter":
        first = dt.date(on.year, (on.month - 1) // 3 * 3 + 1, 1)
        return Period(first, _add_months(first, 3) - dt.timedelta(days=1))
    return Period(dt.date(on.year, 1, 1), dt.date(on.year, 12, 31))


def _split(period: Period) -> tuple[list[dt.date], list[dt.date], list[dt.date]]:
    """The whole calendar years inside the period, the whole months in the rest (their first days), and the
    remaining days."""
    years, months, days = [], [], []
    day = period.start
    while day <= period.end:
        month_end = _add_months(day.replace(day=1), 1) - dt.timedelta(days=1)
        if day.month == 1 and day.day == 1 and dt.date(day.year, 12, 31) <= period.end:
            years.append(day)
            day = dt.date(day.year + 1, 1, 1)
        elif day.day == 1 and month_end <= period.end:
            months.append(day)
            day = month_end + dt.timedelta(days=1)
        else:
            days.append(day)
            day += dt.timedelta(days=1)
    return years, months, days


# --- nodes and scope ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    path: str
    code: str
    name: str
    level: str  # city, district, street, community or grid

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "level": self.level}


def may_read(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and (scope_paths(user) is ALL or user.role in (Role.LEADER, Role.DISPATCHER, Role.MEDIATOR,
                                                               Role.PARTY_SECRETARY, Role.GRID_MEMBER)))


def home_node(user) -> Node:
    """Where a user's dashboard opens: their area, their (first) grid, or the root of the tree."""
    if user.role == Role.GRID_MEMBER and not user.is_admin_role:
        grid = user.grids.order_by("code").first()
        if grid is not None:
            return Node(grid.path, grid.code, grid.name, "grid")
    if user.area_id and not user.is_admin_role:
        a = user.area
        return Node(a.path, a.code, a.name, a.level)
    root = Area.objects.filter(parent__isnull=True).order_by("code").first()
    if root is None:
        raise NotFound("There is no area yet.", code="unknown_area", details=[{"field": "area", "message": "none"}])
    return Node(root.path, root.code, root.name, root.level)


def resolve_node(*, user, area: str | None = None, grid: str | None = None) -> Node:
    """The area or grid asked for (or the user's own), within the user's scope; otherwise a 404 naming it."""
    if not may_read(user):
        raise NotFound("No figures for you here.", code="not_found")
    if grid:
        g = Grid.objects.filter(code=grid).first()
        node = Node(g.path, g.code, g.name, "grid") if g else None
        field = "grid"
    elif area:
        a = Area.objects.filter(code=area).first()
        node = Node(a.path, a.code, a.name, a.level) if a else None
        field = "area"
    else:
        return home_node(user)
    if node is None or not in_scope(user, node.path):
        message = _("unknown or outside your area")
        raise NotFound(f"{field}: {message}", code=f"unknown_{field}", details=[{"field": field, "message": message}])
    return node


RANK_LEVELS = ("district", "street", "community", "grid")
LEVEL_ORDER = ("city", "district", "street", "community", "grid")
GRID_RANKING_FROM = ("street", "community")  # grids are ranked within a street or a community, not city-wide


def children_of(node: Node) -> list[Node]:
    if node.level == "grid":
        return []
    if node.level == "community":
        return [Node(g.path, g.code, g.name, "grid") for g in Grid.objects.filter(prefix_q("path", node.path))
                .exclude(path=node.path).order_by("code")]
    return [Node(a.path, a.code, a.name, a.level) for a in Area.objects.filter(parent__path=node.path).order_by("code")]


def nodes_below(node: Node, level: str | None) -> list[Node]:
    """The areas (or grids) at `level` under the node — its children when no level is given. A level that is
    not below the node, or grids under more than a street, is refused naming the parameter."""
    if not level:
        return children_of(node)
    if level not in RANK_LEVELS:
        raise _bad("level", _one_of(RANK_LEVELS), "invalid_level")
    if LEVEL_ORDER.index(level) <= LEVEL_ORDER.index(node.level):
        raise _bad("level", _("a level below %(level)s") % {"level": node.level}, "invalid_level")
    if level == "grid":
        if node.level not in GRID_RANKING_FROM:
            raise _bad("level", _("grids are ranked within a street or a community"), "invalid_level")
        return [Node(g.path, g.code, g.name, "grid") for g in Grid.objects.filter(prefix_q("path", node.path))
                .order_by("code")]
    return [Node(a.path, a.code, a.name, a.level) for a in Area.objects.filter(prefix_q("path", node.path),
                                                                               level=level).order_by("code")]


# --- sums over the rollups ---------------------------------------------------------------------------------------

def rollup_sums(nodes: list[str], period: Period, *, dim: str = "", dim_prefix: str = "") -> dict[tuple[str, str], tuple]:
    """{(node, dim): (counters, hours)} summed over the period."""
    years, months, days = _split(period)
    q = Q(grain=Grain.YEAR, start__in=years) | Q(grain=Grain.MONTH, start__in=months) | Q(grain=Grain.DAY,
                                                                                         start__in=days)
    qs = Rollup.objects.filter(q, node__in=nodes)
    qs = qs.filter(dim__startswith=dim_prefix) if dim_prefix else qs.filter(dim=dim)
    out: dict[tuple[str, str], tuple[dict, dict]] = {}
    merged: set[tuple[str, str]] = set()  # keys whose histogram is already a copy of their own
    # fetched whole: `.iterator()` would open a server-side cursor on PostgreSQL (DECLARE … WITH HOLD, which
    # materialises the result once more at commit) for what is at most a few thousand rows
    for node, row_dim, row_hours, *values in qs.values_list("node", "dim", "close_hours", *COUNTERS):
        key = (node, row_dim)
        if key not in out:  # the first row of a key is taken as it is (a year's figures are one row)
            out[key] = (dict(zip(COUNTERS, values, strict=True)), row_hours or {})
            continue
        counts, hours = out[key]
        for name, value in zip(COUNTERS, values, strict=True):
            counts[name] += value
        if key not in merged:
            hours = dict(hours)
            out[key] = (counts, hours)
            merged.add(key)
        for h, n in (row_hours or {}).items():
            hours[h] = hours.get(h, 0) + n
    return out


def values_at(sums: dict, key, codes=None) -> dict:
    counts, hours = sums.get(key, (dict.fromkeys(COUNTERS, 0), {}))
    return values_of(counts, hours, codes)


def kpi_rows(current: dict, previous: dict) -> list[dict]:
    rows = []
    for kpi in KPIS:
        value, before = current[kpi.code], previous[kpi.code]
        change = round(value - before, 1) if value is not None and before is not None else None
        rows.append({"code": kpi.code, "label": str(kpi.label), "unit": kpi.unit, "value": value,
                     "previous": before, "change": change, "higher_is_better": kpi.higher_is_better})
    return rows


def kpi_summary(*, user, area: str | None = None, grid: str | None = None, period: Period) -> dict:
    node = resolve_node(user=user, area=area, grid=grid)
    previous = period.previous()
    now, before = rollup_sums([node.path], period), rollup_sums([node.path], previous)
    return {"node": node.as_dict(), "period": period.as_dict(), "previous_period": previous.as_dict(),
            "kpis": kpi_rows(values_at(now, (node.path, "")), values_at(before, (node.path, "")))}


def kpi_trend(*, user, area: str | None = None, grid: str | None = None, period: Period, step: str = "day",
              kpis: list[str] | None = None) -> dict:
    if step not in STEPS:
        raise _bad("step", _one_of(STEPS), "invalid_step")
    codes = kpi_codes(kpis)
    node = resolve_node(user=user, area=area, grid=grid)
    buckets: list[Period] = []
    day = period.start
    while day <= period.end:
        if step == "day":
            end = day
        elif step == "week":
            end = day + dt.timedelta(days=6 - day.weekday())
        else:
            end = _add_months(day.replace(day=1), 1) - dt.timedelta(days=1)
        end = min(end, period.end)
        buckets.append(Period(day, end))
        day = end + dt.timedelta(days=1)
    if len(buckets) > 400:
        raise _bad("step", _("too many points: choose a longer step"), "invalid_step")
    # one read for the whole period: each bucket from its whole years' and months' rows and its edge days' rows;
    # the close-time histograms only when a percentile is asked for (they are most of the bytes read)
    parts = {bucket: _split(bucket) for bucket in buckets}
    wanted = {grain: sorted({start for split in parts.values() for start in split[i]})
              for i, grain in enumerate((Grain.YEAR, Grain.MONTH, Grain.DAY))}
    fields = [*COUNTERS, "close_hours"] if any(c in PERCENTILES for c in codes) else list(COUNTERS)
    rows = {(r["grain"], r["start"]): r for r in Rollup.objects.filter(
        Q(grain=Grain.YEAR, start__in=wanted[Grain.YEAR]) | Q(grain=Grain.MONTH, start__in=wanted[Grain.MONTH])
        | Q(grain=Grain.DAY, start__in=wanted[Grain.DAY]), node=node.path, dim="").values("grain", "start", *fields)}
    series = []
    for bucket in buckets:
        counts, hours = dict.fromkeys(COUNTERS, 0), {}
        years, months, days = parts[bucket]
        for key in [*((Grain.YEAR, d) for d in years), *((Grain.MONTH, d) for d in months),
                    *((Grain.DAY, d) for d in days)]:
            r = rows.get(key)
            if r:
                for name in COUNTERS:
                    counts[name] += r[name]
                for h, n in (r.get("close_hours") or {}).items():
                    hours[h] = hours.get(h, 0) + n
        series.append({"start": bucket.start.isoformat(), "end": bucket.end.isoformat(),
                       **values_of(counts, hours, codes)})
    return {"node": node.as_dict(), "period": period.as_dict(), "step": step, "kpis": codes, "series": series}


def kpi_codes(kpis: list[str] | None) -> list[str]:
    codes = kpis or ["reported", "closed", "resolution_rate", "on_time_closure_rate", "satisfaction_rate"]
    unknown = [c for c in codes if c not in BY_CODE]
    if unknown:
        raise _bad("kpi", _("unknown KPI %(codes)s; one of %(choices)s") % {"codes": ", ".join(unknown),
                                                                          "choices": ", ".join(BY_CODE)},
                   "unknown_kpi")
    return codes


def kpi_breakdown(*, user, by: str, area: str | None = None, grid: str | None = None, period: Period) -> dict:
    """The KPIs per main category, source, category kind or lead department at an area (per source or kind at
    a grid)."""
    if by not in BREAKDOWNS:
        raise _bad("by", _one_of(BREAKDOWNS), "invalid_breakdown")
    node = resolve_node(user=user, area=area, grid=grid)
    if node.level == "grid" and by not in GRID_BREAKDOWNS:
        raise _bad("by", _("a grid is broken down by %(choices)s") % {"choices": " / ".join(GRID_BREAKDOWNS)},
                   "invalid_breakdown")
    prefix = BREAKDOWNS[by]
    now = rollup_sums([node.path], period, dim_prefix=prefix)
    before = rollup_sums([node.path], period.previous(), dim_prefix=prefix)
    labels = dim_labels(by, [dim for _node, dim in now])
    rows = []
    for (_node, dim) in now:
        values = values_at(now, (node.path, dim))
        rows.append({"key": dim[len(prefix):], "label": labels.get(dim, dim[len(prefix):]), **values,
                     "previous": values_at(before, (node.path, dim))})
    rows.sort(key=lambda r: (-(r["reported"] or 0), r["key"]))
    return {"node": node.as_dict(), "period": period.as_dict(), "by": by, "rows": rows}


def dim_labels(by: str, dims: list[str]) -> dict[str, str]:
    keys = [d.split(":", 1)[1] for d in dims]
    if by == "category":
        from gridgov.cases.models import Category

        return {f"c:{code}": name for code, name in Category.objects.filter(code__in=keys).values_list("code", "name")}
    if by == "department":
        from gridgov.accounts.models import Department

        return {f"d:{code}": name for code, name in Department.objects.filter(code__in=keys).values_list("code",
                                                                                                      "name")}
    from gridgov.cases.choices import CategoryKind, Source

    if by == "kind":
        return {f"k:{k}": str(CategoryKind(k).label) for k in keys if k in CategoryKind.values}
    return {f"s:{k}": str(Source(k).label) for k in keys if k in Source.values}


def kpi_ranking(*, user, area: str | None = None, grid: str | None = None, period: Period,
                kpi: str = "resolution_rate", level: str | None = None) -> dict:
    """The areas (or grids) one level below — or at `level` anywhere below, e.g. every community of the city —
    ranked by a KPI, with every KPI and the previous period's rank."""
    code = kpi_codes([kpi])[0]
    node = resolve_node(user=user, area=area, grid=grid)
    children = nodes_below(node, level)
    paths = [c.path for c in children]
    now, before = rollup_sums(paths, period), rollup_sums(paths, period.previous())
    rows = [{**c.as_dict(), **values_at(now, (c.path, "")), "previous": values_at(before, (c.path, ""))}
            for c in children]
    spec = BY_CODE[code]

    def order(row_value):
        # rows without a value go last; otherwise best first
        return (row_value is None, -(row_value or 0) if spec.higher_is_better is not False else (row_value or 0))

    rows.sort(key=lambda r: (order(r[code]), r["code"]))
    previous_order = sorted(rows, key=lambda r: (order(r["previous"][code]), r["code"]))
    previous_rank = {r["code"]: i + 1 for i, r in enumerate(previous_order) if r["previous"][code] is not None}
    for i, row in enumerate(rows):
        row["rank"] = i + 1 if row[code] is not None else None
        row["previous_rank"] = previous_rank.get(row["code"])
    return {"node": node.as_dict(), "period": period.as_dict(), "kpi": code,
            "level": level or (children[0].level if children else None), "rows": rows}


def hotspots(*, user, area: str | None = None, grid: str | None = None, period: Period) -> dict:
    """Reports per H3 cell in the area, over the whole months the period touches (the hotspot rows are
    monthly and yearly), as GeoJSON polygons."""
    node = resolve_node(user=user, area=area, grid=grid)
    if node.level == "grid":
        raise _bad("grid", _("hotspots are per area"), "invalid_breakdown")
    first = period.start.replace(day=1)
    months = []
    while first <= period.end:
        months.append(first)
        first = _add_months(first, 1)
    # a calendar year whose twelve months are all touched is read from its year rows
    years = sorted({m.replace(month=1) for m in months if sum(x.year == m.year for x in months) == 12})
    rest = [m for m in months if m.replace(month=1) not in years]
    counts: dict[str, int] = defaultdict(int)
    for dim, n in Rollup.objects.filter(Q(grain=Grain.YEAR, start__in=years) | Q(grain=Grain.MONTH, start__in=rest),
                                        node=node.path, dim__startswith="h:").values_list("dim", "reported"):
        counts[dim[2:]] += n
    features = []
    for cell, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"cell": cell, "reported": n}})
    return {"type": "FeatureCollection", "node": node.as_dict(),
            "months": [m.isoformat() for m in months], "features": features}


# --- the same numbers from the raw cases (tests, benchmarks) -----------------------------------------------------

def direct_kpis(*, path: str, period: Period, dim: str = "") -> dict:
    """The KPIs of the cases under `path` in the period, computed from the raw cases with the rollups'
    definitions (rollups.counts_of / keys_of), bypassing the rollup tables."""
    from gridgov.cases.models import Case

    lo, hi = day_bounds(period.start)[0], day_bounds(period.end)[1]
    counts, hours = dict.fromkeys(COUNTERS, 0), {}
    for field in EVENT_FIELDS:
        qs = Case.objects.filter(prefix_q("path", path), **{f"{field}__gte": lo, f"{field}__lt": hi})
        for row in qs.values(*FIELDS):
            if dim and (path, dim) not in keys_of(row):
                continue
            for name, value in counts_of(field, row).items():
                counts[name] += value
            if field == "closed_at":
                h = str(close_hours(row))
                hours[h] = hours.get(h, 0) + 1
    return values_of(counts, hours)


def label_of(code: str) -> str:
    return str(BY_CODE[code].label) if code in BY_CODE else _("unknown")
