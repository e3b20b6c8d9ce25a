"""The residents API for what the web UI also does: confirm a record, merge two records of the same person, a
grid's data quality; with the UI's rules (editors only, scope, masking)."""

import datetime as dt
import json

import pytest

from gridgov.accounts.services import token_create
from gridgov.core.models import AuditEntry
from gridgov.residents import services
from gridgov.residents.models import Resident

from .conftest import make_id

pytestmark = pytest.mark.django_db

NEW_ID = make_id("320508", dt.date(1990, 6, 15), 27)


def call(client, registry, user, method, path, body=None):
    headers = {"Accept-Language": "en",
               "Authorization": f"Bearer {token_create(user=registry['users'][user], name='t')[1]}"}
    if method == "get":
        return client.get(f"/api/v1/residents{path}", headers=headers)
    return client.post(f"/api/v1/residents{path}", json.dumps(body or {}), content_type="application/json",
                       headers=headers)


def twins(registry):
    house = registry["houses"]["g1"][1]
    keep, _ = services.resident_save(by=registry["users"]["gm"], grid=registry["g1"],
                                     data={"name": "钱七", "house": house})
    dup, _ = services.resident_save(by=registry["users"]["gm"], grid=registry["g1"],
                                    data={"name": "钱七", "id_number": NEW_ID, "house": house})
    # an older record without the ID number but with the same birth date: a suspected duplicate
    Resident.objects.filter(pk=keep.pk).update(birth_date=dt.date(1990, 6, 15))
    keep.refresh_from_db()
    return keep, dup


def test_confirm_marks_the_record_confirmed_and_is_audited(client, registry):
    zhang = registry["residents"]["zhang"]
    Resident.objects.filter(pk=zhang.pk).update(confirmed_at=None)
    response = call(client, registry, "gm", "post", f"/people/{zhang.pk}/confirm")
    assert response.status_code == 200, response.content
    assert response.json()["confirmed_at"]
    assert AuditEntry.objects.filter(action="resident.confirm", object_id=str(zhang.pk)).exists()


def test_confirm_follows_the_ui_rules(client, registry):
    zhang, wang = registry["residents"]["zhang"], registry["residents"]["wang"]
    assert call(client, registry, "leader", "post", f"/people/{zhang.pk}/confirm").status_code == 403
    assert call(client, registry, "gm", "post", f"/people/{wang.pk}/confirm").status_code == 404  # not my grid
    assert call(client, registry, "gm", "post", "/people/999999/confirm").status_code == 404
    assert not AuditEntry.objects.filter(action="resident.confirm").exists()


def test_quality_lists_suspected_duplicates_masked_and_merge_folds_them(client, registry):
    keep, dup = twins(registry)
    response = call(client, registry, "gm", "get", f"/grids/{registry['g1'].code}/quality")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grid"] == registry["g1"].code and body["residents"] >= 4
    assert [(p["keep"]["id"], p["duplicate"]["id"]) for p in body["duplicates"]] == [(keep.pk, dup.pk)]
    assert NEW_ID not in response.content.decode()  # masked, as everywhere
    # either order merges the newer into the older
    merged = call(client, registry, "gm", "post", "/people/merge", {"keep": dup.pk, "duplicate": keep.pk})
    assert merged.status_code == 200, merged.content
    assert merged.json()["id"] == keep.pk
    dup.refresh_from_db()
    assert dup.status == "moved_out"
    assert AuditEntry.objects.filter(action="resident.merge", object_id=str(keep.pk)).exists()


@pytest.mark.parametrize("user, status", [("leader", 403), ("gm3", 404)])
def test_merge_follows_the_ui_rules(client, registry, user, status):
    keep, dup = twins(registry)
    response = call(client, registry, user, "post", "/people/merge", {"keep": keep.pk, "duplicate": dup.pk})
    assert response.status_code == status
    dup.refresh_from_db()
    assert dup.status != "moved_out"


@pytest.mark.parametrize("body, field", [
    ({"keep": 1}, "duplicate"),
    ({"keep": 0, "duplicate": 1}, "keep"),
    ({"keep": 1, "duplicate": 2, "force": True}, "force"),
])
def test_bad_merge_bodies_are_422_naming_the_field(client, registry, body, field):
    response = call(client, registry, "gm", "post", "/people/merge", body)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]


def test_merging_a_record_with_itself_is_a_422(client, registry):
    zhang = registry["residents"]["zhang"]
    response = call(client, registry, "gm", "post", "/people/merge", {"keep": zhang.pk, "duplicate": zhang.pk})
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "duplicate"


def test_quality_of_a_grid_outside_my_scope_is_404(client, registry):
    response = call(client, registry, "gm", "get", f"/grids/{registry['g3'].code}/quality")
    assert response.status_code == 404 and response.json()["code"] == "unknown_grid"


def test_a_house_lists_everyone_recorded_there_masked(client, registry):
    house = registry["houses"]["g1"][0]
    zhang, li = registry["residents"]["zhang"], registry["residents"]["li"]
    response = call(client, registry, "gm", "get", f"/houses/{house.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == house.pk and body["grid"] == registry["g1"].code
    assert sorted(r["id"] for r in body["residents"]) == sorted([zhang.pk, li.pk])
    assert all(v not in response.content.decode() for v in [*registry["ids"].values(), *registry["phones"].values()])


def test_a_house_outside_my_scope_is_404(client, registry):
    house = registry["houses"]["g3"][0]
    assert call(client, registry, "gm", "get", f"/houses/{house.pk}").status_code == 404
    assert call(client, registry, "resident", "get", f"/houses/{house.pk}").status_code == 404
    assert call(client, registry, "admin", "get", f"/houses/{house.pk}").status_code == 200


def test_search_by_post_keeps_the_id_number_out_of_the_url(client, registry):
    zhang = registry["residents"]["zhang"]
    response = call(client, registry, "gm", "post", "/people/search?page_size=10",
                    {"q": registry["ids"]["zhang"], "ordering": "-name"})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1 and response.json()["items"][0]["id"] == zhang.pk
    assert registry["ids"]["zhang"] not in response.content.decode()
    # scoped like the GET: wang lives in g3
    other = call(client, registry, "gm", "post", "/people/search", {"q": registry["ids"]["wang"]})
    assert other.json()["count"] == 0
    bad = call(client, registry, "gm", "post", "/people/search", {"q": "x", "id_number": "1"})
    assert bad.status_code == 422 and [d["field"] for d in bad.json()["details"]] == ["id_number"]
