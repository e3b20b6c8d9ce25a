"""`make bench`: measure gridgov against a baseline computed in the same run, print one table, write it to
docs/benchmarks.md and var/bench/results.json.

The large demo city (10,000+ grids) is built once into var/bench/ and reused; the benchmark city skips the
demo residents (GRIDGOV_DEMO_RESIDENTS_PER_GRID=0, about 3 per grid: no row reads them). `--quick` uses the
small city. Rows: the locator; the bulk case generator, the rollups rebuild and the dashboard reads against
DuckDB (bench/dashboards.py: the city is brought to `--cases` cases once, 1,000,000 by default, 5,000 with
--quick); the resident import and the lookup by ID number (bench/residents.py: 1,000,000 rows, 20,000 with
--quick; the imported database is kept and reused like the city); intake and a worker's memory
(bench/intake.py).

PostgreSQL, the table's second column: the same city built once into its own database (gridgov_bench_<size> on
the server of BENCH_PG_URL or --pg-url, its keys and cases.json in var/bench/<size>-postgres) and reused. Django's
connection is fixed at setup, so the dashboards and intake rows on PostgreSQL run in a child process
(`python -m bench.run --database postgres`), whose rows are merged by name into the table. An unreachable
server skips the column, with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""
    database: str = "sqlite"  # or "postgres": the table's second column


# --- PostgreSQL -------------------------------------------------------------------------------------------------

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def pg_url_with(url: str, name: str | None = None) -> tuple[str, str]:
    """(`url` naming database `name` instead, the database `url` names)."""
    parts = urlsplit(url)
    current = parts.path.lstrip("/") or "postgres"
    return (urlunsplit(parts._replace(path=f"/{name}")) if name else url), current


def _pg_admin(url: str):
    """An autocommit connection to the server's maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    return psycopg.connect(pg_url_with(url, "postgres")[0], autocommit=True, connect_timeout=5)


def pg_reachable(url: str) -> str | None:
    """None when the server at `url` answers, else why not."""
    try:
        with _pg_admin(url) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL column
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def pg_ensure(url: str, name: str) -> str:
    """The URL of database `name` on `url`'s server, created if missing."""
    from psycopg import sql

    with _pg_admin(url) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return pg_url_with(url, name)[0]


def pg_copy_name(template_url: str) -> str:
    """The name of this process's throw-away copy of the database at `template_url`."""
    return f"{pg_url_with(template_url)[1]}_copy_{os.getpid()}"


def pg_clone(template_url: str) -> str:
    """A copy of the database at `template_url` named by pg_copy_name (copies left by runs that died are
    dropped first); answer its URL. PostgreSQL refuses while any connection is open on the template, so the
    caller closes its own first."""
    from psycopg import errors, sql

    template, name = pg_url_with(template_url)[1], pg_copy_name(template_url)
    with _pg_admin(template_url) as conn:
        stale = [d for (d,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                            [template.replace("_", r"\_") + r"\_copy\_%"])
                 if d == name or not Path(f"/proc/{d.rsplit('_', 1)[-1]}").exists()]
    for d in stale:
        pg_drop(pg_url_with(template_url, d)[0])
    deadline = time.monotonic() + 20
    with _pg_admin(template_url) as conn:
        while True:
            try:  # FILE_COPY: one checkpoint and a file copy, much faster than WAL_LOG for a large city
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY = FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)))
                break
            except errors.ObjectInUse:  # a connection just closed may linger for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    return pg_url_with(template_url, name)[0]


def pg_drop(url: str) -> None:
    from psycopg import sql

    with _pg_admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(pg_url_with(url)[1])))


