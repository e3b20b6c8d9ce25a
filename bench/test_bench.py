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


# --- intake and memory: a real server cannot run on the test database, so the pieces that can are tested here --

def test_the_bench_server_is_started_with_the_options_of_manage_py_serve(monkeypatch):
    import sys

    from bench.intake import gunicorn_command
    from gridgov.core.management.commands import serve

    started = []

    class Child:
        returncode = 0

        def __init__(self, args, **kwargs):
            started.append(list(args))

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
