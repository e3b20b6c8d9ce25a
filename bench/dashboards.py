"""Dashboard reads against DuckDB over the same raw cases, in the same run.

Each row times one read of the leader's dashboards through `gridgov.analytics.selectors` (from the rollups),
after one warm-up, `repeat` times: the median is the row's value, the p90 is in its note. The baseline is DuckDB
computing the same counters and close-time histograms straight from the raw cases (every case, no rollups),
turned into KPIs by the same `values_of`: one scan per workflow timestamp covering the period and the previous
one, the cases stored in path order (an area's cases are contiguous, so DuckDB skips the rest), children keyed
through the grids' paths. DuckDB reads a CSV export of the cases table made once per run (its sqlite extension
is not shipped with the wheel and is not fetched); the H3 cell of each case is computed once at export
(DuckDB's h3 extension is not shipped either). Timed: DuckDB's queries only (in memory, all cores).

Every row is also checked: every figure from the rollups must equal DuckDB's, and `selectors.direct_kpis`'s (the
raw-case computation in Python; for a ranking, its first DIRECT_ROWS rows by code) where the area holds at most
`direct_max` cases over the two periods (all of them by default; `make bench` passes 100,000: direct_kpis goes
through a few thousand cases a second, so a city-wide read alone takes minutes at a million cases); a mismatch
fails the row and is printed. Runs on SQLite or PostgreSQL, whichever Django is connected to.

`load_cases` brings the benchmark city to a number of cases with `gridgov.cases.bulk` and rebuilds the rollups,
timing both once (kept in cases.json beside the database, so later runs report them without redoing them).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from .run import Row

TARGET_MS = 200.0
MAX_RATIO = 2.0
DIRECT_ROWS = 8  # ranking rows also checked against direct_kpis (all of them against DuckDB)
COLUMNS = ("grid_id", "path", "reported_at", "registered_at", "rejected_at", "dispatched_at", "dispatch_due", "accepted_at",
           "closed_at", "closed_on_time", "resolution_level", "rated_at", "satisfaction", "overdue",
           "extension_count", "return_count", "rework_count", "lon", "lat")
TIMES = ("reported_at", "registered_at", "rejected_at", "dispatched_at", "dispatch_due", "accepted_at", "closed_at",
         "rated_at")
DUCK_TYPES = {"grid_id": "BIGINT", "path": "VARCHAR", "closed_on_time": "BOOLEAN", "resolution_level": "VARCHAR", "satisfaction": "INTEGER",
              "overdue": "BOOLEAN", "extension_count": "INTEGER", "return_count": "INTEGER", "rework_count": "INTEGER",
              "lon": "DOUBLE", "lat": "DOUBLE", "cell": "VARCHAR", **dict.fromkeys(TIMES, "TIMESTAMP")}


# --- the cases ---------------------------------------------------------------------------------------------------

def load_cases(*, target: int, var_dir: Path, seed: int = 1, log=print) -> list[Row]:
    """Bring the city in the database to at least `target` cases (bulk cases over the 12 months ending now)
    and rebuild the rollups; rows for the bulk load and the rebuild (measured when they ran)."""
    from gridgov.analytics.rollups import rollups_rebuild
    from gridgov.cases.bulk import bulk_cases
    from gridgov.cases.models import Case

    meta_file = var_dir / "cases.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    have = Case.objects.count()
    if have < target:
        add = target - have
        log(f"bulk cases: adding {add:,} to {have:,} …")
        t0, c0 = time.perf_counter(), time.process_time()
        bulk_cases(count=add, seed=seed, progress=lambda done: log(f"  {done:,}") if done % 200_000 == 0 else None)
        meta["bulk"] = {"cases": add, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                        "at": dt.datetime.now().isoformat(timespec="seconds")}
        meta.pop("rebuild", None)
    if "rebuild" not in meta:
        log("rollups: rebuilding …")
        t0, c0 = time.perf_counter(), time.process_time()
        days = rollups_rebuild(progress=lambda day: log(f"  {day} ({time.perf_counter() - t0:.0f}s)"))["days"]
        meta["rebuild"] = {"cases": Case.objects.count(), "days": days, "seconds": time.perf_counter() - t0,
                           "cpu": time.process_time() - c0, "at": dt.datetime.now().isoformat(timespec="seconds")}
    meta_file.write_text(json.dumps(meta, indent=2))
    rows = []
    if "bulk" in meta:
        b = meta["bulk"]
        rate = b["cases"] / b["seconds"]
        rows.append(Row(f"bulk cases (cases_bulk, {b['cases']:,} cases)", round(rate), "cases/s", None, None,
                        "1,000,000 in ≤ 5 min (≥ 3,334/s)", rate >= 1_000_000 / 300,
                        f"{b['seconds']:.0f} s wall, {b['cpu']:.0f} s CPU, measured {b['at']}"))
    r = meta["rebuild"]
    rows.append(Row(f"rollups rebuild (analytics_rebuild, {r['cases']:,} cases, {r['days']} days)",
                    round(r["seconds"], 1), "s", None, None, "— (measured)", None,
                    f"{r['cpu']:.0f} s CPU, {r['cases'] / r['seconds']:,.0f} cases/s, measured {r['at']}"))
    return rows


# --- DuckDB over the raw cases --------------------------------------------------------------------------------

def _naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


# per workflow timestamp: the counters a case counts for on its day (rollups.counts_of), as DuckDB filters
EVENTS = {
    "reported_at": [("reported", None), ("overdue", "overdue")],
    "registered_at": [("registered", None), ("registered_closed", "closed_at IS NOT NULL")],
    "rejected_at": [("rejected", None)],
    "dispatched_at": [("dispatched", None),
                      ("dispatched_on_time", "dispatch_due IS NULL OR dispatched_at <= dispatch_due"),
                      ("accepted", "accepted_at IS NOT NULL"), ("extended", "extension_count > 0"),
                      ("returned", "return_count > 0")],
    "closed_at": [("closed", None), ("closed_on_time", "coalesce(closed_on_time, false)"),
                  ("reworked", "rework_count > 0"), ("closed_grid", "resolution_level = 'grid'"),
                  ("closed_community", "resolution_level = 'community'")],
    "rated_at": [("rated", None), ("satisfied", "coalesce(satisfaction, 0) >= 4")],
}
WIDTH = max(len(v) for v in EVENTS.values())


class Duck:
    """The cases table in an in-memory DuckDB (stored in path order, so that an area's cases are contiguous and
    DuckDB skips the rest), with the KPI counters computed by SQL: one scan per workflow timestamp covering the
    period and the previous one, like the rollups' definition (one query per timestamp)."""

    def __init__(self, workdir: Path):
        import duckdb
        import h3
        from django.db import connection

        from gridgov.analytics.rollups import HEX_RESOLUTION

        t0 = time.perf_counter()
        if connection.vendor == "sqlite":
            select = [f"CAST({c} AS TEXT)" if c in TIMES else c for c in COLUMNS]
        else:
            select = [f"to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')" if c in TIMES else c
                      for c in COLUMNS]
        file = workdir / "cases.csv"
        lon_i, lat_i = COLUMNS.index("lon"), COLUMNS.index("lat")
        self.cases = 0
        with connection.cursor() as cursor, file.open("w", newline="") as out:
            cursor.execute(f"SELECT {', '.join(select)} FROM cases_case")
            writer = csv.writer(out)
            while rows := cursor.fetchmany(20_000):
                writer.writerows([*row, h3.latlng_to_cell(row[lat_i], row[lon_i], HEX_RESOLUTION)] for row in rows)
                self.cases += len(rows)
        self.con = duckdb.connect(":memory:")
        names = [*COLUMNS, "cell"]
        types = ", ".join(f"'{n}': '{DUCK_TYPES[n]}'" for n in names)
        self.con.execute(f"CREATE TABLE cases AS SELECT * FROM read_csv('{file}', header=false, "
                         f"columns={{{types}}}, nullstr='', quote='\"') ORDER BY path")
        self.con.execute("CREATE TABLE grids AS SELECT DISTINCT grid_id, path FROM cases")
        self.load_seconds = time.perf_counter() - t0

    def counters(self, prefix: str, period, *, depth: int | None = None) -> dict:
        """{(key, now): (counts, hours)} of the cases under `prefix`, now=True for the period and False for the
        previous period: key "" (all of them), or the ancestor path at `depth` (the children of a node)."""
        from gridgov.analytics.models import COUNTERS
        from gridgov.analytics.rollups import day_bounds

        previous = period.previous()
        assert previous.end + dt.timedelta(days=1) == period.start  # one range covers both
        params = {"plo": _naive_utc(day_bounds(previous.start)[0]), "lo": _naive_utc(day_bounds(period.start)[0]),
                  "hi": _naive_utc(day_bounds(period.end)[1]), "p0": prefix, "p1": prefix[:-1] + "0"}
        if depth is None:  # the node's own figures: its cases by path range
            source = "(SELECT '' AS k, * FROM cases WHERE path >= $p0 AND path < $p1)"
        else:  # its children's: each case keyed by its grid's ancestor at `depth`
            source = ("(SELECT k.k, cases.* FROM cases JOIN (SELECT grid_id, array_to_string(string_split(path, '/')"
                      f"[1:{depth}], '/') || '/' AS k FROM grids WHERE path >= $p0 AND path < $p1) k USING (grid_id))")
        parts = []
        for field, counters in EVENTS.items():
            aggs = [f"count(*) FILTER (WHERE {cond})" if cond else "count(*)" for _name, cond in counters]
            aggs += ["0"] * (WIDTH - len(aggs))
            parts.append(f"SELECT k, '{field}' AS e, {field} >= $lo AS now, {', '.join(aggs)} FROM {source} "
                         f"WHERE {field} >= $plo AND {field} < $hi GROUP BY ALL")
        out: dict[tuple[str, bool], tuple[dict, dict]] = {}
        for k, field, now, *values in self.con.execute(" UNION ALL ".join(parts), params).fetchall():
            counts, _hours = out.setdefault((k, now), (dict.fromkeys(COUNTERS, 0), {}))
            for (name, _cond), value in zip(EVENTS[field], values, strict=False):
                counts[name] += value
        hist = (f"SELECT k, closed_at >= $lo AS now, greatest(0, floor((epoch(closed_at) - epoch(reported_at)) "
                f"/ 3600))::BIGINT AS h, count(*) FROM {source} WHERE closed_at >= $plo AND closed_at < $hi "
                "GROUP BY ALL")
        for k, now, h, n in self.con.execute(hist, params).fetchall():
            out[(k, now)][1][str(h)] = n
        return out

    def hexes(self, prefix: str, months: list[dt.date]) -> dict[str, int]:
        from gridgov.analytics.rollups import day_bounds

        first, last = months[0], months[-1]
        end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        params = {"lo": _naive_utc(day_bounds(first)[0]), "hi": _naive_utc(day_bounds(end)[0]), "p0": prefix,
                  "p1": prefix[:-1] + "0"}
        sql = ("SELECT cell, count(*) FROM cases WHERE path >= $p0 AND path < $p1 AND reported_at >= $lo "
               "AND reported_at < $hi GROUP BY cell")
        return dict(self.con.execute(sql, params).fetchall())


