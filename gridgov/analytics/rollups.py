"""Writing the rollups (docs/kpis.md "Rollups").

A day's rows are always recomputed whole from the raw cases (one indexed query per workflow timestamp), so the
result does not depend on the order of events: `rollups_update` recomputes the days that the cases changed
since the last run touch (the periodic job), `rollups_rebuild` every day from scratch. The month and year rows
are kept equal to the sum of their days by applying each day's difference, so a month or a year is never
re-read whole (a year row makes a year's figures of many nodes one row each instead of twelve).

Rows per case event: the case's grid and each area above it with dim "" (everything), its source ("s:") and
its category's kind ("k:"); each area besides with its main category ("c:") and lead department ("d:"). The hotspot rows ("h:<H3 cell>", resolution
`HEX_RESOLUTION`, counting reports only) exist at the month and year grains, for each area: a month's are
recomputed whole for each month a changed day falls in, and its year's summed again from the months.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import h3
from django.db import connection, transaction
from django.db.models import Max, Min, Sum
from django.utils import timezone

from gridgov.cases.models import Case, Step
from gridgov.core.dbstats import analyze
from gridgov.core.scope import ancestor_paths

from .models import COUNTERS, DirtyCase, Grain, Rollup, RollupState

HEX_RESOLUTION = 8
BATCH = 2000
FIELDS = ("reported_at", "registered_at", "rejected_at", "dispatched_at", "dispatch_due", "accepted_at",
          "closed_at", "closed_on_time", "resolution_level", "rated_at", "satisfaction", "overdue",
          "extension_count", "return_count", "rework_count", "path", "category__parent__code", "category__kind", "source",
          "lead_department__code", "lon", "lat")
EVENT_FIELDS = ("reported_at", "registered_at", "rejected_at", "dispatched_at", "closed_at", "rated_at")


def _zone():
    return timezone.get_current_timezone()


def local_day(value: dt.datetime) -> dt.date:
    return timezone.localtime(value, _zone()).date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = _zone()
    return (dt.datetime.combine(day, dt.time.min, tzinfo=tz),
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz))


def close_hours(row: dict) -> int:
    """Whole hours from report to closure (the unit of the time-to-close percentiles)."""
    return max(0, int((row["closed_at"] - row["reported_at"]).total_seconds() // 3600))


def counts_of(field: str, row: dict) -> dict[str, int]:
    """What one case counts for on the day of its timestamp `field` (the definitions of docs/kpis.md)."""
    if field == "reported_at":
        return {"reported": 1, "overdue": int(row["overdue"])}
    if field == "registered_at":
        return {"registered": 1, "registered_closed": int(row["closed_at"] is not None)}
    if field == "rejected_at":
        return {"rejected": 1}
    if field == "dispatched_at":
        on_time = row["dispatch_due"] is None or row["dispatched_at"] <= row["dispatch_due"]
        return {"dispatched": 1, "dispatched_on_time": int(on_time), "accepted": int(row["accepted_at"] is not None),
                "extended": int(row["extension_count"] > 0), "returned": int(row["return_count"] > 0)}
    if field == "closed_at":
        return {"closed": 1, "closed_on_time": int(bool(row["closed_on_time"])),
                "reworked": int(row["rework_count"] > 0), "closed_grid": int(row["resolution_level"] == "grid"),
                "closed_community": int(row["resolution_level"] == "community")}
    if field == "rated_at":
        return {"rated": 1, "satisfied": int((row["satisfaction"] or 0) >= 4)}
    raise ValueError(field)


def keys_of(row: dict) -> list[tuple[str, str]]:
    """The (node, dim) rows a case counts in (but the hotspots): every node with "", its source and its
    category's kind; the areas besides with the main category and the lead department."""
    nodes = ancestor_paths(row["path"])
    keys = [(node, dim) for node in nodes for dim in ("", f"s:{row['source']}", f"k:{row['category__kind']}")]
    dims = [f"c:{row['category__parent__code'] or ''}"]
    if row["lead_department__code"]:
        dims.append(f"d:{row['lead_department__code']}")
    keys += [(node, dim) for node in nodes[:-1] for dim in dims]
    return keys


