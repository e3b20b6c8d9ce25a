"""The mediation workflow through its services: every transition allowed and refused, roles, scope, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridgov.core.models import AuditEntry, Notification
from gridgov.disputes import services
from gridgov.disputes.choices import TRANSITIONS, Action, State
from gridgov.disputes.models import Agreement, Dispute, Party, Session, Step


@pytest.fixture
def t0(clock):
    return clock.set(2026, 11, 2, 10)  # a Monday


def _to_state(state: str, mediation, register, clock) -> Dispute:
    """Drive a fresh dispute to `state` through the services, as a community mediator would."""
    u = mediation["users"]
    med = u["mediator"]
    d = register()
    if state == State.REGISTERED:
        return d
    d = services.dispute_assess(dispute_id=d.pk, by=med, grade="general", risk_note="邻里小事")
    if state == State.ASSESSED:
        return d
    if state == State.REFERRED:
        return services.dispute_refer(dispute_id=d.pk, by=med, channel="street", reason="涉及多户")
    d = services.dispute_assign(dispute_id=d.pk, by=med, mediator_id=med.pk, committee="社区人民调解委员会")
    if state == State.MEDIATING:
        return d
    clock.advance(hours=1)
    services.dispute_record_session(dispute_id=d.pk, by=med, held_at=clock.now, place="调解室", participants="双方",
                                    record="陈述", outcome="agreed" if state != State.FAILED else "failed")
    if state == State.FAILED:
        return services.dispute_fail(dispute_id=d.pk, by=med, reason="分歧太大")
    services.dispute_agree(dispute_id=d.pk, by=med, facts="漏水", terms=["修复管道"])
    d = Dispute.objects.get(pk=d.pk)
    if state == State.AGREED:
        return d
    d = services.dispute_check_fulfilment(dispute_id=d.pk, by=med, fulfilled=True)
    if state == State.FULFILLED:
        return d
    services.dispute_follow_up(dispute_id=d.pk, by=med, visited_at=clock.now, content="无反复")
    return services.dispute_close(dispute_id=d.pk, by=med)


def _call(action: str, d: Dispute, u: dict, clock):
    """Perform `action` on `d` with valid input as the community mediator."""
    med = u["mediator"]
    common = {"dispute_id": d.pk, "by": med}
    match action:
        case Action.ASSESS:
            return services.dispute_assess(**common, grade="major", risk_note="r")
        case Action.ASSIGN:
            return services.dispute_assign(**common, mediator_id=u["mediator_s"].pk)
        case Action.SESSION:
            return services.dispute_record_session(**common, held_at=clock.now, place="p", participants="a",
                                                   record="r")
        case Action.AGREE:
            return services.dispute_agree(**common, facts="f", terms=["t"])
        case Action.FAIL:
            return services.dispute_fail(**common, reason="r")
        case Action.REFER:
            return services.dispute_refer(**common, channel="litigation", reference="(2026)苏0508民初1号", reason="r")
        case Action.CHECK_FULFILMENT:
            return services.dispute_check_fulfilment(**common, fulfilled=True)
        case Action.FOLLOW_UP:
            return services.dispute_follow_up(**common, visited_at=clock.now, content="c")
        case Action.CLOSE:
            return services.dispute_close(**common, note="撤回")
        case Action.REGRADE:
            return services.dispute_regrade(**common, grade="serious", reason="r")
        case Action.COMMENT:
            return services.dispute_comment(**common, note="n")
    raise AssertionError(action)


ALL_STATES = [State.REGISTERED, State.ASSESSED, State.MEDIATING, State.AGREED, State.FAILED, State.REFERRED,
              State.FULFILLED, State.CLOSED]


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_action_is_refused_outside_its_states(state, mediation, register, clock, t0):
    d = _to_state(state, mediation, register, clock)
    assert d.state == state
    for action, rule in TRANSITIONS.items():
        if state in rule.sources:
            continue
        version, steps = Dispute.objects.get(pk=d.pk).version, Step.objects.count()
        with pytest.raises(Conflict) as exc:
            _call(action, d, mediation["users"], clock)
        assert exc.value.code == "invalid_transition", action
        assert exc.value.details["state"] == state
        assert Dispute.objects.get(pk=d.pk).version == version and Step.objects.count() == steps


@pytest.mark.parametrize("state", ALL_STATES)
def test_allowed_actions_match_the_table_and_succeed(state, mediation, register, clock, t0):
    """Every action the table allows from a state, offered to the community mediator, succeeds."""
    u = mediation["users"]
    d = _to_state(state, mediation, register, clock)
    offered = services.dispute_allowed_actions(dispute=d, user=u["mediator"])
    expected = {a for a, rule in TRANSITIONS.items() if state in rule.sources}
    assert set(offered) <= expected
    for action in offered:
        # each on a fresh dispute in the same state, so one action does not disturb the next
        fresh = _to_state(state, mediation, register, clock)
        clock.advance(minutes=5)
        _call(action, fresh, u, clock)
        step = Step.objects.filter(dispute_id=fresh.pk).last()
        assert step.action == action
        target = TRANSITIONS[action].target
        if target is not None:
            assert Dispute.objects.get(pk=fresh.pk).state == target


def test_registration_records_everything_and_notifies(mediation, register, clock, t0):
    u = mediation["users"]
    d = register(people_count=3, amount="1200.50")
    assert d.state == State.REGISTERED and d.level == "grid" and d.grade == "general"
    assert d.registered_at == t0
    # ten working days (the general deadline) after Monday 2 November: Monday 16 November, end of the day
    assert d.due_at.astimezone(t0.tzinfo) == dt.datetime(2026, 11, 16, 17, 30, tzinfo=t0.tzinfo)
    parties = list(d.parties.order_by("id"))
    assert [p.name for p in parties] == ["张三", "楼上住户赵六"]
    assert parties[0].resident == mediation["residents"]["zhang"] and parties[0].identity.startswith("r:")
    assert "13600003333" not in parties[1].phone and parties[1].phone_last4 == "3333"
    assert str(d.amount) == "1200.50" and d.people_count == 3
    assert Step.objects.get(dispute=d).action == Action.REGISTER
    entry = AuditEntry.objects.get(action="dispute.register", object_id=str(d.pk))
    assert entry.actor == u["gm"] and "13600003333" not in str(entry.after)
    # the community's mediators hear of it; a general dispute does not disturb the leaders
    assert Notification.objects.filter(user=u["mediator"], object_id=str(d.pk)).exists()
    assert not Notification.objects.filter(user=u["cleader"]).exists()


def test_a_serious_dispute_notifies_the_leaders_of_its_area_at_once(mediation, register, clock, t0):
    u = mediation["users"]
    d = register(grade="serious")
    notified = set(Notification.objects.filter(object_id=str(d.pk), kind="escalated").values_list("user__username",
                                                                                                   flat=True))
    assert {"cleader", "leader"} <= notified
    assert d.due_at.astimezone(t0.tzinfo).date() == dt.date(2026, 11, 5)  # three working days
    # regrading to serious later does the same
    other = register()
    services.dispute_regrade(dispute_id=other.pk, by=u["mediator"], grade="serious", reason="扬言报复")
    assert Notification.objects.filter(object_id=str(other.pk), user=u["cleader"], kind="escalated").exists()


@pytest.mark.parametrize(("change", "code"), [
    ({"parties": []}, "missing_party"),
    ({"parties": [{"kind": "person", "role": "applicant", "name": "一个人"}]}, "missing_party"),
    ({"parties": [{"kind": "person", "role": "applicant", "name": "甲"}, {"kind": "person", "role": "respondent"}]},
     "invalid_party"),
    ({"parties": [{"kind": "person", "role": "judge", "name": "甲"}, {"role": "respondent", "name": "乙"}]},
     "invalid_party"),
    ({"parties": [{"role": "applicant", "name": "甲", "phone": "12"}, {"role": "respondent", "name": "乙"}]},
     "invalid_party"),
    ({"parties": [{"role": "applicant", "name": "公司", "kind": "organisation", "credit_code": "91320500123"},
                  {"role": "respondent", "name": "乙"}]}, "invalid_party"),
    ({"parties": [{"role": "third", "name": "甲"}, {"role": "other", "name": "乙"}]}, "missing_party"),
    ({"grade": "urgent"}, "unknown_grade"),
    ({"type": "fight"}, "unknown_type"),
    ({"source": "rumour"}, "unknown_source"),
    ({"source": "case"}, "invalid"),
    ({"description": "  "}, "invalid"),
    ({"amount": "-5"}, "invalid"),
    ({"amount": "lots"}, "invalid"),
    ({"people_count": 0}, "invalid"),
    ({"grid": None}, "missing_location"),
    ({"grid": "999"}, "unknown_grid"),
    ({"grid": None, "lon": 100.0, "lat": 20.0}, "outside_jurisdiction"),
])
def test_bad_registrations_are_refused_and_write_nothing(change, code, mediation, register, clock, t0):
    with pytest.raises(InvalidInput) as exc:
        register(**change)
    assert exc.value.code == code
    assert exc.value.details and exc.value.details[0]["field"]
    assert not Dispute.objects.exists() and not Party.objects.exists() and not Step.objects.exists()


def test_a_resident_outside_my_area_cannot_be_a_party(mediation, register, clock, t0):
    wang = mediation["residents"]["wang"]  # lives in g3, not gm's grid
    with pytest.raises(InvalidInput) as exc:
        register(parties=[{"role": "applicant", "resident_id": wang.pk}, {"role": "respondent", "name": "乙"}])
    assert exc.value.details[0]["field"] == "parties[0].resident_id"


def test_registration_outside_scope_or_by_the_wrong_role_is_forbidden(mediation, register, clock, t0):
    u = mediation["users"]
    with pytest.raises(Forbidden):
        register(grid=mediation["g3"].code)  # gm's grid is g1
    for who in ("resident", "leader"):
        with pytest.raises(Forbidden):
            register(by=u[who])
    assert not Dispute.objects.exists()


def test_location_by_point_finds_the_grid(mediation, register, clock, t0):
    d = register(grid=None, lon=120.605, lat=31.305)
    assert d.grid == mediation["g1"] and d.lon == pytest.approx(120.605)


def test_roles_and_scope_on_the_workflow(mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    with pytest.raises(Forbidden):
        services.dispute_assess(dispute_id=d.pk, by=u["gm"], grade="general", risk_note="x")  # not a grid member's
    with pytest.raises(Forbidden):
        services.dispute_assess(dispute_id=d.pk, by=u["leader"], grade="general", risk_note="x")
    with pytest.raises(NotFound):
        services.dispute_assess(dispute_id=d.pk, by=u["mediator2"], grade="general", risk_note="x")  # community 2
    with pytest.raises(NotFound):
        services.dispute_comment(dispute_id=d.pk, by=u["resident"], note="x")
    services.dispute_assess(dispute_id=d.pk, by=u["cdispatcher"], grade="general", risk_note="x")
    # a grid member may mediate a matter of the grid, and then only they record its sessions
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["gm"].pk)
    d.refresh_from_db()
    assert d.level == "grid" and d.mediator == u["gm"]
    with pytest.raises(Forbidden):
        services.dispute_record_session(dispute_id=d.pk, by=u["officer"], held_at=clock.now, place="p",
                                        participants="a", record="r")
    services.dispute_record_session(dispute_id=d.pk, by=u["gm"], held_at=clock.now, place="p", participants="a",
                                    record="r")


def test_assigning_a_mediator_who_does_not_fit_is_refused(mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="x")
    for bad in (u["mediator2"].pk, u["dispatcher"].pk, 999999, "x"):
        with pytest.raises(InvalidInput) as exc:
            services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=bad)
        assert exc.value.details[0]["field"] == "mediator"
    assert Dispute.objects.get(pk=d.pk).state == State.ASSESSED


def test_stale_version_is_a_conflict(mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    services.dispute_comment(dispute_id=d.pk, by=u["mediator"], note="first", version=d.version)
    with pytest.raises(Conflict) as exc:
        services.dispute_comment(dispute_id=d.pk, by=u["mediator"], note="second", version=d.version)
    assert exc.value.code == "stale_version"
    assert Step.objects.filter(dispute=d, action="comment").count() == 1


def test_sessions_must_lie_between_registration_and_now(mediation, register, clock, t0):
    u = mediation["users"]
    d = _to_state(State.MEDIATING, mediation, register, clock)
    for when, code in ((t0 - dt.timedelta(days=1), "before_registration"),
                       (clock.now + dt.timedelta(days=1), "in_future"), ("yesterday", "invalid")):
        with pytest.raises(InvalidInput) as exc:
            services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=when, place="p",
                                            participants="a", record="r")
        assert exc.value.code == code and exc.value.details[0]["field"] == "held_at"
    with pytest.raises(InvalidInput):
        services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=clock.now, place="",
                                        participants="a", record="r")
    assert not Session.objects.exists()
    assert Dispute.objects.get(pk=d.pk).session_count == 0


def test_failed_sessions_are_counted_and_agreement_needs_a_session_and_terms(mediation, register, clock, t0):
    u = mediation["users"]
    d = _to_state(State.MEDIATING, mediation, register, clock)
    with pytest.raises(InvalidInput) as exc:
        services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=["t"])
    assert exc.value.code == "no_session"
    services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=clock.now, place="p",
                                    participants="a", record="r", outcome="failed")
    d.refresh_from_db()
    assert (d.session_count, d.failed_sessions) == (1, 1)
    for terms in ([], ["  "]):
        with pytest.raises(InvalidInput):
            services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=terms)
    with pytest.raises(InvalidInput):
        services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=["t"],
                               fulfil_by=dt.date(2020, 1, 1))
    agreement = services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=["甲赔偿乙500元", "乙撤回投诉"],
                                       fulfil_by="2026-11-30")
    d.refresh_from_db()
    assert d.state == State.AGREED and d.resolution_level == "community"
    assert agreement.terms == ["甲赔偿乙500元", "乙撤回投诉"] and agreement.number.startswith(d.number)


def test_referral_up_a_level_and_out(mediation, register, clock, t0):
    u = mediation["users"]
    d = _to_state(State.FAILED, mediation, register, clock)
    with pytest.raises(InvalidInput) as exc:
        services.dispute_refer(dispute_id=d.pk, by=u["mediator"], channel="community", reason="r")
    assert exc.value.code == "level_too_low"  # it is already at the community
    with pytest.raises(InvalidInput) as exc:
        services.dispute_refer(dispute_id=d.pk, by=u["mediator"], channel="arbitration", reason="r")
    assert exc.value.code == "reference_required"
    with pytest.raises(InvalidInput):
        services.dispute_refer(dispute_id=d.pk, by=u["mediator"], channel="moon", reason="r")
    services.dispute_refer(dispute_id=d.pk, by=u["mediator"], channel="street", reason="双方分歧大")
    d.refresh_from_db()
    assert (d.state, d.level, d.mediator, d.failed_sessions, d.referral_count) == ("referred", "street", None, 0, 1)
    assert Notification.objects.filter(user=u["mediator_s"], object_id=str(d.pk)).exists()
    # the community mediator can no longer act on its course; a community mediator is too low to take it
    with pytest.raises(Forbidden):
        services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator_s"].pk)
    with pytest.raises(InvalidInput) as exc:
        services.dispute_assign(dispute_id=d.pk, by=u["mediator_s"], mediator_id=u["mediator"].pk)
    assert exc.value.code == "level_too_low"
    services.dispute_assign(dispute_id=d.pk, by=u["mediator_s"], mediator_id=u["mediator_s"].pk)
    d.refresh_from_db()
    assert d.state == State.MEDIATING and d.level == "street"
    # out to litigation: followed up and closed as concluded elsewhere
    services.dispute_refer(dispute_id=d.pk, by=u["mediator_s"], channel="litigation", reference="(2026)苏0508民初88号",
                           reason="起诉")
    with pytest.raises(Conflict):
        services.dispute_assign(dispute_id=d.pk, by=u["mediator_s"], mediator_id=u["mediator_s"].pk)
    with pytest.raises(Conflict) as exc:
        services.dispute_close(dispute_id=d.pk, by=u["mediator_s"], note="判决")
    assert exc.value.code == "follow_up_required"
    services.dispute_follow_up(dispute_id=d.pk, by=u["mediator_s"], visited_at=clock.now, content="已判决，情绪稳定")
    with pytest.raises(InvalidInput):
        services.dispute_close(dispute_id=d.pk, by=u["mediator_s"])
    services.dispute_close(dispute_id=d.pk, by=u["mediator_s"], note="法院已判决")
    d.refresh_from_db()
    assert (d.state, d.outcome, d.referral_channel) == ("closed", "external", "litigation")


def test_unfulfilled_agreement_reopens_the_dispute(mediation, register, clock, t0):
    u = mediation["users"]
    d = _to_state(State.AGREED, mediation, register, clock)
    with pytest.raises(InvalidInput):
        services.dispute_check_fulfilment(dispute_id=d.pk, by=u["gm"], fulfilled=False)
    services.dispute_check_fulfilment(dispute_id=d.pk, by=u["gm"], fulfilled=False, note="未赔偿")
    d.refresh_from_db()
    assert (d.state, d.fulfilled, d.resolution_level) == ("failed", False, "")
    assert Agreement.objects.get(dispute=d).fulfilment_note == "未赔偿"


def test_closing_needs_a_settled_follow_up(mediation, register, clock, t0):
    u = mediation["users"]
    d = _to_state(State.FULFILLED, mediation, register, clock)
    with pytest.raises(Conflict) as exc:
        services.dispute_close(dispute_id=d.pk, by=u["mediator"])
    assert exc.value.code == "follow_up_required"
    services.dispute_follow_up(dispute_id=d.pk, by=u["gm"], visited_at=clock.now, content="又吵起来", stable=False)
    with pytest.raises(Conflict) as exc:
        services.dispute_close(dispute_id=d.pk, by=u["mediator"])
    assert exc.value.code == "not_settled"
    clock.advance(days=3)
    services.dispute_follow_up(dispute_id=d.pk, by=u["gm"], visited_at=clock.now, content="平稳", satisfied=True)
    services.dispute_close(dispute_id=d.pk, by=u["mediator"])
    d.refresh_from_db()
    assert (d.state, d.outcome, d.follow_up_count) == ("closed", "resolved", 2)


def test_a_withdrawn_dispute_closes_with_its_reason(mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    with pytest.raises(InvalidInput):
        services.dispute_close(dispute_id=d.pk, by=u["mediator"])
    services.dispute_close(dispute_id=d.pk, by=u["mediator"], note="双方已自行和解")
    d.refresh_from_db()
    assert (d.state, d.outcome) == ("closed", "withdrawn")


def test_every_write_leaves_an_audit_entry(mediation, register, clock, t0):
    d = _to_state(State.CLOSED, mediation, register, clock)
    actions = list(AuditEntry.objects.filter(object_type="disputes.dispute", object_id=str(d.pk))
                   .values_list("action", flat=True))
    assert actions == ["dispute.register", "dispute.assess", "dispute.assign", "dispute.session", "dispute.agree",
                       "dispute.check_fulfilment", "dispute.follow_up", "dispute.close"]
    steps = list(Step.objects.filter(dispute=d).values_list("action", flat=True))
    assert steps == [a.split(".")[1] for a in actions]


# --- conversion from a case ------------------------------------------------------------------------------------

@pytest.fixture
def dispute_case(mediation, clock, t0):
    from gridgov.cases.categories import categories_upsert
    from gridgov.cases.services import case_report

    categories_upsert(rows=[
        {"code": "X01", "name": "矛盾纠纷", "kind": "social", "parent": None},
        {"code": "X0101", "name": "邻里纠纷", "kind": "social", "parent": "X01", "is_dispute": True},
        {"code": "X02", "name": "市容", "kind": "event", "parent": None},
        {"code": "X0201", "name": "暴露垃圾", "kind": "event", "parent": "X02"},
    ])
    case, _ = case_report(by=mediation["users"]["gm"], category="X0101", description="楼上楼下因噪音争吵",
                          lon=120.605, lat=31.305, address="人民路1号")
    return case


def test_a_case_in_a_dispute_category_converts_keeping_its_history(mediation, dispute_case, clock):
    from gridgov.cases.models import Case

    u = mediation["users"]
    clock.advance(hours=1)
    d = services.dispute_from_case(case_id=dispute_case.pk, by=u["dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"], version=dispute_case.version, note="转调解")
    case = Case.objects.get(pk=dispute_case.pk)
    assert case.state == "converted"
    assert case.steps.last().action == "convert" and case.steps.last().data["dispute"] == d.number
    assert (d.source, d.case, d.source_reference, d.description) == ("case", case, case.number, "楼上楼下因噪音争吵")
    assert d.grid == mediation["g1"] and d.lon == pytest.approx(case.lon)
    from gridgov.disputes.selectors import case_history

    assert [s.action for s in case_history(dispute=d)] == ["report", "convert"]
    # a second conversion is refused
    with pytest.raises(Conflict):
        services.dispute_from_case(case_id=case.pk, by=u["dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"])


def test_only_dispute_categories_convert_and_nothing_is_written_on_refusal(mediation, dispute_case, clock):
    from gridgov.cases.models import Case
    from gridgov.cases.services import case_report

    u = mediation["users"]
    case, _ = case_report(by=u["gm"], category="X0201", description="垃圾", lon=120.605, lat=31.305)
    with pytest.raises(Conflict) as exc:
        services.dispute_from_case(case_id=case.pk, by=u["dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"])
    assert exc.value.code == "not_a_dispute"
    with pytest.raises(InvalidInput):  # one party only
        services.dispute_from_case(case_id=dispute_case.pk, by=u["dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"][:1])
    with pytest.raises(NotFound):  # community 2's dispatcher does not see the case
        services.dispute_from_case(case_id=dispute_case.pk, by=u["other_dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"])
    with pytest.raises(Conflict) as exc:  # stale case version
        services.dispute_from_case(case_id=dispute_case.pk, by=u["dispatcher"], type="neighbourhood",
                                   parties=mediation["parties"], version=dispute_case.version + 5)
    assert exc.value.code == "stale_version"
    assert not Dispute.objects.exists()
    assert Case.objects.get(pk=dispute_case.pk).state == "reported"