# --- the rows ------------------------------------------------------------------------------------------------------

def _timed(fn, repeat: int) -> tuple[float, float, object]:
    result = fn()  # warm-up (and the result checked)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p90 = times[min(len(times) - 1, max(0, round(0.9 * len(times)) - 1))]
    return statistics.median(times), p90, result


def _kpis_of(counts_hours) -> dict:
    from gridgov.analytics.kpis import values_of
    from gridgov.analytics.models import COUNTERS

    counts, hours = counts_hours or (dict.fromkeys(COUNTERS, 0), {})
    return values_of(counts, hours)


def _diff(name: str, ours: dict, theirs: dict) -> list[str]:
    return [f"{name}.{k}: rollups {ours.get(k)!r} ≠ {theirs.get(k)!r}" for k in sorted(set(ours) | set(theirs))
            if ours.get(k) != theirs.get(k)]


def _row(name: str, ours: tuple, duck: tuple, problems: list[str], extra: str = "", *,
         direct: str = "direct_kpis") -> Row:
    med, p90, _ = ours
    dmed, dp90, _ = duck
    ratio = med / dmed if dmed else None
    met = not problems and p90 < TARGET_MS and ratio is not None and ratio <= MAX_RATIO
    note = f"p90 {p90:.1f} ms; DuckDB p90 {dp90:.1f} ms; "
    note += ((f"equal to DuckDB and {direct}" if direct else "equal to DuckDB") if not problems
             else f"MISMATCH ({len(problems)}): " + "; ".join(problems[:5]))
    return Row(name, round(med, 1), "ms (median)", round(dmed, 1), round(ratio, 2) if ratio else None,
               f"p90 < {TARGET_MS:.0f} ms and ≤ {MAX_RATIO:.0f}× DuckDB", met, note + extra)