_ZEROS = (0,) * len(COUNTERS)


class Acc:
    """Counters and the time-to-close histogram of one rollup row. Sparse: a counter that is absent is 0 (most
    rows count one or two kinds of event, and the rebuild makes millions of them)."""

    __slots__ = ("counts", "hours")

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.hours: dict[str, int] = {}

    def add(self, counts: dict[str, int], hours: int | None, sign: int = 1) -> None:
        mine = self.counts
        for name, value in counts.items():
            if value:
                mine[name] = mine.get(name, 0) + sign * value
        if hours is not None:
            key = str(hours)
            self.hours[key] = self.hours.get(key, 0) + sign
            if not self.hours[key]:
                del self.hours[key]

    def merge(self, other: Acc, sign: int = 1) -> None:
        self.add(other.counts, None, sign)
        _merge_hours(self.hours, other.hours, sign)

    def add_row(self, row: Rollup, sign: int = 1) -> None:
        self.add({name: getattr(row, name) for name in COUNTERS}, None, sign)
        _merge_hours(self.hours, row.close_hours or {}, sign)

    def values(self) -> tuple[int, ...]:
        return tuple(map(self.counts.get, COUNTERS, _ZEROS))

    def empty(self) -> bool:
        return not any(self.counts.values()) and not self.hours


_DATETIMES = ("reported_at", "dispatched_at", "dispatch_due", "closed_at")  # the ones counts_of compares


def _event_rows(field: str, lo: dt.datetime, hi: dt.datetime):
    """The cases whose timestamp `field` falls in [lo, hi), as dicts of FIELDS, read through a plain cursor:
    Django's per-value converters cost more than the counting. SQLite hands datetimes back as naive UTC text;
    the ones counts_of compares are parsed (PostgreSQL's are datetimes already)."""
    qs = Case.objects.filter(**{f"{field}__gte": lo, f"{field}__lt": hi}).values_list(*FIELDS)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            for values in batch:
                row = dict(zip(FIELDS, values, strict=True))
                for name in _DATETIMES:
                    if isinstance(row[name], str):
                        row[name] = dt.datetime.fromisoformat(row[name])
                yield row


def _parent(path: str) -> str | None:
    """'a/b/c/' -> 'a/b/'; a root -> None."""
    cut = path.rfind("/", 0, len(path) - 1)
    return path[:cut + 1] if cut >= 0 else None


def fan_out(leaves: dict[tuple[str, str], Acc]) -> dict[tuple[str, str], Acc]:
    """Carry each row up the area tree: every node gets the sum of the rows below it with the same dim. The
    leaves are the cases' own nodes (their grids) and, for the dims only areas have, their parents; each node's
    row is merged into its parent's once, deepest first, so a case is added once per leaf row instead of once
    per ancestor (keys_of gives the same rows, one case at a time)."""
    by_depth: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = dict(leaves)
    for key in rows:
        by_depth[key[0].count("/")].append(key)
    for depth in range(max(by_depth, default=0), 0, -1):
        for path, dim in by_depth[depth]:
            parent = _parent(path)
            if parent is None:
                continue
            target = rows.get((parent, dim))
            if target is None:
                target = rows[(parent, dim)] = Acc()
                by_depth[depth - 1].append((parent, dim))
            target.merge(rows[(path, dim)])
    return rows


def compute_day(day: dt.date) -> dict[tuple[str, str], Acc]:
    """The day's rows, {(node, dim): Acc}, from the raw cases: the rows keys_of names for each case, summed."""
    lo, hi = day_bounds(day)
    leaves: dict[tuple[str, str], Acc] = defaultdict(Acc)
    parents: dict[str, str | None] = {}
    for field in EVENT_FIELDS:
        for row in _event_rows(field, lo, hi):
            counts = counts_of(field, row)
            hours = close_hours(row) if field == "closed_at" else None
            path = row["path"]
            for dim in ("", f"s:{row['source']}", f"k:{row['category__kind']}"):
                leaves[(path, dim)].add(counts, hours)
            if path not in parents:
                parents[path] = _parent(path)
            area = parents[path]
            if area is not None:  # the main category and the lead department: areas only
                leaves[(area, f"c:{row['category__parent__code'] or ''}")].add(counts, hours)
                if row["lead_department__code"]:
                    leaves[(area, f"d:{row['lead_department__code']}")].add(counts, hours)
    return fan_out(leaves)