def pg_about(url: str) -> str:
    """The server's version and the settings that matter for these rows."""
    with _pg_admin(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        settings = {k: conn.execute(f"SHOW {k}").fetchone()[0]
                    for k in ("shared_buffers", "work_mem", "synchronous_commit")}
    return f"PostgreSQL {version} ({', '.join(f'{k} {v}' for k, v in settings.items())})"


# --- the city ---------------------------------------------------------------------------------------------------

def _setup_django(var_dir: Path, size: str, database_url: str | None = None) -> None:
    os.environ["GRIDGOV_VAR_DIR"] = str(var_dir)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("GRIDGOV_DEMO_RESIDENTS_PER_GRID", "0")  # minimal residents: no row reads them
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from gridgov.geo.models import Area

    call_command("migrate", verbosity=0)
    if not Area.objects.exists():  # built in a child process: the build's memory is not kept by this one
        connections.close_all()
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "demo_city", "--if-empty", "--size", size],
                       check=True, env={**os.environ}, cwd=ROOT)


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_locator(*, points: int, repeat: int) -> list[Row]:
    import numpy as np
    import shapely

    from gridgov.geo.locator import build_locator
    from gridgov.geo.models import Grid

    locator = build_locator()
    geoms = np.array([shapely.from_geojson(json.dumps(g)) for g in Grid.objects.values_list("geometry", flat=True)])
    bare_tree = shapely.STRtree(geoms)
    rng = np.random.default_rng(42)
    bounds = shapely.total_bounds(geoms)
    lons = rng.uniform(bounds[0], bounds[2], points)
    lats = rng.uniform(bounds[1], bounds[3], points)
    sample = list(zip(lons[:2000], lats[:2000], strict=True))

    def ours_one():
        for lon, lat in sample:
            locator.locate(lon, lat)

    def bare_one():
        for lon, lat in sample:
            bare_tree.query(shapely.Point(lon, lat), predicate="covered_by")

    loop_geoms = list(geoms)

    def loop_one():  # reference: no index at all, on 50 points
        for lon, lat in sample[:50]:
            p = shapely.Point(lon, lat)
            next((i for i, g in enumerate(loop_geoms) if g.covers(p)), None)

    ours = _median_time(ours_one, repeat) / len(sample) * 1e6
    bare = _median_time(bare_one, repeat) / len(sample) * 1e6
    loop = _median_time(loop_one, 1) / 50 * 1e6

    ours_batch = points / _median_time(lambda: locator.locate_indices(lons, lats), repeat)
    bare_batch = points / _median_time(
        lambda: bare_tree.query(shapely.points(lons, lats), predicate="covered_by"), repeat)
    n = len(geoms)
    return [
        Row(f"locate one ({n} grids)", round(ours, 2), "µs/lookup", round(bare, 2), round(ours / bare, 2),
            "≤ 2× bare STRtree query", ours <= 2 * bare, f"a loop over the polygons: {loop:,.0f} µs/lookup"),
        Row(f"locate batch ({n} grids, {points:,} points)", round(ours_batch), "points/s", round(bare_batch),
            round(ours_batch / bare_batch, 2), "≥ 0.5× bare STRtree bulk query", ours_batch >= 0.5 * bare_batch),
    ]


def bench_analytics(var_dir: Path, *, cases: int, repeat: int, direct_max: int | None) -> list[Row]:
    from bench.dashboards import bench_dashboards, load_cases
    from gridgov.accounts.models import User

    rows = load_cases(target=cases, var_dir=var_dir)
    user = User.objects.filter(username="leader").first() or User.objects.filter(role="admin").first()
    return rows + bench_dashboards(user=user, repeat=repeat, direct_max=direct_max)


DATABASES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _cells(r: Row | None) -> list[str]:
    if r is None:
        return ["—"] * 4
    met = "yes" if r.met else ("no" if r.met is False else "—")
    return [f"{r.value:,}", f"{r.baseline:,}" if r.baseline is not None else "—",
            f"{r.ratio}" if r.ratio is not None else "—", met]


