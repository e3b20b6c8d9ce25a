"""The grid member's resident screens: scope, masking and audited unmasking, search through the blind index,
editing on a phone, sensitive tags, visits, data quality and merge."""

import datetime as dt
import warnings

import pytest
from django.core.paginator import UnorderedObjectListWarning
from django.urls import reverse
from django.utils import timezone

from gridgov.core import crypto
from gridgov.core.models import AuditEntry
from gridgov.residents import services
from gridgov.residents.models import Resident, Visit

from .conftest import make_id

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def login(client, user):
    client.force_login(user)
    return client


def assert_no_plaintext(content: bytes, registry):
    text = content.decode()
    for value in [*registry["ids"].values(), *registry["phones"].values()]:
        assert value not in text


# --- scope ----------------------------------------------------------------------------------------------------

def test_grid_member_cannot_open_another_grids_resident(client, registry):
    zhang, wang = registry["residents"]["zhang"], registry["residents"]["wang"]
    login(client, registry["users"]["gm"])
    assert client.get(reverse("residents:detail", args=[zhang.pk])).status_code == 200
    assert client.get(reverse("residents:detail", args=[wang.pk])).status_code == 404
    assert client.get(reverse("residents:edit", args=[wang.pk])).status_code == 404
    assert client.get(reverse("residents:grid", args=[registry["g3"].code])).status_code == 404
    assert client.get(reverse("residents:house", args=[registry["houses"]["g3"][0].pk])).status_code == 404
    # and the search does not find them either
    response = client.get(reverse("residents:search"), {"q": registry["ids"]["wang"]})
    assert "王五" not in response.content.decode()


def test_a_resident_user_is_refused(client, registry):
    login(client, registry["users"]["resident"])
    assert client.get(reverse("residents:index")).status_code == 403


def test_drill_down_grid_house_resident(client, registry):
    login(client, registry["users"]["gm"])
    index = client.get(reverse("residents:index")).content.decode()
    assert registry["g1"].name in index and registry["g3"].name not in index
    grid = client.get(reverse("residents:grid", args=[registry["g1"].code])).content.decode()
    house = registry["houses"]["g1"][0]
    assert reverse("residents:house", args=[house.pk]) in grid
    page = client.get(reverse("residents:house", args=[house.pk]))
    assert "张三" in page.content.decode() and "李四" in page.content.decode()
    assert "3205**********0032" in page.content.decode()
    assert_no_plaintext(page.content, registry)


# --- masking and unmasking ------------------------------------------------------------------------------------

def test_pages_never_show_plaintext_identifiers(client, registry):
    zhang = registry["residents"]["zhang"]
    for user in ("gm", "officer", "dispatcher", "admin"):
        login(client, registry["users"][user])
        for url in [reverse("residents:detail", args=[zhang.pk]), reverse("residents:edit", args=[zhang.pk]),
                    reverse("residents:grid", args=[registry["g1"].code]),
                    reverse("residents:quality", args=[registry["g1"].code]),
                    reverse("residents:search") + "?q=张"]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_no_plaintext(response.content, registry)


def test_unmask_needs_the_permission_and_is_audited(client, registry):
    zhang = registry["residents"]["zhang"]
    url = reverse("residents:unmask", args=[zhang.pk, "id_number"])
    login(client, registry["users"]["gm"])
    detail = client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    assert 'data-testid="unmask-id"' not in detail
    assert client.post(url).status_code == 403
    assert not AuditEntry.objects.filter(action="resident.unmask").exists()

    login(client, registry["users"]["officer"])
    detail = client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    assert 'data-testid="unmask-id"' in detail
    response = client.post(url)
    assert response.status_code == 200
    assert registry["ids"]["zhang"] in response.content.decode()
    entry = AuditEntry.objects.get(action="resident.unmask")
    assert entry.actor == registry["users"]["officer"] and entry.object_id == str(zhang.pk)
    assert entry.after == {"field": "id_number"}

    login(client, registry["users"]["admin"])
    response = client.post(reverse("residents:unmask", args=[zhang.pk, "phone"]))
    assert registry["phones"]["zhang"] in response.content.decode()
    assert AuditEntry.objects.filter(action="resident.unmask").count() == 2


def test_unmask_is_post_only_and_in_scope(client, registry):
    login(client, registry["users"]["officer"])
    wang = registry["residents"]["wang"]
    assert client.post(reverse("residents:unmask", args=[wang.pk, "phone"])).status_code == 404
    zhang = registry["residents"]["zhang"]
    assert client.get(reverse("residents:unmask", args=[zhang.pk, "phone"])).status_code == 405
    assert client.post(reverse("residents:unmask", args=[zhang.pk, "name"])).status_code == 422
    assert not AuditEntry.objects.filter(action="resident.unmask").exists()