def compute_hexes(month: dt.date) -> dict[tuple[str, str], int]:
    """The month's hotspot rows: reports per (area, H3 cell)."""
    lo = day_bounds(month)[0]
    hi = day_bounds(_next_month(month))[0]
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for path, lon, lat in Case.objects.filter(reported_at__gte=lo, reported_at__lt=hi).values_list(
            "path", "lon", "lat").iterator(chunk_size=BATCH):
        cell = f"h:{h3.latlng_to_cell(lat, lon, HEX_RESOLUTION)}"
        for node in ancestor_paths(path)[:-1]:
            counts[(node, cell)] += 1
    return counts


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _year(day: dt.date) -> dt.date:
    return day.replace(month=1, day=1)


_COLUMNS = ("grain", "start", "node", "dim", *COUNTERS, "close_hours")


def _insert(rows: list[tuple]) -> None:
    """Plain executemany on SQLite (Django's bulk_create spends most of its time building the SQL for wide rows);
    COPY on PostgreSQL, where executemany sends a statement per row and the rebuild waited on them."""
    if not rows:
        return
    table = connection.ops.quote_name(Rollup._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    with connection.cursor() as cursor:
        for i in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[i:i + BATCH])


def _save(grain: str, start: dt.date, accs: dict) -> None:
    _insert([(grain, start, node, dim, *acc.values(), json.dumps(acc.hours) if acc.hours else "{}")
             for (node, dim), acc in accs.items() if not acc.empty()])


def _save_hexes(grain: str, start: dt.date, counts: dict[tuple[str, str], int]) -> None:
    zeros = (0,) * (len(COUNTERS) - 1)
    reported = COUNTERS.index("reported")
    _insert([(grain, start, node, cell, *zeros[:reported], n, *zeros[reported:], "{}")
             for (node, cell), n in counts.items() if n])


def _year_hexes(year: dt.date) -> None:
    """The year's hotspot rows, summed from its month rows (a year's map is then one row per cell and area)."""
    months = Rollup.objects.filter(grain=Grain.MONTH, start__gte=year, start__lt=year.replace(year=year.year + 1),
                                   dim__startswith="h:")
    counts = {(r["node"], r["dim"]): r["n"] for r in months.values("node", "dim").annotate(n=Sum("reported"))}
    Rollup.objects.filter(grain=Grain.YEAR, start=year, dim__startswith="h:").delete()
    _save_hexes(Grain.YEAR, year, counts)


def _apply_delta(grain: str, start: dt.date, delta: dict) -> None:
    """Add the differences to the month's (or year's) rows: the changed rows are deleted and written again
    (cheaper than an UPDATE per row), the ones that fall to zero are gone."""
    if not delta:
        return
    existing = {}
    nodes = {node for node, _dim in delta}
    for row in Rollup.objects.filter(grain=grain, start=start, node__in=nodes).exclude(dim__startswith="h:"):
        if (row.node, row.dim) in delta:
            existing[(row.node, row.dim)] = row
    result: dict[tuple[str, str], Acc] = {}
    for key, change in delta.items():
        acc = Acc()
        if key in existing:
            acc.add_row(existing[key])
        acc.merge(change)
        result[key] = acc
    Rollup.objects.filter(pk__in=[row.pk for row in existing.values()]).delete()
    _save(grain, start, result)


