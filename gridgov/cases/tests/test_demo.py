"""The demo city's year of cases: every state, plausible and consistent timings, a timeline that agrees with
the state, work waiting for every demo login, determinism, and the working-time index it uses."""

import datetime as dt
import io
import math
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.cases import services
from gridgov.cases.choices import (
    OPEN_STATES,
    Action,
    ExtensionState,
    Level,
    Source,
    State,
    TaskRole,
    TaskState,
)
from gridgov.cases.models import Case, Extension, Step, Task
from gridgov.cases.selectors import case_list, case_scope_q
from gridgov.core.audit import audit_verify
from gridgov.core.models import AuditEntry
from gridgov.geo.locator import get_locator

pytestmark = pytest.mark.django_db

CHAIN = ["reported_at", "registered_at", "dispatched_at", "accepted_at", "handled_at", "verified_at", "closed_at"]


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    """The small demo city, built once for the module (a build takes ~10–60 s) inside a transaction that is
    rolled back at the module's end; each test runs in a savepoint inside it, as in a Django TestCase."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("demo_city", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_output, db):
    assert "build_cases: cases" in demo_output
    return demo_output


def test_a_year_of_cases_in_every_state(demo):
    now = timezone.now()
    total = Case.objects.count()
    assert 2500 <= total <= 3500
    states = Counter(Case.objects.values_list("state", flat=True))
    assert set(states) == set(State.values), states
    assert states[State.CLOSED] > total * 0.75  # most cases are closed…
    for state in OPEN_STATES:  # …and every queue has some
        assert states[state] >= 2, (state, states)
    span = Case.objects.aggregate(first=Min("reported_at"), last=Max("reported_at"))
    first, last = span["first"], span["last"]
    assert now - dt.timedelta(days=366) <= first <= now - dt.timedelta(days=330)
    assert now - dt.timedelta(days=2) <= last <= now
    sources = Counter(Case.objects.values_list("source", flat=True))
    assert sources.most_common(1)[0][0] == Source.GRID_MEMBER
    assert {Source.PUBLIC, Source.HOTLINE, Source.API} <= set(sources)
    # working patterns: most grid members' reports come on weekdays during the day
    zone = ZoneInfo(settings.TIME_ZONE)
    reports = [t.astimezone(zone) for t in Case.objects.filter(source=Source.GRID_MEMBER)
               .values_list("reported_at", flat=True)]
    assert sum(t.weekday() < 5 for t in reports) > 0.8 * len(reports)
    assert sum(8 <= t.hour < 18 for t in reports) > 0.9 * len(reports)


def test_every_kind_of_history_is_there(demo):
    counts = Case.objects.aggregate(
        returned=Count("id", filter=Q(return_count__gt=0)), reworked=Count("id", filter=Q(rework_count__gt=0)),
        extended=Count("id", filter=Q(extension_count__gt=0)), escalated=Count("id", filter=Q(escalation_count__gt=0)),
        merged=Count("id", filter=Q(merged_into__isnull=False)), reopened=Count("id", filter=Q(reopen_count__gt=0)),
        on_the_spot=Count("id", filter=Q(self_handled=True, state=State.CLOSED, resolution_level=Level.GRID)),
        overdue=Count("id", filter=Q(overdue=True)), supervised=Count("id", filter=Q(supervision_count__gt=0)),
        rated=Count("id", filter=Q(satisfaction__isnull=False)), rejected=Count("id", filter=Q(state=State.REJECTED)),
        suspended=Count("id", filter=Q(state=State.SUSPENDED)),
        late=Count("id", filter=Q(state=State.CLOSED, closed_on_time=False)),
    )
    counts["spot_check_failed"] = Case.objects.filter(self_handled=False, steps__action=Action.SELF_HANDLE).count()
    assert all(n > 0 for n in counts.values()), counts
    total = Case.objects.count()
    assert counts["overdue"] < total * 0.25 and counts["late"] < total * 0.15  # most close on time
    assert Case.objects.filter(escalation_count__gt=0).exclude(level=Level.GRID).count() == counts["escalated"]
    assert not Case.objects.filter(escalation_count__gt=0, overdue=False).exists()
    assert Extension.objects.filter(state=ExtensionState.APPROVED).count() == sum(
        Case.objects.values_list("extension_count", flat=True))
    assert Extension.objects.filter(state=ExtensionState.REJECTED).exists()
    assert Task.objects.filter(role=TaskRole.SUMMONED).exists() and Task.objects.filter(role=TaskRole.ASSIST).exists()
    scores = Counter(Case.objects.exclude(satisfaction=None).values_list("satisfaction", flat=True))
    assert scores[4] + scores[5] > 0.6 * sum(scores.values()) and scores[1] + scores[2] > 0
    assert Case.objects.filter(source__in=[Source.PUBLIC, Source.HOTLINE]).exclude(reporter_phone="").exists()
    assert not Case.objects.exclude(reporter_phone="").filter(reporter_phone__regex=r"^1\d{10}$").exists()


def test_timestamps_grids_tasks_and_timeline_agree(demo):
    locator = get_locator()
    steps = defaultdict(list)
    for step in Step.objects.order_by("at", "id").values("case_id", "action", "from_state", "to_state", "at"):
        steps[step["case_id"]].append(step)
    tasks = defaultdict(list)
    for task in Task.objects.values("case_id", "role", "state"):
        tasks[task["case_id"]].append(task)
    problems = []
    for case in Case.objects.select_related("category", "grid").iterator(chunk_size=1000):
        label = f"{case.number} ({case.state})"
        times = [getattr(case, f) for f in CHAIN if getattr(case, f) is not None]
        if times != sorted(times):
            problems.append(f"{label}: timestamps out of order")
        hit = locator.locate(case.lon, case.lat)
        if hit is None or hit.id != case.grid_id or not case.path == case.grid.path:
            problems.append(f"{label}: its grid does not contain its point")
        timeline = steps[case.pk]
        previous = ""
        for step in timeline:  # each step starts where the previous one left the case
            if step["from_state"] != previous:
                problems.append(f"{label}: {step['action']} from {step['from_state']} after {previous}")
            previous = step["to_state"]
        if previous != case.state:
            problems.append(f"{label}: the timeline ends in {previous}")
        actions = Counter(s["action"] for s in timeline)
        first = {}
        for s in timeline:
            first.setdefault(s["action"], s["at"])
        expected = {Action.RETURN: case.return_count, Action.VERIFY_FAIL: case.rework_count,
                    Action.REOPEN: case.reopen_count, Action.ESCALATE: case.escalation_count,
                    Action.APPROVE_EXTENSION: case.extension_count, Action.SUPERVISE: case.supervision_count,
                    Action.RATE: int(case.satisfaction is not None), Action.MERGE: int(case.merged_into_id is not None)}
        for action, n in expected.items():
            if actions[action] != n:
                problems.append(f"{label}: {actions[action]} {action} steps for a count of {n}")
        opening = timeline[0]["action"]
        if opening not in (Action.REPORT, Action.SELF_HANDLE) or timeline[0]["at"] != case.reported_at or (
                case.self_handled and opening != Action.SELF_HANDLE):
            problems.append(f"{label}: opens with {opening} at {timeline[0]['at']}")
        # a failed spot check of an on-the-spot case registers it (then it goes the usual way)
        registered = first.get(Action.REGISTER) or (first.get(Action.VERIFY_FAIL) if opening == Action.SELF_HANDLE
                                                    else None)
        for action, when, step_at in [(Action.REGISTER, case.registered_at, registered),
                                      (Action.DISPATCH, case.dispatched_at, first.get(Action.DISPATCH)),
                                      (Action.REJECT, case.rejected_at, first.get(Action.REJECT))]:
            if when != step_at:
                problems.append(f"{label}: {action} step at {step_at}, field says {when}")
        closes = [s["at"] for s in timeline if s["action"] == Action.CLOSE]
        if case.closed_at is not None and closes[-1] != case.closed_at:
            problems.append(f"{label}: closed_at does not match the last close step")
        lead = [t["state"] for t in tasks[case.pk] if t["role"] == TaskRole.LEAD
                and t["state"] not in (TaskState.RETURNED, TaskState.CANCELLED)]
        want = {State.DISPATCHED: [TaskState.PENDING], State.IN_PROGRESS: [TaskState.ACCEPTED],
                State.SUSPENDED: [TaskState.ACCEPTED], State.HANDLED: [TaskState.DONE],
                State.VERIFIED: [TaskState.DONE], State.CLOSED: [TaskState.DONE], State.REGISTERED: [],
                State.REPORTED: [], State.REJECTED: [], State.MERGED: [],
                State.CONVERTED: []}[case.state]
        if case.self_handled:
            want = []
        if lead != want:
            problems.append(f"{label}: lead tasks {lead}, expected {want}")
        if case.state in (State.DISPATCHED, State.IN_PROGRESS, State.SUSPENDED) and case.lead_department_id is None:
            problems.append(f"{label}: no lead department")
        if case.state == State.CLOSED and case.resolution_level != case.level:
            problems.append(f"{label}: resolved at {case.resolution_level}, level {case.level}")
    assert not problems, "\n".join(problems[:30])


def test_merged_cases_point_to_an_earlier_case_nearby(demo):
    merged = list(Case.objects.filter(state=State.MERGED).select_related("merged_into", "category"))
    assert merged
    for case in merged:
        target = case.merged_into
        assert target.reported_at < case.reported_at and target.category_id == case.category_id
        distance = math.dist((case.lon * 111_320 * math.cos(math.radians(case.lat)), case.lat * 111_320),
                             (target.lon * 111_320 * math.cos(math.radians(case.lat)), target.lat * 111_320))
        assert distance <= case.category.duplicate_radius_m
        merge = case.steps.get(action=Action.MERGE)
        assert merge.data["into"] == target.number
        note = target.steps.get(action=Action.COMMENT, data__merged=case.number)
        assert note.at == merge.at and note.from_state in {s.value for s in OPEN_STATES}


def test_every_demo_login_has_work_waiting(demo):
    gridmember = User.objects.get(username="gridmember")
    handler = User.objects.get(username="handler")
    dispatcher = User.objects.get(username="dispatcher")
    resident = User.objects.get(username="resident")
    now = timezone.now()
    grid = gridmember.grids.get()

    handled = case_list(user=gridmember, filters={"state": [State.HANDLED]}).filter(grid=grid)
    to_verify = handled.filter(self_handled=False)
    assert to_verify.count() >= 3
    assert all(Action.VERIFY_OK in services.case_allowed_actions(case=c, user=gridmember) for c in to_verify)
    # what the grid member handled on the spot is checked by someone else: the community's dispatcher
    spot = handled.filter(self_handled=True, reporter=gridmember)
    assert spot.exists()
    assert not any(Action.VERIFY_OK in services.case_allowed_actions(case=c, user=gridmember) for c in spot)
    assert all(Action.VERIFY_OK in services.case_allowed_actions(case=c, user=User.objects.get(
        username="dispatcher_c")) for c in spot)
    recent = Case.objects.filter(reporter=gridmember, reported_at__gte=now - dt.timedelta(days=7))
    assert recent.count() >= 4 and recent.filter(state__in=OPEN_STATES).exists()

    pending = Case.objects.filter(case_scope_q(handler), state=State.DISPATCHED, lead_department=handler.department)
    assert pending.count() >= 4
    assert all(Action.ACCEPT in services.case_allowed_actions(case=c, user=handler) for c in pending)
    assert Case.objects.filter(state=State.IN_PROGRESS, lead_department=handler.department).count() >= 3
    assert Extension.objects.filter(state=ExtensionState.PENDING, case__path__startswith=dispatcher.area.path).exists()

    for state, action in [(State.REPORTED, Action.REGISTER), (State.VERIFIED, Action.CLOSE),
                          (State.REGISTERED, Action.DISPATCH)]:
        waiting = case_list(user=dispatcher, filters={"state": [state]})
        assert waiting.count() >= 2, state
        assert all(action in services.case_allowed_actions(case=c, user=dispatcher) for c in waiting)
    assert case_list(user=dispatcher, filters={"state": [State.REGISTERED]}).filter(return_count__gt=0).exists()
    fresh = case_list(user=dispatcher, filters={"state": [State.REPORTED]}).order_by("-reported_at").first()
    from gridgov.cases.selectors import case_duplicates

    assert any(case_duplicates(case=c, user=dispatcher) for c in case_list(
        user=dispatcher, filters={"state": [State.REPORTED]})), "the duplicate panel has something to show"

    mine = Case.objects.filter(reporter=resident)
    assert mine.filter(state__in=[State.VERIFIED, State.CLOSED], satisfaction__isnull=True).exists()  # to rate
    for user in (User.objects.get(username="dispatcher_c"), User.objects.get(username="dispatcher_d")):
        assert case_list(user=user, filters={}).filter(state__in=OPEN_STATES).exists()

    # demo cases go on through the real services
    case = services.case_register(case_id=fresh.pk, by=dispatcher, version=fresh.version)
    case = services.case_dispatch(case_id=case.pk, by=dispatcher, lead=handler.department)
    case = services.case_accept(case_id=case.pk, by=handler)
    assert case.state == State.IN_PROGRESS


def test_one_audit_entry_for_the_whole_step(demo):
    entries = AuditEntry.objects.filter(action="demo.cases")
    assert entries.count() == 1 and entries.get().after["cases"] == Case.objects.count()
    assert not AuditEntry.objects.filter(action__startswith="case.").exists()
    assert audit_verify() is None
