"""The measures of mediation against a hand-computed fixture (definitions in docs/disputes.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.core.errors import InvalidInput
from gridgov.disputes import services
from gridgov.disputes.selectors import dispute_measures


def _strangers(a: str, b: str) -> list[dict]:
    return [{"role": "applicant", "name": a}, {"role": "respondent", "name": b}]


@pytest.fixture
def practice(mediation, register, clock):
    """Five disputes registered in November 2026:

    A  screening, mediated at the community, agreed two days later, fulfilled, followed up, closed
    B  application, mediated by the grid member, agreed one day later, found NOT fulfilled
    C  screening, withdrawn
    D  police referral, referred out to litigation, followed up, closed
    E  screening, still registered (in grid g2)
    """
    u = mediation["users"]
    med, gm = u["mediator"], u["gm"]
    start = clock.set(2026, 11, 2, 10)

    a = register(parties=_strangers("甲", "乙"), address="")
    services.dispute_assess(dispute_id=a.pk, by=med, grade="general", risk_note="r")
    services.dispute_assign(dispute_id=a.pk, by=med, mediator_id=med.pk)
    clock.now = start + dt.timedelta(days=2)
    services.dispute_record_session(dispute_id=a.pk, by=med, held_at=clock.now, place="p", participants="x",
                                    record="r", outcome="agreed")
    services.dispute_agree(dispute_id=a.pk, by=med, facts="f", terms=["t"])
    services.dispute_check_fulfilment(dispute_id=a.pk, by=gm, fulfilled=True)
    services.dispute_follow_up(dispute_id=a.pk, by=gm, visited_at=clock.now, content="ok")
    services.dispute_close(dispute_id=a.pk, by=med)

    clock.now = start
    b = register(source="application", parties=_strangers("丙", "丁"), address="")
    services.dispute_assess(dispute_id=b.pk, by=med, grade="general", risk_note="r")
    services.dispute_assign(dispute_id=b.pk, by=med, mediator_id=gm.pk)
    clock.now = start + dt.timedelta(days=1)
    services.dispute_record_session(dispute_id=b.pk, by=gm, held_at=clock.now, place="p", participants="x", record="r")
    services.dispute_agree(dispute_id=b.pk, by=gm, facts="f", terms=["t"])
    services.dispute_check_fulfilment(dispute_id=b.pk, by=gm, fulfilled=False, note="未履行")

    clock.now = start
    c = register(parties=_strangers("戊", "己"), address="")
    services.dispute_close(dispute_id=c.pk, by=med, note="撤回")

    d = register(by=u["cdispatcher"], source="police", parties=_strangers("庚", "辛"), address="",
                 source_reference="苏公(2026)12号")
    services.dispute_assess(dispute_id=d.pk, by=med, grade="major", risk_note="r")
    services.dispute_refer(dispute_id=d.pk, by=med, channel="litigation", reference="(2026)苏0508民初9号", reason="r")
    services.dispute_follow_up(dispute_id=d.pk, by=med, visited_at=clock.now, content="稳定")
    services.dispute_close(dispute_id=d.pk, by=med, note="判决")

    e = register(parties=_strangers("壬", "癸"), address="", grid=mediation["g2"].code, by=med)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_the_totals(practice, mediation):
    m = dispute_measures(user=mediation["users"]["leader"], start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    t = m["total"]
    assert (t["total"], t["found_by_screening"], t["brought_in"], t["screening_share"]) == (5, 3, 2, 60.0)
    # resolved: A only (B's agreement was not fulfilled); C (withdrawn) is not counted in the denominator
    assert (t["resolved"], t["resolution_rate"]) == (1, 25.0)
    assert (t["fulfilment_checked"], t["fulfilled"], t["fulfilment_rate"]) == (2, 1, 50.0)
    assert t["days_to_resolve_median"] == 2.0 and t["days_to_resolve_p90"] == 2.0
    assert t["resolution_levels"] == {"grid": 0, "community": 1, "street": 0, "district": 0}
    assert (t["resolved_in_grid_rate"], t["resolved_in_community_rate"]) == (0.0, 100.0)
    # to follow up: A (fulfilled) and D (referred out); both were visited
    assert (t["to_follow_up"], t["followed_up"], t["follow_up_rate"]) == (2, 2, 100.0)
    assert t["open"] == 2  # B (failed) and E


def test_per_mediator_grid_and_community(practice, mediation):
    u = mediation["users"]
    leader = u["leader"]
    by_mediator = {g["label"]: g for g in dispute_measures(user=leader, start=dt.date(2026, 11, 1),
                                                           end=dt.date(2026, 11, 30), group="mediator")["groups"]}
    assert by_mediator["调解员甲"]["total"] == 1 and by_mediator["调解员甲"]["resolved"] == 1
    assert by_mediator["张网格"]["total"] == 1 and by_mediator["张网格"]["fulfilment_rate"] == 0.0
    by_grid = {g["key"]: g for g in dispute_measures(user=leader, start=dt.date(2026, 11, 1),
                                                     end=dt.date(2026, 11, 30), group="grid")["groups"]}
    assert by_grid[mediation["g1"].code]["total"] == 4 and by_grid[mediation["g2"].code]["total"] == 1
    by_community = dispute_measures(user=leader, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30),
                                    group="community")["groups"]
    assert [(g["label"], g["total"]) for g in by_community] == [(mediation["community"].name, 5)]


def test_the_period_and_the_scope(practice, mediation):
    u = mediation["users"]
    assert dispute_measures(user=u["leader"], start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31))["total"][
        "total"] == 0
    assert dispute_measures(user=u["mediator2"], start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))["total"][
        "total"] == 0
    assert dispute_measures(user=u["resident"], start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))["total"][
        "total"] == 0
    empty = dispute_measures(user=u["mediator2"], start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))["total"]
    assert empty["resolution_rate"] is None and empty["days_to_resolve_median"] is None


@pytest.mark.parametrize(("kw", "field"), [
    ({"start": dt.date(2026, 12, 1), "end": dt.date(2026, 11, 1)}, "end"),
    ({"start": dt.date(2000, 1, 1), "end": dt.date(2026, 11, 1)}, "end"),
    ({"group": "planet"}, "group"),
    ({"end": dt.date(1, 1, 1)}, "end"),
    ({"start": dt.date(9999, 12, 31)}, "start"),
])
def test_bad_parameters_name_the_parameter(kw, field, mediation):
    with pytest.raises(InvalidInput) as exc:
        dispute_measures(user=mediation["users"]["leader"], **kw)
    assert exc.value.details[0]["field"] == field
