"""Deadlines on the working calendar (09:00-12:00, 13:30-17:30; the 2026 State Council schedule) and the
escalation job. Times are Asia/Shanghai wall-clock times; the services' clock is set by the `clock` fixture."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.cases import services
from gridgov.cases.models import Category, Step
from gridgov.core.models import AuditEntry, JobRun, Notification
from gridgov.core.scheduler import REGISTRY, run_job
from gridgov.geo.locator import reset_locator
from gridgov.geo.tests.factories import AreaFactory, GridFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("calendar_2026")]

SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def told(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


# --- deadlines ------------------------------------------------------------------------------------------


def _walk(world, clock, drive, reported, registered, dispatched):
    """Report at `reported`, register at `registered`, dispatch at `dispatched` (each a local datetime)."""
    u = world["users"]
    clock.now = reported
    case = drive.report()
    clock.now = registered
    services.case_register(case_id=case.pk, by=u["dispatcher"])
    clock.now = dispatched
    return services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"])


def test_deadlines_across_a_weekend(world, drive, clock):
    # T0101: register and dispatch within 2 working hours, handle within 2 working days
    case = _walk(world, clock, drive, sh(2026, 3, 13, 16, 30), sh(2026, 3, 16, 11, 0), sh(2026, 3, 16, 15, 0))
    assert case.register_due == sh(2026, 3, 16, 10, 0)  # 1 h on Friday, 1 h on Monday morning
    assert case.dispatch_due == sh(2026, 3, 16, 14, 30)  # 1 h before lunch, 1 h after
    assert case.handle_due == sh(2026, 3, 18, 17, 30)  # the end of the second working day after Monday
    assert case.tasks.get().due_at == case.handle_due
    friday = _walk(world, clock, drive, sh(2026, 3, 13, 9, 0), sh(2026, 3, 13, 9, 30), sh(2026, 3, 13, 10, 0))
    assert friday.handle_due == sh(2026, 3, 17, 17, 30)  # Monday, Tuesday


def test_deadlines_across_national_day(world, drive, clock):
    case = _walk(world, clock, drive, sh(2026, 9, 30, 17, 0), sh(2026, 9, 30, 17, 10), sh(2026, 9, 30, 17, 20))
    assert case.register_due == sh(2026, 10, 8, 10, 30)  # 30 min on 30 Sep, then 1-7 Oct are holidays
    assert case.dispatch_due == sh(2026, 10, 8, 10, 40)
    assert case.handle_due == sh(2026, 10, 9, 17, 30)  # 8 and 9 October
    # a limit in working hours runs over the holiday too: 1.5 h + 7 h + 1.5 h
    Category.objects.filter(code="T0101").update(handle_unit="hours", handle_limit=10)
    hours = _walk(world, clock, drive, sh(2026, 9, 30, 15, 0), sh(2026, 9, 30, 15, 30), sh(2026, 9, 30, 16, 0))
    assert hours.handle_due == sh(2026, 10, 9, 10, 30)


def test_deadlines_on_adjusted_workdays(world, drive, clock):
    # Sunday 20 September 2026 is worked (调休); Saturday 19 is not
    case = _walk(world, clock, drive, sh(2026, 9, 19, 10, 0), sh(2026, 9, 19, 11, 0), sh(2026, 9, 19, 12, 0))
    assert case.register_due == sh(2026, 9, 20, 11, 0)
    assert case.dispatch_due == sh(2026, 9, 20, 11, 0)
    assert case.handle_due == sh(2026, 9, 21, 17, 30)  # Sunday 20, Monday 21
    friday = _walk(world, clock, drive, sh(2026, 9, 18, 9, 0), sh(2026, 9, 18, 9, 10), sh(2026, 9, 18, 9, 20))
    assert friday.handle_due == sh(2026, 9, 21, 17, 30)
    # Mid-Autumn (25-27 September) and Saturday 10 October (worked)
    mid_autumn = _walk(world, clock, drive, sh(2026, 9, 24, 9, 0), sh(2026, 9, 24, 9, 10), sh(2026, 9, 24, 9, 20))
    assert mid_autumn.handle_due == sh(2026, 9, 29, 17, 30)
    october = _walk(world, clock, drive, sh(2026, 10, 9, 9, 0), sh(2026, 10, 9, 9, 10), sh(2026, 10, 9, 9, 20))
    assert october.handle_due == sh(2026, 10, 12, 17, 30)  # Saturday 10, Monday 12


def test_an_extension_in_hours_runs_on_the_calendar(world, drive, clock):
    u = world["users"]
    case = _walk(world, clock, drive, sh(2026, 9, 28, 9, 0), sh(2026, 9, 28, 9, 10), sh(2026, 9, 28, 9, 20))
    assert case.handle_due == sh(2026, 9, 30, 17, 30)
    services.case_accept(case_id=case.pk, by=u["handler"])
    services.case_request_extension(case_id=case.pk, by=u["handler"], amount=3, unit="hours", reason="节前备料")
    services.case_decide_extension(case_id=case.pk, by=u["dispatcher"], approve=True)
    case.refresh_from_db()
    assert case.handle_due == sh(2026, 10, 8, 12, 0)


# --- escalation -----------------------------------------------------------------------------------------


def test_an_unregistered_case_climbs_one_level_per_interval(world, drive, clock, settings, nothing_written):
    settings.GRIDGOV_ESCALATION_INTERVAL_HOURS = 7
    clock.set(2026, 3, 16, 9, 0)  # Monday; register by 11:00
    case = drive("reported")
    assert case.level == "grid"
    assert services.cases_escalate_overdue(now=sh(2026, 3, 16, 10, 59)) == {"marked_overdue": 0, "escalated": 0}

    now = clock.set(2026, 3, 16, 11, 30)
    assert services.cases_escalate_overdue(now=now) == {"marked_overdue": 1, "escalated": 1}
    case.refresh_from_db()
    assert case.overdue and case.level == "community" and case.escalation_count == 1 and case.escalated_at == now
    assert case.version == 2 and case.state == "reported"
    step = case.steps.last()
    assert step.action == "escalate" and step.actor is None and step.data == {"level": "community"}
    assert AuditEntry.objects.filter(action="case.escalate", object_id=str(case.pk)).count() == 1
    assert told("overdue") == {"disp", "cdisp", "ddisp"}  # no department yet: the dispatchers over it
    assert told("escalated") == {"cdisp"}  # the community's command centre

    with nothing_written(case):  # idempotent at the same instant
        assert services.cases_escalate_overdue(now=now) == {"marked_overdue": 0, "escalated": 0}
    with nothing_written(case):  # 7 working hours later is Tuesday 11:30
        assert services.cases_escalate_overdue(now=clock.set(2026, 3, 17, 11, 29)) == {"marked_overdue": 0,
                                                                                      "escalated": 0}
    assert services.cases_escalate_overdue(now=clock.set(2026, 3, 17, 11, 30))["escalated"] == 1
    case.refresh_from_db()
    assert case.level == "street" and case.escalation_count == 2
    assert told("escalated") == {"cdisp", "disp"}  # not the dispatcher of the other street
    services.cases_escalate_overdue(now=clock.set(2026, 3, 18, 11, 30))
    services.cases_escalate_overdue(now=clock.set(2026, 3, 19, 11, 30))
    case.refresh_from_db()
    assert case.level == "city" and case.escalation_count == 4
    assert told("escalated") == {"cdisp", "disp", "ddisp"}  # nobody runs a city command centre here
    with nothing_written(case):  # the top: nothing higher to go to
        assert services.cases_escalate_overdue(now=clock.set(2026, 3, 20, 11, 30)) == {"marked_overdue": 0,
                                                                                      "escalated": 0}
    assert list(case.steps.filter(action="escalate").values_list("data__level", flat=True)) == [
        "community", "street", "district", "city"]
    assert Notification.objects.filter(kind="overdue").count() == 3  # told once, not at every run


def test_the_interval_counts_working_hours_over_a_weekend(world, drive, clock):
    clock.set(2026, 3, 20, 9, 0)  # Friday; register by 11:00
    case = drive("reported")
    services.cases_escalate_overdue(now=clock.set(2026, 3, 20, 16, 30))
    # 1 h on Friday + 6 h on Monday: not again before Monday 16:30
    assert services.cases_escalate_overdue(now=clock.set(2026, 3, 23, 16, 29))["escalated"] == 0
    assert services.cases_escalate_overdue(now=clock.set(2026, 3, 23, 16, 30))["escalated"] == 1
    case.refresh_from_db()
    assert case.escalation_count == 2 and case.level == "street"


def test_escalation_skips_levels_without_an_area(world, clock):
    """A city whose streets hang directly under it (no district): community → street → city."""
    city = AreaFactory(code="330100", level="city", name="T City")
    street = AreaFactory(code="330100001", level="street", parent=city)
    community = AreaFactory(code="330100001001", level="community", parent=street)
    GridFactory(code="330100001001001", community=community, bounds=(120.70, 31.30, 120.71, 31.31))
    reset_locator()
    member = UserFactory(role="grid_member")
    member.grids.add(community.grids.get())
    city_dispatcher = UserFactory(role="dispatcher", area=city, username="citydisp")
    clock.set(2026, 3, 16, 9, 0)
    case, _ = services.case_report(by=member, category="T0101", description="x", lon=120.705, lat=31.305)
    for day in (16, 17, 18, 19):
        services.cases_escalate_overdue(now=clock.set(2026, 3, day, 11, 30))
    case.refresh_from_db()
    assert list(case.steps.filter(action="escalate").values_list("data__level", flat=True)) == [
        "community", "street", "city"]
    assert Notification.objects.filter(kind="escalated", user=city_dispatcher).count() == 1


def test_overdue_dispatch_and_handling_escalate_too(world, drive, clock):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    registered = drive("registered")  # by the street: dispatch by 11:00
    in_progress = drive("in_progress")  # handle by Wednesday 17:30
    assert registered.level == in_progress.level == "street"
    assert services.cases_escalate_overdue(now=clock.set(2026, 3, 16, 11, 1)) == {"marked_overdue": 1,
                                                                                 "escalated": 1}
    registered.refresh_from_db()
    assert registered.level == "district" and registered.overdue
    assert services.cases_escalate_overdue(now=clock.set(2026, 3, 18, 17, 29))["marked_overdue"] == 0
    result = services.cases_escalate_overdue(now=clock.set(2026, 3, 18, 17, 31))
    assert result["marked_overdue"] == 1
    in_progress.refresh_from_db()
    assert in_progress.overdue and in_progress.level == "district"
    # the department responsible hears that it is overdue; the district centre that it was escalated
    overdue = Notification.objects.filter(kind="overdue", object_id=str(in_progress.pk))
    assert set(overdue.values_list("user__username", flat=True)) == {"h_urban"}
    escalated = Notification.objects.filter(kind="escalated", object_id=str(in_progress.pk))
    assert set(escalated.values_list("user__username", flat=True)) == {"ddisp"}
    assert u["handler"].notifications.filter(kind="overdue").count() == 1


def test_suspended_and_handled_cases_are_not_escalated(world, drive, clock, nothing_written):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    suspended = drive("suspended")
    handled = drive("in_progress")
    clock.set(2026, 3, 19, 9, 0)  # handled late, after Wednesday 17:30
    handled = services.case_report_back(case_id=handled.pk, by=u["handler"], result="迟了")
    verified = drive("verified")
    closed = drive("closed")
    with nothing_written(suspended, handled, verified, closed):
        result = services.cases_escalate_overdue(now=clock.set(2026, 4, 30, 9, 0))
    assert result == {"marked_overdue": 0, "escalated": 0}
    # once resumed, the clock runs again (from the moved deadline)
    clock.set(2026, 4, 30, 9, 0)
    resumed = services.case_resume(case_id=suspended.pk, by=u["dispatcher"])
    assert resumed.handle_due > clock.now
    assert services.cases_escalate_overdue(now=clock.now)["marked_overdue"] == 0
    assert services.cases_escalate_overdue(now=resumed.handle_due + dt.timedelta(minutes=1))["marked_overdue"] == 1


def test_the_registered_job_runs_the_escalation(world, drive, clock):
    clock.set(2026, 3, 16, 9, 0)
    case = drive("reported")
    clock.set(2026, 3, 16, 14, 0)
    job = REGISTRY["cases.escalate_overdue"]
    assert run_job(job) is True
    case.refresh_from_db()
    assert case.overdue and case.level == "community"
    run = JobRun.objects.get(name="cases.escalate_overdue")
    assert run.last_ok and run.last_result == "marked 1, escalated 1"
    assert Step.objects.filter(case=case, action="escalate").count() == 1
