"""The dispute screens as their users see them: who may open which page, the queue, the list, registration with
parties, the nav, and the resident page's disputes. (The dispute page's actions: test_views_detail.py; the
boards: test_views_boards.py.)"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from gridgov.accounts.tests.factories import UserFactory
from gridgov.disputes.models import Dispute, Party, Step
from gridgov.disputes.tests.pages import text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield




def _register_data(mediation, **overrides) -> dict:
    zhang = mediation["residents"]["zhang"]
    data = {
        "type": "neighbourhood", "source": "screening", "source_reference": "", "grid": mediation["g1"].code,
        "lon": "", "lat": "", "coord_sys": "wgs84", "address": "人民路1号1幢1单元101室",
        "description": "楼上漏水，双方争执", "people_count": "2", "amount": "1500", "grade": "general", "title": "",
        "parties-TOTAL_FORMS": "3", "parties-INITIAL_FORMS": "2", "parties-MIN_NUM_FORMS": "0",
        "parties-MAX_NUM_FORMS": "50",
        "parties-0-kind": "person", "parties-0-role": "applicant", "parties-0-resident": str(zhang.pk),
        "parties-0-name": "", "parties-0-phone": "", "parties-0-credit_code": "", "parties-0-note": "",
        "parties-1-kind": "person", "parties-1-role": "respondent", "parties-1-resident": "",
        "parties-1-name": "楼上住户赵六", "parties-1-phone": "13600003333", "parties-1-credit_code": "",
        "parties-1-note": "601室",
        # a third row left empty: ignored
        "parties-2-kind": "person", "parties-2-role": "applicant", "parties-2-resident": "", "parties-2-name": "",
        "parties-2-phone": "", "parties-2-credit_code": "", "parties-2-note": "",
    }
    data.update(overrides)
    return data


# --- who sees what ------------------------------------------------------------------------------------------

def test_the_pages_need_a_login(client, mediation, register, t0):
    d = register()
    for url in ("/disputes/", "/disputes/list/", "/disputes/new/", f"/disputes/{d.pk}/", "/disputes/warnings/",
                "/disputes/measures/", "/disputes/map/", "/disputes/map.json"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


@pytest.mark.parametrize("who", ["resident", "handler"])
def test_residents_and_handlers_see_no_dispute_screen(as_user, mediation, register, t0, who):
    d = register()
    user = mediation["users"]["resident"] if who == "resident" else UserFactory(role="handler")
    c = as_user(user)
    for url in ("/disputes/", "/disputes/list/", "/disputes/warnings/", "/disputes/measures/", "/disputes/map/",
                "/disputes/map.json", "/disputes/new/"):
        assert c.get(url).status_code == 403, url
    assert c.get(f"/disputes/{d.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["mediator", "gm", "cdispatcher", "dispatcher", "cleader", "leader", "admin",
                                 "mediator_s"])
def test_the_people_of_the_area_see_the_dispute(as_user, mediation, register, t0, who):
    d = register()
    c = as_user(mediation["users"][who])
    for url in ("/disputes/", "/disputes/list/", f"/disputes/{d.pk}/", "/disputes/warnings/", "/disputes/map/"):
        assert c.get(url).status_code == 200, url
    assert d.number in text(c.get("/disputes/list/"))


@pytest.mark.parametrize("who", ["mediator2", "gm3", "other_dispatcher"])
def test_a_dispute_of_another_community_is_not_found(as_user, mediation, register, t0, who):
    d = register()
    c = as_user(mediation["users"][who])
    assert c.get(f"/disputes/{d.pk}/").status_code == 404
    assert c.post(f"/disputes/{d.pk}/act/comment/", {"version": d.version, "note": "x"}).status_code == 404
    assert c.get(f"/disputes/{d.pk}/agreement.docx").status_code == 404
    assert d.number not in text(c.get("/disputes/list/"))
    assert d.number not in text(c.get("/disputes/"))


# --- the queue and the list ---------------------------------------------------------------------------------

def test_the_mediators_queue(as_user, mediation, register, t0):
    from gridgov.disputes import services

    u = mediation["users"]
    waiting = register(title="等待调解的纠纷")
    mine = register(title="我的纠纷")
    services.dispute_assess(dispute_id=mine.pk, by=u["mediator"], grade="major", risk_note="r")
    services.dispute_assign(dispute_id=mine.pk, by=u["mediator"], mediator_id=u["mediator"].pk)
    response = as_user(u["mediator"]).get("/disputes/")
    assert response.status_code == 200
    page = response.content.decode()
    mine_section = page.split('data-testid="mine"')[1].split("</ul>")[0]
    waiting_section = page.split('data-testid="waiting"')[1].split("</ul>")[0]
    assert "我的纠纷" in mine_section and mine.number in mine_section and "Mediating" in mine_section
    assert "等待调解的纠纷" in waiting_section and waiting.number not in mine_section
    assert "Major" in mine_section and "General" in waiting_section  # the grade badges
    assert f'href="/disputes/{mine.pk}/"' in mine_section
    assert "#f07f13" in mine_section  # the major grade's colour


def test_a_past_deadline_is_red_in_the_queue(as_user, mediation, register, t0):
    d = register()
    Dispute.objects.filter(pk=d.pk).update(due_at=t0.replace(year=2020))
    response = as_user(mediation["users"]["mediator"]).get("/disputes/")
    assert 'data-testid="late"' in response.content.decode()
    assert "2020-11-02" in text(response)


def test_the_list_filters_and_pages(as_user, mediation, register, t0):
    u = mediation["users"]
    serious = register(grade="serious", title="重大纠纷")
    general = register(title="一般纠纷")
    c = as_user(u["mediator"])
    response = c.get("/disputes/list/", {"grade": "serious"})
    assert response.status_code == 200
    assert serious.number in text(response) and general.number not in text(response)
    assert "1 dispute" in text(response)
    assert 'data-testid="active-filters"' in response.content.decode()
    # htmx gets the table alone
    partial = c.get("/disputes/list/", {"q": general.number}, HTTP_HX_REQUEST="true")
    assert general.number in text(partial) and serious.number not in text(partial)
    assert "<html" not in partial.content.decode()
    # a bad filter value: a 400 with the message, never a 500
    bad = c.get("/disputes/list/", {"registered_from": "not-a-date"})
    assert bad.status_code == 400 and 'data-testid="filter-error"' in bad.content.decode()
    for _ in range(25):
        register()
    first = c.get("/disputes/list/")
    assert "27 disputes" in text(first) and 'data-testid="next-page"' in first.content.decode()
    assert "Page 2 of 2" in text(c.get("/disputes/list/", {"page": 2}))


# --- registration -------------------------------------------------------------------------------------------

def test_a_grid_member_registers_a_dispute_with_two_parties(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    form = c.get("/disputes/new/")
    assert form.status_code == 200
    assert 'name="parties-0-role"' in form.content.decode() and 'name="parties-1-role"' in form.content.decode()
    response = c.post("/disputes/new/", _register_data(mediation))
    d = Dispute.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/disputes/{d.pk}/"
    parties = list(d.parties.order_by("id"))
    assert [(p.name, p.role, p.resident_id) for p in parties] == [
        ("张三", "applicant", mediation["residents"]["zhang"].pk), ("楼上住户赵六", "respondent", None)]
    assert d.grid == mediation["g1"] and str(d.amount) == "1500.00" and d.state == "registered"
    page = c.get(response["Location"])
    assert "registered" in text(page).lower() and d.number in text(page)
    assert "136****3333" in text(page) and "13600003333" not in page.content.decode()


def test_registering_by_a_point_on_the_map(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    response = c.post("/disputes/new/", _register_data(mediation, grid="", lon="120.605", lat="31.305"))
    assert response.status_code == 302
    d = Dispute.objects.get()
    assert d.grid == mediation["g1"] and d.lon == pytest.approx(120.605)


@pytest.mark.parametrize("change,message", [
    ({"parties-1-name": "", "parties-1-phone": "", "parties-1-note": ""}, "at least two parties"),
    ({"grade": "catastrophic"}, "Select a valid choice"),
    ({"description": ""}, "This field is required"),
    ({"parties-1-phone": "12"}, "not a phone number"),
    ({"grid": "", "lon": "", "lat": ""}, "give the grid or the location"),
])
def test_a_bad_registration_is_refused_with_nothing_written(as_user, mediation, t0, change, message):
    c = as_user(mediation["users"]["gm"])
    response = c.post("/disputes/new/", _register_data(mediation, **change))
    assert response.status_code == 422
    assert message in text(response)
    assert 'data-testid="form-errors"' in response.content.decode()
    assert Dispute.objects.count() == 0 and Party.objects.count() == 0 and Step.objects.count() == 0


def test_a_party_error_is_shown_at_its_row(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    # the filled rows are 0 and 2 (row 1 empty): the service's parties[1] is the page's row 2
    data = _register_data(mediation, **{"parties-1-name": "", "parties-1-phone": "", "parties-1-note": "",
                                        "parties-2-name": "某公司", "parties-2-kind": "organisation",
                                        "parties-2-role": "respondent", "parties-2-credit_code": "123"})
    response = c.post("/disputes/new/", data)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'data-testid="error-parties-2-credit_code"' in page
    assert Dispute.objects.count() == 0


def test_a_place_outside_the_grid_members_grids_is_refused(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    response = c.post("/disputes/new/", _register_data(mediation, grid=mediation["g3"].code))
    assert response.status_code in (403, 422)
    assert Dispute.objects.count() == 0


def test_the_registry_search_offers_residents_in_scope_only(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    response = c.get("/disputes/new/", {"parties-0-resident_q": "张"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "张三" in response.content.decode() and "<option" in response.content.decode()
    assert "13912345678" not in response.content.decode()  # phones masked
    assert "王五" not in c.get("/disputes/new/", {"parties-0-resident_q": "王"}, HTTP_HX_REQUEST="true").content.decode()


def test_adding_a_party_row_without_javascript(as_user, mediation, t0):
    c = as_user(mediation["users"]["gm"])
    data = _register_data(mediation, add_party="1")
    response = c.post("/disputes/new/", data)
    assert response.status_code == 200
    assert 'name="parties-3-role"' in response.content.decode()
    assert Dispute.objects.count() == 0


def test_only_grid_members_mediators_and_dispatchers_register(as_user, mediation, t0):
    assert as_user(mediation["users"]["leader"]).get("/disputes/new/").status_code == 403
    assert as_user(mediation["users"]["mediator"]).get("/disputes/new/").status_code == 200
    assert as_user(mediation["users"]["cdispatcher"]).get("/disputes/new/").status_code == 200


# --- the nav and the resident page --------------------------------------------------------------------------

def test_the_nav_links_to_disputes(as_user, mediation):
    u = mediation["users"]
    page = as_user(u["mediator"]).get("/disputes/").content.decode()
    nav = page.split('class="nav-links"')[1].split("</ul>")[0]
    links = re.findall(r'data-testid="nav-([a-z-]+)"', nav)
    assert links[0] == "disputes"
    for who in ("gm", "dispatcher", "leader", "admin"):
        assert 'data-testid="nav-disputes"' in as_user(u[who]).get("/").content.decode(), who
    assert 'data-testid="nav-disputes"' not in as_user(u["resident"]).get("/").content.decode()


def test_the_resident_page_lists_the_residents_disputes(as_user, mediation, register, t0):
    d = register(title="漏水纠纷")
    zhang = mediation["residents"]["zhang"]
    page = as_user(mediation["users"]["gm"]).get(reverse("residents:detail", args=[zhang.pk]))
    assert page.status_code == 200
    section = page.content.decode().split('data-testid="resident-disputes"')[1].split("</ul>")[0]
    assert d.number in section and "漏水纠纷" in section and "General" in section and "Registered" in section
    li = mediation["residents"]["li"]  # not a party
    other = as_user(mediation["users"]["gm"]).get(reverse("residents:detail", args=[li.pk])).content.decode()
    assert d.number not in other
    # a department handler sees neither the resident nor the section
    handler = as_user(UserFactory(role="handler")).get(reverse("residents:detail", args=[zhang.pk]))
    assert handler.status_code in (403, 404) and "resident-disputes" not in handler.content.decode()
