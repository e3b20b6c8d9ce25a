"""The residents JSON API: scope, masking in every answer, audited unmasking, blind-index search, writes with
their 409/422 answers, tags, households, visits."""

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.core import crypto
from gridgov.core.models import AuditEntry
from gridgov.core.testing import Api
from gridgov.residents import services
from gridgov.residents.models import Resident, Visit

from .conftest import make_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, registry):
    return lambda user: Api(client, registry["users"][user], base="/api/v1/residents")


def no_plaintext(response, registry):
    text = response.content.decode()
    return not any(v in text for v in [*registry["ids"].values(), *registry["phones"].values()])


def test_list_is_scoped_and_masked(api, registry):
    response = api("gm").get("/people")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and {p["name"] for p in body["items"]} == {"张三", "李四"}
    zhang = next(p for p in body["items"] if p["name"] == "张三")
    assert zhang["id_masked"] == "3205**********0032" and zhang["phone_masked"] == "*******5678"
    assert no_plaintext(response, registry)
    assert {p["name"] for p in api("dispatcher").get("/people").json()["items"]} == {"张三", "李四"}
    assert api("admin").get("/people").json()["count"] == 3
    assert api("resident").get("/people").json()["count"] == 0


def test_detail_out_of_scope_is_404(api, registry):
    wang = registry["residents"]["wang"]
    assert api("gm").get(f"/people/{wang.pk}").status_code == 404
    response = api("gm3").get(f"/people/{wang.pk}")
    assert response.status_code == 200 and response.json()["name"] == "王五"
    assert no_plaintext(response, registry)


def test_search_by_id_and_phone_through_the_blind_index(api, registry):
    gm = api("gm")
    by_id = gm.get("/people", q=registry["ids"]["zhang"]).json()
    assert [p["name"] for p in by_id["items"]] == ["张三"]
    by_phone = gm.get("/people", q="+86 138 0000 1111").json()
    assert [p["name"] for p in by_phone["items"]] == ["李四"]
    assert gm.get("/people", q=registry["ids"]["wang"]).json()["count"] == 0  # not in my scope
    assert gm.get("/people", q=registry["ids"]["zhang"][:10]).json()["count"] == 0