def bench_dashboards(*, user, repeat: int = 15, period=None, direct_max: int | None = None,
                     log=print) -> list[Row]:
    """The dashboard rows for `user` (a leader of the whole city) over `period` (default: this calendar
    year). Every figure is checked against DuckDB; against direct_kpis too where the area holds at most
    `direct_max` cases in the period and the previous one (None: everywhere; 0: nowhere)."""
    from django.db.models import Sum

    from gridgov.analytics import selectors
    from gridgov.analytics.models import Grain, Rollup
    from gridgov.analytics.rollups import day_bounds
    from gridgov.cases.models import Case
    from gridgov.core.scope import prefix_q
    from gridgov.geo.models import Area

    period = period or selectors.parse_period(period="year")
    previous = period.previous()
    root = selectors.resolve_node(user=user)
    communities = list(Area.objects.filter(level="community", path__startswith=root.path).order_by("code"))
    busiest = (Rollup.objects.filter(grain=Grain.MONTH, dim="", node__in=[c.path for c in communities])
               .values("node").annotate(n=Sum("reported")).order_by("-n", "node").first())
    community = next(c for c in communities if busiest is None or c.path == busiest["node"])
    street = community.parent
    n_cases = Case.objects.count()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        duck = Duck(Path(tmp))
        log(f"DuckDB: {duck.cases:,} cases exported and loaded in {duck.load_seconds:.1f}s")

        def direct(path: str, when) -> bool:
            """Whether to check `path` over `when` against direct_kpis too (it reads every case of the area)."""
            if direct_max is None or direct_max <= 0:
                return direct_max is None
            lo, hi = day_bounds(when.previous().start)[0], day_bounds(when.end)[1]
            return Case.objects.filter(prefix_q("path", path), reported_at__gte=lo, reported_at__lt=hi) \
                .count() <= direct_max

        def check_kpis(name: str, path: str, ours: dict, theirs: dict, when, with_direct: bool) -> list[str]:
            problems = _diff(f"{name} duckdb", ours, theirs)
            if with_direct:
                problems += _diff(f"{name} direct", ours, selectors.direct_kpis(path=path, period=when))
            return problems

        skipped = f"(direct_kpis skipped: more than {direct_max or 0:,} cases)"

        # summaries: the city over the year, the city over the last 30 days (day rows at both edges), a community
        today = dt.date.today()
        last30 = selectors.Period(today - dt.timedelta(days=29), today)
        for label, area, node_path, when in (
                (f"city KPI summary ({_label(period)}, {n_cases:,} cases)", None, root.path, period),
                (f"city KPI summary (last 30 days, {n_cases:,} cases)", None, root.path, last30),
                (f"community KPI summary ({_label(period)})", community.code, community.path, period)):
            ours = _timed(lambda area=area, when=when: selectors.kpi_summary(user=user, area=area, period=when),
                          repeat)
            before = when.previous()
            theirs = _timed(lambda p=node_path, w=when: duck.counters(p, w), repeat)
            problems, with_direct = [], direct(node_path, when)
            for now, (w, key) in ((True, (when, "value")), (False, (before, "previous"))):
                mine = {k["code"]: k[key] for k in ours[2]["kpis"]}
                problems += check_kpis("now" if now else "before", node_path, mine,
                                       _kpis_of(theirs[2].get(("", now))), w, with_direct)
            rows.append(_row(label, ours, theirs, problems, "" if with_direct else f" {skipped}",
                             direct="direct_kpis" if with_direct else ""))
            log(f"  {label}: {rows[-1].value} ms vs DuckDB {rows[-1].baseline} ms")

        # rankings: the grids of the community, the communities of its street, the districts of the city, and
        # every community of the city (the ranking's `level`)
        depth_of = {"city": 1, "district": 2, "street": 3, "community": 4, "grid": 5}
        rankings = [
            (f"grid ranking of a community ({_label(period)})", community.code, community.path, None),
            (f"community ranking of a street ({_label(period)})", street.code, street.path, None),
            (f"district ranking of the city ({_label(period)})", None, root.path, None),
            (f"community ranking of the whole city ({len(communities)} communities, {_label(period)})", None,
             root.path, "community"),
        ]
        for label, area, node_path, level in rankings:
            def read(area=area, level=level):
                return selectors.kpi_ranking(user=user, area=area, period=period, level=level)

            ours = _timed(read, repeat)
            child_rows = ours[2]["rows"]
            depth = depth_of[level] if level else node_path.count("/") + 1
            theirs = _timed(lambda p=node_path, d=depth: duck.counters(p, period, depth=d), repeat)
            paths = {r["code"]: _path_of(r) for r in child_rows}
            problems, checked = [], 0
            # every row against DuckDB; against direct_kpis (a few queries per row) the first DIRECT_ROWS rows
            for i, r in enumerate(sorted(child_rows, key=lambda r: r["code"])):
                path = paths[r["code"]]
                with_direct = i < DIRECT_ROWS and direct(path, period)
                checked += with_direct
                mine = {k: r[k] for k in _kpis_of(None)}
                for now, values, when in ((True, mine, period), (False, r["previous"], previous)):
                    theirs_kpis = _kpis_of(theirs[2].get((path, now)))
                    problems += _diff(f"{r['code']} {'now' if now else 'before'} duckdb", values, theirs_kpis)
                    if with_direct:
                        problems += _diff(f"{r['code']} {'now' if now else 'before'} direct", values,
                                          selectors.direct_kpis(path=path, period=when))
            rows.append(_row(label, ours, theirs, problems,
                             f"; {len(child_rows)} rows, {checked} of them also against direct_kpis"
                             + ("" if checked or not child_rows else f" {skipped}"),
                             direct="direct_kpis" if checked else ""))
            log(f"  {label}: {rows[-1].value} ms vs DuckDB {rows[-1].baseline} ms")

        # whole dashboard pages as a browser asks for them (every figure of the page, the template rendered),
        # against DuckDB computing the page's summary and ranking figures
        rows += bench_pages(user=user, duck=duck, root=root, community=community, period=period, repeat=repeat,
                            log=log)

        # the hotspot layer of the city
        label = f"hotspot layer of the city (H3 res 8, {_label(period)})"
        ours = _timed(lambda: selectors.hotspots(user=user, period=period), repeat)
        months = [dt.date.fromisoformat(m) for m in ours[2]["months"]]
        theirs = _timed(lambda: duck.hexes(root.path, months), repeat)
        mine = {f["properties"]["cell"]: f["properties"]["reported"] for f in ours[2]["features"]}
        problems = _diff("hexes", mine, theirs[2])
        lo = day_bounds(months[0])[0]
        hi = day_bounds((months[-1].replace(day=28) + dt.timedelta(days=4)).replace(day=1))[0]
        with_direct = direct_max is None or (
            direct_max > 0 and Case.objects.filter(reported_at__gte=lo, reported_at__lt=hi).count() <= direct_max)
        if with_direct:  # H3 cells counted from the raw cases in Python
            import h3

            from gridgov.analytics.rollups import HEX_RESOLUTION

            raw: dict[str, int] = {}
            for lon, lat in Case.objects.filter(reported_at__gte=lo, reported_at__lt=hi).values_list("lon", "lat") \
                    .iterator(chunk_size=20_000):
                cell = h3.latlng_to_cell(lat, lon, HEX_RESOLUTION)
                raw[cell] = raw.get(cell, 0) + 1
            problems += _diff("hexes direct", mine, raw)
        rows.append(_row(label, ours, theirs, problems,
                         f"; {len(mine):,} cells; ours builds the GeoJSON polygons, DuckDB only counts"
                         + ("" if with_direct else f" {skipped}"), direct="the raw cases" if with_direct else ""))
        log(f"  {label}: {rows[-1].value} ms vs DuckDB {rows[-1].baseline} ms")
    for r in rows:
        if "MISMATCH" in r.note:
            print(f"MISMATCH in {r.name}: {r.note}")
    return rows


