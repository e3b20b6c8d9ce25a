"""The intake and memory rows of `make bench` (issue 8).

- **intake**: `POST /api/v1/cases` as a grid member (bearer token) under the production server configuration —
  gunicorn started with `manage.py serve`'s options (2 workers × 4 gthreads, no job runner) on a free port —
  driven by `wrk` (16 connections, a Lua script for the body and the Authorization header; a Python thread
  driver when wrk is missing). Baseline in the same run, same server, same database: `POST /bench/insert`
  (bench/baseline_app.py), a bare Ninja endpoint inserting one row. Every tracking code answered is looked up in
  the database afterwards.
- **memory**: VmRSS of each gunicorn worker (not the master) after a warm-up of a leader's pages.

Both run against a throw-away copy of the benchmark city's database — SQLite: a file copy in a temporary
directory (GRIDGOV_VAR_DIR); PostgreSQL: `CREATE DATABASE … TEMPLATE <the city>` — so the dashboards' city is
never changed; the copy and every process started here are removed at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16
SETTINGS = "bench.baseline_settings"
# (who, page): the console is not the leader's (403), so its pages are read as the city's dispatcher
MEMORY_PAGES = [("leader", "/analytics/"), ("dispatcher", "/cases/console/"), ("dispatcher", "/cases/console/map.json"),
                ("leader", "/geo/"), ("leader", "/residents/"), ("leader", "/api/v1/cases")]


# --- the server ---------------------------------------------------------------------------------------------

def gunicorn_command(*, host: str, port: int, workers: int = 2, threads: int = 4) -> list[str]:
    """The web command of `manage.py serve`, from serve.py itself."""
    from gridgov.core.management.commands.serve import gunicorn_argv

    return gunicorn_argv(host=host, port=port, workers=workers, threads=threads, base_dir=ROOT)


def server_env(base: dict[str, str]) -> dict[str, str]:
    """The web server's environment as `manage.py serve` gives it (MALLOC_ARENA_MAX, …) over `base`."""
    from gridgov.core.management.commands.serve import server_environ

    return server_environ(base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_processes(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def stop_group(proc: subprocess.Popen, timeout: float = 15) -> list[int]:
    """SIGTERM the process group of `proc` (started with start_new_session), SIGKILL what is left after
    `timeout`; answer the processes still alive afterwards (empty when all is well)."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + timeout
    while group_processes(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_processes(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return group_processes(pgid)


@dataclass
class Server:
    city: CityCopy
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    leftovers: list[int] = field(default_factory=list)

    def __enter__(self) -> Server:
        env = server_env(self.city.env())
        env.pop("GRIDGOV_ACCESS_LOG", None)
        self.log = open(self.city.work / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(gunicorn_command(host="127.0.0.1", port=self.port), env=env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log.name}")
            with contextlib.suppress(OSError):
                status, _ = http_get(self.port, "/healthz")
                if status == 200 and len(self.workers()) >= 2:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.leftovers = stop_group(self.proc)
        self.log.close()
        if self.leftovers:
            raise RuntimeError(f"processes left behind by gunicorn: {self.leftovers}")


def http_get(port: int, path: str, headers: dict | None = None, follow: int = 3) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        location = response.getheader("Location", "")
        if response.status in (301, 302) and follow and location.startswith("/"):
            return http_get(port, location, headers, follow - 1)
        return response.status, body
    finally:
        conn.close()


def vm_rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(f"{key} of {pid}")


# --- the city copy and the credentials ------------------------------------------------------------------------

@dataclass
class CityCopy:
    """A throw-away copy of the benchmark city: `work` is its GRIDGOV_VAR_DIR (the keys, and the SQLite file);
    `database_url` the PostgreSQL copy (None: the SQLite file in `work`)."""
    work: Path
    database_url: str | None = None

    @property
    def database(self) -> str:
        return "postgres" if self.database_url else "sqlite"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "GRIDGOV_VAR_DIR": str(self.work), "DJANGO_SETTINGS_MODULE": SETTINGS}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        else:
            env.pop("DATABASE_URL", None)
        return env

    def stored(self, codes: list[str], table: str) -> int:
        """How many of `codes` are in `table`'s tracking_code column."""
        if not self.database_url:
            return stored(self.work / "gridgov.sqlite3", codes, table)
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return conn.execute(f"SELECT count(*) FROM {table} WHERE tracking_code = ANY(%s)",  # noqa: S608
                                [list(set(codes))]).fetchone()[0]


def copy_keys(var_dir: Path, into: Path) -> None:
    """The keys the city is read with (sessions, tokens, encrypted fields) and its static files."""
    for name in ("secret_key", "field_key"):
        if (var_dir / name).exists():
            shutil.copy2(var_dir / name, into / name)
    if (var_dir / "static").exists():
        (into / "static").symlink_to((var_dir / "static").resolve())


def copy_city(var_dir: Path, into: Path) -> Path:
    """Copy the benchmark city's SQLite database (and the keys it is read with) into `into`; answer `into`."""
    src = var_dir / "gridgov.sqlite3"
    with contextlib.closing(sqlite3.connect(src)) as db:  # fold any WAL into the file before copying it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(src, into / "gridgov.sqlite3")
    copy_keys(var_dir, into)
    return into


@contextlib.contextmanager
def city_copy(var_dir: Path, work: Path, database_url: str | None = None, log=print):
    """A CityCopy of the city in `var_dir` (SQLite) or at `database_url` (PostgreSQL: a database created from
    the city as its template, dropped on the way out)."""
    t0 = time.monotonic()
    if not database_url:
        copy_city(var_dir, work)
        log(f"  copied the city's database in {time.monotonic() - t0:.0f} s")
        yield CityCopy(work)
        return
    from bench.run import pg_clone, pg_drop, pg_url_with

    copy_keys(var_dir, work)
    if "django" in sys.modules:  # PostgreSQL copies no template with a connection open on it: close ours
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
    url = pg_clone(database_url)
    log(f"  copied the city's database into {pg_url_with(url)[1]} in {time.monotonic() - t0:.0f} s")
    try:
        yield CityCopy(work, url)
    finally:
        pg_drop(url)


def prepare(city: CityCopy) -> dict:
    """In a child process on the copy: a bearer token for a grid member, a point in one of their grids, a
    category without required extra fields, a leader's session, and the baseline's table."""
    out = subprocess.run([sys.executable, "-m", "bench.intake", "prepare"], env=city.env(), cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _prepare_here() -> dict:  # runs in the child (python -m bench.intake prepare)
    import django

    django.setup()
    import shapely
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from bench.baseline_app import BASELINE_TABLE
    from gridgov.accounts.choices import Role
    from gridgov.accounts.models import ApiToken, User
    from gridgov.accounts.tokens import token_generate, token_hash
    from gridgov.cases.models import Category

    member = (User.objects.filter(username="gridmember").first()
              or User.objects.filter(role=Role.GRID_MEMBER, grids__isnull=False).order_by("pk").first())
    grid = member.grids.order_by("pk").first()
    point = shapely.from_geojson(json.dumps(grid.geometry)).representative_point()
    token = token_generate()
    ApiToken.objects.create(user=member, name="bench", prefix=token[:12], key_hash=token_hash(token))
    category = next(c for c in Category.objects.filter(parent__isnull=False).order_by("code")
                    if not any(f.get("required") for f in (c.extra_fields or [])))
    leader = User.objects.filter(username="leader").first() or User.objects.filter(role=Role.ADMIN).first()
    dispatcher = (User.objects.filter(username="dispatcher").first()
                  or User.objects.filter(role=Role.DISPATCHER).order_by("pk").first())
    cookies = {}
    for who, user in (("leader", leader), ("dispatcher", dispatcher)):
        client = Client()
        client.force_login(user)
        cookies[who] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_TABLE)
    return {"token": token, "member": member.username, "grid": grid.code, "lon": point.x, "lat": point.y,
            "category": category.code, "cookies": cookies}


# --- the load -------------------------------------------------------------------------------------------------

def body_template(*, category: str, lon: float, lat: float) -> str:
    """The JSON body as a Lua string.format template: `%d` twice (wrk thread, request number) in the
    description so that no two cases are alike."""
    body = json.dumps({"category": category, "description": "bench intake THREAD-N: a pothole", "lon": lon,
                       "lat": lat, "address": "bench"}, ensure_ascii=False)
    return body.replace("%", "%%").replace("THREAD-N", "%d-%d")


def lua_script(*, path: str, template: str, token: str, codes_dir: Path) -> str:
    """The wrk script: POST `template` to `path` with the bearer token; each thread writes the tracking codes it
    was answered (and `!<status>` for any other answer) to codes_dir/codes-<thread>.txt; done() prints one
    `BENCHJSON {...}` line (latencies in µs)."""
    lua_str = json.dumps  # a JSON string literal is a valid Lua string literal for these characters
    return f"""
local threads = {{}}
local counter = 0
local out = nil

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  out = io.open({lua_str(str(codes_dir))} .. "/codes-" .. tid .. ".txt", "a")
end

function request()
  counter = counter + 1
  local body = string.format({lua_str(template)}, tid, counter)
  return wrk.format("POST", {lua_str(path)}, {{["Content-Type"] = "application/json",
    ["Authorization"] = {lua_str("Bearer " + token)}}}, body)
end

function response(status, headers, body)
  local code = nil
  if status == 200 or status == 201 then
    code = string.match(body, '"tracking_code"%s*:%s*"([^"]+)"')
  end
  if code then out:write(code, "\\n") else out:write("!", status, "\\n") end
  out:flush()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and answers other than 200/201 with a tracking code
    codes: list[str]
    driver: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def parse_wrk(stdout: str) -> dict:
    match = re.search(r"^BENCHJSON (\{.*\})$", stdout, re.M)
    if not match:
        raise ValueError(f"no BENCHJSON line in wrk's output:\n{stdout}")
    return json.loads(match.group(1))


def read_codes(codes_dir: Path) -> tuple[list[str], int]:
    """The tracking codes answered (every thread's file) and the number of other answers."""
    codes, bad = [], 0
    for f in sorted(codes_dir.glob("codes-*.txt")):
        for line in f.read_text().split():
            if line.startswith("!"):
                bad += 1
            else:
                codes.append(line)
    return codes, bad


def run_wrk(*, port: int, path: str, template: str, token: str, seconds: float, warmup: float,
            work_dir: Path) -> LoadResult:
    codes_dir = Path(tempfile.mkdtemp(dir=work_dir, prefix="codes-"))
    script = codes_dir / "post.lua"
    script.write_text(lua_script(path=path, template=template, token=token, codes_dir=codes_dir))
    url = f"http://127.0.0.1:{port}"
    threads = min(CONNECTIONS, os.cpu_count() or 2)
    base = ["wrk", "-t", str(threads), "-c", str(CONNECTIONS), "--timeout", "10s", "-s", str(script)]
    if warmup:
        subprocess.run([*base, "-d", f"{warmup:g}s", url], check=True, capture_output=True, text=True)
    warm_codes, warm_bad = read_codes(codes_dir)
    out = subprocess.run([*base, "-d", f"{seconds:g}s", url], check=True, capture_output=True, text=True).stdout
    result = parse_wrk(out)
    codes, bad = read_codes(codes_dir)  # warm-up included: every acknowledged case must be stored
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return LoadResult(requests=result["requests"], seconds=result["duration_us"] / 1e6,
                      p50_ms=result["p50_us"] / 1e3, p99_ms=result["p99_us"] / 1e3,
                      errors=socket_errors + max(bad, result["status"]) + warm_bad, codes=codes,
                      driver=f"wrk, {threads} threads × {CONNECTIONS // threads} connections")


def run_threads(*, port: int, path: str, template: str, token: str, seconds: float, warmup: float,
                **_) -> LoadResult:
    """The driver when wrk is missing: 16 Python threads, one keep-alive connection each."""
    lua_fmt = template.replace("%%", "\0").replace("%d-%d", "{}-{}").replace("\0", "%")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    lock = threading.Lock()
    codes, latencies, errors = [], [], [0]

    def worker(tid: int, until: float, timed: bool):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while time.monotonic() < until:
            n += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=lua_fmt.format(tid, n).encode(), headers=headers)
                response = conn.getresponse()
                body = response.read()
                ok = response.status in (200, 201)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok, body = False, b""
            dt = time.perf_counter() - t0
            code = ok and json.loads(body).get("tracking_code")
            with lock:
                if code:
                    codes.append(code)
                else:
                    errors[0] += 1
                if timed:
                    latencies.append(dt)
        conn.close()

    def phase(duration: float, timed: bool):
        until = time.monotonic() + duration
        pool = [threading.Thread(target=worker, args=(i, until, timed)) for i in range(CONNECTIONS)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()

    if warmup:
        phase(warmup, False)
    t0 = time.monotonic()
    phase(seconds, True)
    elapsed = time.monotonic() - t0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return LoadResult(requests=len(latencies), seconds=elapsed, p50_ms=q[49] * 1e3, p99_ms=q[98] * 1e3,
                      errors=errors[0], codes=codes, driver=f"Python threads (wrk missing), {CONNECTIONS} connections")


def stored(db: Path, codes: list[str], table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TEMP TABLE answered (code TEXT PRIMARY KEY)")
        conn.executemany("INSERT OR IGNORE INTO answered VALUES (?)", [(c,) for c in codes])
        return conn.execute(f"SELECT count(*) FROM {table} JOIN answered ON {table}.tracking_code = "  # noqa: S608
                            "answered.code").fetchone()[0]


# --- the rows -------------------------------------------------------------------------------------------------

def bench_intake_and_memory(var_dir: Path, *, seconds: float, warmup: float, intake: bool = True,
                            memory: bool = True, database_url: str | None = None, log=print) -> list:
    """The intake rows (and the memory row) on a copy of the city in `var_dir` — or, with `database_url`, of
    the PostgreSQL city there (`var_dir` then holds its keys)."""
    from bench.run import Row

    rows = []
    driver = run_wrk if shutil.which("wrk") else run_threads
    with (tempfile.TemporaryDirectory(prefix="gridgov-bench-", dir=var_dir.parent) as tmp,
          city_copy(var_dir, Path(tmp), database_url, log=log) as city):
        work = city.work
        creds = prepare(city)
        where = "a copy of the city's PostgreSQL database" if database_url else "a copy of the city's database"
        if intake:
            template = body_template(category=creds["category"], lon=creds["lon"], lat=creds["lat"])
            with Server(city) as server:
                runs = {}
                for name, path in (("baseline", "/bench/insert"), ("ours", "/api/v1/cases")):
                    runs[name] = driver(port=server.port, path=path, template=template, token=creds["token"],
                                        seconds=seconds, warmup=warmup, work_dir=work)
                    log(f"  {name}: {runs[name].rps:,.0f} requests/s, p99 {runs[name].p99_ms:.1f} ms")
            ours, base = runs["ours"], runs["baseline"]
            kept = city.stored(ours.codes, "cases_case")
            base_kept = city.stored(base.codes, "bench_insert")
            all_kept = kept == len(ours.codes) and len(set(ours.codes)) == len(ours.codes)
            base_ok = base.errors == 0 and base_kept == len(base.codes) > 0
            ratio = ours.rps / base.rps
            note = (f"{ours.driver}, {warmup:g} s warm-up then {seconds:g} s per endpoint, gunicorn as `manage.py "
                    f"serve` (2 workers × 4 threads, no job runner) on {where}; as grid "
                    f"member {creds['member']} (bearer token), category {creds['category']}, a point in grid "
                    f"{creds['grid']}; p50 {ours.p50_ms:.1f} ms (baseline {base.p50_ms:.1f} ms); errors "
                    f"{ours.errors} (baseline {base.errors}); acknowledged {len(ours.codes):,} cases, "
                    f"{kept:,} of them in the database (baseline {len(base.codes):,} / {base_kept:,})")
            rows.append(Row("intake: POST /api/v1/cases, 16 connections", round(ours.rps, 1), "requests/s",
                            round(base.rps, 1), round(ratio, 2),
                            "≥ 0.5× a bare Ninja insert, 0 errors, every acknowledged case stored",
                            ratio >= 0.5 and ours.errors == 0 and all_kept and base_ok,
                            note + ("" if base_ok else "; THE BASELINE FAILED: no comparison")))
            rows.append(Row("intake: p99 latency, 16 connections", round(ours.p99_ms, 1), "ms (p99)",
                            round(base.p99_ms, 1), round(ours.p99_ms / base.p99_ms, 2), "p99 < 100 ms",
                            ours.p99_ms < 100,
                            f"the driver's p99 over the timed run of each endpoint; p50 {ours.p50_ms:.1f} ms"))
        if memory:
            with Server(city) as server:
                statuses = {}
                for _ in range(3):  # twice or more per worker, whichever accepts
                    for who, page in MEMORY_PAGES:
                        statuses[page] = http_get(server.port, page, {"Cookie": creds["cookies"][who]})[0]
                rss = {pid: vm_rss_mb(pid) for pid in server.workers()}
                hwm = {pid: vm_rss_mb(pid, "VmHWM") for pid in rss}
                master = vm_rss_mb(server.proc.pid)
            worst = max(rss.values())
            bad = {p: s for p, s in statuses.items() if s != 200}
            note = (f"VmRSS of each worker after GETting {', '.join(f'{p} ({w})' for w, p in MEMORY_PAGES)} 3 times "
                    f"each: "
                    f"{', '.join(f'{v:.0f}' for v in rss.values())} MB (peak VmHWM "
                    f"{max(hwm.values()):.0f} MB; the master {master:.0f} MB)"
                    + (f"; NOT 200: {bad}" if bad else ""))
            rows.append(Row("memory: one gunicorn worker after warm-up", round(worst, 1), "MB (VmRSS)", None, None,
                            "< 250 MB", worst < 250 and not bad, note))
    return rows


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        print(json.dumps(_prepare_here()))
    else:
        sys.exit("usage: python -m bench.intake prepare  (the rows run from bench/run.py)")
