"""Bulk bench cases (gridgov/cases/bulk.py): consistent for the KPIs, unique numbers and codes, every state."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from gridgov.analytics.models import Rollup
from gridgov.analytics.rollups import rollups_rebuild
from gridgov.cases.bulk import bulk_cases
from gridgov.cases.models import Case, Step
from gridgov.core.dbstats import analyze
from gridgov.geo.models import Grid

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


def test_bulk_cases_are_consistent_for_the_kpis(world):
    drive_before = Case.objects.count()
    result = bulk_cases(count=3000, seed=3, months=2, now=NOW, batch=700)
    assert result["cases"] == 3000
    cases = list(Case.objects.all())
    assert len(cases) == drive_before + 3000
    assert len({c.number for c in cases}) == len(cases)
    assert len({c.tracking_code for c in cases}) == len(cases)
    assert {c.state for c in cases} >= {"reported", "registered", "dispatched", "in_progress", "handled", "closed",
                                       "rejected", "merged"}
    assert not Step.objects.exists()  # no timeline: bench data
    grids = {g.pk: g for g in (world["g1"], world["g2"], world["g3"])}
    for c in cases:
        g = grids[c.grid_id]
        assert c.path == g.path
        assert g.min_lon <= c.lon <= g.max_lon and g.min_lat <= c.lat <= g.max_lat
        assert NOW - dt.timedelta(days=62) <= c.reported_at <= NOW
        assert c.number == f"{timezone.localtime(c.reported_at):%Y%m%d}{c.pk:07d}"
        chain = [c.reported_at, c.registered_at, c.dispatched_at, c.accepted_at, c.handled_at, c.verified_at,
                 c.closed_at, c.rated_at]
        if c.self_handled:
            assert c.registered_at is None and c.handled_at == c.reported_at and c.lead_department_id is None
            chain = [c.reported_at, c.handled_at, c.verified_at, c.closed_at, c.rated_at]
        reached = [t for t in chain if t is not None]
        assert chain[:len(reached)] == reached, c.number  # no gaps: each step after the one before
        assert reached == sorted(reached) and reached[-1] <= NOW
        assert (c.state == "closed") == (c.closed_at is not None)
        assert (c.closed_on_time is not None) == (c.closed_at is not None)
        assert (c.resolution_level != "") == (c.closed_at is not None)
        assert (c.satisfaction is not None) == (c.rated_at is not None)
        assert (c.lead_department_id is not None) == (c.dispatched_at is not None)
        if c.closed_at and not c.self_handled:
            assert c.closed_on_time == (c.handled_at <= c.handle_due)
        if c.state == "rejected":
            assert c.rejected_at is not None and c.registered_at is None
        if c.state == "merged":
            assert c.merged_into.grid_id == c.grid_id and c.merged_into.reported_at <= c.reported_at
        if c.dispatched_at and c.dispatch_due and c.return_count == 0 and c.dispatched_at > c.dispatch_due:
            assert c.overdue
        if c.state == "suspended":
            assert c.suspended_at is not None and c.handled_at is None


def test_bulk_cases_rollups_equal_the_direct_computation(world):
    from gridgov.analytics.rollups import rollups_rebuild
    from gridgov.analytics.selectors import Period, direct_kpis, kpi_summary

    bulk_cases(count=800, seed=5, months=2, now=NOW)
    rollups_rebuild()
    leader = world["users"]["leader"]
    period = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    for area, path in ((None, world["city"].path), (world["community"].code, world["community"].path)):
        summary = kpi_summary(user=leader, area=area, period=period)
        direct = direct_kpis(path=path, period=period)
        assert {k["code"]: k["value"] for k in summary["kpis"]} == direct
        assert direct["reported"] > 0 and direct["closed"] > 0


def test_cases_bulk_command(world):
    call_command("cases_bulk", "--count", "50", "--months", "1")
    assert Case.objects.count() == 50
    with pytest.raises(CommandError):
        call_command("cases_bulk", "--count", "0")


# --- planner statistics after bulk writes (gridgov.core.dbstats) -----------------------------------------------

def estimated_rows(model) -> float:
    """What PostgreSQL's planner believes the table holds (-1: never analysed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        return cursor.fetchone()[0]


def test_analyze_runs_on_postgresql_only(world):
    assert analyze(Grid) is (connection.vendor == "postgresql")
    if connection.vendor == "postgresql":
        assert estimated_rows(Grid) == Grid.objects.count() > 0
    assert analyze() is False  # nothing named, nothing run


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_a_bulk_load_and_a_rollups_rebuild_leave_the_statistics_current(world):
    # autovacuum may be off or late: without this a ranking read scanned 10,000 index entries instead of 36
    bulk_cases(count=400, seed=5, months=1, now=NOW)
    assert estimated_rows(Case) == Case.objects.count() >= 400
    rollups_rebuild()
    assert estimated_rows(Rollup) == Rollup.objects.count() > 0