# --- search ---------------------------------------------------------------------------------------------------

def test_search_by_exact_id_phone_and_name(client, registry):
    login(client, registry["users"]["gm"])
    url = reverse("residents:search")
    by_id = client.get(url, {"q": registry["ids"]["zhang"]}).content.decode()
    assert "张三" in by_id and "李四" not in by_id
    results = by_id.split('id="search-results"')[1]
    assert registry["ids"]["zhang"] not in results  # the typed query is echoed in the box, never in the results
    assert "3205**********0032" in by_id
    by_phone = client.get(url, {"q": "139 1234 5678"}).content.decode()
    assert "张三" in by_phone and "李四" not in by_phone and "*******5678" in by_phone
    partial = client.get(url, {"q": registry["ids"]["zhang"][:12]}).content.decode()
    assert "张三" not in partial  # digits are never matched by prefix
    assert "李四" in client.get(url, {"q": "李"}).content.decode()
    fragment = client.get(url, {"q": "张"}, headers={"HX-Request": "true"}).content.decode()
    assert "张三" in fragment and "<html" not in fragment


def test_an_id_search_loads_everything_a_result_row_shows(registry, django_assert_num_queries):
    # the exact-ID search loads selectors.RESULT_ROW_FIELDS only: showing the row must not read a column more
    from django.template.loader import render_to_string

    from gridgov.disputes.forms import resident_label
    from gridgov.residents import selectors, views
    from gridgov.residents.schemas import ResidentOut

    rows = list(selectors.resident_list(user=registry["users"]["gm"], q=registry["ids"]["zhang"], status=None))
    assert [r.name for r in rows] == ["张三"] and rows[0].house_id
    with django_assert_num_queries(0):
        out = ResidentOut.from_orm(rows[0]).model_dump()
        html = render_to_string("residents/_resident_rows.html", {"residents": views._masked(rows),
                                                                   "show_address": True})
        label = resident_label(rows[0])
    assert out["grid"] == registry["g1"].code and out["address"] and out["id_masked"] == "3205**********0032"
    assert out["address"] in html and registry["g1"].name in html and out["address"] in label


