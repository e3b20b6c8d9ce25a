"""The suite only checks that the benchmark code runs (numbers are never asserted here)."""

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