def render(rows: list[Row], *, size: str, notes: list[str] = (), about: str = "") -> str:
    """The table: one line per row name, SQLite's value (baseline, ratio, met) and PostgreSQL's beside it where
    the row ran on both; `notes` (e.g. the total time) end the notes."""
    by_name: dict[str, dict[str, Row]] = {}
    for r in rows:
        by_name.setdefault(r.name, {})[r.database] = r
    both = any(len(v) > 1 or "postgres" in v for v in by_name.values())
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench{'-quick' if size == 'small' else ''}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{'; ' + about if about else ''}; medians of "
        "repeated runs; each row against its baseline in the same run and on the same database.",
        "",
    ]
    if both:
        lines += ["| row | unit | target | SQLite | baseline | ratio | met | PostgreSQL | baseline | ratio | met |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
    else:
        lines += ["| row | unit | target | value | baseline | ratio | met |", "|---|---|---|---|---|---|---|"]
    for name, per in by_name.items():
        first = next(iter(per.values()))
        cells = _cells(per.get("sqlite")) + (_cells(per.get("postgres")) if both else [])
        lines.append(f"| {name} | {first.unit} | {first.target} | {' | '.join(cells)} |")
    row_notes = [f"- {r.name}{' (PostgreSQL)' if both and r.database == 'postgres' else ''}: {r.note}"
                 for per in by_name.values() for r in per.values() if r.note]
    if row_notes or notes:
        lines += ["", "Notes:", *row_notes, *(f"- {n}" for n in notes)]
    if any(r.unit == "ms (median)" for r in rows):
        lines += ["", *METHOD_ANALYTICS]
    if any(r.name.startswith(("import:", "lookup:")) for r in rows):
        lines += ["", *METHOD_IMPORT]
    if any(r.name.startswith(("intake:", "memory:")) for r in rows):
        lines += ["", *METHOD_INTAKE]
    if both:
        lines += ["", *METHOD_POSTGRES]
    return "\n".join(lines) + "\n"


METHOD_ANALYTICS = [
    "## How the analytics rows are measured",
    "",
    "- **The cases**: the benchmark city's own demo year plus bulk cases (`manage.py cases_bulk`, "
    "gridgov/cases/bulk.py) over the 12 months ending now, up to `--cases` in all. Bulk cases are bench data: "
    "consistent timestamps and counters for every state, deadlines by simple arithmetic (not the working "
    "calendar), no timeline. The bulk load and the rollups rebuild (`analytics_rebuild`) run once when the city "
    "is brought to that size; their rows report that run (kept in var/bench/<size>/cases.json).",
    "- **A dashboard row** times one read through `gridgov.analytics.selectors` as the leader of the city "
    "(scope checks included) from the rollups, after one warm-up: the value is the median, the p90 is in the "
    "note. Period: this calendar year (and the previous year beside it), or the last 30 days (whose edges are "
    "read from day rows).",
    "- **A page row** times a whole dashboard page as a browser asks for it: one GET through Django's test client "
    "with the leader's session (middleware, every selector the page reads — summary, trend, ranking, department "
    "league, breakdown, index — and the template). Its baseline is DuckDB computing the page's summary and "
    "ranking figures; its target is the issue's 200 ms (p90) for the request.",
    "- **The baseline** is DuckDB (in memory, all cores) computing the same counters and close-time histograms "
    "from the raw cases — every case, no rollups; one scan per workflow timestamp for the period and the "
    "previous one; the table in path order so that an area's cases are contiguous — turned into KPIs by the "
    "same `values_of`; for the hotspot "
    "layer, reports per H3 cell (the cell of each case computed once when the cases are exported: DuckDB's h3 "
    "and sqlite extensions are not shipped with its wheel, so it reads a CSV export of the cases table made once "
    "per run). Only DuckDB's queries are timed, not the export.",
    "- **Equality**: every figure of every row is compared with DuckDB's; and with `selectors.direct_kpis` (the "
    "raw-case computation in Python — for a ranking, its first 8 rows by code; for the hotspots, H3 cells "
    "counted from the raw cases) where the area holds at most `--direct-max` cases over the period and the "
    "previous one (100,000 by default at a million cases, every read with `--quick` or `--direct-all`): it "
    "reads every case of the area in Python, and the city-wide reads alone took minutes. The note of each row "
    "says which checks ran; a mismatch fails the row and is printed.",
    "- **Target** (the analytics issue): each dashboard read under 200 ms (p90) and at most 2× DuckDB (median).",
]


METHOD_INTAKE = [
    "## How the intake and memory rows are measured",
    "",
    "- **The server**: gunicorn with `manage.py serve`'s command line and environment (its `gunicorn_argv` and "
    "`server_environ`: 2 workers × 4 gthreads, MALLOC_ARENA_MAX; no job runner) on a free port, on a throw-away "
    "copy of the benchmark city's database (SQLite: a file copy in a temporary directory; PostgreSQL: "
    "`CREATE DATABASE … TEMPLATE` the city, dropped afterwards) so that the city of the other rows is never "
    "changed, with `DJANGO_SETTINGS_MODULE=bench.baseline_settings`: config.settings and gridgov's own URLs "
    "plus the baseline endpoint. Started and stopped by the run (the whole process group; a process left "
    "behind fails the run).",
    "- **Intake**: `wrk` (Debian's package; a Python thread driver when it is missing, named in the note), 16 "
    "connections, a Lua script posting a JSON case (a category without required extra fields, a point in one "
    "of the grid member's grids, a distinct description per request) with a grid member's bearer token to "
    "`POST /api/v1/cases`: authentication, validation, location, deadline, timeline and audit. A warm-up, then "
    "the timed run; requests/s, p50 and p99 from wrk. Errors: socket errors, timeouts and any answer that is "
    "not a 200/201 with a tracking code. Every tracking code answered (warm-up included) is looked up in the "
    "database afterwards.",
    "- **The baseline**: the same load on `POST /bench/insert` (bench/baseline_app.py), a bare Ninja endpoint "
    "inserting one row (keyed by its tracking code; the same SQL on both databases) into a table of the same "
    "database, in the same server, right before.",
    "- **Memory**: a fresh server; the leader GETs the dashboard, the map, the residents list and the API's "
    "case list, the dispatcher the console and its map data, three times each; then the VmRSS of every worker "
    "(not the master) from /proc/<pid>/status. The row is the largest.",
    "- **Targets** (issue 8): intake ≥ 0.5× the baseline's throughput, p99 < 100 ms, zero errors, every "
    "acknowledged case stored; a worker < 250 MB.",
    "",
    "## What limits intake and memory (profiled 2026-12-05)",
    "",
    "- **Intake is CPU-bound in Django, not in the database.** A report costs ~6.9 ms of Python on one core "
    "through the test client (the small city; the bare insert's request a fraction of that). Profiled (cProfile, "
    "300 reports): `case_report` ~62 % — the category lookup ~18 % even after dropping its ORDER BY (Django "
    "building and compiling a `select_related` query on the 94-row category table; SQLite answers in ~0.1 ms), "
    "the four INSERTs and an UPDATE through `Model.save` ~21 %, the audit append ~12 % —; the 201 answer's "
    "validation through Ninja ~17 % (the case's allowed actions ~12 %); the bearer token ~14 %. Earlier steps: "
    "the 201 is answered from the case as written instead of reading it back (`gridgov.core.preload.loaded`; a "
    "test checks it equals a GET), the grid comes from the locator's row, the audit append takes no savepoint, "
    "the webhook check reads only the subscriptions' events — 13 statements instead of 22. The report writes "
    "five rows (the case, its number, the timeline step, the audit entry and chain head, the rollups' dirty "
    "mark) where the baseline writes one with no authentication, so 0.5× of its throughput is out of reach "
    "with the ORM on this path. With 16 connections the mean latency is 16 ÷ throughput (~110–140 ms at "
    "110–150 reports/s), so p99 < 100 ms cannot be met before the throughput is. The tail above that on SQLite "
    "was its busy handler, which sleeps in growing steps (up to 100 ms) and lets whoever retries first win: "
    "p99 945–1,154 ms. Writers now queue on a file lock (`gridgov.core.sqlite_backend`, taken at `BEGIN`, "
    "dropped at commit or rollback, tried again every 2 ms at most, given up after the busy timeout): p99 "
    "168–177 ms with a blocking wait, 190–203 ms with these 2 ms retries (kept: a stuck writer cannot hang "
    "the others), at the same or higher throughput (two runs each, 2026-12-05). SQLite connections are kept between requests now (`GRIDGOV_SQLITE_CONN_MAX_AGE`, 60 s): a "
    "new connection per request ran its PRAGMAs from a cold page cache — intake +35 %, the bare insert 3× (so "
    "the ratio fell: the baseline gained more). PostgreSQL runs the same Python; its baseline is slower than "
    "SQLite's persistent in-process insert (a round trip per statement).",
    "- **What would move intake next**: a per-process category table refreshed like the locator (at most every "
    "GRIDGOV_LOCATOR_CHECK_SECONDS; it needs a version that `QuerySet.update` bumps too); the audit append and "
    "the case number in raw SQL; the 201 answer's allowed actions computed from the one state a new case can "
    "be in; the token looked up in a per-process cache with a short expiry; a third worker process.",
    "- **Memory**: a worker is ~100–120 MB after imports; the rest was SQLite's page cache (then 64 MB per "
    "connection, one connection per thread) and glibc's per-thread malloc arenas. Now the cache is 16 MB per "
    "connection (`GRIDGOV_SQLITE_CACHE_MB`) and `manage.py serve` starts gunicorn with `MALLOC_ARENA_MAX=2` "
    "(serve.server_environ, which this benchmark uses too): 279 MB → ~170 MB on the large city.",
]

METHOD_IMPORT = [
    "## How the import and lookup rows are measured",
    "",
    "- **The file**: bench/residents.py generates var/bench/<size>/residents_<rows>.csv once (seed 8, from the "
    "city's grids) in the import template's headers: distinct valid GB 11643 ID numbers (check digits, birth "
    "dates 1935–2020), mobiles for 90 %, ethnicity, registered residence, occupation, political status, "
    "residence type and presence, households of 1–5 people (2.55 on average) each at its own standard address "
    "(road, number, building, unit, floor, room) in a random grid, with its 户号 and relations.",
    "- **Import**: a child process (`python -m bench.residents import`) on a copy of the city's SQLite database "
    "runs `importer.import_file` as the city's leader, as `residents_import` and the upload job do: validation, "
    "AES-GCM encryption, blind indexes, addresses, houses and households, history rows and the audit entry. The "
    "value is rows per second over the wall time (audit entry included); peak memory is the child's VmHWM; every "
    "row must be created or updated, each new resident with its history row, no row error, the audit entry "
    "written. That database is kept (var/bench/<size>/residents-<rows>/, with the figures in import.json) like "
    "the city: importing a million rows takes many minutes, so later runs report the run that built it and "
    "`--import-again` measures it anew.",
    "- **Import baseline**: right before the import, in another child on the same copy: the CSV parsed by "
    "Python's csv module and inserted with sqlite3's `executemany` (2,000 rows a call, one transaction) into a "
    "plain table without indexes, dropped afterwards; no validation.",
    "- **Lookup**: every run, a child on the kept database: 1,000 ID numbers drawn at random from the file (of "
    "its own community for the community-level user) each looked up through `selectors.resident_list(user=…, "
    "q=<ID number>, status=None)` — what the search page and the API's people search call — sliced as a page "
    "and evaluated, after 20 warm-up lookups; p50 (p90 in the note), as a community-level user and as the "
    "leader. Baseline: a bare `SELECT id, name, path FROM residents_resident WHERE id_index = ?` on the same "
    "connection with the blind index computed beforehand, timed alternately with ours; both must return the "
    "same resident, whose name must match the file.",
    "- **Targets** (issue 8): import ≥ 40,000 rows/s with peak < 500 MB; lookup p50 ≤ 1 ms.",
    "",
    "## What limits import and lookup",
    "",
    "- **Import**: profiled (cProfile, 100,000 rows): before this session 525 s, mostly model instances (~960k "
    "Address objects from a candidate query that grew with every batch), `bulk_create_with_history` and "
    "datetime adaptation. Now addresses are found by their exact key, addresses, houses, households and their "
    "history rows go in by raw multi-row INSERTs, new residents as plain rows, batches of 10,000, a 128 MB "
    "page cache while importing, and the history tables keep only the indexes history is read by (a resident "
    "and its history row used to update 29 indexes). Per 100,000 rows about half the CPU is SQLite keeping the "
    "indexes of residents_resident, its history and the address, house and household tables up (random keys: "
    "the blind indexes, paths) and half per-row Python (GB 11643 validation, AES-GCM, HMAC, building the rows). "
    "What would move it: validation and encryption in a second process while the first writes (2 cores); fewer "
    "indexes on residents_resident (a partial unique index on id_index could serve the lookups alone); "
    "PostgreSQL's COPY for a PostgreSQL deployment. 40,000 rows/s — 25 µs per row for validation, two "
    "encryptions, two HMACs and five indexed tables — is beyond this design on one SQLite writer.",
    "- **Lookup** (met since 2026-12-05): the indexed search itself takes ~0.01 ms. The p50 was 1.46 ms, nearly "
    "all of it Django building and compiling the list's 5-table `select_related` query (88 columns) and its "
    "ORDER BY. The exact-ID search now loads only the columns a result row shows "
    "(`residents.selectors.RESULT_ROW_FIELDS`; a test renders the page's row, the API's schema and a dispute "
    "party's label from it without a further query), without the household join and the ORDER BY (one row at "
    "most), built in one `filter()`: ~0.8 ms on a quiet machine, ~0.9–1.2 ms when the machine is busier (the "
    "bare query moves with it: compare the ratio). What is left: building the queryset (scope, filters) ~0.15 "
    "ms, compiling ~25 columns over three joins ~0.3 ms, three model instances, the ID check and the blind "
    "index's HMAC. What would move it further: a compiled statement cached per process for this one query "
    "shape, the related rows filled in by hand.",
]

METHOD_POSTGRES = [
    "## The PostgreSQL column",
    "",
    "- **The city**: the same commands as the SQLite city (`migrate`, `demo_city --if-empty --size …` without "
    "demo residents, then the bulk cases and the rollups rebuild) into a database of its own, `gridgov_bench_large` "
    "(`gridgov_bench_small` with `--quick`) on the server of `BENCH_PG_URL` (default "
    "postgres://postgres@127.0.0.1:5432/postgres; `--pg-url`), created when missing; built once and reused, its "
    "keys and cases.json in var/bench/<size>-postgres. An unreachable server skips the column with a note.",
    "- **The rows**: the dashboard reads and pages, each against DuckDB over the PostgreSQL city's own raw cases, "
    "and intake against the bare insert — the same code, targets and checks as SQLite's, in a child process "
    "(`python -m bench.run --database postgres`: Django's connection is fixed at setup) run after the SQLite "
    "rows, on the same machine (the server's settings in the header). Locator, import, lookup and memory do not "
    "depend on the database and run on SQLite only.",
    "",
    "## What limits the PostgreSQL column (profiled 2026-12-05)",
    "",
    "- **The rollups rebuild** took ~4× SQLite's time: `executemany` sent a statement per row (11 million rows at "
    "1,000,000 cases; cProfile: most of the time in psycopg's pipeline round trips). It writes with `COPY` now "
    "(the small city's rebuild 18.9 → 10.2 s); at 1,000,000 cases it took about as long as SQLite's, both "
    "built side by side on 2 cores.",
    "- **Planner statistics**: this machine's server runs with autovacuum off, so the freshly rebuilt rollup table "
    "had never been analysed: a grid ranking of a community scanned 10,000 entries of the wrong index, 37.8 ms "
    "against DuckDB's 15.1 (2.5×, missed). The rebuild, the bulk case load and large resident imports now "
    "`ANALYZE` the tables they filled (`gridgov.core.dbstats`, tested): ~8–11 ms.",
    "- **What is left**: every read is a little slower than SQLite's in-process reads (a round trip per query, "
    "psycopg's type adaptation), at most ~2.5× DuckDB on the pages and 0.1–0.8× on the reads. The slowest, the "
    "whole city's 288 communities ranked (two periods, 576 rollup rows with close-time histograms of ~190 "
    "hours each), is ~100–180 ms on this machine, p90 near the 200 ms target, so it may miss on a busy run. "
    "Profiled (cProfile, 5 reads, 158 ms each): the two queries ~25 % — the previous year's picks the unique "
    "key index and filters 10,000 rows by node (14.7 ms) where the read index takes 1.8 ms —, decoding the "
    "histograms' JSON ~17 %, the KPIs from the sums ~30 %. Done: the percentiles from one sort and a C-level "
    "running sum (2× faster), the rollup rows read without a server-side cursor (`.iterator()` opened a "
    "`DECLARE … WITH HOLD` cursor). What would move it: a faster JSON decoder (orjson) for the histograms, the "
    "index choice (extended statistics on (grain, start, dim, node), or one query for both periods), the ranking "
    "cached until the rollups change; a connection pool (`CONN_MAX_AGE` is 60 s already) for the server.",
]

# the row groups, in the order they run; "import" and "lookup" (bench/residents.py) are wired in by the lead
GROUPS = ("locator", "analytics", "import", "lookup", "intake", "memory")
PG_GROUPS = ("analytics", "intake")  # also run on PostgreSQL


def _rows(var_dir: Path, only: set[str], args, timings: dict[str, float], *,
          database_url: str | None = None) -> list[Row]:
    """The rows of the groups in `only` on the database Django is set up with; each group's seconds into
    `timings`."""
    rows: list[Row] = []

    def timed(group: str, fn) -> None:
        t0 = time.monotonic()
        rows.extend(fn())
        timings[group] = time.monotonic() - t0

    if "locator" in only:
        timed("locator", lambda: bench_locator(points=20_000 if args.quick else 200_000,
                                               repeat=3 if args.quick else 7))
    if "analytics" in only:
        timed("analytics", lambda: bench_analytics(var_dir, cases=args.cases or (5_000 if args.quick else 1_000_000),
                                                   repeat=args.repeat or (5 if args.quick else 15),
                                                   direct_max=args.direct_max))
    if only & {"import", "lookup"}:
        from bench.residents import bench_import_and_lookup

        # the lookups run on the database the import filled, so both come from one call
        timed("+".join(g for g in ("import", "lookup") if g in only), lambda: [
            r for r in bench_import_and_lookup(var_dir, rows=args.residents or (20_000 if args.quick else 1_000_000),
                                               again=args.import_again)
            if r.name.split(":")[0] in only])
    if only & {"intake", "memory"}:
        from bench.intake import bench_intake_and_memory

        timed("+".join(g for g in ("intake", "memory") if g in only), lambda: bench_intake_and_memory(
            var_dir, seconds=4 if args.quick else 12, warmup=1 if args.quick else 2, intake="intake" in only,
            memory="memory" in only, database_url=database_url))
    return rows


def _timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())


