"""The suite only checks that the benchmark code runs (numbers are never asserted here)."""

import time

import pytest

from bench.run import bench_locator, render
from gridgov.geo.tests.factories import GridFactory


@pytest.mark.django_db
def test_locator_benchmark_runs_on_a_tiny_city():
    first = GridFactory(bounds=(120.60, 31.30, 120.61, 31.31))
    GridFactory(community=first.community, bounds=(120.61, 31.30, 120.62, 31.31))
    rows = bench_locator(points=200, repeat=1)
    assert [r.unit for r in rows] == ["µs/lookup", "points/s"]
    assert all(r.value > 0 and r.baseline > 0 for r in rows)
    assert "| locate one (2 grids)" in render(rows, size="small")


@pytest.mark.django_db
def test_dashboard_benchmark_runs_on_a_tiny_city(world, tmp_path):
    from bench.dashboards import bench_dashboards, load_cases

    rows = load_cases(target=400, var_dir=tmp_path, log=lambda *a: None)
    assert [r.unit for r in rows] == ["cases/s", "s"]
    rows = bench_dashboards(user=world["users"]["leader"], repeat=2, log=lambda *a: None)
    names = [r.name for r in rows]
    assert len(rows) == 12, names
    assert sum(name.startswith(("leader's dashboard page", "department page")) for name in names) == 4
    assert all(r.value > 0 and r.baseline > 0 for r in rows)
    assert [r.note for r in rows if "MISMATCH" in r.note] == []  # the figures agree; the times are not checked
    assert "| hotspot layer of the city" in render(rows, size="small")
    assert all("direct_kpis skipped" not in r.note for r in rows)  # every read checked by default


def test_the_table_puts_postgresql_beside_sqlite_and_the_json_has_one_entry_per_database():
    from dataclasses import asdict

    from bench.run import Row

    def row(name, value, database, **kw):
        return Row(name, value, "ms (median)", 2.0, round(value / 2, 2), "p90 < 200 ms", True, f"n {database}",
                   database=database, **kw)

    rows = [row("city KPI summary", 3.0, "sqlite"), Row("locate one", 20.0, "µs/lookup", 17.0, 1.18, "≤ 2×", True),
            row("city KPI summary", 5.0, "postgres")]
    table = render(rows, size="large", notes=["total: 9.0 min"])
    assert "| row | unit | target | SQLite | baseline | ratio | met | PostgreSQL | baseline | ratio | met |" in table
    assert "| city KPI summary | ms (median) | p90 < 200 ms | 3.0 | 2.0 | 1.5 | yes | 5.0 | 2.0 | 2.5 | yes |" in table
    assert "| locate one | µs/lookup | ≤ 2× | 20.0 | 17.0 | 1.18 | yes | — | — | — | — |" in table
    assert "- city KPI summary (PostgreSQL): n postgres" in table and table.index("- total: 9.0 min") > table.index(
        "n postgres")
    assert "## The PostgreSQL column" in table
    assert {(e["name"], e["database"]) for e in map(asdict, rows)} == {
        ("city KPI summary", "sqlite"), ("locate one", "sqlite"), ("city KPI summary", "postgres")}
    assert "PostgreSQL" not in render(rows[:2], size="large")  # SQLite only: one column


def test_postgres_urls_name_the_city_database():
    from bench.run import _safe, pg_url_with

    assert pg_url_with("postgres://postgres@127.0.0.1:5432/postgres", "gridgov_bench_large") == (
        "postgres://postgres@127.0.0.1:5432/gridgov_bench_large", "postgres")
    assert pg_url_with("postgres://u@h/")[1] == "postgres"
    assert _safe("postgres://u:secret@h:5432/db") == "postgres://u:***@h:5432/db"


