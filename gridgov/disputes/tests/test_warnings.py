"""Each early-warning rule, positive and negative, with its reason and who should act; and scope."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.disputes import services
from gridgov.disputes.models import Dispute
from gridgov.disputes.selectors import dispute_warnings


@pytest.fixture(autouse=True)
def english_ui():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def t0(clock, monkeypatch):
    from gridgov.disputes import selectors

    monkeypatch.setattr(selectors, "_now", clock)  # the warnings' "now" is the services' clock
    return clock.set(2026, 11, 2, 10)


def _rules(user, dispute=None, now=None) -> dict[str, list]:
    found: dict[str, list] = {}
    for w in dispute_warnings(user=user, now=now):
        if dispute is None or w.dispute.pk == dispute.pk:
            found.setdefault(w.rule, []).append(w)
    return found


def _strangers(a: str, b: str) -> list[dict]:
    return [{"role": "applicant", "name": a}, {"role": "respondent", "name": b}]


def test_a_quiet_dispute_raises_no_warning(mediation, register, t0):
    d = register()
    assert _rules(mediation["users"]["mediator"], d) == {}


def test_repeated_disputes_between_the_same_parties(mediation, register, clock, t0):
    u = mediation["users"]
    first = register(address="")
    clock.advance(days=60)
    second = register(address="", type="housing")  # the same two parties (a resident and a phone)
    found = _rules(u["mediator"], second)
    assert "repeated_parties" in found
    warning = found["repeated_parties"][0]
    assert first.number in warning.reason and "365" in warning.reason
    assert any("调解员甲" in who or "mediators" in who for who in warning.act_by)
    # the first one is flagged too, and a dispute sharing only one party is not
    assert "repeated_parties" in _rules(u["mediator"], first)
    third = register(address="", parties=[mediation["parties"][0], {"role": "respondent", "name": "另一户"}])
    assert "repeated_parties" not in _rules(u["mediator"], third)


def test_repeats_are_matched_by_phone_and_not_beyond_the_window(mediation, register, clock, t0):
    u = mediation["users"]
    register(address="", parties=[{"role": "applicant", "name": "钱七", "phone": "13511112222"},
                                  {"role": "respondent", "name": "孙八", "phone": "13533334444"}])
    clock.advance(days=30)
    # the same people written differently, found by their phones
    again = register(address="", parties=[{"role": "applicant", "name": "钱 七", "phone": "+86 135 1111 2222"},
                                          {"role": "respondent", "name": "孙老八", "phone": "13533334444"}])
    assert "repeated_parties" in _rules(u["mediator"], again)
    clock.advance(days=400)
    late = register(address="", parties=[{"role": "applicant", "name": "钱七", "phone": "13511112222"},
                                         {"role": "respondent", "name": "孙八", "phone": "13533334444"}])
    found = _rules(u["mediator"], late)
    # `again` lies 400 days back, beyond the 365-day window
    assert "repeated_parties" not in found


def test_repeated_disputes_at_the_same_address(mediation, register, clock, t0):
    u = mediation["users"]
    register(parties=_strangers("甲", "乙"), address="人民路1号1幢1单元101室")
    clock.advance(days=10)
    d = register(parties=_strangers("丙", "丁"), address="人民路 1号 1幢1单元 101室")
    found = _rules(u["mediator"], d)
    assert "repeated_address" in found and "repeated_parties" not in found
    elsewhere = register(parties=_strangers("戊", "己"), address="干将路8号")
    assert "repeated_address" not in _rules(u["mediator"], elsewhere)


def test_disputes_close_together_count_as_the_same_place(mediation, register, clock, t0):
    u = mediation["users"]
    register(parties=_strangers("甲", "乙"), address="", grid=None, lon=120.6050, lat=31.3050)
    near = register(parties=_strangers("丙", "丁"), address="", grid=None, lon=120.6051, lat=31.3051)  # ~15 m
    far = register(parties=_strangers("戊", "己"), address="", grid=None, lon=120.6080, lat=31.3080)
    assert "repeated_address" in _rules(u["mediator"], near)
    assert "repeated_address" not in _rules(u["mediator"], far)


def test_many_people_involved(mediation, register, t0):
    u = mediation["users"]
    big = register(people_count=5, address="")
    small = register(people_count=4, parties=_strangers("甲", "乙"), address="")
    found = _rules(u["mediator"], big)
    assert "many_people" in found and "5" in found["many_people"][0].reason
    assert any("leaders of" in who for who in found["many_people"][0].act_by)
    assert "many_people" not in _rules(u["mediator"], small)


def test_a_rising_grade(mediation, register, t0):
    u = mediation["users"]
    d = register()
    services.dispute_regrade(dispute_id=d.pk, by=u["mediator"], grade="major", reason="情绪激动")
    found = _rules(u["mediator"], d)
    assert "rising_grade" in found and "General" in found["rising_grade"][0].reason
    lowered = register(grade="major", parties=_strangers("甲", "乙"), address="")
    services.dispute_regrade(dispute_id=lowered.pk, by=u["mediator"], grade="general", reason="缓和")
    assert "rising_grade" not in _rules(u["mediator"], lowered)


def test_a_party_from_a_key_population(mediation, register, t0):
    from gridgov.residents.models import ResidentTag

    u = mediation["users"]
    tags = mediation["tags"]
    sensitive = next(t for t in tags.values() if t.sensitive)
    open_tag = next(t for t in tags.values() if not t.sensitive)
    zhang = mediation["residents"]["zhang"]
    d = register()
    assert "key_population" not in _rules(u["gm"], d)
    ResidentTag.objects.create(resident=zhang, tag=sensitive, grade=1)
    # the grid member without the permission learns that there is a key population, not which
    found = _rules(u["gm"], d)["key_population"][0]
    assert sensitive.name not in found.reason and "张三" in found.reason
    assert sensitive.name in _rules(u["officer"], d)["key_population"][0].reason
    ResidentTag.objects.create(resident=zhang, tag=open_tag, grade=2)
    assert open_tag.name in _rules(u["gm"], d)["key_population"][0].reason
    ResidentTag.objects.filter(resident=zhang).update(active=False)
    assert "key_population" not in _rules(u["gm"], d)


def test_the_deadline_near_or_passed(mediation, register, clock, t0):
    u = mediation["users"]
    d = register(grade="serious")  # three working days: the end of Thursday 5 November
    assert "due" not in _rules(u["mediator"], d, now=t0)
    near = _rules(u["mediator"], d, now=dt.datetime(2026, 11, 4, 18, 0, tzinfo=t0.tzinfo))
    assert "2026-11-05" in near["due"][0].reason and "passed" not in near["due"][0].reason
    late = _rules(u["mediator"], d, now=dt.datetime(2026, 11, 6, 9, 0, tzinfo=t0.tzinfo))
    assert "passed" in late["due"][0].reason


def test_an_unsettled_follow_up(mediation, register, clock, t0):
    u = mediation["users"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="r")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    clock.advance(hours=1)
    services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=clock.now, place="p",
                                    participants="a", record="r", outcome="agreed")
    services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="f", terms=["t"])
    services.dispute_check_fulfilment(dispute_id=d.pk, by=u["gm"], fulfilled=True)
    services.dispute_follow_up(dispute_id=d.pk, by=u["gm"], visited_at=clock.now, content="双方又争吵", stable=False)
    found = _rules(u["mediator"], d)
    assert "unsettled" in found and "双方又争吵" in found["unsettled"][0].reason
    clock.advance(days=2)
    services.dispute_follow_up(dispute_id=d.pk, by=u["gm"], visited_at=clock.now, content="平稳")
    assert "unsettled" not in _rules(u["mediator"], d)


def test_closed_disputes_and_other_areas_do_not_show(mediation, register, clock, t0):
    u = mediation["users"]
    d = register(people_count=9)
    assert _rules(u["mediator2"]) == {}  # community 2
    assert "many_people" in _rules(u["leader"], d)  # the city leader sees all
    services.dispute_close(dispute_id=d.pk, by=u["mediator"], note="撤回")
    assert _rules(u["leader"], d) == {}


def test_repeats_outside_my_area_are_counted_not_named(mediation, register, clock, t0):
    u = mediation["users"]
    other = services.dispute_register(by=u["gm3"], type="neighbourhood", source="screening", description="d",
                                      parties=_strangers("周九", "吴十"), grid=mediation["g3"].code)
    clock.advance(days=5)
    mine = register(parties=_strangers("周九", "吴十"), address="")
    reason = _rules(u["mediator"], mine)["repeated_parties"][0].reason
    assert other.number not in reason and "1 outside your area" in reason
    assert Dispute.objects.count() == 2
