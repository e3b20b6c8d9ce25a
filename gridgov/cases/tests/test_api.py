"""The cases JSON API over bearer tokens: scoping, filters, masking, intake, every action, the 4xx answers."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gridgov.accounts.tests.factories import PASSWORD, DepartmentFactory
from gridgov.cases import services
from gridgov.cases.models import Case
from gridgov.core.testing import Api

pytestmark = pytest.mark.django_db

IN_G1 = {"lon": 120.605, "lat": 31.305}
IN_G3 = {"lon": 120.625, "lat": 31.305}


@pytest.fixture
def api(client, world):
    cache = {}

    def as_user(name):
        if name not in cache:
            cache[name] = Api(client, world["users"][name])
        return cache[name]

    return as_user


def report(user, where=IN_G1, category="T0101", **kwargs):
    case, _ = services.case_report(by=user, category=category, description=kwargs.pop("description", "垃圾堆放"),
                                   **where, **kwargs)
    return case


def png(name="photo.png", size=(8, 6)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def numbers(response):
    assert response.status_code == 200, response.content
    return sorted(item["number"] for item in response.json()["items"])


# --- reads -------------------------------------------------------------------------------------------------

def test_list_is_scoped_per_role(api, world):
    u = world["users"]
    mine = report(u["gm"])
    other = report(u["gm3"], where=IN_G3)
    by_resident = report(u["resident"], where=IN_G3)
    assert numbers(api("dispatcher").get("/cases")) == [mine.number]
    assert numbers(api("other_dispatcher").get("/cases")) == sorted([other.number, by_resident.number])
    assert numbers(api("gm").get("/cases")) == [mine.number]
    assert numbers(api("resident").get("/cases")) == [by_resident.number]
    assert numbers(api("admin").get("/cases")) == sorted([mine.number, other.number, by_resident.number])
    assert numbers(api("handler").get("/cases")) == []
    services.case_register(case_id=mine.pk, by=u["dispatcher"])
    services.case_dispatch(case_id=mine.pk, by=u["dispatcher"], lead=world["urban"])
    assert numbers(api("handler").get("/cases")) == [mine.number]
    assert numbers(api("water_handler").get("/cases")) == []
    body = api("handler").get("/cases").json()
    assert body["count"] == 1
    row = body["items"][0]
    assert row["state"] == "dispatched" and row["lead_department"] == {"code": "URBAN", "name": "城管"}
    assert row["category"] == {"code": "T0101", "name": "暴露垃圾", "parent": "T01"}
    assert row["grid"]["code"] == world["g1"].code


def test_list_filters_and_pagination(api, world):
    u = world["users"]
    first = report(u["gm"], description="垃圾堆放在路口")
    second = report(u["gm"], description="楼道杂物")
    third = report(u["gm"], category="T0102", extra={"size": "small"}, description="路面塌陷")
    services.case_register(case_id=second.pk, by=u["dispatcher"])
    services.case_reject(case_id=third.pk, by=u["dispatcher"], reason="重复")
    disp = api("dispatcher")
    assert numbers(disp.get("/cases", state="registered")) == [second.number]
    assert numbers(disp.get("/cases", state=["registered", "rejected"])) == sorted([second.number, third.number])
    assert numbers(disp.get("/cases", open="true")) == sorted([first.number, second.number])
    assert numbers(disp.get("/cases", open="false")) == [third.number]
    assert numbers(disp.get("/cases", category="T0102")) == [third.number]
    assert numbers(disp.get("/cases", category="T01")) == sorted([first.number, second.number, third.number])
    assert numbers(disp.get("/cases", grid=world["g2"].code)) == []
    assert numbers(disp.get("/cases", q="路口")) == [first.number]
    assert numbers(disp.get("/cases", area=world["street2"].code)) == []
    ordered = disp.get("/cases", ordering="number").json()["items"]
    assert [c["number"] for c in ordered] == sorted([first.number, second.number, third.number])
    page = disp.get("/cases", ordering="number", page=2, page_size=2).json()
    assert page["count"] == 3 and [c["number"] for c in page["items"]] == [third.number]


@pytest.mark.parametrize("params, field", [
    ({"state": "bogus"}, "state"),
    ({"source": "fax"}, "source"),
    ({"ordering": "password"}, "ordering"),
    ({"open": "perhaps"}, "open"),
    ({"reported_from": "yesterday"}, "reported_from"),
    ({"page": 0}, "page"),
])
def test_a_bad_filter_is_a_422_naming_it(api, world, params, field):
    report(world["users"]["gm"])
    response = api("dispatcher").get("/cases", **params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] in ("invalid_filter", "validation_error")
    assert field in [d["field"] for d in body["details"]]


def test_detail_masks_the_phone_and_lists_allowed_actions(api, world):
    case = report(world["users"]["resident"], reporter_name="李四", reporter_phone="139-1234-5678")
    response = api("dispatcher").get(f"/cases/{case.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["reporter_name"] == "李四"
    assert body["reporter_phone"] == "139****5678"
    assert "13912345678" not in response.content.decode() and "139-1234-5678" not in response.content.decode()
    assert body["tracking_code"] == case.tracking_code and body["number"] == case.number
    assert body["state"] == "reported" and body["state_label"] == "Reported" and body["version"] == 1
    assert set(body["allowed_actions"]) == {"register", "reject", "merge", "comment"}
    assert [s["action"] for s in body["timeline"]] == ["report"]
    assert body["register_due"] and body["tasks"] == [] and body["attachments"] == []
    # the reporter sees it too, with no actions yet and without the internal comments
    services.case_comment(case_id=case.pk, by=world["users"]["dispatcher"], note="内部：先核实")
    assert [s["action"] for s in api("dispatcher").get(f"/cases/{case.pk}").json()["timeline"]] == [
        "report", "comment"]
    own = api("resident").get(f"/cases/{case.pk}").json()
    assert own["allowed_actions"] == [] and [s["action"] for s in own["timeline"]] == ["report"]
    assert own["reporter_phone"] == "139****5678"


def test_out_of_scope_and_missing_cases_are_404(api, world):
    case = report(world["users"]["gm"])
    for who in ("other_dispatcher", "water_handler", "gm3"):
        response = api(who).get(f"/cases/{case.pk}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api("admin").get("/cases/999999").status_code == 404


def test_no_credentials_is_401(client, world):
    assert client.get("/api/v1/cases").status_code == 401
    assert Api(client, token="not-a-token").get("/cases").json()["code"] == "unauthorized"
    response = Api(client).post("/cases", {"category": "T0101", "description": "x", **IN_G1})
    assert response.status_code == 401 and Case.objects.count() == 0


# --- intake ------------------------------------------------------------------------------------------------

def test_create_with_the_same_idempotency_key_twice_makes_one_case(api, world):
    body = {"category": "T0101", "description": "垃圾堆放", **IN_G1, "reporter_phone": "13912345678"}
    first = api("gm").post("/cases", body, headers={"Idempotency-Key": "device-42-0001"})
    assert first.status_code == 201, first.content
    again = api("gm").post("/cases", body, headers={"Idempotency-Key": "device-42-0001"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and Case.objects.count() == 1
    created = first.json()
    assert created["source"] == "grid_member" and created["grid"]["code"] == world["g1"].code
    assert created["reporter_phone"] == "139****5678" and created["reporter_name"] == "张网格"
    # another key (or another user with the same key) is another case
    assert api("gm").post("/cases", body, headers={"Idempotency-Key": "device-42-0002"}).status_code == 201
    assert api("resident").post("/cases", body, headers={"Idempotency-Key": "device-42-0001"}).status_code == 201
    assert Case.objects.count() == 3
    too_long = api("gm").post("/cases", body, headers={"Idempotency-Key": "k" * 101})
    assert too_long.status_code == 422 and too_long.json()["details"][0]["field"] == "Idempotency-Key"
    assert Case.objects.count() == 3


def test_a_hotline_report_outside_the_operators_area_still_answers_with_the_case(api, world):
    response = api("dispatcher").post("/cases", {"category": "T0101", "description": "来电", **IN_G3})
    assert response.status_code == 201
    body = response.json()
    assert body["grid"]["code"] == world["g3"].code and body["tracking_code"] and body["allowed_actions"] == []
    assert api("dispatcher").get(f"/cases/{body['id']}").status_code == 404
    assert api("other_dispatcher").get(f"/cases/{body['id']}").json()["source"] == "hotline"


def test_create_converts_coordinates(api, world):
    from gridgov.geo.coords import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(120.6195, 31.305)  # in g2; unconverted it would fall in g3
    response = api("dispatcher").post("/cases", {"category": "T0101", "description": "热线来电", "lon": lon,
                                                 "lat": lat, "coord_sys": "gcj02"})
    assert response.status_code == 201 and response.json()["grid"]["code"] == world["g2"].code
    assert response.json()["source"] == "hotline"


def test_create_outside_every_grid_is_422_outside_jurisdiction(api, world):
    response = api("gm").post("/cases", {"category": "T0101", "description": "远处", "lon": 121.5, "lat": 31.305})
    assert response.status_code == 422
    assert response.json()["code"] == "outside_jurisdiction"
    assert Case.objects.count() == 0


@pytest.mark.parametrize("change, field", [
    ({"category": "NOPE"}, "category"),
    ({"category": "T01"}, "category"),  # a main class is not reportable
    ({"category": "T0102"}, "extra.size"),
    ({"category": "T0102", "extra": {"size": "huge"}}, "extra.size"),
    ({"description": "   "}, "description"),
    ({"lon": 200}, "lon"),
    ({"coord_sys": "utm"}, "coord_sys"),
    ({"reporter_phone": "12"}, "reporter_phone"),
])
def test_bad_reports_are_422_naming_the_field(api, world, change, field):
    body = {"category": "T0101", "description": "垃圾", **IN_G1, **change}
    response = api("gm").post("/cases", body)
    assert response.status_code == 422, response.content
    assert field in [d["field"] for d in response.json()["details"]]
    assert Case.objects.count() == 0


def test_missing_required_extra_names_the_extra_field(api, world):
    response = api("gm").post("/cases", {"category": "T0102", "description": "塌陷", **IN_G1})
    assert response.status_code == 422
    body = response.json()
    assert body["details"] == [{"field": "extra.size", "message": "面积 is required"}]
    ok = api("gm").post("/cases", {"category": "T0102", "description": "塌陷", **IN_G1, "extra": {"size": "large"}})
    assert ok.status_code == 201 and ok.json()["extra"] == {"size": "large"}


def test_multipart_create_with_a_real_png(api, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = {"category": "T0102", "description": "路面塌陷", "lon": "120.605", "lat": "31.305",
            "extra": json.dumps({"size": "small"}), "photos": [png("a.png"), png("b.png", (4, 4))]}
    response = api("gm").upload("/cases/upload", data, headers={"Idempotency-Key": "photo-1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["extra"] == {"size": "small"}
    assert [(a["kind"], a["content_type"], a["width"], a["height"]) for a in body["attachments"]] == [
        ("report", "image/png", 8, 6), ("report", "image/png", 4, 4)]
    assert [a["url"] for a in body["attachments"]] == [f"/cases/attachments/{a['id']}/" for a in body["attachments"]]
    case = Case.objects.get()
    assert case.attachments.count() == 2 and case.attachments.first().file.storage.exists(
        case.attachments.first().file.name)
    # a retry of the same upload is the same case
    data["photos"] = [png("a.png")]
    retry = api("gm").upload("/cases/upload", data, headers={"Idempotency-Key": "photo-1"})
    assert retry.status_code == 200 and retry.json()["id"] == body["id"] and Case.objects.count() == 1


@pytest.mark.parametrize("who, extra, upload", [
    ("gm", {}, False), ("resident", {"reporter_phone": "13912345678"}, False), ("gm", {}, True),
    ("gm", {"self_handle": "true"}, True), ("dispatcher", {}, False)])
def test_the_201_answer_is_what_reading_the_case_back_gives(api, world, settings, tmp_path, who, extra, upload):
    """The new case is answered from memory (not re-read): it must say exactly what a GET says."""
    settings.MEDIA_ROOT = tmp_path
    body = {"category": "T0101", "description": "垃圾堆放", **IN_G1, **extra}
    if upload:
        created = api(who).upload("/cases/upload", {**{k: str(v) for k, v in body.items()}, "photos": [png()]})
    else:
        created = api(who).post("/cases", body)
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["timeline"] and answer["tracking_code"] and answer["number"].endswith(f"{answer['id']:07d}")
    assert answer["attachments"] if upload else answer["attachments"] == []
    assert api(who).get(f"/cases/{answer['id']}").json() == answer


def test_multipart_create_refuses_a_file_that_is_not_an_image(api, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    fake = SimpleUploadedFile("x.png", b"<script>alert(1)</script>", content_type="image/png")
    data = {"category": "T0101", "description": "x", "lon": "120.605", "lat": "31.305", "photos": [fake]}
    response = api("gm").upload("/cases/upload", data)
    assert response.status_code == 422 and response.json()["code"] == "not_an_image"
    bad_extra = api("gm").upload("/cases/upload", {**data, "photos": [png()], "extra": "{not json"})
    assert bad_extra.status_code == 422 and "extra" in [d["field"] for d in bad_extra.json()["details"]]
    assert Case.objects.count() == 0 and not list(tmp_path.rglob("*.*"))


def test_self_handled_case_needs_a_photo_and_the_grid_member(api, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    body = {"category": "T0101", "description": "已当场清理", **IN_G1, "self_handle": True}
    no_photo = api("gm").post("/cases", body)
    assert no_photo.status_code == 422 and no_photo.json()["code"] == "photo_required"
    data = {**{k: str(v) for k, v in body.items()}, "self_handle": "true", "photos": [png()]}
    assert api("resident").upload("/cases/upload", data).status_code == 403
    done = api("gm").upload("/cases/upload", {**data, "photos": [png()]})
    assert done.status_code == 201 and done.json()["state"] == "handled" and done.json()["self_handled"]
    assert done.json()["attachments"][0]["kind"] == "evidence"


# --- the workflow ------------------------------------------------------------------------------------------

def test_the_whole_loop_over_the_api_with_bearer_tokens(client, api, world):
    token = client.post("/api/v1/auth/token", {"username": "gm", "password": PASSWORD},
                        content_type="application/json").json()["token"]
    gm = Api(client, token=token)
    created = gm.post("/cases", {"category": "T0101", "description": "垃圾堆放", **IN_G1, "address": "枫桥路1号"})
    assert created.status_code == 201
    case_id, version = created.json()["id"], created.json()["version"]

    def act(who, action, body=None, status=200):
        response = api(who).post(f"/cases/{case_id}/{action}", body or {}) if who != "gm" else gm.post(
            f"/cases/{case_id}/{action}", body or {})
        assert response.status_code == status, (action, response.content)
        return response.json()

    body = act("dispatcher", "register", {"version": version})
    assert body["state"] == "registered" and body["version"] == version + 1
    assert "dispatch" in body["allowed_actions"]
    body = act("dispatcher", "dispatch", {"lead": "URBAN", "assist": ["WATER"], "instructions": "尽快",
                                          "version": body["version"]})
    assert body["state"] == "dispatched" and body["lead_department"]["code"] == "URBAN"
    assert sorted((t["department"]["code"], t["role"], t["state"]) for t in body["tasks"]) == [
        ("URBAN", "lead", "pending"), ("WATER", "assist", "pending")]
    inbox = api("handler").get("/inbox").json()
    assert inbox["count"] == 1 and str(case_id) == inbox["items"][0]["object_id"]
    assert set(api("handler").get(f"/cases/{case_id}").json()["allowed_actions"]) >= {"accept", "return"}
    assert act("handler", "accept")["state"] == "in_progress"
    body = act("handler", "report_back", {"result": "已清理"})
    assert body["state"] == "handled" and body["handled_at"]
    body = act("gm", "verify", {"ok": True, "note": "现场核实"})
    assert body["state"] == "verified" and body["verified_at"]
    body = act("dispatcher", "close")
    assert body["state"] == "closed" and body["resolution_level"] == "street" and body["closed_on_time"] is True
    body = act("gm", "rate", {"satisfaction": 5, "comment": "满意"})
    assert body["satisfaction"] == 5 and body["rated_at"]
    assert [s["action"] for s in body["timeline"]] == [
        "report", "register", "dispatch", "accept", "report_back", "verify_ok", "close", "rate"]
    assert body["timeline"][2]["department"] == "URBAN" and body["timeline"][1]["actor"] == "disp"
    assert act("gm", "rate", {"satisfaction": 1}, status=409)["code"] == "already_rated"


def test_the_other_actions_over_the_api(api, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    u = world["users"]
    case = report(u["gm"], category="T0102", extra={"size": "small"})
    duplicate = report(u["gm"], category="T0102", extra={"size": "small"}, lon=120.6051, lat=31.305,
                       where={})
    refused = report(u["gm"])
    path = f"/cases/{case.pk}"

    def act(who, action, body=None, status=200, target=path):
        response = api(who).post(f"{target}/{action}", body or {})
        assert response.status_code == status, (action, response.content)
        return response.json()

    # duplicates and merge
    dups = api("dispatcher").get(f"/cases/{duplicate.pk}/duplicates")
    assert dups.status_code == 200 and [d["id"] for d in dups.json()] == [case.pk]
    assert 8 <= dups.json()[0]["distance_m"] <= 11
    assert api("gm").get(f"/cases/{duplicate.pk}/duplicates").status_code == 403
    merged = act("dispatcher", "merge", {"into": case.pk}, target=f"/cases/{duplicate.pk}")
    assert merged["state"] == "merged" and merged["merged_into"] == {"id": case.pk, "number": case.number}
    assert act("dispatcher", "merge", {"into": 999999}, status=422, target=f"/cases/{refused.pk}")[
        "details"][0]["field"] == "into"
    # reject needs a reason
    assert act("dispatcher", "reject", {"reason": " "}, status=422, target=f"/cases/{refused.pk}")[
        "details"][0]["field"] == "reason"
    assert act("dispatcher", "reject", {}, status=422, target=f"/cases/{refused.pk}")["details"][0][
        "field"] == "reason"
    assert act("dispatcher", "reject", {"reason": "不属于受理范围"}, target=f"/cases/{refused.pk}")["state"] == "rejected"
    # dispatch to an unknown department changes nothing; return and re-dispatch
    act("dispatcher", "register")
    assert act("dispatcher", "dispatch", {"lead": "NOPE"}, status=422)["details"][0]["field"] == "lead"
    assert act("dispatcher", "dispatch", {"lead": "URBAN", "assist": ["NOPE"]}, status=422)["details"][0][
        "field"] == "assist"
    assert Case.objects.get(pk=case.pk).state == "registered"
    act("dispatcher", "dispatch", {"lead": "WATER"})
    body = act("water_handler", "return", {"reason": "不归我们"})
    assert body["state"] == "registered" and body["return_count"] == 1
    act("dispatcher", "dispatch", {"lead": "URBAN"})
    act("handler", "accept")
    # extension
    body = act("handler", "request_extension", {"amount": 2, "unit": "days", "reason": "需要采购材料"})
    assert [(e["amount"], e["unit"], e["state"]) for e in body["extensions"]] == [(2, "days", "pending")]
    assert act("handler", "request_extension", {"amount": 0, "unit": "days", "reason": "x"}, status=422)
    old_due = body["handle_due"]
    body = act("dispatcher", "decide_extension", {"approve": True})
    assert body["extension_count"] == 1 and body["handle_due"] > old_due
    assert body["extensions"][0]["state"] == "approved"
    # suspend / resume, supervise, summon, comment
    assert act("dispatcher", "suspend", {"reason": "等待资金"})["state"] == "suspended"
    assert act("dispatcher", "resume")["state"] == "in_progress"
    assert act("leader", "supervise", {"reason": "群众反映强烈"})["supervision_count"] == 1
    body = act("dispatcher", "summon", {"departments": ["POLICE", "WATER"], "amount": 1, "unit": "days",
                                        "instructions": "联合处置"})
    assert sorted(t["department"]["code"] for t in body["tasks"] if t["role"] == "summoned") == ["POLICE", "WATER"]
    assert act("community_dispatcher", "summon", {"departments": ["POLICE"], "amount": 1}, status=403)
    assert act("dispatcher", "summon", {"departments": ["NOPE"], "amount": 1}, status=422)["details"][0][
        "field"] == "departments"
    assert act("dispatcher", "comment", {"note": "已电话催办"})["timeline"][-1]["note"] == "已电话催办"
    # report back needs a photo for this category: JSON refuses, multipart takes it
    assert act("handler", "report_back", {"result": "已修复"}, status=422)["code"] == "photo_required"
    response = api("handler").upload(f"{path}/report_back/upload", {"result": "已修复", "photos": [png()]})
    assert response.status_code == 200 and response.json()["state"] == "handled"
    assert [a["kind"] for a in response.json()["attachments"]] == ["evidence"]
    # verification fails (rework) with a photo, then passes; close and reopen
    response = api("gm").upload(f"{path}/verify/upload", {"ok": "false", "note": "仍有积水", "photos": [png()]})
    assert response.status_code == 200 and response.json()["state"] == "in_progress"
    assert response.json()["rework_count"] == 1
    assert act("gm", "verify", {"ok": False}, status=409)["code"] == "invalid_transition"
    api("handler").upload(f"{path}/report_back/upload", {"result": "再次修复", "photos": [png()]})
    act("gm", "verify", {"ok": True})
    act("dispatcher", "close")
    body = act("dispatcher", "reopen", {"reason": "居民不满意"})
    assert body["state"] == "in_progress" and body["reopen_count"] == 1


def test_wrong_state_is_409_listing_the_allowed_actions(api, world):
    case = report(world["users"]["gm"])
    response = api("dispatcher").post(f"/cases/{case.pk}/close", {})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition" and body["details"]["state"] == "reported"
    assert set(body["details"]["allowed_actions"]) == {"register", "reject", "merge", "comment"}
    assert "register" in body["message"]
    assert Case.objects.get(pk=case.pk).version == 1


def test_wrong_role_is_403(api, world):
    case = report(world["users"]["gm"])
    response = api("gm").post(f"/cases/{case.pk}/register", {})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api("leader").post(f"/cases/{case.pk}/register", {}).status_code == 403
    assert api("admin").post(f"/cases/{case.pk}/reject", {"reason": "x"}).status_code == 403
    stored = Case.objects.get(pk=case.pk)
    assert stored.state == "reported" and stored.version == 1


def test_out_of_scope_action_is_404(api, world):
    case = report(world["users"]["gm"])
    response = api("other_dispatcher").post(f"/cases/{case.pk}/register", {})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api("handler").post(f"/cases/{case.pk}/accept", {}).status_code == 404
    assert api("dispatcher").post("/cases/999999/register", {}).status_code == 404
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_stale_version_is_409(api, world):
    case = report(world["users"]["gm"])
    api("dispatcher").post(f"/cases/{case.pk}/comment", {"note": "先核实", "version": 1})
    response = api("dispatcher").post(f"/cases/{case.pk}/register", {"version": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version" and response.json()["details"] == {"version": 2}
    assert Case.objects.get(pk=case.pk).state == "reported"
    assert api("dispatcher").post(f"/cases/{case.pk}/register", {"version": 2}).json()["version"] == 3


def test_a_bad_action_body_is_422(api, world):
    case = report(world["users"]["gm"])
    for action, body, field in [("merge", {"into": "abc"}, "into"), ("register", {"version": 0}, "version"),
                                ("rate", {"satisfaction": 6}, "satisfaction")]:
        response = api("dispatcher").post(f"/cases/{case.pk}/{action}", body)
        assert response.status_code == 422 and [d["field"] for d in response.json()["details"]] == [field]


# --- categories and departments ------------------------------------------------------------------------------

def test_categories(api, world):
    body = api("gm").get("/categories").json()
    codes = [c["code"] for c in body]
    assert len(codes) > 50 and codes.index("T0101") == codes.index("T01") + 1  # the seeded ones too
    main, first, second = [c for c in body if c["code"].startswith("T")]
    assert [main["code"], first["code"], second["code"]] == ["T01", "T0101", "T0102"]
    assert main["parent"] is None and main["reportable"] is False
    assert first["parent"] == "T01" and first["reportable"] and first["default_department"] == "URBAN"
    assert (first["handle_limit"], first["handle_unit"], first["limit_unit"]) == (2, "days", "hours")
    assert second["extra_fields"][0]["code"] == "size" and second["service_code"] == "t0102"
    one = api("resident").get("/categories/T0102")
    assert one.status_code == 200 and one.json()["extra_fields"][0]["required"] is True
    assert api("gm").get("/categories/NOPE").status_code == 404


def test_departments(api, world):
    DepartmentFactory(code="OLD", name="撤销的", is_active=False)
    body = api("dispatcher").get("/departments").json()
    assert [(d["code"], d["name"]) for d in body] == [("POLICE", "公安"), ("URBAN", "城管"), ("WATER", "水务")]
    assert body[0]["kind"] == "government"
    one = api("dispatcher").get("/departments/URBAN")
    assert one.status_code == 200 and one.json()["kind_label"] == "Government department"
    assert api("dispatcher").get("/departments/OLD").status_code == 404


# --- the OpenAPI document ------------------------------------------------------------------------------------

def test_openapi_documents_every_path_with_its_errors(client, world):
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    actions = ["register", "reject", "merge", "dispatch", "accept", "return", "suspend", "resume", "report_back",
               "verify", "close", "reopen", "request_extension", "decide_extension", "summon", "supervise", "rate",
               "comment"]
    expected = ["/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/duplicates",
                "/api/v1/cases/upload", "/api/v1/cases/{case_id}/report_back/upload",
                "/api/v1/cases/{case_id}/verify/upload", "/api/v1/categories", "/api/v1/categories/{code}",
                "/api/v1/departments", "/api/v1/departments/{code}", "/api/v1/inbox", "/api/v1/inbox/unread-count",
                "/api/v1/inbox/read"] + [f"/api/v1/cases/{{case_id}}/{a}" for a in actions]
    missing = [p for p in expected if p not in paths]
    assert not missing
    for path in expected:
        for method, operation in paths[path].items():
            codes = set(operation["responses"])
            assert "401" in codes and any(c.startswith("4") and c != "401" for c in codes) or path in (
                "/api/v1/categories", "/api/v1/departments", "/api/v1/inbox/unread-count"), (path, method)
    for action in actions:
        operation = paths[f"/api/v1/cases/{{case_id}}/{action}"]["post"]
        assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"]), action
        assert operation["requestBody"]["content"]["application/json"]
    create = paths["/api/v1/cases"]["post"]
    assert {"200", "201", "422"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    assert "multipart/form-data" in paths["/api/v1/cases/upload"]["post"]["requestBody"]["content"]