def test_a_search_by_id_number_pages_an_ordered_answer(client, registry):
    # the exact-ID branch skips the name ordering; it must still hand the paginator an ordered query
    login(client, registry["users"]["gm"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnorderedObjectListWarning)
        body = client.get(reverse("residents:search"), {"q": registry["ids"]["zhang"]}).content.decode()
    assert "张三" in body


# --- edit -----------------------------------------------------------------------------------------------------

def _form_data(resident, **changes):
    data = {"name": resident.name, "id_number": "3205**********" + resident.id_last4,
            "phone": "*******" + resident.phone_last4, "ethnicity": resident.ethnicity,
            "registered_address": resident.registered_address, "presence": resident.presence,
            "residence_type": resident.residence_type, "occupation": resident.occupation,
            "political_status": resident.political_status, "status": resident.status,
            "house": resident.house_id or "", "relation": resident.relation}
    data.update(changes)
    return data


def test_edit_phone_keeps_the_id_number(client, registry):
    zhang = registry["residents"]["zhang"]
    login(client, registry["users"]["gm"])
    page = client.get(reverse("residents:edit", args=[zhang.pk])).content.decode()
    assert 'value="3205**********0032"' in page and 'value="*******5678"' in page
    response = client.post(reverse("residents:edit", args=[zhang.pk]), _form_data(zhang, phone="13655556666"))
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert crypto.decrypt(zhang.phone) == "13655556666"
    assert zhang.phone_index == crypto.blind_index("13655556666")
    assert crypto.decrypt(zhang.id_number) == registry["ids"]["zhang"]
    assert "13655556666" not in zhang.phone
    detail = client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    assert "13655556666" not in detail and "*******6666" in detail
    history = detail.split('data-testid="history"')[1]
    assert "Phone: changed" in " ".join(history.split())


def test_duplicate_id_is_a_form_error_on_the_id_field(client, registry):
    li = registry["residents"]["li"]
    login(client, registry["users"]["gm"])
    response = client.post(reverse("residents:edit", args=[li.pk]),
                           _form_data(li, id_number=registry["ids"]["zhang"]))
    assert response.status_code == 200
    assert 'data-testid="error-id_number"' in response.content.decode()
    assert "already registered" in response.content.decode()
    li.refresh_from_db()
    assert crypto.decrypt(li.id_number) == registry["ids"]["li"]


def test_bad_check_digit_is_a_form_error(client, registry):
    li = registry["residents"]["li"]
    good = make_id(birth=dt.date(1990, 2, 3))
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    login(client, registry["users"]["gm"])
    response = client.post(reverse("residents:edit", args=[li.pk]), _form_data(li, id_number=bad))
    assert response.status_code == 200
    assert 'data-testid="error-id_number"' in response.content.decode()
    assert "check digit" in response.content.decode()
    li.refresh_from_db()
    assert crypto.decrypt(li.id_number) == registry["ids"]["li"]


def test_new_resident_from_a_house_page(client, registry):
    house = registry["houses"]["g1"][1]
    login(client, registry["users"]["gm"])
    number = make_id(birth=dt.date(1975, 6, 7), seq=11)
    response = client.post(reverse("residents:new", args=[house.pk]),
                           {"name": "赵六", "id_number": number, "phone": "13511112222", "presence": "consistent",
                            "residence_type": "registered", "political_status": "masses", "status": "active",
                            "house": "", "relation": ""})
    assert response.status_code == 302
    new = Resident.objects.get(name="赵六")
    assert new.house == house and new.grid == registry["g1"]
    assert new.birth_date == dt.date(1975, 6, 7)
    assert crypto.decrypt(new.id_number) == number and number not in new.id_number


def test_confirm_marks_the_record_current(client, registry):
    zhang = registry["residents"]["zhang"]
    Resident.objects.filter(pk=zhang.pk).update(confirmed_at=timezone.now() - dt.timedelta(days=400))
    login(client, registry["users"]["gm"])
    client.post(reverse("residents:confirm", args=[zhang.pk]))
    zhang.refresh_from_db()
    assert zhang.confirmed_at > timezone.now() - dt.timedelta(minutes=1)


def test_a_leader_reads_but_does_not_edit(client, registry):
    zhang = registry["residents"]["zhang"]
    login(client, registry["users"]["leader"])
    assert client.get(reverse("residents:detail", args=[zhang.pk])).status_code == 200
    assert client.get(reverse("residents:edit", args=[zhang.pk])).status_code == 403


# --- tags, household, visits ----------------------------------------------------------------------------------

def test_sensitive_tags_hidden_without_permission(client, registry):
    zhang, admin, tags = registry["residents"]["zhang"], registry["users"]["admin"], registry["tags"]
    services.resident_tag_set(resident=zhang, tag=tags["elderly_alone"], by=admin)
    services.resident_tag_set(resident=zhang, tag=tags["community_correction"], by=admin)
    services.visit_record(resident=zhang, by=admin, tag=tags["community_correction"], content="矫正谈话记录")
    login(client, registry["users"]["gm"])
    page = client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    assert tags["elderly_alone"].name in page and tags["community_correction"].name not in page
    assert "矫正谈话记录" not in page
    visit_form = client.get(reverse("residents:visit", args=[zhang.pk])).content.decode()
    assert tags["community_correction"].name not in visit_form
    login(client, registry["users"]["officer"])
    page = client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    assert tags["community_correction"].name in page and "矫正谈话记录" in page


def test_household_head_first(client, registry):
    from gridgov.residents.models import Household

    zhang, li, admin = registry["residents"]["zhang"], registry["residents"]["li"], registry["users"]["admin"]
    household = services.household_save(by=admin, grid=registry["g1"], number="H001",
                                        house=registry["houses"]["g1"][0])
    services.resident_save(by=admin, grid=registry["g1"], resident=li, data={"household": household,
                                                                              "relation": "spouse"})
    services.resident_save(by=admin, grid=registry["g1"], resident=zhang, data={"household": household,
                                                                                 "relation": "head"})
    login(client, registry["users"]["gm"])
    page = client.get(reverse("residents:household", args=[household.pk])).content.decode()
    assert page.index("张三") < page.index("李四")
    assert_no_plaintext(page.encode(), registry)
    assert Household.objects.count() == 1
    login(client, registry["users"]["gm3"])
    assert client.get(reverse("residents:household", args=[household.pk])).status_code == 404


def test_record_a_visit(client, registry):
    zhang, tags = registry["residents"]["zhang"], registry["tags"]
    services.resident_tag_set(resident=zhang, tag=tags["elderly_alone"], by=registry["users"]["admin"])
    login(client, registry["users"]["gm"])
    response = client.post(reverse("residents:visit", args=[zhang.pk]),
                           {"tag": tags["elderly_alone"].pk, "form": "home", "purpose": "routine",
                            "content": "身体良好，家中整洁", "seen": "on", "condition": "good", "measures": ""})
    assert response.status_code == 302
    visit = Visit.objects.get(resident=zhang)
    assert visit.tag == tags["elderly_alone"] and visit.visitor == registry["users"]["gm"] and visit.seen
    assert "身体良好" in client.get(reverse("residents:detail", args=[zhang.pk])).content.decode()
    # empty content: a form error, nothing written
    response = client.post(reverse("residents:visit", args=[zhang.pk]), {"form": "home", "content": " "})
    assert response.status_code == 200 and Visit.objects.count() == 1


def test_a_sensitive_tag_cannot_be_forced_into_the_visit_form(client, registry):
    zhang, tags = registry["residents"]["zhang"], registry["tags"]
    services.resident_tag_set(resident=zhang, tag=tags["community_correction"], by=registry["users"]["admin"])
    login(client, registry["users"]["gm"])
    response = client.post(reverse("residents:visit", args=[zhang.pk]),
                           {"tag": tags["community_correction"].pk, "form": "home", "content": "x"})
    assert response.status_code == 200 and not Visit.objects.exists()


def test_visits_due_overdue_first(client, registry):
    zhang, li, tags = registry["residents"]["zhang"], registry["residents"]["li"], registry["tags"]
    admin, today = registry["users"]["admin"], timezone.localdate()
    services.resident_tag_set(resident=li, tag=tags["elderly_alone"], by=admin, since=today - dt.timedelta(days=3))
    services.resident_tag_set(resident=zhang, tag=tags["elderly_alone"], by=admin,
                              since=today - dt.timedelta(days=30))
    login(client, registry["users"]["gm"])
    page = client.get(reverse("residents:visits_due")).content.decode()
    assert page.index(f'data-testid="due-{zhang.pk}"') < page.index(f'data-testid="due-{li.pk}"')
    zhang_row = page.split(f'data-testid="due-{zhang.pk}"')[1].split("</li>")[0]
    li_row = page.split(f'data-testid="due-{li.pk}"')[1].split("</li>")[0]
    assert "late" in zhang_row and "late" not in li_row
    login(client, registry["users"]["gm3"])
    assert "张三" not in client.get(reverse("residents:visits_due")).content.decode()


# --- data quality and merge -----------------------------------------------------------------------------------

def test_quality_page_lists_incomplete_and_stale_records(client, registry):
    bare, _ = services.resident_save(by=registry["users"]["admin"], grid=registry["g1"], data={"name": "孙七"})
    Resident.objects.filter(pk=bare.pk).update(confirmed_at=timezone.now() - dt.timedelta(days=400))
    login(client, registry["users"]["gm"])
    page = client.get(reverse("residents:quality", args=[registry["g1"].code])).content.decode()
    incomplete = page.split('data-testid="incomplete"')[1].split("</ul>")[0]
    assert "孙七" in incomplete and "ID number" in incomplete and "phone" in incomplete
    stale = page.split('data-testid="stale"')[1].split("</ul>")[0]
    assert "孙七" in stale and "张三" not in stale


def test_merge_suspected_duplicates(client, registry):
    zhang, admin = registry["residents"]["zhang"], registry["users"]["admin"]
    twin, _ = services.resident_save(by=admin, grid=registry["g1"],
                                     data={"name": "张三", "house": zhang.house, "occupation": "教师"})
    Resident.objects.filter(pk=twin.pk).update(birth_date=zhang.birth_date)
    login(client, registry["users"]["gm"])
    quality = client.get(reverse("residents:quality", args=[registry["g1"].code])).content.decode()
    merge_url = reverse("residents:merge", args=[zhang.pk, twin.pk])
    assert merge_url in quality
    confirm = client.get(merge_url)
    assert confirm.status_code == 200 and 'data-testid="confirm-merge"' in confirm.content.decode()
    assert_no_plaintext(confirm.content, registry)
    response = client.post(reverse("residents:merge", args=[twin.pk, zhang.pk]))  # order does not matter
    assert response.status_code == 302 and response["Location"] == reverse("residents:detail", args=[zhang.pk])
    zhang.refresh_from_db()
    twin.refresh_from_db()
    assert twin.status == "moved_out" and zhang.status == "active"
    assert zhang.occupation == "教师"
    assert AuditEntry.objects.filter(action="resident.merge", object_id=str(zhang.pk)).exists()


def test_search_by_id_is_posted_and_the_number_is_not_echoed(client, registry):
    client.force_login(registry["users"]["gm"])
    number = registry["ids"]["zhang"]
    response = client.post("/residents/search/", {"q": number})
    body = response.content.decode()
    assert response.status_code == 200 and "张三" in body
    assert number not in body
