"""The time rules the periodic job applies, counted in working days on the calendar (Rules, configurable)."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.core.models import Notification
from gridgov.disputes import services
from gridgov.disputes.models import Dispute, Rules, Step


def _at(clock, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=clock.now.tzinfo)


def test_a_general_dispute_unresolved_after_five_working_days_becomes_major(mediation, register, clock):
    clock.set(2026, 11, 2, 10)  # Monday
    d = register()
    # five working days after Monday 2 November: the end of Monday 9 November
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 9, 17, 29))["escalated"] == 0
    result = services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 9, 17, 30))
    assert result["escalated"] == 1
    d.refresh_from_db()
    assert (d.grade, d.initial_grade, d.auto_escalated) == ("major", "general", True)
    # the deadline follows the new grade: seven working days from its arrival at the level
    assert d.due_at.astimezone(clock.now.tzinfo).date() == dt.date(2026, 11, 11)
    step = Step.objects.filter(dispute=d).last()
    assert step.action == "auto_escalate" and step.actor is None
    # idempotent: the next run changes nothing
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 9, 18, 0))["escalated"] == 0
    assert Step.objects.filter(dispute=d, action="auto_escalate").count() == 1


def test_the_five_days_skip_the_national_day_holiday(mediation, register, clock, calendar_2026):
    clock.set(2026, 9, 30, 10)  # Wednesday before the National Day week (1–7 October off, Saturday 10th worked)
    d = register()
    # working days: 8, 9, 10 (Saturday, adjusted), 12, 13 October
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 10, 12, 17, 30))["escalated"] == 0
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 10, 13, 17, 30))["escalated"] == 1
    d.refresh_from_db()
    assert d.grade == "major"


def test_resolved_disputes_are_left_alone(mediation, register, clock):
    u = mediation["users"]
    clock.set(2026, 11, 2, 10)
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    clock.advance(hours=1)
    services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=clock.now, place="p",
                                    participants="a", record="r")
    services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=["t"])
    result = services.disputes_apply_time_rules(now=_at(clock, 2026, 12, 31, 12, 0))
    assert result == {"escalated": 0, "referred": 0, "overdue": 0}
    d.refresh_from_db()
    assert (d.grade, d.level, d.state) == ("general", "community", "agreed")


def test_three_failed_sessions_refer_the_dispute_up_a_level(mediation, register, clock):
    u = mediation["users"]
    clock.set(2026, 11, 2, 10)
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    for i in range(3):
        clock.advance(hours=1)
        services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=clock.now, place="p",
                                        participants="a", record=f"第{i + 1}次", outcome="failed")
        result = services.disputes_apply_time_rules(now=clock.now)
        assert result["referred"] == (1 if i == 2 else 0)
    d.refresh_from_db()
    assert (d.state, d.level, d.referral_channel, d.mediator, d.failed_sessions) == (
        "referred", "street", "street", None, 0)
    assert Step.objects.filter(dispute=d).last().action == "auto_refer"
    assert Notification.objects.filter(user=u["mediator_s"], object_id=str(d.pk), kind="escalated").exists()
    # at the street the count starts again
    services.dispute_assign(dispute_id=d.pk, by=u["mediator_s"], mediator_id=u["mediator_s"].pk)
    assert services.disputes_apply_time_rules(now=clock.now)["referred"] == 0


def test_fifteen_working_days_at_a_level_refer_it_up_until_the_district(mediation, register, clock):
    clock.set(2026, 11, 2, 10)
    d = register()  # at the grid
    # 15 working days after 2 November: Monday 23 November, end of the day
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 23, 17, 0))["referred"] == 0
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 23, 17, 30))["referred"] == 1
    d.refresh_from_db()
    assert (d.state, d.level, d.level_since) == ("referred", "community", _at(clock, 2026, 11, 23, 17, 30))
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 12, 14, 17, 0))["referred"] == 0
    # still nobody takes it: 15 working days later it goes to the street, then to the district, and stops
    levels = []
    for when in (_at(clock, 2026, 12, 15, 17, 30), _at(clock, 2027, 1, 6, 17, 30), _at(clock, 2027, 3, 1, 17, 30)):
        clock.now = when
        services.disputes_apply_time_rules(now=when)
        d.refresh_from_db()
        levels.append(d.level)
    assert levels == ["street", "district", "district"]


def test_the_rules_are_configurable(mediation, register, clock):
    Rules.objects.update_or_create(pk=1, defaults={"escalate_general_after_days": 2, "refer_after_days": 30})
    clock.set(2026, 11, 2, 10)
    d = register()
    assert services.disputes_apply_time_rules(now=_at(clock, 2026, 11, 4, 17, 30)) == {
        "escalated": 1, "referred": 0, "overdue": 0}
    d.refresh_from_db()
    assert d.grade == "major"


def test_overdue_is_marked_and_told_once(mediation, register, clock):
    u = mediation["users"]
    clock.set(2026, 11, 2, 10)
    d = register(grade="major")  # seven working days: 11 November
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="major", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    d.refresh_from_db()
    late = d.due_at + dt.timedelta(minutes=1)
    assert services.disputes_apply_time_rules(now=d.due_at - dt.timedelta(minutes=1))["overdue"] == 0
    assert services.disputes_apply_time_rules(now=late)["overdue"] == 1
    assert services.disputes_apply_time_rules(now=late)["overdue"] == 0
    d.refresh_from_db()
    assert d.overdue
    assert Notification.objects.filter(user=u["mediator"], object_id=str(d.pk), kind="overdue").count() == 1


def test_the_job_is_registered():
    from gridgov.core.scheduler import REGISTRY

    assert "disputes.time_rules" in REGISTRY


@pytest.mark.django_db
def test_the_job_runs_on_an_empty_database():
    from gridgov.core.scheduler import REGISTRY, run_job

    assert run_job(REGISTRY["disputes.time_rules"])
    assert not Dispute.objects.exists()