def recompute_days(days: set[dt.date]) -> int:
    """Recompute these days' rows from the raw cases, carry the differences into their months and years, and
    recompute those months' hotspots."""
    for day in sorted(days):
        with transaction.atomic():
            rows = compute_day(day)
            delta: dict[tuple[str, str], Acc] = defaultdict(Acc)
            for key, acc in rows.items():
                delta[key].merge(acc)
            for row in Rollup.objects.filter(grain=Grain.DAY, start=day):
                delta[(row.node, row.dim)].add_row(row, -1)
            delta = {k: v for k, v in delta.items() if not _zero(v)}
            Rollup.objects.filter(grain=Grain.DAY, start=day).delete()
            _save(Grain.DAY, day, rows)
            _apply_delta(Grain.MONTH, _month(day), delta)
            _apply_delta(Grain.YEAR, _year(day), delta)
    for month in {_month(day) for day in days}:
        with transaction.atomic():
            Rollup.objects.filter(grain=Grain.MONTH, start=month, dim__startswith="h:").delete()
            _save_hexes(Grain.MONTH, month, compute_hexes(month))
    for year in {_year(day) for day in days}:
        with transaction.atomic():
            _year_hexes(year)
    return len(days)


def _merge_hours(into: dict[str, int], other: dict[str, int], sign: int) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + sign * n
        if not into[key]:
            del into[key]


def _zero(acc: Acc) -> bool:
    return not any(acc.counts.values()) and not acc.hours


def case_days(case_ids: list[int]) -> set[dt.date]:
    """Every day these cases count on now or counted on before (a reopened case leaves its old closing day)."""
    days: set[dt.date] = set()
    for row in Case.objects.filter(pk__in=case_ids).values(*EVENT_FIELDS):
        days.update(local_day(v) for v in row.values() if v is not None)
    for at in Step.objects.filter(case_id__in=case_ids).values_list("at", flat=True):
        days.add(local_day(at))
    return days


def rollups_update(*, limit: int = 5000) -> dict:
    """Bring the rollups up to date with the cases changed since the last run (idempotent)."""
    ids = list(DirtyCase.objects.order_by("id").values_list("id", "case_id")[:limit])
    if not ids:
        return {"cases": 0, "days": 0}
    days = case_days([case_id for _pk, case_id in ids])
    recompute_days(days)
    DirtyCase.objects.filter(pk__in=[pk for pk, _case_id in ids]).delete()
    RollupState.objects.update_or_create(pk=1, defaults={"updated_at": timezone.now()})
    return {"cases": len(ids), "days": len(days)}


def rollups_rebuild(*, progress=None) -> dict:
    """Recompute every rollup from the raw cases, month by month (the months and years summed in memory)."""
    with transaction.atomic():
        Rollup.objects.all().delete()
        DirtyCase.objects.all().delete()
    bounds = Case.objects.aggregate(lo=Min("reported_at"), **{f: Max(f) for f in EVENT_FIELDS})
    now = timezone.now()
    if bounds["lo"] is None:
        RollupState.objects.update_or_create(pk=1, defaults={"rebuilt_at": now, "updated_at": now})
        return {"days": 0}
    first = local_day(bounds["lo"])
    last = max(local_day(bounds[f]) for f in EVENT_FIELDS if bounds[f] is not None)
    month, days = _month(first), 0
    year_totals: dict[tuple[str, str], Acc] = defaultdict(Acc)
    year_hexes: dict[tuple[str, str], int] = defaultdict(int)
    while month <= last:
        with transaction.atomic():
            totals: dict[tuple[str, str], Acc] = defaultdict(Acc)
            day = max(month, first)
            while day < _next_month(month) and day <= last:
                rows = compute_day(day)
                _save(Grain.DAY, day, rows)
                for key, acc in rows.items():
                    totals[key].merge(acc)
                day += dt.timedelta(days=1)
                days += 1
            _save(Grain.MONTH, month, totals)
            hexes = compute_hexes(month)
            _save_hexes(Grain.MONTH, month, hexes)
            for key, acc in totals.items():
                year_totals[key].merge(acc)
            for key, n in hexes.items():
                year_hexes[key] += n
            following = _next_month(month)
            if following.year != month.year or following > last:  # the year is complete
                _save(Grain.YEAR, _year(month), year_totals)
                _save_hexes(Grain.YEAR, _year(month), year_hexes)
                year_totals, year_hexes = defaultdict(Acc), defaultdict(int)
        if progress:
            progress(month)
        month = following
    analyze(Rollup)
    RollupState.objects.update_or_create(pk=1, defaults={"rebuilt_at": now, "updated_at": now})
    return {"days": days}