def run_postgres(args, size: str, only: set[str], log=print) -> tuple[list[Row], list[str], dict, str]:
    """The PostgreSQL rows from a child process: (rows, notes, the seconds of its parts, the server's
    description); no rows and a note when the server cannot be reached or the child fails."""
    reason = pg_reachable(args.pg_url)
    if reason:
        return [], [f"PostgreSQL column skipped: no server at {_safe(args.pg_url)} ({reason}); set BENCH_PG_URL "
                    "or --pg-url"], {}, ""
    city = pg_ensure(args.pg_url, f"gridgov_bench_{size}")
    about = pg_about(args.pg_url)
    argv = [sys.executable, "-m", "bench.run", "--database", "postgres", "--pg-url", args.pg_url,
            "--only", ",".join(sorted(only))]
    argv += ["--quick"] if args.quick else []
    argv += ["--cases", str(args.cases)] if args.cases else []
    argv += ["--repeat", str(args.repeat)] if args.repeat else []
    argv += ["--direct-max", str(args.direct_max)] if args.direct_max is not None else ["--direct-all"]
    with contextlib.ExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "rows.json"
        env = {**os.environ, "DATABASE_URL": city}
        log(f"== PostgreSQL ({_safe(city)}), in a child process")
        code = subprocess.run([*argv, "--rows-out", str(out)], env=env, cwd=ROOT).returncode
        if code != 0 or not out.exists():
            return [], [f"PostgreSQL column incomplete: the child run failed (exit {code}); see its output"], {}, about
        result = json.loads(out.read_text())
        return [Row(**r) for r in result["rows"]], [], result["timings"], about