@pytest.mark.django_db(transaction=True)  # committed: the child process reads the city
def test_the_postgres_child_process_writes_its_rows(world, tmp_path):
    """The PostgreSQL column's path: `python -m bench.run --database postgres` in a child process on this test
    database (PostgreSQL only: TEST_DATABASE_URL), its rows read back as JSON."""
    import json
    import os
    import subprocess
    import sys

    from django.db import connection

    from bench.run import ROOT, Row

    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL column needs PostgreSQL (make test-postgres, TEST_DATABASE_URL)")
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    url = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    out = tmp_path / "rows.json"
    connection.close()
    subprocess.run([sys.executable, "-m", "bench.run", "--database", "postgres", "--only", "analytics", "--quick",
                    "--cases", "300", "--repeat", "1", "--pg-url", url, "--var-dir", str(tmp_path),
                    "--rows-out", str(out)], env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, check=True,
                   capture_output=True)
    result = json.loads(out.read_text())
    rows = [Row(**r) for r in result["rows"]]
    assert set(result["timings"]) == {"setup", "analytics"}
    assert {r.database for r in rows} == {"postgres"} and len(rows) == 14, [r.name for r in rows]
    assert [r.note for r in rows if "MISMATCH" in r.note] == []
    assert "| PostgreSQL | baseline |" in render(rows, size="small")


# --- intake and memory: a real server cannot run on the test database, so the pieces that can are tested here --

def test_the_bench_server_is_started_with_the_options_of_manage_py_serve(monkeypatch):
    import sys

    from bench.intake import gunicorn_command, server_env
    from gridgov.core.management.commands import serve

    started, envs = [], []

    class Child:
        returncode = 0

        def __init__(self, args, env=None, **kwargs):
            started.append(list(args))
            envs.append(env)

        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(serve.subprocess, "Popen", Child)
    monkeypatch.setattr(serve.signal, "signal", lambda *a: None)
    serve.Command().handle(host="127.0.0.1", port="8123", workers="2", threads="4", no_jobs=True)
    web = started[0]
    assert web[:2] == [sys.executable, "-m"] and "--access-logfile" not in web
    assert gunicorn_command(host="127.0.0.1", port=8123) == web
    assert server_env({"A": "1"}) == {"A": "1", **{k: v for k, v in envs[0].items() if k.startswith("MALLOC_")}}


def test_the_wrk_script_posts_a_distinct_json_case_with_the_token_and_the_parser_reads_wrk(tmp_path):
    import json

    from bench.intake import body_template, lua_script, parse_wrk, read_codes

    template = body_template(category="T0101", lon=120.6, lat=31.3)
    body = json.loads(template.replace("%d-%d", "3-17").replace("%%", "%"))
    assert body["category"] == "T0101" and "3-17" in body["description"] and body["lat"] == 31.3
    script = lua_script(path="/api/v1/cases", template=template, token="ggv_x", codes_dir=tmp_path)
    assert '"Bearer ggv_x"' in script and '"/api/v1/cases"' in script and json.dumps(template) in script
    assert parse_wrk('Running 2s test\nBENCHJSON {"requests": 40, "p99_us": 9000}\n')["p99_us"] == 9000
    with pytest.raises(ValueError):
        parse_wrk("wrk: connection refused\n")
    (tmp_path / "codes-1.txt").write_text("AB12\n!500\nCD34\n")
    (tmp_path / "codes-2.txt").write_text("EF56\n")
    assert read_codes(tmp_path) == (["AB12", "CD34", "EF56"], 1)


def test_stop_group_leaves_no_process_behind():
    import subprocess
    import sys

    from bench.intake import group_processes, stop_group

    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"  # a parent and a child
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 5
    while len(group_processes(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(group_processes(proc.pid)) == 2
    assert stop_group(proc, timeout=5) == []
    assert group_processes(proc.pid) == []


def test_the_acknowledged_codes_are_counted_in_the_database(tmp_path):
    import sqlite3

    from bench.baseline_app import BASELINE_TABLE
    from bench.intake import stored

    db = tmp_path / "t.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(BASELINE_TABLE)
        conn.executemany("INSERT INTO bench_insert (tracking_code, description) VALUES (?, 'x')", [("A",), ("B",)])
    assert stored(db, ["A", "B", "C"], "bench_insert") == 2