def test_unmask_forbidden_without_permission(api, registry):
    zhang = registry["residents"]["zhang"]
    response = api("gm").post(f"/people/{zhang.pk}/unmask", {"field": "id_number"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert not AuditEntry.objects.filter(action="resident.unmask").exists()


def test_unmask_with_permission_is_audited(api, registry):
    zhang = registry["residents"]["zhang"]
    response = api("officer").post(f"/people/{zhang.pk}/unmask", {"field": "phone"})
    assert response.status_code == 200
    assert response.json() == {"field": "phone", "value": registry["phones"]["zhang"]}
    entry = AuditEntry.objects.get(action="resident.unmask")
    assert entry.actor == registry["users"]["officer"] and entry.after == {"field": "phone"}
    assert api("admin").post(f"/people/{zhang.pk}/unmask", {"field": "id_number"}).json()["value"] == \
        registry["ids"]["zhang"]
    assert api("officer").post(f"/people/{zhang.pk}/unmask", {"field": "name"}).status_code == 422
    assert AuditEntry.objects.filter(action="resident.unmask").count() == 2


def test_create_and_refuse_a_duplicate(api, registry):
    house = registry["houses"]["g1"][1]
    number = make_id(birth=dt.date(1988, 8, 8), seq=5)
    gm = api("gm")
    response = gm.post("/people", {"name": "赵六", "id_number": number, "phone": "13511112222", "house": house.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grid"] == registry["g1"].code and body["house"] == house.pk and body["birth_date"] == "1988-08-08"
    assert number not in response.content.decode() and "13511112222" not in response.content.decode()
    stored = Resident.objects.get(pk=body["id"])
    assert number not in stored.id_number and crypto.decrypt(stored.id_number) == number

    duplicate = gm.post("/people", {"name": "赵六", "id_number": number, "grid": registry["g1"].code})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_id"
    bad = gm.post("/people", {"name": "钱八", "id_number": number[:17] + ("1" if number[17] != "1" else "2"),
                              "grid": registry["g1"].code})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "id_number"
    elsewhere = gm.post("/people", {"name": "钱八", "grid": registry["g3"].code})
    assert elsewhere.status_code == 422 and elsewhere.json()["details"][0]["field"] == "grid"
    assert Resident.objects.filter(name__in=["赵六", "钱八"]).count() == 1


def test_patch_phone_and_bad_values(api, registry):
    zhang = registry["residents"]["zhang"]
    gm = api("gm")
    response = gm.patch(f"/people/{zhang.pk}", {"phone": "13699998888", "occupation": "退休"})
    assert response.status_code == 200
    assert response.json()["phone_masked"] == "*******8888" and "13699998888" not in response.content.decode()
    zhang.refresh_from_db()
    assert crypto.decrypt(zhang.phone) == "13699998888" and zhang.occupation == "退休"
    assert crypto.decrypt(zhang.id_number) == registry["ids"]["zhang"]  # untouched
    dup = gm.patch(f"/people/{zhang.pk}", {"id_number": registry["ids"]["li"]})
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_id"
    bad = gm.patch(f"/people/{zhang.pk}", {"status": "flying"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "status"
    wang = registry["residents"]["wang"]
    assert gm.patch(f"/people/{wang.pk}", {"occupation": "x"}).status_code == 404


def test_tags_sensitive_visibility(api, registry):
    zhang = registry["residents"]["zhang"]
    gm, officer = api("gm"), api("officer")
    gm_codes = {t["code"] for t in gm.get("/tags").json()}
    assert "elderly_alone" in gm_codes and "community_correction" not in gm_codes
    assert "community_correction" in {t["code"] for t in officer.get("/tags").json()}
    assert gm.post(f"/people/{zhang.pk}/tags", {"tag": "elderly_alone", "grade": 1}).status_code == 200
    refused = gm.post(f"/people/{zhang.pk}/tags", {"tag": "community_correction"})
    assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "tag"
    assert officer.post(f"/people/{zhang.pk}/tags", {"tag": "community_correction"}).status_code == 200
    assert {t["tag"] for t in gm.get(f"/people/{zhang.pk}").json()["tags"]} == {"elderly_alone"}
    assert {t["tag"] for t in officer.get(f"/people/{zhang.pk}").json()["tags"]} == {"elderly_alone",
                                                                                       "community_correction"}
    assert gm.get("/people", tag="community_correction").json()["count"] == 0
    assert officer.get("/people", tag="community_correction").json()["count"] == 1


def test_visits_due_and_record(api, registry):
    zhang, li, tags = registry["residents"]["zhang"], registry["residents"]["li"], registry["tags"]
    admin, today = registry["users"]["admin"], timezone.localdate()
    services.resident_tag_set(resident=li, tag=tags["elderly_alone"], by=admin, since=today - dt.timedelta(days=2))
    services.resident_tag_set(resident=zhang, tag=tags["elderly_alone"], by=admin,
                              since=today - dt.timedelta(days=40))
    gm = api("gm")
    due = gm.get("/visits/due").json()
    assert [d["name"] for d in due["items"]] == ["张三", "李四"]
    assert due["items"][0]["overdue"] and not due["items"][1]["overdue"]
    response = gm.post(f"/people/{zhang.pk}/visits", {"tag": "elderly_alone", "content": "一切安好", "seen": True})
    assert response.status_code == 201 and response.json()["tag"] == "elderly_alone"
    assert Visit.objects.filter(resident=zhang, visitor=registry["users"]["gm"]).count() == 1
    after = gm.get("/visits/due").json()["items"]  # visited just now: due again in a week, no longer overdue
    assert [d["name"] for d in after] == ["李四", "张三"] and not after[1]["overdue"]
    assert gm.post(f"/people/{zhang.pk}/visits", {"content": ""}).status_code == 422
    assert api("gm3").get("/visits/due").json()["count"] == 0


def test_houses_households_units(api, registry):
    admin, zhang, li = registry["users"]["admin"], registry["residents"]["zhang"], registry["residents"]["li"]
    household = services.household_save(by=admin, grid=registry["g1"], number="H9", house=registry["houses"]["g1"][0])
    services.resident_save(by=admin, grid=registry["g1"], resident=li, data={"household": household,
                                                                              "relation": "spouse"})
    services.resident_save(by=admin, grid=registry["g1"], resident=zhang, data={"household": household,
                                                                                 "relation": "head"})
    services.unit_save(by=admin, grid=registry["g1"], data={"name": "便民超市", "contact_phone": "13300001234"})
    gm = api("gm")
    houses = gm.get("/houses").json()
    assert houses["count"] == 3 and all(h["grid"] == registry["g1"].code for h in houses["items"])
    assert gm.get("/houses", grid=registry["g3"].code).json()["count"] == 0
    response = gm.get(f"/households/{household.pk}")
    assert [m["name"] for m in response.json()["members"]] == ["张三", "李四"]
    assert no_plaintext(response, registry)
    assert api("gm3").get(f"/households/{household.pk}").status_code == 404
    units = gm.get("/units")
    assert units.json()["items"][0]["contact_phone_masked"] == "*******1234"
    assert "13300001234" not in units.content.decode()
    assert api("gm3").get("/units").json()["count"] == 0