def _safe(url: str) -> str:
    """`url` without a password."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the small city, fewer repetitions")
    parser.add_argument("--no-write", action="store_true", help="print only (the test suite uses this)")
    parser.add_argument("--cases", type=int, default=None,
                        help="cases in the benchmark city (default 1,000,000; 5,000 with --quick)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repetitions of each dashboard read")
    parser.add_argument("--direct-max", type=int, default=None,
                        help="check a dashboard read against direct_kpis only where its area holds at most this "
                             "many cases (default 100,000; every read with --quick); 0: never")
    parser.add_argument("--direct-all", action="store_true", help="check every dashboard read against direct_kpis")
    parser.add_argument("--no-direct", action="store_true", help="the same as --direct-max 0 (DuckDB only)")
    parser.add_argument("--residents", type=int, default=None,
                        help="rows of the resident CSV imported (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--import-again", action="store_true",
                        help="import the resident CSV again (otherwise the database it filled is kept and reused "
                             "for the lookups, and the import figures of that run are reported)")
    parser.add_argument("--only", default=None,
                        help=f"comma list of row groups to run ({', '.join(GROUPS)}); default all")
    parser.add_argument("--database", choices=("both", "sqlite", "postgres"), default="both",
                        help="which column(s) to measure (default both; PostgreSQL runs in a child process; "
                             "postgres alone prints its table and writes nothing)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL") or DEFAULT_PG_URL,
                        help="the PostgreSQL server (env BENCH_PG_URL; default %(default)s); the city goes into "
                             "its database gridgov_bench_<size>")
    parser.add_argument("--rows-out", type=Path, default=None, help=argparse.SUPPRESS)  # the child's rows, as JSON
    parser.add_argument("--var-dir", type=Path, default=None, help=argparse.SUPPRESS)  # the child's keys (tests)
    args = parser.parse_args(argv)
    only = set(GROUPS) if not args.only else {g.strip() for g in args.only.split(",") if g.strip()}
    if only - set(GROUPS):
        parser.error(f"--only: unknown {', '.join(sorted(only - set(GROUPS)))}; choose from {', '.join(GROUPS)}")
    if args.no_direct:
        args.direct_max = 0
    elif args.direct_all or (args.quick and args.direct_max is None):
        args.direct_max = None
    elif args.direct_max is None:
        args.direct_max = 100_000
    size = "small" if args.quick else "large"

    if args.database == "postgres":  # the child (or a PostgreSQL-only run): this process's Django is PostgreSQL's
        reason = pg_reachable(args.pg_url)
        if reason:
            sys.exit(f"PostgreSQL at {_safe(args.pg_url)} is unreachable: {reason}")
        url = os.environ.get("DATABASE_URL") if args.rows_out else None
        url = url or pg_ensure(args.pg_url, f"gridgov_bench_{size}")
        var_dir = args.var_dir or ROOT / "var" / "bench" / f"{size}-postgres"
        var_dir.mkdir(parents=True, exist_ok=True)
        timings = {}
        _setup_django(var_dir, size, database_url=url)
        timings["setup"] = time.monotonic() - started
        rows = _rows(var_dir, only & set(PG_GROUPS), args, timings, database_url=url)
        for r in rows:
            r.database = "postgres"
        if args.rows_out:
            args.rows_out.write_text(json.dumps({"rows": [asdict(r) for r in rows], "timings": timings},
                                                ensure_ascii=False))
            return 0
        print(render(rows, size=size, about=pg_about(args.pg_url),
                     notes=[f"total: {(time.monotonic() - started) / 60:.1f} min ({_timings(timings)})"]))
        return 0

    var_dir = ROOT / "var" / "bench" / size
    var_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    _setup_django(var_dir, size)
    timings["setup"] = time.monotonic() - started
    rows = _rows(var_dir, only, args, timings)
    sqlite_seconds = time.monotonic() - started
    notes, about = [], ""
    parts = f"SQLite {sqlite_seconds / 60:.1f} min ({_timings(timings)})"
    if args.database == "both" and only & set(PG_GROUPS):
        pg_rows, notes, pg_timings, about = run_postgres(args, size, only & set(PG_GROUPS))
        rows += pg_rows
        parts += f"; PostgreSQL {(time.monotonic() - started - sqlite_seconds) / 60:.1f} min ({_timings(pg_timings)})"
    elif only & set(PG_GROUPS):
        notes.append("PostgreSQL column not measured in this run (`--database sqlite`).")
    total = time.monotonic() - started
    notes.append(f"total: `make bench{'-quick' if args.quick else ''}` took {total / 60:.1f} min — {parts}. Setup is "
                 "migrate and the city check (or its build); analytics includes bringing the city to its cases (the "
                 "bulk load and the rollups rebuild) when a run does that.")
    table = render(rows, size=size, notes=notes, about=about)
    print(table)
    if not args.no_write:
        (ROOT / "docs").mkdir(exist_ok=True)
        if not args.quick:
            (ROOT / "docs" / "benchmarks.md").write_text(table)
        out = ROOT / "var" / "bench" / "results.json"
        out.write_text(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
