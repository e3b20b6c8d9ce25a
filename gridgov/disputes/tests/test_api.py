"""The disputes JSON API over bearer tokens: intake with masked phones, the whole mediation loop, the 4xx answers
(missing party, unknown grade, wrong state, stale version, out of scope, wrong role, bad dates, odd bodies),
the boards (warnings, measures, map, queue), converting a case, the agreement documents and the OpenAPI
document."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types

import pytest
from django.utils import timezone

from gridgov.cases.models import Case
from gridgov.core.errors import NotFound
from gridgov.core.testing import Api
from gridgov.disputes import services
from gridgov.disputes.models import Dispute, FollowUp, Party, Session, Step

pytestmark = pytest.mark.django_db

IN_G1 = {"lon": 120.605, "lat": 31.305}
PHONE = "13600003333"


@pytest.fixture
def api(client, mediation):
    cache = {}

    def as_user(name):
        if name not in cache:
            cache[name] = Api(client, mediation["users"][name])
        return cache[name]

    return as_user


def body(mediation, **change):
    data = {"type": "neighbourhood", "source": "screening", "description": "楼上漏水，双方争执",
            "grid": mediation["g1"].code, "address": "人民路1号1幢1单元101室",
            "parties": [dict(p) for p in mediation["parties"]]}
    data.update(change)
    return data


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


def fields(response) -> list[str]:
    return [d["field"] for d in response.json()["details"]]


def now_iso(**delta) -> str:
    return (timezone.now() + dt.timedelta(**delta)).isoformat()


# --- intake --------------------------------------------------------------------------------------------------

def test_register_answers_201_with_two_parties_and_only_a_masked_phone(api, mediation):
    response = api("gm").post("/disputes", body(mediation, people_count=3, amount="1200.5", grade="major"))
    created = ok(response, 201)
    text = response.content.decode()
    assert created["state"] == "registered" and created["version"] == 1 and created["number"].startswith("J")
    assert created["grade"] == "major" and created["grade_colour"] == "#f07f13" and created["grade_label"]
    assert created["grid"]["code"] == mediation["g1"].code and created["people_count"] == 3
    assert created["amount"] == "1200.50" and created["source"] == "screening" and created["case"] is None
    zhang = mediation["residents"]["zhang"]
    assert [(p["role"], p["name"], p["resident_id"]) for p in created["parties"]] == [
        ("applicant", "张三", zhang.pk), ("respondent", "楼上住户赵六", None)]
    assert created["parties"][1]["phone"] == "136****3333"
    # neither the number nor its ciphertext anywhere in the answer
    stored = Party.objects.get(name="楼上住户赵六")
    assert PHONE not in text and stored.phone and stored.phone not in text
    assert mediation["phones"]["zhang"] not in text
    assert [s["action"] for s in created["timeline"]] == ["register"]
    assert created["due_at"] and created["url"] == f"/disputes/{created['id']}/"
    assert created["agreement"] is None and created["sessions"] == [] and created["follow_ups"] == []
    # the same detail on GET, for the community mediator, with what they may do
    detail = ok(api("mediator").get(f"/disputes/{created['id']}"))
    assert detail["parties"] == created["parties"]
    assert {"assess", "close", "regrade", "comment"} <= set(detail["allowed_actions"])
    assert "agree" not in detail["allowed_actions"]


def test_a_garbled_phone_is_shown_as_stars(api, mediation, register):
    d = register()
    Party.objects.filter(dispute=d, name="楼上住户赵六").update(phone="gg1:nokey:AAAA")
    detail = ok(api("mediator").get(f"/disputes/{d.pk}"))
    assert detail["parties"][1]["phone"] == "***" and "AAAA" not in json.dumps(detail)


def test_register_by_point(api, mediation):
    created = ok(api("mediator").post("/disputes", body(mediation, grid=None, **IN_G1)), 201)
    assert created["grid"]["code"] == mediation["g1"].code and created["lon"] == pytest.approx(120.605)
    outside = api("mediator").post("/disputes", body(mediation, grid=None, lon=121.5, lat=31.305))
    assert outside.status_code == 422 and outside.json()["code"] == "outside_jurisdiction"


@pytest.mark.parametrize("change, code, field", [
    ({"parties": []}, "missing_party", "parties"),
    ({"parties": "張三 and 赵六"}, "validation_error", "parties"),
    ({"parties": [{"kind": "person", "role": "applicant", "name": "甲"}]}, "missing_party", "parties"),
    ({"parties": [{"role": "third", "name": "甲"}, {"role": "other", "name": "乙"}]}, "missing_party", "parties"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "boss", "name": "乙"}]}, "invalid_party",
     "parties[1].role"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "kind": "robot", "name": "乙"}]},
     "invalid_party", "parties[1].kind"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙", "age": 3}]},
     "validation_error", "parties.1.age"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent"}]}, "invalid_party", "parties[1].name"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙", "phone": "12"}]},
     "invalid_party", "parties[1].phone"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "resident_id": 10**30}]},
     "validation_error", "parties.1.resident_id"),
    ({"parties": [{"role": "applicant", "name": "甲"}, {"role": "respondent", "resident_id": 999999}]},
     "invalid_party", "parties[1].resident_id"),
    ({"parties": ["甲", "乙"]}, "validation_error", "parties.0"),
    ({"grade": "apocalyptic"}, "unknown_grade", "grade"),
    ({"type": "feud"}, "unknown_type", "type"),
    ({"source": "rumour"}, "unknown_source", "source"),
    ({"source": "case"}, "invalid", "source"),
    ({"amount": 1e300}, "validation_error", "amount"),
    ({"amount": "a lot"}, "validation_error", "amount"),
    ({"amount": -5}, "validation_error", "amount"),
    ({"amount": "NaN"}, "validation_error", "amount"),
    ({"people_count": -1}, "validation_error", "people_count"),
    ({"people_count": 10**40}, "validation_error", "people_count"),
    ({"people_count": "many"}, "validation_error", "people_count"),
    ({"description": "  "}, "invalid", "description"),
    ({"description": "漏水\x00"}, "validation_error", "description"),
    ({"grid": "nope"}, "unknown_grid", "grid"),
    ({"grid": None}, "missing_location", "location"),
    ({"lon": 500, "lat": 31.3, "grid": None}, "validation_error", "lon"),
    ({"coord_sys": "utm"}, "validation_error", "coord_sys"),
    ({"title": "x" * 101}, "validation_error", "title"),
    ({"colour": "red"}, "validation_error", "colour"),
])
def test_bad_registrations_are_422_naming_the_field_and_write_nothing(api, mediation, change, code, field):
    response = api("gm").post("/disputes", body(mediation, **change))
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert field in fields(response)
    assert Dispute.objects.count() == 0 and Party.objects.count() == 0


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', "null", ""])
def test_a_body_that_is_not_a_json_object_is_a_4xx(api, mediation, raw):
    response = api("gm").post("/disputes", raw=raw)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["code"]
    assert Dispute.objects.count() == 0


def test_a_resident_sees_no_disputes_and_may_not_register(api, mediation, register):
    d = register()
    assert ok(api("resident").get("/disputes")) == {"items": [], "count": 0}
    assert api("resident").get(f"/disputes/{d.pk}").status_code == 404
    assert api("resident").post(f"/disputes/{d.pk}/comments", {"note": "我也来说两句"}).status_code == 404
    response = api("resident").post("/disputes", body(mediation))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    for path in ("warnings", "measures", "map", "queue"):
        assert api("resident").get(f"/disputes/{path}").status_code == 403, path
    assert Dispute.objects.count() == 1


def test_no_credentials_is_401(client, mediation, register):
    d = register()
    anonymous = Api(client)
    assert anonymous.get("/disputes").status_code == 401
    assert anonymous.get(f"/disputes/{d.pk}").json()["code"] == "unauthorized"
    assert anonymous.post("/disputes", body(mediation)).status_code == 401
    assert anonymous.post(f"/disputes/{d.pk}/assess", {"grade": "major", "risk_note": "x"}).status_code == 401
    assert Dispute.objects.count() == 1


# --- reads ---------------------------------------------------------------------------------------------------

def test_list_is_scoped_filtered_and_paginated(api, mediation, register):
    u = mediation["users"]
    first = register(title="漏水")
    second = register(title="噪音", grade="serious")
    third = register(by=u["gm3"], grid=mediation["g3"].code, title="占道",
                     parties=[{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙"}])
    services.dispute_assess(dispute_id=second.pk, by=u["mediator"], grade="serious", risk_note="可能激化")

    def numbers(user, **params):
        return sorted(d["number"] for d in ok(api(user).get("/disputes", **params))["items"])

    assert numbers("mediator") == sorted([first.number, second.number])
    assert numbers("mediator2") == [third.number]
    assert numbers("admin") == sorted([first.number, second.number, third.number])
    assert numbers("gm") == sorted([first.number, second.number]) and numbers("gm3") == [third.number]
    assert numbers("mediator", state="assessed") == [second.number]
    assert numbers("mediator", state=["assessed", "registered"]) == sorted([first.number, second.number])
    assert numbers("mediator", grade="serious") == [second.number]
    assert numbers("mediator", q="噪音") == [second.number]
    assert numbers("admin", area=mediation["community2"].code) == [third.number]
    assert numbers("mediator", grid=mediation["g2"].code) == []
    assert numbers("mediator", open="false") == []
    page = ok(api("admin").get("/disputes", ordering="number", page=2, page_size=2))
    assert page["count"] == 3 and [d["number"] for d in page["items"]] == [third.number]
    row = ok(api("mediator").get("/disputes", state="assessed"))["items"][0]
    assert row["grade_colour"] == "#d62828" and row["state_label"] == "Risk assessed" and row["mediator"] is None
    assert "parties" not in row


@pytest.mark.parametrize("params, field", [
    ({"state": "bogus"}, "state"),
    ({"grade": "huge"}, "grade"),
    ({"type": "feud"}, "type"),
    ({"ordering": "password"}, "ordering"),
    ({"open": "perhaps"}, "open"),
    ({"registered_from": "yesterday"}, "registered_from"),
    ({"mediator": "me"}, "mediator"),
    ({"mediator": 10**30}, "mediator"),
    ({"page": 0}, "page"),
    ({"page": 10**30}, "page"),
])
def test_a_bad_filter_is_a_422_naming_it(api, mediation, register, params, field):
    register()
    response = api("mediator").get("/disputes", **params)
    assert response.status_code == 422, response.content
    assert response.json()["code"] in ("invalid_filter", "validation_error")
    assert field in fields(response)


def test_out_of_scope_and_missing_disputes_are_404(api, mediation, register):
    d = register()
    for who in ("mediator2", "gm3", "other_dispatcher"):
        response = api(who).get(f"/disputes/{d.pk}")
        assert response.status_code == 404 and response.json()["code"] == "not_found", who
        action = api(who).post(f"/disputes/{d.pk}/assess", {"grade": "major", "risk_note": "跨区"})
        assert action.status_code == 404, who
    assert api("admin").get("/disputes/999999").status_code == 404
    assert api("admin").get(f"/disputes/{10**30}").status_code == 404
    assert api("admin").post(f"/disputes/{10**30}/comments", {"note": "x"}).status_code == 404
    stored = Dispute.objects.get(pk=d.pk)
    assert stored.state == "registered" and stored.version == 1


# --- the workflow ---------------------------------------------------------------------------------------------

def test_the_whole_mediation_loop_over_the_api(api, mediation):
    u = mediation["users"]
    created = ok(api("gm").post("/disputes", body(mediation)), 201)
    path = f"/disputes/{created['id']}"

    def act(who, action, data=None, status=200):
        return ok(api(who).post(f"{path}/{action}", data or {}), status)

    d = act("mediator", "assess", {"grade": "general", "risk_note": "邻里小事，可调", "version": 1})
    assert d["state"] == "assessed" and d["version"] == 2 and d["risk_note"] == "邻里小事，可调"
    assert "assign" in d["allowed_actions"]
    d = act("mediator", "assign", {"mediator_id": u["mediator"].pk, "committee": "社区人民调解委员会",
                                   "version": d["version"]})
    assert d["state"] == "mediating" and d["mediator"] == {"id": u["mediator"].pk, "name": "调解员甲"}
    assert d["level"] == "community" and d["committee"] == "社区人民调解委员会"
    assert {"session", "fail", "refer"} <= set(d["allowed_actions"])
    d = act("mediator", "sessions", {"held_at": now_iso(minutes=-1), "place": "社区调解室",
                                     "participants": "张三、赵六", "record": "双方陈述", "outcome": "agreed"})
    assert d["session_count"] == 1 and d["state"] == "mediating"
    assert [(s["place"], s["outcome"], s["mediator"]["name"]) for s in d["sessions"]] == [
        ("社区调解室", "agreed", "调解员甲")]
    fulfil_by = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    d = act("mediator", "agreement", {"facts": "楼上漏水致楼下受损", "terms": ["赵六赔偿500元", "七日内修复"],
                                      "fulfil_by": fulfil_by, "fulfilment": "现金"})
    assert d["state"] == "agreed" and d["resolution_level"] == "community"
    agreement = d["agreement"]
    assert agreement["terms"] == ["赵六赔偿500元", "七日内修复"] and agreement["fulfil_by"] == fulfil_by
    assert agreement["number"].startswith(created["number"]) and agreement["mediator"]["id"] == u["mediator"].pk
    assert agreement["docx_url"] == f"/api/v1{path}/agreement.docx"
    assert agreement["pdf_url"] == f"/api/v1{path}/agreement.pdf"
    d = act("gm", "fulfilment", {"fulfilled": True, "note": "已赔付"})
    assert d["state"] == "fulfilled" and d["fulfilled"] is True
    assert d["agreement"]["fulfilment_note"] == "已赔付"
    d = act("gm", "follow-ups", {"visited_at": now_iso(), "content": "双方关系缓和", "form": "phone",
                                 "satisfied": True})
    assert d["follow_up_count"] == 1
    assert [(f["form"], f["stable"], f["satisfied"]) for f in d["follow_ups"]] == [("phone", True, True)]
    d = act("mediator", "comments", {"note": "回访良好，可结案"})
    d = act("mediator", "close", {"note": "调解成功", "version": d["version"]})
    assert d["state"] == "closed" and d["outcome"] == "resolved" and d["closed_at"]
    assert d["allowed_actions"] == ["comment"]
    assert [s["action"] for s in d["timeline"]] == [
        "register", "assess", "assign", "session", "agree", "check_fulfilment", "follow_up", "comment", "close"]
    assert d["timeline"][1]["actor"] == "调解员甲" and d["timeline"][1]["action_label"] == "Assess the risk"
    assert act("mediator", "close", {}, status=409)["code"] == "invalid_transition"


def test_fail_refer_regrade_and_an_unfulfilled_agreement(api, mediation, register):
    u = mediation["users"]
    d = register()
    path = f"/disputes/{d.pk}"

    def act(who, action, data=None, status=200):
        return ok(api(who).post(f"{path}/{action}", data or {}), status)

    act("mediator", "assess", {"grade": "general", "risk_note": "一般"})
    body_ = act("dispatcher", "regrade", {"grade": "major", "reason": "涉及多户"})
    assert body_["grade"] == "major" and body_["initial_grade"] == "general"
    assert act("dispatcher", "regrade", {"grade": "major", "reason": "x"}, status=422)["details"][0][
        "field"] == "grade"
    assert act("dispatcher", "regrade", {"grade": "serious"}, status=422)["details"][0]["field"] == "reason"
    assert act("dispatcher", "regrade", {"grade": "serious", "reason": " "}, status=422)["code"] == \
        "reason_required"
    act("mediator", "assign", {"mediator_id": u["mediator"].pk})
    act("mediator", "sessions", {"held_at": now_iso(), "place": "社区", "participants": "双方", "record": "无果",
                                 "outcome": "failed"})
    assert act("mediator", "fail", {"reason": "双方分歧大"})["state"] == "failed"
    # refer: up a level, or out (the reference is then required)
    assert act("mediator", "refer", {"channel": "litigation", "reason": "起诉"}, status=422)["code"] == \
        "reference_required"
    assert act("mediator", "refer", {"channel": "moon", "reason": "x"}, status=422)["code"] == "unknown_channel"
    assert act("mediator", "refer", {"channel": "community", "reason": "x"}, status=422)["code"] == \
        "level_too_low"
    body_ = act("mediator", "refer", {"channel": "street", "reason": "社区调解不成"})
    assert body_["state"] == "referred" and body_["level"] == "street" and body_["mediator"] is None
    assert act("mediator_s", "assign", {"mediator_id": 999999}, status=422)["code"] == "unknown_mediator"
    assert act("mediator_s", "assign", {"mediator_id": u["mediator2"].pk}, status=422)["details"][0][
        "field"] == "mediator"
    # the community mediator may no longer assign; the street mediator takes it
    assert act("mediator", "assign", {"mediator_id": u["mediator"].pk}, status=403)["code"] == "forbidden"
    assert act("mediator_s", "assign", {"mediator_id": u["mediator"].pk}, status=422)["code"] == "level_too_low"
    act("mediator_s", "assign", {"mediator_id": u["mediator_s"].pk})
    act("mediator_s", "sessions", {"held_at": now_iso(), "place": "街道", "participants": "双方", "record": "达成"})
    assert act("mediator_s", "agreement", {"facts": "x", "terms": []}, status=422)["details"][0]["field"] == "terms"
    assert act("mediator_s", "agreement", {"facts": "x", "terms": ["赔偿"], "fulfil_by": "2001-01-01"},
               status=422)["details"][0]["field"] == "fulfil_by"
    act("mediator_s", "agreement", {"facts": "x", "terms": ["赔偿"]})
    assert act("mediator_s", "fulfilment", {"fulfilled": False}, status=422)["code"] == "reason_required"
    body_ = act("mediator_s", "fulfilment", {"fulfilled": False, "note": "未赔付"})
    assert body_["state"] == "failed" and body_["fulfilled"] is False


def test_wrong_state_is_409_listing_the_allowed_actions(api, mediation, register):
    d = register()
    response = api("mediator").post(f"/disputes/{d.pk}/agreement", {"facts": "x", "terms": ["y"]})
    assert response.status_code == 409
    answer = response.json()
    assert answer["code"] == "invalid_transition" and answer["details"]["state"] == "registered"
    assert {"assess", "close", "comment"} <= set(answer["details"]["allowed_actions"])
    assert "agree" not in answer["details"]["allowed_actions"]
    assert Dispute.objects.get(pk=d.pk).version == 1


def test_wrong_role_is_403(api, mediation, register):
    d = register()
    response = api("leader").post(f"/disputes/{d.pk}/assess", {"grade": "major", "risk_note": "x"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    services.dispute_assess(dispute_id=d.pk, by=mediation["users"]["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=d.pk, by=mediation["users"]["mediator"],
                            mediator_id=mediation["users"]["mediator"].pk)
    # a grid member who is not the dispute's mediator records no sessions
    session = {"held_at": now_iso(), "place": "x", "participants": "x", "record": "x"}
    assert api("gm").post(f"/disputes/{d.pk}/sessions", session).status_code == 403
    assert Session.objects.count() == 0 and Dispute.objects.get(pk=d.pk).version == 3


def test_stale_version_is_409(api, mediation, register):
    d = register()
    ok(api("mediator").post(f"/disputes/{d.pk}/comments", {"note": "先了解情况", "version": 1}))
    response = api("mediator").post(f"/disputes/{d.pk}/assess", {"grade": "major", "risk_note": "x", "version": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version" and response.json()["details"] == {"version": 2}
    assert Dispute.objects.get(pk=d.pk).state == "registered"
    assert ok(api("mediator").post(f"/disputes/{d.pk}/assess", {"grade": "major", "risk_note": "x",
                                                                "version": 2}))["version"] == 3


def test_a_session_dated_before_the_registration_is_422_and_writes_nothing(api, mediation, register):
    u = mediation["users"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    steps = Step.objects.count()
    session = {"place": "社区", "participants": "双方", "record": "x"}
    path = f"/disputes/{d.pk}/sessions"
    response = api("mediator").post(path, {**session, "held_at": now_iso(days=-2)})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "before_registration" and fields(response) == ["held_at"]
    future = api("mediator").post(path, {**session, "held_at": now_iso(days=2)})
    assert future.status_code == 422 and future.json()["code"] == "in_future"
    for held_at in ("yesterday", 12, None, "2026-13-45T99:00"):
        response = api("mediator").post(path, {**session, "held_at": held_at})
        assert response.status_code == 422 and fields(response) == ["held_at"], held_at
    for change, field in [({"outcome": "draw"}, "outcome"), ({"place": " "}, "place"),
                          ({"record": "\x00"}, "record")]:
        response = api("mediator").post(path, {**session, "held_at": now_iso(), **change})
        assert response.status_code == 422 and field in fields(response), change
    assert Session.objects.count() == 0 and Step.objects.count() == steps
    assert Dispute.objects.get(pk=d.pk).session_count == 0


@pytest.mark.parametrize("action, data, field", [
    ("assess", {"grade": "apocalyptic", "risk_note": "x"}, "grade"),
    ("assess", {"grade": "major"}, "risk_note"),
    ("assess", {"grade": "major", "risk_note": "x", "version": 0}, "version"),
    ("assess", {"grade": "major", "risk_note": "x", "version": "one"}, "version"),
    ("assess", {"grade": "major", "risk_note": "x", "version": 10**30}, "version"),
    ("assess", {"grade": ["major"], "risk_note": "x"}, "grade"),
    ("assess", {"grade": "major", "risk_note": "x", "extra": 1}, "extra"),
    ("assign", {"mediator_id": "me"}, "mediator_id"),
    ("assign", {"mediator_id": 10**30}, "mediator_id"),
    ("follow-ups", {"visited_at": "soon", "content": "x"}, "visited_at"),
    ("fulfilment", {"fulfilled": "perhaps"}, "fulfilled"),
    ("agreement", {"facts": "x", "terms": "all of them"}, "terms"),
    ("agreement", {"facts": "x", "terms": ["y" * 2001]}, "terms"),
    ("agreement", {"facts": "x", "terms": ["y"], "fulfil_by": "soon"}, "fulfil_by"),
    ("refer", {"channel": "street"}, "reason"),
    ("comments", {}, "note"),
])
def test_bad_action_bodies_are_422_naming_the_field(api, mediation, register, action, data, field):
    d = register()
    response = api("mediator").post(f"/disputes/{d.pk}/{action}", data)
    assert response.status_code == 422, response.content
    assert field in fields(response)
    stored = Dispute.objects.get(pk=d.pk)
    assert stored.version == 1 and stored.state == "registered" and FollowUp.objects.count() == 0


# --- boards --------------------------------------------------------------------------------------------------

def test_warnings_name_the_rule_the_reason_and_who_should_act(api, mediation, register):
    u = mediation["users"]
    crowd = register(people_count=8, title="八户漏水")
    register(by=u["gm3"], grid=mediation["g3"].code, address="十全街1号",
             parties=[{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙"}], people_count=9)
    rows = ok(api("mediator").get("/disputes/warnings"))
    assert [(r["dispute_id"], r["rule"]) for r in rows] == [(crowd.pk, "many_people")]
    row = rows[0]
    assert row["number"] == crowd.number and row["title"] == "八户漏水" and row["grade"] == "general"
    assert row["rule_label"] == "Many people involved" and "8" in row["reason"]
    assert row["act_by"] and all(isinstance(a, str) for a in row["act_by"])
    assert [r["rule"] for r in ok(api("mediator2").get("/disputes/warnings"))] == ["many_people"]
    assert ok(api("mediator2").get("/disputes/warnings"))[0]["dispute_id"] != crowd.pk


def test_measures_and_their_bad_ranges(api, mediation, register):
    u = mediation["users"]
    register()
    register(source="application")
    register(by=u["gm3"], grid=mediation["g3"].code,
             parties=[{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙"}])
    answer = ok(api("mediator").get("/disputes/measures"))
    assert answer["total"]["total"] == 2 and answer["total"]["found_by_screening"] == 1
    assert answer["total"]["brought_in"] == 1 and answer["groups"] == [] and answer["group"] == ""
    assert answer["end"] == timezone.localdate().isoformat()
    grouped = ok(api("admin").get("/disputes/measures", group="community"))
    assert sorted((g["label"], g["total"]) for g in grouped["groups"]) == sorted(
        [(mediation["community"].name, 2), (mediation["community2"].name, 1)])
    by_grid = ok(api("mediator").get("/disputes/measures", group="grid"))
    assert [(g["key"], g["total"]) for g in by_grid["groups"]] == [(mediation["g1"].code, 2)]
    today = timezone.localdate()
    for params, code, field in [
        ({"start": today.isoformat(), "end": (today - dt.timedelta(days=1)).isoformat()}, "invalid_range", "end"),
        ({"start": "2000-01-01", "end": today.isoformat()}, "invalid_range", "end"),
        ({"start": "last year"}, "validation_error", "start"),
        ({"end": "2026-02-30"}, "validation_error", "end"),
        ({"group": "planet"}, "invalid_group", "group"),
    ]:
        response = api("mediator").get("/disputes/measures", **params)
        assert response.status_code == 422, (params, response.content)
        assert response.json()["code"] == code and field in fields(response), params


def test_map_has_only_features_in_scope_and_closed_ones_on_request(api, mediation, register):
    u = mediation["users"]
    mine = register(**IN_G1, grid=None)
    withdrawn = register()
    other = register(by=u["gm3"], grid=mediation["g3"].code,
                     parties=[{"role": "applicant", "name": "甲"}, {"role": "respondent", "name": "乙"}])
    services.dispute_close(dispute_id=withdrawn.pk, by=u["mediator"], note="当事人撤回")
    answer = ok(api("mediator").get("/disputes/map"))
    assert answer["type"] == "FeatureCollection"
    assert [f["properties"]["id"] for f in answer["features"]] == [mine.pk]
    feature = answer["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.605, 31.305]}
    assert feature["properties"]["exact"] is True and feature["properties"]["colour"] == "#e3b505"
    every = ok(api("mediator").get("/disputes/map", all="true"))
    assert sorted(f["properties"]["id"] for f in every["features"]) == sorted([mine.pk, withdrawn.pk])
    assert [f["properties"]["id"] for f in ok(api("mediator2").get("/disputes/map"))["features"]] == [other.pk]
    assert api("mediator").get("/disputes/map", all="sometimes").status_code == 422


def test_queue_lists_mine_waiting_and_to_follow_up(api, mediation, register):
    u = mediation["users"]
    mine = register(title="我的")
    waiting = register(title="等待")
    services.dispute_assess(dispute_id=mine.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=mine.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    queue = ok(api("mediator").get("/disputes/queue"))
    assert [d["id"] for d in queue["mine"]] == [mine.pk]
    assert [d["id"] for d in queue["waiting"]] == [waiting.pk]
    assert queue["follow_up"] == []
    assert queue["mine"][0]["mediator"]["id"] == u["mediator"].pk
    assert ok(api("mediator2").get("/disputes/queue")) == {"mine": [], "waiting": [], "follow_up": []}


# --- converting a case -------------------------------------------------------------------------------------------

@pytest.fixture
def dispute_category(mediation):
    from gridgov.cases.categories import categories_upsert

    categories_upsert(rows=[
        {"code": "TD01", "name": "矛盾纠纷", "kind": "event", "parent": None, "is_dispute": True},
        {"code": "TD0101", "name": "邻里纠纷", "kind": "event", "parent": "TD01", "is_dispute": True},
        {"code": "TX01", "name": "市容", "kind": "event", "parent": None},
        {"code": "TX0101", "name": "暴露垃圾", "kind": "event", "parent": "TX01"},
    ])
    return "TD0101"


def test_a_case_in_a_dispute_category_converts(api, mediation, dispute_category):
    from gridgov.cases.services import case_report

    u = mediation["users"]
    case, _ = case_report(by=u["gm"], category=dispute_category, description="两户因漏水争吵", **IN_G1,
                          address="人民路1号")
    response = api("dispatcher").post(f"/disputes/from-case/{case.pk}", {
        "type": "neighbourhood", "parties": mediation["parties"], "grade": "major", "version": case.version,
        "note": "转矛盾纠纷调处"})
    created = ok(response, 201)
    case.refresh_from_db()
    assert case.state == "converted"
    assert created["case"] == {"id": case.pk, "number": case.number}
    assert created["source"] == "case" and created["source_reference"] == case.number
    assert created["description"] == "两户因漏水争吵" and created["grade"] == "major"
    assert created["grid"]["code"] == mediation["g1"].code and created["address"] == "人民路1号"
    assert [s["action"] for s in created["timeline"]] == ["convert"]
    assert [s["action"] for s in created["case_history"]][:1] == ["report"]
    assert PHONE not in response.content.decode()
    again = api("dispatcher").post(f"/disputes/from-case/{case.pk}", {"type": "neighbourhood",
                                                                      "parties": mediation["parties"]})
    assert again.status_code == 409 and again.json()["code"] == "already_converted"
    assert Dispute.objects.count() == 1


def test_converting_refuses_other_cases_and_writes_nothing(api, mediation, dispute_category):
    from gridgov.cases.services import case_report

    u = mediation["users"]
    plain, _ = case_report(by=u["gm"], category="TX0101", description="垃圾", **IN_G1)
    dispute_case, _ = case_report(by=u["gm"], category=dispute_category, description="争吵", **IN_G1)
    data = {"type": "neighbourhood", "parties": mediation["parties"]}
    response = api("dispatcher").post(f"/disputes/from-case/{plain.pk}", data)
    assert response.status_code == 409 and response.json()["code"] == "not_a_dispute"
    assert api("other_dispatcher").post(f"/disputes/from-case/{dispute_case.pk}", data).status_code == 404
    assert api("dispatcher").post("/disputes/from-case/999999", data).status_code == 404
    stale = api("dispatcher").post(f"/disputes/from-case/{dispute_case.pk}", {**data, "version": 7})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    one = api("dispatcher").post(f"/disputes/from-case/{dispute_case.pk}", {**data, "parties": data["parties"][:1]})
    assert one.status_code == 422 and one.json()["code"] == "missing_party"
    assert Dispute.objects.count() == 0 and Party.objects.count() == 0
    assert {c.state for c in Case.objects.all()} == {"reported"}


# --- the agreement documents ------------------------------------------------------------------------------------

@pytest.fixture
def fake_documents(monkeypatch):
    """Stand-ins for gridgov.disputes.documents (its own tests render the real documents)."""
    calls = []

    def render(ext):
        def _render(*, dispute, by=None):
            if not hasattr(dispute, "agreement"):
                raise NotFound("This dispute has no agreement.")
            calls.append((ext, dispute.pk, by))
            return f"{ext}:{dispute.agreement.number}".encode()
        return _render

    try:
        from gridgov.disputes import documents
    except ImportError:
        documents = types.ModuleType("gridgov.disputes.documents")
        monkeypatch.setitem(sys.modules, "gridgov.disputes.documents", documents)
        import gridgov.disputes

        monkeypatch.setattr(gridgov.disputes, "documents", documents, raising=False)
    monkeypatch.setattr(documents, "agreement_docx", render("docx"), raising=False)
    monkeypatch.setattr(documents, "agreement_pdf", render("pdf"), raising=False)
    monkeypatch.setattr(documents, "agreement_filename",
                        lambda *, dispute, ext: f"调解协议书-{dispute.number}.{ext}", raising=False)
    return calls


def test_agreement_documents_download(api, mediation, register, fake_documents):
    u = mediation["users"]
    d = register()
    assert api("mediator").get(f"/disputes/{d.pk}/agreement.docx").status_code == 404
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=timezone.now(), place="x",
                                    participants="x", record="x", outcome="agreed")
    agreement = services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="x", terms=["y"])
    docx = api("mediator").get(f"/disputes/{d.pk}/agreement.docx")
    assert docx.status_code == 200
    assert docx["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert docx["Content-Disposition"].startswith("attachment;") and d.number in docx["Content-Disposition"]
    assert docx.content == f"docx:{agreement.number}".encode()
    pdf = api("gm").get(f"/disputes/{d.pk}/agreement.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"pdf:")
    assert [(ext, pk, by.username) for ext, pk, by in fake_documents] == [("docx", d.pk, "med"), ("pdf", d.pk, "gm")]
    assert api("mediator2").get(f"/disputes/{d.pk}/agreement.pdf").status_code == 404
    assert len(fake_documents) == 2


# --- the OpenAPI document ----------------------------------------------------------------------------------------

def test_openapi_documents_the_dispute_paths(client, mediation):
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    actions = ["assess", "assign", "sessions", "agreement", "fail", "refer", "fulfilment", "follow-ups", "close",
               "regrade", "comments"]
    expected = ["/api/v1/disputes", "/api/v1/disputes/{dispute_id}", "/api/v1/disputes/from-case/{case_id}",
                "/api/v1/disputes/warnings", "/api/v1/disputes/measures", "/api/v1/disputes/map",
                "/api/v1/disputes/queue", "/api/v1/disputes/{dispute_id}/agreement.docx",
                "/api/v1/disputes/{dispute_id}/agreement.pdf"] + [
        f"/api/v1/disputes/{{dispute_id}}/{a}" for a in actions]
    assert not [p for p in expected if p not in paths]
    for action in actions:
        operation = paths[f"/api/v1/disputes/{{dispute_id}}/{action}"]["post"]
        assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"]), action
        assert operation["requestBody"]["content"]["application/json"] and operation["tags"] == ["disputes"]
    create = paths["/api/v1/disputes"]["post"]
    assert {"201", "401", "403", "422"} <= set(create["responses"])
    docx = paths["/api/v1/disputes/{dispute_id}/agreement.docx"]["get"]["responses"]
    assert "application/vnd.openxmlformats-officedocument.wordprocessingml.document" in docx["200"]["content"]
    assert "404" in docx
    assert "application/pdf" in paths["/api/v1/disputes/{dispute_id}/agreement.pdf"]["get"]["responses"]["200"][
        "content"]
    listing = paths["/api/v1/disputes"]["get"]
    assert {"state", "grade", "registered_from", "page", "page_size"} <= {p["name"] for p in listing["parameters"]}


def test_the_real_agreement_documents_are_served_and_audited(api, mediation, register):
    pytest.importorskip("gridgov.disputes.documents")
    from gridgov.core.models import AuditEntry

    u = mediation["users"]
    d = register()
    services.dispute_assess(dispute_id=d.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=d.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    services.dispute_record_session(dispute_id=d.pk, by=u["mediator"], held_at=timezone.now(), place="社区",
                                    participants="双方", record="达成一致", outcome="agreed")
    services.dispute_agree(dispute_id=d.pk, by=u["mediator"], facts="楼上漏水", terms=["赔偿500元"])
    docx = api("mediator").get(f"/disputes/{d.pk}/agreement.docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    assert "filename" in docx["Content-Disposition"] and d.number in docx["Content-Disposition"]
    pdf = api("mediator").get(f"/disputes/{d.pk}/agreement.pdf")
    assert pdf.status_code == 200 and pdf.content[:4] == b"%PDF"
    assert AuditEntry.objects.filter(action="dispute.agreement_download").count() == 2


# --- no input is a 5xx -----------------------------------------------------------------------------------------

# a few values of each kind that break naive code
HOSTILE = [None, "x" * 5000, "a\x00b", 10**30, -1, [], {"a": 1}, "0001-01-01T00:00:00+14:00"]


def test_no_input_is_a_server_error(api, mediation, register):
    """Every field of every body, one hostile value at a time, on a dispute in a state the action accepts (each
    try is rolled back): 2xx or 4xx, never 5xx."""
    from django.db import transaction

    from gridgov.disputes import schemas

    u = mediation["users"]
    admin = api("admin")
    zhang = mediation["residents"]["zhang"].pk
    party = {"kind": "person", "role": "respondent", "resident_id": zhang, "name": "乙", "phone": PHONE,
             "credit_code": "", "note": ""}
    registered = register()
    assessed = register()
    services.dispute_assess(dispute_id=assessed.pk, by=u["mediator"], grade="general", risk_note="x")
    mediating = register()
    services.dispute_assess(dispute_id=mediating.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=mediating.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    services.dispute_record_session(dispute_id=mediating.pk, by=u["mediator"], held_at=timezone.now(), place="x",
                                    participants="x", record="x")
    agreed = register()
    services.dispute_assess(dispute_id=agreed.pk, by=u["mediator"], grade="general", risk_note="x")
    services.dispute_assign(dispute_id=agreed.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    services.dispute_record_session(dispute_id=agreed.pk, by=u["mediator"], held_at=timezone.now(), place="x",
                                    participants="x", record="x")
    services.dispute_agree(dispute_id=agreed.pk, by=u["mediator"], facts="x", terms=["y"])
    now = now_iso()
    cases = [
        ("/disputes", schemas.DisputeIn, body(mediation, amount="12.5", people_count=2, lon=None, lat=None)),
        (f"/disputes/{registered.pk}/assess", schemas.AssessIn, {"grade": "major", "risk_note": "x", "version": 1}),
        (f"/disputes/{registered.pk}/regrade", schemas.RegradeIn, {"grade": "major", "reason": "x"}),
        (f"/disputes/{registered.pk}/comments", schemas.CommentIn, {"note": "x"}),
        (f"/disputes/{registered.pk}/close", schemas.NoteIn, {"note": "撤回"}),
        (f"/disputes/{assessed.pk}/assign", schemas.AssignIn, {"mediator_id": u["mediator"].pk, "committee": "x"}),
        (f"/disputes/{assessed.pk}/refer", schemas.ReferIn, {"channel": "judicial", "reason": "x",
                                                             "reference": "R1"}),
        (f"/disputes/{mediating.pk}/sessions", schemas.SessionIn, {"held_at": now, "place": "x",
                                                                   "participants": "x", "record": "x"}),
        (f"/disputes/{mediating.pk}/agreement", schemas.AgreementIn, {"facts": "x", "terms": ["y"]}),
        (f"/disputes/{mediating.pk}/fail", schemas.ReasonIn, {"reason": "x"}),
        (f"/disputes/{agreed.pk}/fulfilment", schemas.FulfilmentIn, {"fulfilled": True, "note": "x"}),
    ]
    tries = []
    for path, schema, valid in cases:
        tries.append((path, valid))
        for field in schema.model_fields:
            tries += [(path, {**valid, field: value}) for value in HOSTILE]
        if "parties" in valid:
            for key in party:
                tries += [(path, {**valid, "parties": [valid["parties"][0], {**party, key: value}]})
                          for value in HOSTILE]
    # follow-ups need a fulfilled dispute: fulfil it inside each rolled-back try
    follow = {"visited_at": now, "content": "x", "form": "home", "stable": True, "satisfied": None}
    follow_tries = [{**follow, field: value} for field in schemas.FollowUpIn.model_fields for value in HOSTILE]
    statuses = set()
    for path, data in tries:
        with transaction.atomic():
            response = admin.post(path, data)
            transaction.set_rollback(True)
        assert response.status_code < 500, (path, data, response.content)
        statuses.add(response.status_code)
    for data in follow_tries:
        with transaction.atomic():
            services.dispute_check_fulfilment(dispute_id=agreed.pk, by=u["mediator"], fulfilled=True)
            response = admin.post(f"/disputes/{agreed.pk}/follow-ups", data)
            transaction.set_rollback(True)
        assert response.status_code < 500, (data, response.content)
        statuses.add(response.status_code)
    assert {200, 201, 422} <= statuses
    for params in [{"state": ["x", ""]}, {"q": "x" * 500}, {"mediator": -1}, {"page_size": 10**30},
                   {"registered_from": "0000-00-00"}, {"area": "\u202e"}, {"ordering": "-"}]:
        assert admin.get("/disputes", **params).status_code < 500, params
    for params in [{"start": "0001-01-01", "end": "9999-12-31"}, {"start": "9999-12-31"}, {"group": ""},
                   {"end": "0001-01-01"}, {"start": "9999-12-30", "end": "9999-12-31"}]:
        assert admin.get("/disputes/measures", **params).status_code < 500, params
