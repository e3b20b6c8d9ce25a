"""The work queues: the dispatcher's console (counts, filters, map, register & dispatch), the department's
queue, the grid member's today and the plain list."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from gridgov.cases import services
from gridgov.cases.choices import State
from gridgov.cases.models import Case, Task


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


pytestmark = pytest.mark.django_db

G1 = (120.605, 31.305)  # grid g1 (community 1, street 1)
G2 = (120.615, 31.305)  # grid g2 (community 1, street 1)
G3 = (120.625, 31.305)  # grid g3 (community 2, street 2)


def report(world, where=G1, category="T0101", by="gm", **kw):
    kw.setdefault("description", "垃圾堆放")
    case, _ = services.case_report(by=world["users"][by], category=category, lon=where[0], lat=where[1], **kw)
    return case


def dispatched(world, where=G1, department="urban", **kw):
    d = world["users"]["dispatcher"] if where != G3 else world["users"]["other_dispatcher"]
    case = report(world, where, **kw)
    services.case_register(case_id=case.pk, by=d)
    return services.case_dispatch(case_id=case.pk, by=d, lead=world[department])


@pytest.fixture
def cases(world):
    """One case in each console queue of the street-1 dispatcher, plus one outside their area."""
    u = world["users"]
    reported = report(world, description="刚上报")
    registered = report(world, G2, description="已立案")
    services.case_register(case_id=registered.pk, by=u["dispatcher"])
    returned = dispatched(world, description="被回退")
    services.case_return(case_id=returned.pk, by=u["handler"], reason="不归我们管")
    extension = dispatched(world, G2, description="申请延期")
    services.case_accept(case_id=extension.pk, by=u["handler"])
    services.case_request_extension(case_id=extension.pk, by=u["handler"], amount=2, unit="days", reason="缺材料")
    verified = dispatched(world, description="已核查")
    services.case_accept(case_id=verified.pk, by=u["handler"])
    services.case_report_back(case_id=verified.pk, by=u["handler"], result="已清理")
    services.case_verify(case_id=verified.pk, by=u["gm"], ok=True)
    elsewhere = report(world, G3, by="gm3", description="别的街道")
    return {"reported": reported, "registered": registered, "returned": returned, "extension": extension,
            "verified": verified, "elsewhere": elsewhere}


def numbers(response) -> set[str]:
    return {c.number for c in response.context["page"].object_list}


# --- the console ---------------------------------------------------------------------------------------------

def test_console_counts_each_queue_of_the_dispatchers_area(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    response = client.get(reverse("cases:console"))
    assert response.status_code == 200
    counts = {q.key: n for q, n in response.context["queues"]}
    assert counts["to_register"] == 1
    assert counts["to_dispatch"] == 2  # the registered one and the returned one
    assert counts["returned"] == 1
    assert counts["extensions"] == 1
    assert counts["to_close"] == 1
    assert counts["open"] == 5  # the case of the other street is not counted
    # the default queue lists every open case of the area, never the other street's
    assert numbers(response) == {c.number for k, c in cases.items() if k != "elsewhere"}
    html = response.content.decode()
    assert 'data-testid="queue-to_register"' in html and cases["elsewhere"].number not in html


@pytest.mark.parametrize(("queue", "expected"), [
    ("to_register", {"reported"}), ("to_dispatch", {"registered", "returned"}), ("returned", {"returned"}),
    ("extensions", {"extension"}), ("to_close", {"verified"}),
])
def test_console_queues_list_their_cases(client, world, cases, queue, expected):
    client.force_login(world["users"]["dispatcher"])
    response = client.get(reverse("cases:console"), {"queue": queue})
    assert numbers(response) == {cases[k].number for k in expected}


def test_returned_case_is_flagged(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    html = client.get(reverse("cases:console"), {"queue": "returned"}).content.decode()
    assert 'data-testid="returned-badge"' in html


def test_console_filters_by_state_category_and_overdue(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    url = reverse("cases:console")
    assert numbers(client.get(url, {"state": "registered"})) == {cases["registered"].number,
                                                                 cases["returned"].number}
    collapse = report(world, G2, category="T0102", extra={"size": "large"}, description="路面塌陷")
    assert numbers(client.get(url, {"category": "T0102"})) == {collapse.number}
    assert numbers(client.get(url, {"category": "T01"})) == {c.number for k, c in cases.items()
                                                            if k != "elsewhere"} | {collapse.number}
    Case.objects.filter(pk=cases["registered"].pk).update(overdue=True)
    response = client.get(url, {"overdue": "true"})
    assert numbers(response) == {cases["registered"].number}
    assert 'data-testid="late"' in response.content.decode()
    assert numbers(client.get(url, {"q": "被回退"})) == {cases["returned"].number}


@pytest.mark.parametrize("params", [{"state": "bogus"}, {"reported_from": "not-a-date"}, {"source": "pigeon"}])
def test_a_bad_filter_value_is_shown_not_a_500(client, world, cases, params):
    client.force_login(world["users"]["dispatcher"])
    response = client.get(reverse("cases:console"), params)
    assert response.status_code == 400
    assert 'data-testid="filter-error"' in response.content.decode()
    assert response.context["total"] == 0
    as_json = client.get(reverse("cases:console_map"), params)
    assert as_json.status_code == 400 and as_json.json()["code"] == "invalid_filter"
    assert client.get(reverse("cases:list"), params).status_code == 400


def test_htmx_gets_only_the_table(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    response = client.get(reverse("cases:console"), {"state": "reported"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'data-testid="case-table"' in html
    assert cases["reported"].number in html and cases["verified"].number not in html
    # the table tells the map which points to draw for the same filter
    assert "console/map.json?state=reported" in html


def test_map_json_is_scoped_and_filtered(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    data = client.get(reverse("cases:console_map")).json()
    got = {f["properties"]["number"]: f for f in data["features"]}
    assert set(got) == {c.number for k, c in cases.items() if k != "elsewhere"}
    feature = got[cases["reported"].number]
    assert feature["geometry"]["coordinates"] == pytest.approx(list(G1))
    assert feature["properties"]["state"] == "reported"
    assert feature["properties"]["url"] == reverse("cases:detail", args=[cases["reported"].pk])
    assert data["truncated"] is False
    only = client.get(reverse("cases:console_map"), {"queue": "to_register"}).json()
    assert [f["properties"]["number"] for f in only["features"]] == [cases["reported"].number]
    asked = client.get(reverse("cases:console_map"), {"queue": "extensions"}).json()
    assert [f["properties"]["number"] for f in asked["features"]] == [cases["extension"].number]
    client.force_login(world["users"]["other_dispatcher"])
    theirs = client.get(reverse("cases:console_map")).json()
    assert [f["properties"]["number"] for f in theirs["features"]] == [cases["elsewhere"].number]


def test_map_leaves_out_closed_cases(client, world, cases):
    services.case_close(case_id=cases["verified"].pk, by=world["users"]["dispatcher"])
    client.force_login(world["users"]["dispatcher"])
    data = client.get(reverse("cases:console_map"), {"queue": "all"}).json()
    assert cases["verified"].number not in {f["properties"]["number"] for f in data["features"]}


def test_register_and_dispatch_in_one_step_with_the_suggested_department(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    case = cases["reported"]
    html = client.get(reverse("cases:console"), {"queue": "to_register"}).content.decode()
    row = html[html.index(f'data-case="{case.number}"'):]
    row = row[:row.index("</tr>")]
    assert f'<option value="{world["urban"].pk}" selected>' in row  # the category's default department
    response = client.post(reverse("cases:console_dispatch", args=[case.pk]),
                           {"lead": world["urban"].pk, "version": case.version, "next": "/cases/console/?queue=x"})
    assert response.status_code == 302 and response["Location"] == "/cases/console/?queue=x"
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == world["urban"]
    assert case.registered_at and case.dispatched_at
    assert [s.action for s in case.steps.all()] == ["report", "register", "dispatch"]
    assert Task.objects.get(case=case).department == world["urban"]
    page = client.get(reverse("cases:console")).content.decode()
    assert "registered and dispatched" in page


def test_dispatch_again_a_returned_case(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    case = cases["returned"]
    client.post(reverse("cases:console_dispatch", args=[case.pk]), {"lead": world["water"].pk})
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == world["water"]


def test_when_dispatch_fails_after_register_the_error_is_shown(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    case = cases["reported"]
    response = client.post(reverse("cases:console_dispatch", args=[case.pk]), {"lead": 999999}, follow=True)
    case.refresh_from_db()
    assert case.state == State.REGISTERED and not case.tasks.exists()
    assert "registered but not dispatched" in response.content.decode()


def test_a_stale_version_changes_nothing(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    case = cases["reported"]
    response = client.post(reverse("cases:console_dispatch", args=[case.pk]),
                           {"lead": world["urban"].pk, "version": case.version - 1}, follow=True)
    case.refresh_from_db()
    assert case.state == State.REPORTED
    assert "was not registered" in response.content.decode()


def test_no_department_chosen_is_an_error(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    case = cases["reported"]
    response = client.post(reverse("cases:console_dispatch", args=[case.pk]), {"lead": ""}, follow=True)
    case.refresh_from_db()
    assert case.state == State.REPORTED and "choose the department" in response.content.decode()


def test_dispatcher_cannot_act_outside_their_area(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    response = client.post(reverse("cases:console_dispatch", args=[cases["elsewhere"].pk]),
                           {"lead": world["urban"].pk})
    assert response.status_code == 404
    cases["elsewhere"].refresh_from_db()
    assert cases["elsewhere"].state == State.REPORTED


def test_unsafe_next_is_ignored(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    response = client.post(reverse("cases:console_dispatch", args=[cases["reported"].pk]),
                           {"lead": world["urban"].pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("cases:console")


def test_duplicates_are_flagged(client, world, cases):
    client.force_login(world["users"]["dispatcher"])
    report(world, description="同一处垃圾")  # same category, same point as cases["reported"]
    html = client.get(reverse("cases:console"), {"queue": "to_register"}).content.decode()
    row = html[html.index(f'data-case="{cases["reported"].number}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-testid="duplicate-badge"' in row
    assert reverse("cases:detail", args=[cases["reported"].pk]) in row
    assert html.count('data-testid="duplicate-badge"') == 2  # each of the pair points at the other


# --- roles ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "name"), [
    ("resident", "console"), ("handler", "console"), ("gm", "console"), ("leader", "console_map"),
    ("resident", "queue"), ("dispatcher", "queue"), ("dispatcher", "today"), ("admin", "today"),
    ("resident", "hotline"), ("gm", "hotline"), ("dispatcher", "report"), ("resident", "report"),
])
def test_roles_are_checked(client, world, who, name):
    client.force_login(world["users"][who])
    assert client.get(reverse(f"cases:{name}")).status_code == 403


def test_a_resident_cannot_dispatch(client, world, cases):
    client.force_login(world["users"]["resident"])
    response = client.post(reverse("cases:console_dispatch", args=[cases["reported"].pk]), {"lead": world["urban"].pk})
    assert response.status_code == 403
    cases["reported"].refresh_from_db()
    assert cases["reported"].state == State.REPORTED


def test_pages_need_login(client, world):
    for name in ("console", "queue", "today", "report", "hotline", "list"):
        response = client.get(reverse(f"cases:{name}"))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_navigation_per_role(client, world):
    for who, testid in [("gm", "nav-today"), ("dispatcher", "nav-console"), ("handler", "nav-queue"),
                        ("leader", "nav-cases")]:
        client.force_login(world["users"][who])
        assert f'data-testid="{testid}"' in client.get("/").content.decode()


# --- the department's queue ---------------------------------------------------------------------------------

def test_handler_queue_shows_only_their_departments_tasks(client, world):
    urban_new = dispatched(world, description="城管待签收")
    urban_late = dispatched(world, G2, description="城管超期")
    Task.objects.filter(case=urban_late).update(due_at=timezone.now() - timedelta(hours=3))
    urban_accepted = dispatched(world, description="城管处理中")
    services.case_accept(case_id=urban_accepted.pk, by=world["users"]["handler"])
    water = dispatched(world, department="water", description="水务")
    client.force_login(world["users"]["handler"])
    response = client.get(reverse("cases:queue"))
    assert response.status_code == 200
    pending = [t.case.number for t in response.context["page"].object_list]
    assert pending == [urban_late.number, urban_new.number]  # overdue first
    assert response.context["counts"] == {"pending": 2, "accepted": 1, "overdue": 1}
    html = response.content.decode()
    assert water.number not in html and 'data-testid="late"' in html
    accepted = client.get(reverse("cases:queue"), {"tab": "accepted"})
    assert [t.case.number for t in accepted.context["page"].object_list] == [urban_accepted.number]
    client.force_login(world["users"]["water_handler"])
    theirs = client.get(reverse("cases:queue"))
    assert [t.case.number for t in theirs.context["page"].object_list] == [water.number]
    assert urban_new.number not in theirs.content.decode()


def test_handler_queue_filters_and_htmx(client, world):
    first = dispatched(world, description="井盖缺失")
    dispatched(world, description="垃圾")
    client.force_login(world["users"]["handler"])
    response = client.get(reverse("cases:queue"), {"q": "井盖"}, HTTP_HX_REQUEST="true")
    assert "<html" not in response.content.decode()
    assert [t.case.number for t in response.context["page"].object_list] == [first.number]
    assert client.get(reverse("cases:queue"), {"category": "nope", "ordering": "bogus"}).status_code == 400


# --- the grid member's today --------------------------------------------------------------------------------

def test_today_shows_cases_to_verify_my_reports_and_overdue(client, world):
    u = world["users"]
    handled = dispatched(world, description="待核查")
    services.case_accept(case_id=handled.pk, by=u["handler"])
    services.case_report_back(case_id=handled.pk, by=u["handler"], result="已清理")
    late = report(world, G1, by="dispatcher", description="超期", source="hotline")
    Case.objects.filter(pk=late.pk).update(overdue=True)
    mine = report(world, description="我报的")
    theirs = report(world, G3, by="gm3", description="别的网格")
    client.force_login(u["gm"])
    response = client.get(reverse("cases:today"))
    assert response.status_code == 200
    assert [c.number for c in response.context["to_verify"]] == [handled.number]
    assert [c.number for c in response.context["overdue"]] == [late.number]
    assert [c.number for c in response.context["my_reports"]] == [mine.number, handled.number]
    html = response.content.decode()
    assert 'data-testid="report-problem"' in html and reverse("cases:report") in html
    assert theirs.number not in html
    client.force_login(u["gm3"])
    assert client.get(reverse("cases:today")).context["to_verify"] == []


# --- the plain list ------------------------------------------------------------------------------------------

def test_list_is_scoped_paginated_and_filtered(client, world, cases):
    client.force_login(world["users"]["leader"])
    response = client.get(reverse("cases:list"))
    assert response.status_code == 200 and response.context["total"] == 6  # the leader sees the whole city
    for i in range(25):
        report(world, G2, description=f"批量 {i}")
    first = client.get(reverse("cases:list"))
    assert first.context["page"].paginator.num_pages == 2 and len(first.context["page"].object_list) == 25
    second = client.get(reverse("cases:list"), {"page": 2, "state": "reported"})
    assert second.context["total"] == 27 and len(second.context["page"].object_list) == 2
    assert "page=2" in first.content.decode()
    client.force_login(world["users"]["resident"])
    assert client.get(reverse("cases:list")).context["total"] == 0  # a resident sees only their own reports


# --- in the browser, on a phone -----------------------------------------------------------------------------
@pytest.fixture
def seeded_categories(transactional_db):
    """The seeded categories, for a browser test that follows another one: the live-server tests flush the
    database (the migration's seed with it), and the demo city needs them."""
    from gridgov.cases.categories import categories_upsert, seed_rows
    from gridgov.cases.models import Category

    if not Category.objects.exists():
        categories_upsert(rows=seed_rows())


@pytest.mark.browser
def test_dispatcher_registers_and_dispatches_from_the_console_on_a_phone(seeded_categories, page, live_server,
                                                                      demo_city, js_errors):
    from playwright.sync_api import expect

    from gridgov.accounts.models import User
    from gridgov.browser_fixtures import login

    grid = demo_city.grid
    lon, lat = (grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2
    case, _ = services.case_report(by=demo_city.gridmember, category="S0501", description="路面塌陷",
                                   lon=lon, lat=lat, extra={"size": "large"})
    dispatcher = User.objects.get(username="dispatcher")
    expected = case.category.default_department
    login(page, live_server, "dispatcher")
    page.get_by_test_id("nav-console").click()
    expect(page.get_by_test_id("case-map")).to_have_attribute("data-ready", "1")
    count = int(page.get_by_test_id("case-map").get_attribute("data-count"))
    assert count == Case.objects.filter(path__startswith=dispatcher.area.path, state__in=list(
        {"reported", "registered", "dispatched", "in_progress", "suspended", "handled", "verified"})).count()
    page.get_by_test_id("queue-to_register").click()
    row = page.locator(f'tr[data-case="{case.number}"]')
    expect(row.locator("select[name=lead]")).to_have_value(str(expected.pk))
    page.wait_for_timeout(400)  # let the map's zoom settle
    page.screenshot(path="/tmp/q_console.png", full_page=True)
    assert not js_errors
    row.get_by_role("button").click()
    expect(page.locator(".flash.success")).to_contain_text(case.number)
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == expected
    # the filter bar swaps the table through htmx, and the map follows
    page.locator("details.filters summary").click()
    page.locator("input[name=q]").fill(case.number)
    page.get_by_test_id("case-filters").get_by_role("button").click()
    expect(page.get_by_test_id("case-total")).to_have_text(re.compile(r"(^|\D)0(\D|$)"))  # dispatched: not to register
    assert not js_errors


@pytest.mark.browser
def test_every_screen_fits_a_phone(seeded_categories, page, live_server, demo_city, js_errors):
    from playwright.sync_api import expect

    from gridgov.browser_fixtures import login

    for username, name, testid in [("gridmember", "today", "to-verify"), ("handler", "queue", "task-table"),
                                   ("dispatcher", "hotline", "hotline-form"), ("leader", "list", "case-table"),
                                   ("dispatcher", "console", "case-map")]:
        page.context.clear_cookies()
        login(page, live_server, username)
        page.goto(live_server.url + reverse(f"cases:{name}"))
        page.wait_for_load_state("networkidle")
        page.screenshot(path=f"/tmp/q_{name}.png", full_page=True)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the {name} page scrolls sideways on a phone"
        expect(page.get_by_test_id(testid)).to_be_visible()
        assert not js_errors, name