PAGE_TARGET = "p90 < 200 ms (DuckDB: the page's summary and ranking figures)"


def bench_pages(*, user, duck, root, community, period, repeat: int, log=print) -> list[Row]:
    """The leader's dashboard (city, community, one grid) and the department page, each one GET through
    Django's test client (session, middleware, every selector of the page, the template)."""
    from django.test import Client

    from gridgov.accounts.models import Department
    from gridgov.geo.models import Grid

    client = Client()
    client.force_login(user)
    grid = Grid.objects.filter(path__startswith=community.path).order_by("code").first()
    department = Department.objects.order_by("code").first()
    when = f"period=year&on={period.start.isoformat()}"
    pages = [
        (f"leader's dashboard page, city ({_label(period)})", f"/analytics/?{when}", root.path, root.path.count("/") + 1),
        (f"leader's dashboard page, a community ({_label(period)})", f"/analytics/?area={community.code}&{when}",
         community.path, community.path.count("/") + 1),
        (f"leader's dashboard page, a grid ({_label(period)})", f"/analytics/?grid={grid.code}&{when}", grid.path,
         None),
    ]
    if department is not None:
        pages.append((f"department page, city ({_label(period)})", f"/analytics/department/?department="
                      f"{department.code}&{when}", root.path, None))
    rows = []
    for label, url, path, depth in pages:
        def get(url=url):
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
            return response

        ours = _timed(get, repeat)

        def theirs_read(path=path, depth=depth):
            duck.counters(path, period)
            if depth is not None:
                duck.counters(path, period, depth=depth)

        theirs = _timed(theirs_read, repeat)
        med, p90, _ = ours
        dmed, dp90, _ = theirs
        rows.append(Row(label, round(med, 1), "ms (median)", round(dmed, 1), round(med / dmed, 2) if dmed else None,
                        PAGE_TARGET, p90 < TARGET_MS,
                        f"p90 {p90:.1f} ms; DuckDB p90 {dp90:.1f} ms; {len(ours[2].content):,} bytes of HTML; its "
                        "figures are the selectors' rows above"))
        log(f"  {label}: {rows[-1].value} ms vs DuckDB {rows[-1].baseline} ms")
    return rows


def _label(period) -> str:
    if period.start.month == 1 and period.start.day == 1 and period.end == dt.date(period.start.year, 12, 31):
        return f"year {period.start.year}"
    return f"{period.start}–{period.end}"


def _path_of(row: dict) -> str:
    from gridgov.geo.models import Area, Grid

    if row["level"] == "grid":
        return Grid.objects.get(code=row["code"]).path
    return Area.objects.get(code=row["code"]).path
