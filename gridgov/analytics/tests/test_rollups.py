"""The rollups kept current as cases move equal a rebuild from scratch, and the KPIs read from them equal a
direct computation from the raw cases."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from collections import Counter

import h3
import pytest

from gridgov.analytics import rollups
from gridgov.analytics.models import DirtyCase, Rollup
from gridgov.analytics.selectors import Period, direct_kpis, hotspots, kpi_breakdown, kpi_summary
from gridgov.cases import services
from gridgov.cases.models import Case

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    return {(r.grain, r.start, r.node, r.dim): (tuple(getattr(r, n) for n in rollups.COUNTERS), r.close_hours)
            for r in Rollup.objects.all()}


def _random_life(rng: random.Random, world, drive, clock) -> None:
    """One case: reported, then a random walk through the loop with time passing between steps."""
    u = world["users"]
    grid = rng.choice(["g1", "g2", "g3"])
    lon = {"g1": 120.605, "g2": 120.615, "g3": 120.625}[grid]
    case = drive.report(lon=lon, lat=31.305, description="随机")
    dispatcher = u["dispatcher"] if grid != "g3" else u["other_dispatcher"]

    def later():
        clock.advance(hours=rng.choice([1, 3, 20, 50]))

    later()
    if rng.random() < 0.15:
        services.case_reject(case_id=case.pk, by=dispatcher, reason="不属实")
        return
    if rng.random() < 0.1:
        return  # stays reported
    services.case_register(case_id=case.pk, by=dispatcher)
    later()
    services.case_dispatch(case_id=case.pk, by=dispatcher, lead=world["urban"])
    later()
    if rng.random() < 0.15:
        services.case_return(case_id=case.pk, by=u["handler"], reason="非本部门")
        later()
        services.case_dispatch(case_id=case.pk, by=dispatcher, lead=world["urban"])
    if rng.random() < 0.1:
        return  # dispatched, not accepted
    services.case_accept(case_id=case.pk, by=u["handler"])
    later()
    if rng.random() < 0.2:
        services.case_request_extension(case_id=case.pk, by=u["handler"], amount=2, unit="days", reason="施工")
        services.case_decide_extension(case_id=case.pk, by=dispatcher, approve=True)
    services.case_report_back(case_id=case.pk, by=u["handler"], result="已处理")
    later()
    verifier = u["gm"] if grid == "g1" else dispatcher if grid == "g2" else u["gm3"]
    if rng.random() < 0.2 and grid != "g2":
        services.case_verify(case_id=case.pk, by=verifier, ok=False, note="未完成")
        later()
        services.case_report_back(case_id=case.pk, by=u["handler"], result="再次处理")
    if grid == "g2":
        return  # nobody verifies in g2 here: handled
    services.case_verify(case_id=case.pk, by=verifier, ok=True)
    later()
    services.case_close(case_id=case.pk, by=dispatcher)
    if rng.random() < 0.5 and grid == "g1":
        services.case_rate(case_id=case.pk, by=u["gm"], satisfaction=rng.choice([2, 4, 5]))
    if rng.random() < 0.1:
        later()
        services.case_reopen(case_id=case.pk, by=dispatcher, reason="群众不满意")


def test_incremental_rollups_equal_a_rebuild_after_random_transitions(world, drive, clock):
    rng = random.Random(20261128)
    clock.set(2026, 10, 26, 9)
    for i in range(40):
        _random_life(rng, world, drive, clock)
        if i % 7 == 0:
            rollups.rollups_update()  # the job runs now and then, as in production
        clock.set(2026, 11, 26, 9)
        clock.advance(days=rng.randint(0, 60), hours=rng.randint(0, 10))  # across the new year
    rollups.rollups_update()
    assert not DirtyCase.objects.exists()
    incremental = snapshot()
    assert incremental, "the rollups hold rows"
    assert {start.year for grain, start, _node, _dim in incremental if grain == "y"} == {2026, 2027}
    # the hotspot map of a whole year (read from the year rows) counts every report of the year in its cell
    lo, hi = rollups.day_bounds(dt.date(2026, 1, 1))[0], rollups.day_bounds(dt.date(2027, 1, 1))[0]
    expected = Counter(h3.latlng_to_cell(lat, lon, rollups.HEX_RESOLUTION) for lon, lat in
                       Case.objects.filter(reported_at__gte=lo, reported_at__lt=hi).values_list("lon", "lat"))
    year = hotspots(user=world["users"]["admin"], area=world["city"].code, period=Period(dt.date(2026, 1, 1),
                                                                                         dt.date(2026, 12, 31)))
    assert {f["properties"]["cell"]: f["properties"]["reported"] for f in year["features"]} == expected
    assert sum(expected.values()) >= 20 and len(expected) >= 2
    rollups.rollups_rebuild()
    assert snapshot() == incremental


def test_the_migration_sums_the_months_into_years(world, drive, clock):
    from django.apps import apps

    migration = importlib.import_module("gridgov.analytics.migrations.0003_rollup_year_grain")
    clock.set(2026, 10, 30, 9)
    drive("closed")
    clock.set(2026, 11, 30, 9)
    drive("dispatched")
    rollups.rollups_update()
    expected = snapshot()
    assert Rollup.objects.filter(grain="y", start=dt.date(2026, 1, 1), dim="", reported=2).exists()
    Rollup.objects.filter(grain="y").delete()
    migration.years_from_months(apps, None)
    assert snapshot() == expected


def test_kpis_from_the_rollups_equal_the_direct_computation(world, drive, clock):
    rng = random.Random(7)
    clock.set(2026, 10, 26, 9)
    for _ in range(30):
        _random_life(rng, world, drive, clock)
        clock.set(2026, 10, 26, 9)
        clock.advance(days=rng.randint(0, 60), hours=rng.randint(0, 10))
    rollups.rollups_update()
    admin = world["users"]["admin"]
    periods = [Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31)), Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
               Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31)), Period(dt.date(2025, 12, 30), dt.date(2027, 1, 31)),
               Period(dt.date(2026, 10, 28), dt.date(2026, 11, 13)), Period(dt.date(2026, 11, 5), dt.date(2026, 11, 5))]
    nodes = [("area", world["city"]), ("area", world["street"]), ("area", world["community"]), ("grid", world["g1"]),
             ("area", world["street2"])]
    checked = 0
    for period in periods:
        for kind, node in nodes:
            summary = kpi_summary(user=admin, period=period, **{kind: node.code})
            got = {row["code"]: row["value"] for row in summary["kpis"]}
            assert got == direct_kpis(path=node.path, period=period), (period, node.code)
            before = {row["code"]: row["previous"] for row in summary["kpis"]}
            assert before == direct_kpis(path=node.path, period=period.previous())
            checked += 1
        by_source = kpi_breakdown(user=admin, by="source", area=world["city"].code, period=period)
        for row in by_source["rows"]:
            expected = direct_kpis(path=world["city"].path, period=period, dim=f"s:{row['key']}")
            assert {k: row[k] for k in expected} == expected
    assert checked == 30
    totals = direct_kpis(path=world["city"].path, period=periods[0])
    assert totals["reported"] == 30 and totals["closed"] > 0  # the fixture exercised the loop


def test_a_reopened_case_leaves_its_old_closing_day(world, drive, clock):
    clock.set(2026, 11, 2, 10)
    case = drive("closed")
    rollups.rollups_update()
    closed_day = Rollup.objects.filter(grain="d", node=world["g1"].path, dim="", closed=1).values_list("start",
                                                                                                       flat=True)
    assert list(closed_day) == [dt.date(2026, 11, 2)]
    clock.set(2026, 11, 4, 10)
    services.case_reopen(case_id=case.pk, by=world["users"]["dispatcher"], reason="复发")
    rollups.rollups_update()
    assert not Rollup.objects.filter(grain="d", dim="", closed__gt=0).exists()
    assert not Rollup.objects.filter(grain="m", dim="", closed__gt=0).exists()
    assert Rollup.objects.get(grain="m", start=dt.date(2026, 11, 1), node=world["g1"].path, dim="").reported == 1
