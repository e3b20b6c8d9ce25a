"""Every transition of the closed loop, allowed and refused, through the services.

Refusals: the wrong state is a 409 `invalid_transition` listing the actions allowed now; the wrong role a 403;
a case outside the user's scope a 404 (its existence is not revealed); a missing reason a 422
`reason_required`. In every refusal nothing is written.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from gridgov.accounts.tests.factories import DepartmentFactory, UserFactory
from gridgov.cases import services
from gridgov.cases.choices import TRANSITIONS, Action, ExtensionState, State, TaskRole, TaskState
from gridgov.cases.models import Attachment, Case, Category, Extension, Step
from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridgov.core.models import AuditEntry, Notification

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def sh(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


ALL_STATES = ["reported", "registered", "dispatched", "in_progress", "suspended", "handled", "verified", "closed",
              "rejected", "merged"]
NEVER_DISPATCHED = {"reported", "registered", "rejected", "merged"}
HANDLER_ACTIONS = {Action.ACCEPT, Action.RETURN, Action.REPORT_BACK, Action.REQUEST_EXTENSION}
GRID_MEMBER_ACTIONS = {Action.VERIFY_OK, Action.VERIFY_FAIL, Action.RATE}

# What each user may do on a case of grid g1 in each state (the buttons, and the 409's allowed_actions).
# handler = the lead department (urban); gm = the grid's member, who also reported the case.
ALLOWED = {
    "dispatcher": {
        "reported": ["register", "reject", "merge", "comment"],
        "registered": ["merge", "dispatch", "summon", "comment"],
        "dispatched": ["summon", "comment"],
        "in_progress": ["suspend", "summon", "comment"],
        "suspended": ["resume", "comment"],
        "handled": ["comment"],
        "verified": ["close", "comment"],
        "closed": ["reopen"],
        "rejected": [],
        "merged": [],
    },
    "handler": {
        "dispatched": ["accept", "return", "request_extension", "comment"],
        "in_progress": ["return", "report_back", "request_extension", "comment"],
        "suspended": ["comment"],
        "handled": ["comment"],
        "verified": ["comment"],
        "closed": [],
    },
    "gm": {
        "reported": ["comment"],
        "registered": ["comment"],
        "dispatched": ["comment"],
        "in_progress": ["comment"],
        "suspended": ["comment"],
        "handled": ["verify_ok", "verify_fail", "comment"],
        "verified": ["rate", "comment"],
        "closed": ["rate"],
        "rejected": [],
        "merged": [],
    },
    "leader": {**{s: ["supervise", "comment"] for s in ["reported", "registered", "dispatched", "in_progress",
                                                          "suspended", "handled", "verified"]},
               "closed": [], "rejected": [], "merged": []},
}


def _actor_key(action: str) -> str:
    if action in HANDLER_ACTIONS:
        return "handler"
    if action in GRID_MEMBER_ACTIONS:
        return "gm"
    if action == Action.SUPERVISE:
        return "leader"
    return "dispatcher"


def _perform(action: str, case: Case, world, *, target: Case, version=None):
    """Call the service of `action` with valid arguments as the user who may take it."""
    u, pk = world["users"], case.pk
    by = u[_actor_key(action)]
    calls = {
        Action.REGISTER: lambda: services.case_register(case_id=pk, by=by, version=version),
        Action.REJECT: lambda: services.case_reject(case_id=pk, by=by, reason="不属实", version=version),
        Action.MERGE: lambda: services.case_merge(case_id=pk, into_id=target.pk, by=by, version=version),
        Action.DISPATCH: lambda: services.case_dispatch(case_id=pk, by=by, lead=world["urban"], version=version),
        Action.ACCEPT: lambda: services.case_accept(case_id=pk, by=by, version=version),
        Action.RETURN: lambda: services.case_return(case_id=pk, by=by, reason="非我部门职责", version=version),
        Action.SUSPEND: lambda: services.case_suspend(case_id=pk, by=by, reason="待资金", version=version),
        Action.RESUME: lambda: services.case_resume(case_id=pk, by=by, version=version),
        Action.REPORT_BACK: lambda: services.case_report_back(case_id=pk, by=by, result="已清理", version=version),
        Action.VERIFY_OK: lambda: services.case_verify(case_id=pk, by=by, ok=True, version=version),
        Action.VERIFY_FAIL: lambda: services.case_verify(case_id=pk, by=by, ok=False, note="未清理",
                                                         version=version),
        Action.CLOSE: lambda: services.case_close(case_id=pk, by=by, version=version),
        Action.REOPEN: lambda: services.case_reopen(case_id=pk, by=by, reason="群众不满意", version=version),
        Action.REQUEST_EXTENSION: lambda: services.case_request_extension(
            case_id=pk, by=by, amount=2, unit="days", reason="需要施工", version=version),
        Action.APPROVE_EXTENSION: lambda: services.case_decide_extension(case_id=pk, by=by, approve=True,
                                                                         version=version),
        Action.REJECT_EXTENSION: lambda: services.case_decide_extension(case_id=pk, by=by, approve=False,
                                                                        note="理由不足", version=version),
        Action.SUMMON: lambda: services.case_summon(case_id=pk, by=by, departments=[world["police"]], amount=1,
                                                    version=version),
        Action.SUPERVISE: lambda: services.case_supervise(case_id=pk, by=by, reason="群众反映强烈",
                                                          version=version),
        Action.RATE: lambda: services.case_rate(case_id=pk, by=by, satisfaction=4),
        Action.COMMENT: lambda: services.case_comment(case_id=pk, by=by, note="已电话联系", version=version),
        Action.CONVERT: lambda: services.case_convert(case_id=pk, by=by, dispute_number="J2026110200001",
                                                      version=version),
    }
    assert set(calls) == set(TRANSITIONS), "every action of the transitions table has a service"
    return calls[action]()


class _Undo(Exception):
    pass


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_action_from_every_state(world, drive, nothing_written, state):
    """The whole table: from each state every action is either done (and then undone) or refused with the
    right error, and the 409 lists exactly the actions the user may take now."""
    target = drive.report(description="重复的目标案件")
    case = drive(state)
    assert case.state == state
    for action, rule in TRANSITIONS.items():
        key = _actor_key(action)
        if key == "handler" and state in NEVER_DISPATCHED:
            with nothing_written(case), pytest.raises(NotFound):
                _perform(action, case, world, target=target)
            continue
        if state not in rule.sources:
            with nothing_written(case), pytest.raises(Conflict) as exc:
                _perform(action, case, world, target=target)
            assert exc.value.status == 409 and exc.value.code == "invalid_transition", (action, state)
            assert exc.value.details["state"] == state
            assert exc.value.details["allowed_actions"] == ALLOWED[key][state], (action, state)
            assert action not in exc.value.details["allowed_actions"]
            continue
        try:
            with transaction.atomic():
                if action == Action.CONVERT:  # only cases in a dispute category go to mediation
                    Category.objects.filter(pk=case.category_id).update(is_dispute=True)
                if action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION):
                    Extension.objects.create(case=case, amount=1, unit="days", reason="需要时间",
                                             requested_by=world["users"]["handler"],
                                             requested_at=dt.datetime.now(dt.UTC))
                steps, audits = Step.objects.count(), AuditEntry.objects.count()
                _perform(action, case, world, target=target)
                after = Case.objects.get(pk=case.pk)
                assert after.state == (rule.target or state), (action, state)
                assert after.version == case.version + 1
                step = Step.objects.filter(case=case).order_by("-id").first()
                assert step.action == action and step.from_state == state and step.to_state == after.state
                assert Step.objects.count() >= steps + 1
                assert AuditEntry.objects.filter(action=f"case.{action}", object_id=str(case.pk)).exists()
                assert AuditEntry.objects.count() >= audits + 1
                raise _Undo
        except _Undo:
            pass


@pytest.mark.parametrize("state", ["dispatched", "in_progress", "suspended", "handled", "verified", "closed"])
def test_allowed_actions_per_user(world, drive, state):
    case = drive(state)
    u = world["users"]
    for key in ("dispatcher", "handler", "gm", "leader"):
        assert [str(a) for a in services.case_allowed_actions(case=case, user=u[key])] == ALLOWED[key][state]
    # the assisting department accepts and reports its own part, never returns or asks for more time
    assist = [str(a) for a in services.case_allowed_actions(case=case, user=u["water_handler"])]
    assert assist == {"dispatched": ["accept", "comment"],
                      "in_progress": ["report_back", "comment"]}.get(state, ["comment"] if state != "closed" else [])
    assert services.case_allowed_actions(case=case, user=u["police_handler"]) == []
    assert services.case_allowed_actions(case=case, user=None) == []


# --- register, reject, merge -----------------------------------------------------------------------------


def test_register_by_street_dispatcher(world, drive, clock):
    clock.set(2026, 3, 16, 10, 0)  # Monday
    case = drive("reported")
    case = services.case_register(case_id=case.pk, by=world["users"]["dispatcher"], version=case.version,
                                  note="属实")
    assert case.state == State.REGISTERED and case.registered_at == clock.now
    assert case.level == "street"  # the street command centre took it
    assert case.dispatch_due == sh(2026, 3, 16, 12, 0)  # 2 working hours
    assert case.version == 2


def test_register_by_community_dispatcher_stays_at_community_level(world, drive):
    case = drive("reported")
    case = services.case_register(case_id=case.pk, by=world["users"]["community_dispatcher"])
    assert case.level == "community"


def test_register_refused_out_of_scope_wrong_role_and_stale(world, drive, nothing_written):
    case = drive("reported")
    u = world["users"]
    with nothing_written(case), pytest.raises(NotFound) as exc:
        services.case_register(case_id=case.pk, by=u["other_dispatcher"])  # another street
    assert exc.value.status == 404
    with nothing_written(case), pytest.raises(Forbidden) as exc:
        services.case_register(case_id=case.pk, by=u["gm"])
    assert exc.value.status == 403
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_register(case_id=case.pk, by=u["leader"])
    with nothing_written(case), pytest.raises(NotFound):
        services.case_register(case_id=case.pk, by=u["resident"])  # not their report
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_register(case_id=case.pk, by=u["dispatcher"], version=case.version - 1 or 99)
    assert exc.value.code == "stale_version" and exc.value.details == {"version": case.version}
    with nothing_written(case), pytest.raises(NotFound):
        services.case_register(case_id=987654, by=u["dispatcher"])


def test_reject_needs_a_reason(world, drive, nothing_written):
    case = drive("reported")
    for reason in ("", "   "):
        with nothing_written(case), pytest.raises(InvalidInput) as exc:
            services.case_reject(case_id=case.pk, by=world["users"]["dispatcher"], reason=reason)
        assert exc.value.status == 422 and exc.value.code == "reason_required"
        assert exc.value.details[0]["field"] == "reason"
    case = services.case_reject(case_id=case.pk, by=world["users"]["dispatcher"], reason="重复上报")
    assert case.state == State.REJECTED and case.rejected_at is not None
    assert case.steps.last().note == "重复上报"


def test_merge_into_an_open_case(world, drive):
    target = drive("registered")
    case = drive.report(description="同一堆垃圾")
    case = services.case_merge(case_id=case.pk, into_id=target.pk, by=world["users"]["dispatcher"])
    assert case.state == State.MERGED and case.merged_into == target
    assert target.steps.filter(data__merged=case.number).exists()
    assert list(target.duplicates.all()) == [case]
    # a registered case can be merged too
    second = drive("registered")
    second = services.case_merge(case_id=second.pk, into_id=target.pk, by=world["users"]["dispatcher"])
    assert second.state == State.MERGED


def test_merge_refused_into_closed_merged_foreign_or_itself(world, drive, nothing_written):
    u = world["users"]
    case = drive("reported")
    closed = drive("closed")
    with nothing_written(case, closed), pytest.raises(Conflict) as exc:
        services.case_merge(case_id=case.pk, into_id=closed.pk, by=u["dispatcher"])
    assert exc.value.status == 409 and exc.value.code == "invalid_transition"
    merged = drive("merged")
    with nothing_written(case, merged), pytest.raises(Conflict):
        services.case_merge(case_id=case.pk, into_id=merged.pk, by=u["dispatcher"])
    foreign, _ = services.case_report(by=u["gm3"], category="T0101", description="别处", lon=120.625, lat=31.305)
    with nothing_written(case, foreign), pytest.raises(InvalidInput) as exc:
        services.case_merge(case_id=case.pk, into_id=foreign.pk, by=u["dispatcher"])
    assert exc.value.details[0]["field"] == "into"
    for into in (case.pk, 987654):
        with nothing_written(case), pytest.raises(InvalidInput):
            services.case_merge(case_id=case.pk, into_id=into, by=u["dispatcher"])


# --- dispatch, accept, return ------------------------------------------------------------------------------


def test_dispatch_to_lead_and_assisting_departments(world, drive):
    u = world["users"]
    case = drive("registered")
    case = services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"].pk,
                                  assist=[world["water"].pk, world["urban"].pk, world["water"].pk],
                                  instructions="两日内清理", version=case.version)
    assert case.state == State.DISPATCHED and case.lead_department == world["urban"] and case.dispatched_at
    tasks = {t.department.code: t for t in case.tasks.all()}
    assert set(tasks) == {"URBAN", "WATER"}  # one task each; the lead is not also an assistant
    assert tasks["URBAN"].role == TaskRole.LEAD and tasks["WATER"].role == TaskRole.ASSIST
    assert all(t.state == TaskState.PENDING and t.due_at == case.handle_due and t.instructions == "两日内清理"
               for t in tasks.values())
    told = set(Notification.objects.filter(kind="dispatched").values_list("user__username", flat=True))
    assert told == {"h_urban", "h_water"}
    step = case.steps.last()
    assert step.data == {"lead": "URBAN", "assist": ["WATER"]}


def test_dispatch_to_an_unknown_department_names_the_field(world, drive, nothing_written):
    u = world["users"]
    case = drive("registered")
    closed_dep = DepartmentFactory(code="GONE", is_active=False)
    for kwargs, field in [({"lead": 987654}, "lead"), ({"lead": closed_dep}, "lead"),
                          ({"lead": world["urban"], "assist": [987654]}, "assist")]:
        with nothing_written(case), pytest.raises(InvalidInput) as exc:
            services.case_dispatch(case_id=case.pk, by=u["dispatcher"], **kwargs)
        assert exc.value.status == 422 and exc.value.code == "unknown_department"
        assert exc.value.details[0]["field"] == field


def test_lead_accept_starts_the_work_and_assisting_accept_only_updates_its_task(world, drive, nothing_written):
    u = world["users"]
    case = drive("dispatched")
    case = services.case_accept(case_id=case.pk, by=u["water_handler"])
    assert case.state == State.DISPATCHED and case.accepted_at is None
    water = case.tasks.get(department=world["water"])
    assert water.state == TaskState.ACCEPTED and water.accepted_at
    assert case.tasks.get(department=world["urban"]).state == TaskState.PENDING
    case = services.case_accept(case_id=case.pk, by=u["handler"], version=case.version)
    assert case.state == State.IN_PROGRESS and case.accepted_at
    assert case.tasks.get(department=world["urban"]).state == TaskState.ACCEPTED
    with nothing_written(case), pytest.raises(NotFound):
        services.case_accept(case_id=case.pk, by=u["police_handler"])  # no task for the police
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_accept(case_id=case.pk, by=u["handler"])
    assert exc.value.details["allowed_actions"] == ["return", "report_back", "request_extension", "comment"]


def test_handler_cannot_take_dispatcher_actions(world, drive, nothing_written):
    case = drive("in_progress")
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_suspend(case_id=case.pk, by=world["users"]["handler"], reason="x")


def test_return_sends_the_case_back_to_the_dispatchers(world, drive, nothing_written):
    u = world["users"]
    case = drive("in_progress")
    with nothing_written(case), pytest.raises(Forbidden):  # only the lead department returns a case
        services.case_return(case_id=case.pk, by=u["water_handler"], reason="不归我们")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_return(case_id=case.pk, by=u["handler"], reason="")
    assert exc.value.code == "reason_required"
    case = services.case_return(case_id=case.pk, by=u["handler"], reason="属水务职责", version=case.version)
    assert case.state == State.REGISTERED and case.return_count == 1
    assert case.lead_department is None and case.handle_due is None and case.dispatch_due
    assert set(case.tasks.values_list("state", flat=True)) == {TaskState.RETURNED}
    returned = Notification.objects.filter(kind="returned")
    assert set(returned.values_list("user__username", flat=True)) == {"disp", "cdisp", "ddisp"}
    assert "属水务职责" in returned.first().title
    step = case.steps.last()
    assert step.action == "return" and step.department == world["urban"] and step.note == "属水务职责"
    # the returning department can no longer act; the dispatcher re-dispatches
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_accept(case_id=case.pk, by=u["handler"])
    assert exc.value.details["allowed_actions"] == []
    case = services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["water"])
    assert case.lead_department == world["water"]
    assert case.tasks.get(state=TaskState.PENDING).department == world["water"]
    case = services.case_accept(case_id=case.pk, by=u["water_handler"])
    assert case.state == State.IN_PROGRESS


# --- suspend and resume ----------------------------------------------------------------------------------


def test_suspend_stops_the_clock(world, drive, clock, nothing_written):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 30)  # Monday
    case = drive("in_progress")
    assert case.handle_due == sh(2026, 3, 18, 17, 30)  # two working days
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_suspend(case_id=case.pk, by=u["dispatcher"], reason=" ")
    assert exc.value.code == "reason_required"
    clock.set(2026, 3, 17, 10, 0)
    case = services.case_suspend(case_id=case.pk, by=u["dispatcher"], reason="等待资金")
    assert case.state == State.SUSPENDED and case.suspended_at == clock.now
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_report_back(case_id=case.pk, by=u["handler"], result="x")
    assert exc.value.code == "invalid_transition"
    clock.set(2026, 3, 18, 10, 0)  # 2 + 4 + 1 = 7 working hours later
    case = services.case_resume(case_id=case.pk, by=u["dispatcher"])
    assert case.state == State.IN_PROGRESS and case.suspended_at is None
    assert case.handle_due == sh(2026, 3, 19, 17, 30)  # moved by 7 working hours
    assert case.steps.last().data == {"paused_working_hours": 7.0}
    assert all(t.due_at == case.handle_due for t in case.tasks.filter(state__in=["pending", "accepted"]))


def test_suspend_over_a_weekend_counts_only_working_hours(world, drive, clock):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    case = drive("in_progress")
    due = case.handle_due
    clock.set(2026, 3, 20, 16, 30)  # Friday
    services.case_suspend(case_id=case.pk, by=u["dispatcher"], reason="雨天")
    clock.set(2026, 3, 23, 10, 0)  # Monday: 1 h on Friday + 1 h on Monday
    case = services.case_resume(case_id=case.pk, by=u["dispatcher"])
    assert case.steps.last().data == {"paused_working_hours": 2.0}
    assert due == sh(2026, 3, 18, 17, 30)
    assert case.handle_due == sh(2026, 3, 19, 11, 0)  # Wednesday 17:30 + 2 working hours


# --- report back, verify, close, reopen --------------------------------------------------------------------


def test_report_back_needs_a_photo_where_the_category_says_so(world, drive, make_jpeg, nothing_written):
    u = world["users"]
    case = drive("in_progress", category="T0102", extra={"size": "small"})
    assert case.category.photo_required_report_back
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_report_back(case_id=case.pk, by=u["handler"], result="已修复")
    assert exc.value.status == 422 and exc.value.code == "photo_required"
    assert exc.value.details[0]["field"] == "photos"
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_report_back(case_id=case.pk, by=u["handler"], result=" ", photos=[make_jpeg()])
    assert exc.value.details[0]["field"] == "result"
    case = services.case_report_back(case_id=case.pk, by=u["handler"], result="已修复", photos=[make_jpeg()])
    assert case.state == State.HANDLED and case.handled_at
    att = case.attachments.get()
    assert att.kind == Attachment.Kind.EVIDENCE and att.step == case.steps.last()
    told = set(Notification.objects.filter(kind="verify").values_list("user__username", flat=True))
    assert told == {"gm"}  # the grid member (also the reporter) is asked to verify


def test_assisting_department_reports_its_part_only(world, drive):
    u = world["users"]
    case = drive("in_progress")
    case = services.case_report_back(case_id=case.pk, by=u["water_handler"], result="管道已查")
    assert case.state == State.IN_PROGRESS
    water = case.tasks.get(department=world["water"])
    assert water.state == TaskState.DONE and water.result == "管道已查"
    assert not Notification.objects.filter(kind="verify").exists()


def test_verify_fail_sends_the_case_back_for_rework(world, drive, clock, nothing_written):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    case = drive("handled")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_verify(case_id=case.pk, by=u["gm"], ok=False, note="")
    assert exc.value.code == "reason_required"
    with nothing_written(case), pytest.raises(NotFound):
        services.case_verify(case_id=case.pk, by=u["gm3"], ok=True)  # the member of another grid
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_verify(case_id=case.pk, by=u["dispatcher"], ok=True)
    clock.set(2026, 3, 17, 15, 0)  # Tuesday
    case = services.case_verify(case_id=case.pk, by=u["gm"], ok=False, note="垃圾仍在")
    assert case.state == State.IN_PROGRESS and case.rework_count == 1 and case.handled_at is None
    assert case.handle_due == sh(2026, 3, 19, 17, 30)  # two working days from now
    lead = case.tasks.get(role=TaskRole.LEAD)
    assert lead.state == TaskState.ACCEPTED and lead.due_at == case.handle_due
    assert Notification.objects.filter(kind="returned", user=u["handler"]).exists()
    case = services.case_report_back(case_id=case.pk, by=u["handler"], result="再次清理")
    case = services.case_verify(case_id=case.pk, by=u["gm"], ok=True)
    assert case.state == State.VERIFIED and case.rework_count == 1


def test_reporter_verifies_by_account_or_tracking_code(world, drive, nothing_written):
    u = world["users"]
    case = drive("handled", by=u["resident"])
    case = services.case_verify(case_id=case.pk, by=u["resident"], ok=True, note="已解决")
    assert case.state == State.VERIFIED and case.verified_by_reporter
    public, _ = services.case_report(by=None, category="T0101", description="路边垃圾", lon=120.606, lat=31.306,
                                     ip="10.0.0.9")
    services.case_register(case_id=public.pk, by=u["dispatcher"])
    services.case_dispatch(case_id=public.pk, by=u["dispatcher"], lead=world["urban"])
    services.case_accept(case_id=public.pk, by=u["handler"])
    public = services.case_report_back(case_id=public.pk, by=u["handler"], result="已清理")
    with nothing_written(public), pytest.raises(NotFound):
        services.case_verify(case_id=public.pk, by=None, ok=True, tracking_code="WRONGCODE2")
    public = services.case_verify(case_id=public.pk, by=None, ok=False, note="还有",
                                  tracking_code=public.tracking_code.lower())
    assert public.state == State.IN_PROGRESS and public.rework_count == 1


def test_a_grid_member_verifies_with_a_photo_where_the_category_says_so(world, drive, make_jpeg, nothing_written):
    u = world["users"]
    Category.objects.filter(code="T0101").update(photo_required_verify=True)
    case = drive("handled", by=u["resident"])
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_verify(case_id=case.pk, by=u["gm"], ok=True, note="看过了")
    assert exc.value.code == "photo_required" and exc.value.details[0]["field"] == "photos"
    case = services.case_verify(case_id=case.pk, by=u["gm"], ok=True, photos=[make_jpeg(gps=(120.605, 31.305))])
    assert case.state == State.VERIFIED and not case.verified_by_reporter
    assert case.attachments.get().kind == Attachment.Kind.VERIFY
    # the reporter confirming their own report needs no photo
    own = drive("handled", by=u["resident"])
    assert services.case_verify(case_id=own.pk, by=u["resident"], ok=True).state == State.VERIFIED


def test_close_records_resolution_level_and_timeliness(world, drive, clock):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    case = drive("closed")
    assert case.state == State.CLOSED and case.closed_at == clock.now
    assert case.resolution_level == "street" and case.closed_on_time is True
    late = drive("in_progress")
    clock.set(2026, 3, 20, 9, 0)  # after Wednesday 17:30
    services.case_report_back(case_id=late.pk, by=u["handler"], result="终于清理")
    services.case_verify(case_id=late.pk, by=u["gm"], ok=True)
    late = services.case_close(case_id=late.pk, by=u["dispatcher"])
    assert late.closed_on_time is False


def test_reopen_within_the_period_only(world, drive, clock, settings, nothing_written):
    u = world["users"]
    settings.GRIDGOV_REOPEN_DAYS = 15
    clock.set(2026, 3, 2, 10, 0)
    case = drive("closed")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_reopen(case_id=case.pk, by=u["dispatcher"], reason="")
    assert exc.value.code == "reason_required"
    clock.advance(days=15, hours=1)
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_reopen(case_id=case.pk, by=u["dispatcher"], reason="群众不满意")
    assert exc.value.status == 409 and exc.value.code == "reopen_period_over"
    clock.advance(days=-1)
    case = services.case_reopen(case_id=case.pk, by=u["dispatcher"], reason="群众不满意")
    assert case.state == State.IN_PROGRESS and case.reopen_count == 1
    assert case.closed_at is None and case.resolution_level == "" and case.closed_on_time is None
    assert case.handle_due > clock.now
    assert case.tasks.get(role=TaskRole.LEAD).state == TaskState.ACCEPTED
    assert Notification.objects.filter(kind="returned", user=u["handler"]).exists()


# --- extensions ------------------------------------------------------------------------------------------


def test_extension_request_approve_and_reject(world, drive, clock, nothing_written):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    case = drive("in_progress")
    due = case.handle_due  # Wednesday 18 March 17:30
    with nothing_written(case), pytest.raises(Forbidden):  # the assisting department does not ask
        services.case_request_extension(case_id=case.pk, by=u["water_handler"], amount=1, unit="days", reason="x")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_request_extension(case_id=case.pk, by=u["handler"], amount=1, unit="days", reason="")
    assert exc.value.code == "reason_required"
    for amount, unit, field in [(0, "days", "amount"), (1, "weeks", "unit"), ("2", "days", "amount")]:
        with nothing_written(case), pytest.raises(InvalidInput) as exc:
            services.case_request_extension(case_id=case.pk, by=u["handler"], amount=amount, unit=unit,
                                            reason="需要时间")
        assert exc.value.details[0]["field"] == field
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_decide_extension(case_id=case.pk, by=u["dispatcher"], approve=True)
    assert exc.value.code == "no_pending_extension"

    ext = services.case_request_extension(case_id=case.pk, by=u["handler"], amount=2, unit="days",
                                          reason="需要施工")
    assert ext.state == ExtensionState.PENDING and ext.task.role == TaskRole.LEAD
    assert Notification.objects.filter(kind="extension", user=u["dispatcher"]).exists()
    case.refresh_from_db()
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_request_extension(case_id=case.pk, by=u["handler"], amount=1, unit="days", reason="再要")
    assert exc.value.status == 409
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_decide_extension(case_id=case.pk, by=u["handler"], approve=True)
    ext = services.case_decide_extension(case_id=case.pk, by=u["dispatcher"], approve=True, note="同意")
    case.refresh_from_db()
    assert ext.state == ExtensionState.APPROVED and ext.decided_by == u["dispatcher"]
    assert case.extension_count == 1
    assert due == sh(2026, 3, 18, 17, 30)
    assert case.handle_due == sh(2026, 3, 20, 17, 30)  # + 2 working days: Friday 17:30
    assert case.tasks.get(role=TaskRole.LEAD).due_at == case.handle_due
    assert Notification.objects.filter(kind="extension", user=u["handler"]).exists()

    services.case_request_extension(case_id=case.pk, by=u["handler"], amount=3, unit="hours", reason="还要")
    case.refresh_from_db()
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_decide_extension(case_id=case.pk, by=u["dispatcher"], approve=False, note="")
    assert exc.value.code == "reason_required"
    ext = services.case_decide_extension(case_id=case.pk, by=u["dispatcher"], approve=False, note="理由不足")
    case.refresh_from_db()
    assert ext.state == ExtensionState.REJECTED and case.extension_count == 1
    assert case.handle_due == sh(2026, 3, 20, 17, 30)


# --- summon, supervise, rate, comment ----------------------------------------------------------------------


def test_summon_is_for_street_level_and_above(world, drive, clock, nothing_written):
    u = world["users"]
    clock.set(2026, 3, 16, 9, 0)
    case = drive("reported")
    case = services.case_register(case_id=case.pk, by=u["community_dispatcher"])
    assert case.level == "community"
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_summon(case_id=case.pk, by=u["community_dispatcher"], departments=[world["police"]], amount=1)
    assert "summon" not in services.case_allowed_actions(case=case, user=u["community_dispatcher"])
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_summon(case_id=case.pk, by=u["dispatcher"], departments=[987654], amount=1)
    assert exc.value.details[0]["field"] == "departments"
    with nothing_written(case), pytest.raises(InvalidInput):
        services.case_summon(case_id=case.pk, by=u["dispatcher"], departments=[], amount=1)
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_summon(case_id=case.pk, by=u["dispatcher"], departments=[world["police"]], amount=0)
    assert exc.value.details[0]["field"] == "amount"
    with nothing_written(case), pytest.raises(NotFound):
        services.case_summon(case_id=case.pk, by=u["other_dispatcher"], departments=[world["police"]], amount=1)

    tasks = services.case_summon(case_id=case.pk, by=u["dispatcher"], departments=[world["police"], world["water"]],
                                 amount=4, unit="hours", instructions="联合执法")
    due = sh(2026, 3, 16, 14, 30)  # 3 h in the morning, 1 h after lunch
    assert [(t.department.code, t.role, t.due_at) for t in tasks] == [("POLICE", TaskRole.SUMMONED, due),
                                                                    ("WATER", TaskRole.SUMMONED, due)]
    case.refresh_from_db()
    assert case.level == "street" and case.state == State.REGISTERED
    told = set(Notification.objects.filter(kind="dispatched").values_list("user__username", flat=True))
    assert told == {"h_police", "h_water"}
    # a summoned department now sees the case
    from gridgov.cases.selectors import case_get

    assert case_get(user=u["police_handler"], case_id=case.pk) == case


def test_supervise_by_a_leader(world, drive, nothing_written):
    u = world["users"]
    case = drive("in_progress")
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_supervise(case_id=case.pk, by=u["dispatcher"], reason="x")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_supervise(case_id=case.pk, by=u["leader"], reason="")
    assert exc.value.code == "reason_required"
    other_leader = UserFactory(role="leader", area=world["street2"])
    with nothing_written(case), pytest.raises(NotFound):
        services.case_supervise(case_id=case.pk, by=other_leader, reason="x")
    case = services.case_supervise(case_id=case.pk, by=u["leader"], reason="群众反映强烈")
    assert case.supervision_count == 1
    told = set(Notification.objects.filter(kind="supervised").values_list("user__username", flat=True))
    assert told == {"h_urban", "h_water", "disp", "cdisp", "ddisp"}
    closed = drive("closed")
    with nothing_written(closed), pytest.raises(Conflict):
        services.case_supervise(case_id=closed.pk, by=u["leader"], reason="x")


def test_rate_by_the_reporter_once(world, drive, nothing_written):
    u = world["users"]
    case = drive("closed", by=u["resident"])
    with nothing_written(case), pytest.raises(Forbidden):  # the grid member sees it but did not report it
        services.case_rate(case_id=case.pk, by=u["gm"], satisfaction=5)
    other = UserFactory(role="resident")
    with nothing_written(case), pytest.raises(NotFound):
        services.case_rate(case_id=case.pk, by=other, satisfaction=5)
    for bad in (0, 6, "5", None):
        with nothing_written(case), pytest.raises(InvalidInput) as exc:
            services.case_rate(case_id=case.pk, by=u["resident"], satisfaction=bad)
        assert exc.value.details[0]["field"] == "satisfaction"
    case = services.case_rate(case_id=case.pk, by=u["resident"], satisfaction=2, comment="慢")
    assert case.satisfaction == 2 and case.satisfaction_comment == "慢" and case.rated_at
    with nothing_written(case), pytest.raises(Conflict) as exc:
        services.case_rate(case_id=case.pk, by=u["resident"], satisfaction=5)
    assert exc.value.code == "already_rated"
    assert "rate" not in services.case_allowed_actions(case=case, user=u["resident"])
    open_case = drive("in_progress", by=u["resident"])
    with nothing_written(open_case), pytest.raises(Conflict):
        services.case_rate(case_id=open_case.pk, by=u["resident"], satisfaction=5)


def test_rate_with_the_tracking_code(world, drive):
    case, _ = services.case_report(by=None, category="T0101", description="路灯不亮", lon=120.606, lat=31.306)
    Case.objects.filter(pk=case.pk).update(state=State.CLOSED)
    with pytest.raises(NotFound):
        services.case_rate(case_id=case.pk, by=None, satisfaction=5, tracking_code="ABCDEFGHJK")
    case = services.case_rate(case_id=case.pk, by=None, satisfaction=5, tracking_code=case.tracking_code)
    assert case.satisfaction == 5


def test_comment_is_internal(world, drive, nothing_written):
    u = world["users"]
    case = drive("dispatched", by=u["resident"])
    with nothing_written(case), pytest.raises(InvalidInput):
        services.case_comment(case_id=case.pk, by=u["handler"], note="  ")
    with nothing_written(case), pytest.raises(NotFound):
        services.case_comment(case_id=case.pk, by=u["police_handler"], note="看看")
    with nothing_written(case), pytest.raises(Forbidden):  # the reporter follows the public timeline only
        services.case_comment(case_id=case.pk, by=u["resident"], note="看看")
    case = services.case_comment(case_id=case.pk, by=u["handler"], note="已联系现场")
    step = case.steps.last()
    assert step.action == "comment" and step.public is False and step.to_state == State.DISPATCHED


# --- self-handling -----------------------------------------------------------------------------------------


def test_grid_member_handles_on_the_spot_in_own_grid_with_a_photo(world, make_jpeg, nothing_written):
    u = world["users"]
    kwargs = {"category": "T0101", "description": "小广告", "lon": 120.605, "lat": 31.305, "self_handle": True,
              "handle_note": "已清除"}
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        services.case_report(by=u["gm"], **kwargs)
    assert exc.value.code == "photo_required" and exc.value.details[0]["field"] == "photos"
    with nothing_written(), pytest.raises(Forbidden):
        services.case_report(by=u["gm3"], photos=[make_jpeg()], **kwargs)  # g1 is not gm3's grid
    with nothing_written(), pytest.raises(Forbidden):
        services.case_report(by=u["dispatcher"], photos=[make_jpeg()], **kwargs)
    case, created = services.case_report(by=u["gm"], photos=[make_jpeg()], **kwargs)
    assert created and case.state == State.HANDLED and case.self_handled and case.handled_at
    assert case.register_due is None
    assert case.attachments.get().kind == Attachment.Kind.EVIDENCE
    assert case.steps.get().action == "self_handle"
    # nobody else is in g1: the dispatchers over it are asked to have it verified
    told = set(Notification.objects.filter(kind="verify").values_list("user__username", flat=True))
    assert told == {"disp", "cdisp", "ddisp"}


def test_a_case_handled_on_the_spot_is_verified_by_someone_else(world, make_jpeg, nothing_written):
    u = world["users"]
    case, _ = services.case_report(by=u["gm"], category="T0101", description="小广告", lon=120.605, lat=31.305,
                                   self_handle=True, photos=[make_jpeg()])
    assert Action.VERIFY_OK not in services.case_allowed_actions(case=case, user=u["gm"])
    with nothing_written(case), pytest.raises(Forbidden):
        services.case_verify(case_id=case.pk, by=u["gm"], ok=True)
    with nothing_written(case), pytest.raises(NotFound):
        services.case_verify(case_id=case.pk, by=u["other_dispatcher"], ok=True)  # not their area
    assert Action.VERIFY_OK in services.case_allowed_actions(case=case, user=u["community_dispatcher"])
    case = services.case_verify(case_id=case.pk, by=u["community_dispatcher"], ok=True, note="抽查通过")
    assert case.state == State.VERIFIED


def test_a_failed_on_the_spot_handling_goes_to_the_dispatcher(world, make_jpeg):
    u = world["users"]
    case, _ = services.case_report(by=u["gm"], category="T0101", description="小广告", lon=120.605, lat=31.305,
                                   self_handle=True, photos=[make_jpeg()])
    case = services.case_verify(case_id=case.pk, by=u["dispatcher"], ok=False, note="未清理干净")
    assert case.state == State.REGISTERED and not case.self_handled and case.rework_count == 1
    assert case.dispatch_due is not None
    case = services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"])
    assert case.state == State.DISPATCHED


def test_bad_department_ids_and_ratings_are_422(world, drive, nothing_written):
    u = world["users"]
    case = drive("registered")
    with nothing_written(case), pytest.raises(InvalidInput):
        services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead="URBAN")
    closed = drive("closed")
    with nothing_written(closed), pytest.raises(InvalidInput):
        services.case_rate(case_id=closed.pk, by=u["gm"], satisfaction=True)


# --- optimistic locking -----------------------------------------------------------------------------------


@pytest.mark.parametrize("state,action", [
    ("reported", Action.REGISTER), ("reported", Action.REJECT), ("registered", Action.DISPATCH),
    ("dispatched", Action.ACCEPT), ("in_progress", Action.REPORT_BACK), ("in_progress", Action.SUSPEND),
    ("handled", Action.VERIFY_OK), ("verified", Action.CLOSE), ("closed", Action.REOPEN),
    ("in_progress", Action.REQUEST_EXTENSION), ("in_progress", Action.SUPERVISE), ("dispatched", Action.COMMENT),
])
def test_a_stale_version_is_a_409(world, drive, nothing_written, state, action):
    case = drive(state)
    target = drive.report(description="目标")
    with nothing_written(case), pytest.raises(Conflict) as exc:
        _perform(action, case, world, target=target, version=case.version - 1)
    assert exc.value.status == 409 and exc.value.code == "stale_version"
    _perform(action, case, world, target=target, version=case.version)  # the current version goes through
    assert Case.objects.get(pk=case.pk).version == case.version + 1

