"""In Chromium, the whole closed loop across roles, each in a browser context of its own.

A grid member reports a problem from a phone (category search, the phone's location, a photo); the dispatcher
registers and dispatches it from the console to the department the category suggests; that department's
handler accepts it from the queue and reports back with a photo; the grid member verifies it on site; the
dispatcher closes it. Beside it, a resident reports a second problem on the public page without an account,
follows it with the tracking code, confirms the result on site, sees it closed and rates it (that case is
registered, dispatched and handled through the services, the same steps as the first case's screens; the
dispatcher closes both in the browser).

The UI is Chinese (the default): states are read from data-state attributes, never from translated text.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation
from PIL import Image

from gridgov.accounts.tests.factories import PASSWORD
from gridgov.browser_fixtures import login
from gridgov.cases import services
from gridgov.cases.choices import State
from gridgov.cases.models import Case

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
GM_PLACE = {"longitude": 120.605, "latitude": 31.305}  # inside grid g1, the grid member's
RESIDENT_PLACE = {"longitude": 120.615, "latitude": 31.305}  # inside grid g2, same community
RUBBISH, BIN = "S0103", "B0302"  # seeded: 积存垃圾渣土 and 垃圾箱, both for the urban management department


def _photo(tmp_path, name: str, color: tuple[int, int, int]) -> str:
    path = tmp_path / name
    Image.new("RGB", (32, 24), color).save(path)
    return str(path)


def _state(page, state: str) -> None:
    """The case page (staff) shows the case in `state`."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("case-state")).to_have_attribute("data-state", state)


def _timeline(page) -> list[str]:
    """The steps on the staff case page's timeline, oldest first (their data-testid: step-<action>)."""
    return page.get_by_test_id("timeline").locator(":scope > li").evaluate_all(
        "items => items.map(li => li.dataset.testid)")


def _act(page, action: str) -> None:
    """Press the submit button of one action form on the case page."""
    page.get_by_test_id(f"action-{action}").locator("button[type=submit]").click()


def _console(page, queue: str = "") -> None:
    """Open the dispatcher's console from the menu, then one of its queues (each step waits for its page)."""
    from playwright.sync_api import expect

    page.get_by_test_id("nav-console").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("cases:console")) + "$"))
    if queue:
        page.get_by_test_id(f"queue-{queue}").click()
        expect(page).to_have_url(re.compile(re.escape(f"?queue={queue}") + "$"))


def _tracked(page, state: str) -> None:
    """The public tracking page shows the report in `state`."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("state-label")).to_have_attribute("data-state", state)


@pytest.fixture
def taxonomy(transactional_db, world):
    """The seeded categories with their default departments (an earlier live-server test may have flushed the
    migration's seed): the world's own test categories stay, but the searches below match only seeded ones."""
    from gridgov.cases.categories import categories_upsert, link_default_departments, seed_rows
    from gridgov.cases.models import Category

    if not Category.objects.filter(code=RUBBISH).exists():
        categories_upsert(rows=seed_rows())
    link_default_departments()
    return {code: Category.objects.get(code=code) for code in (RUBBISH, BIN)}


def test_the_closed_loop_across_roles(live_server, world, taxonomy, media, make_jpeg, new_page, js_errors,
                                      tmp_path):
    from playwright.sync_api import expect

    urban = world["urban"]  # the categories' default department: the console suggests it
    assert taxonomy[RUBBISH].default_department == urban and taxonomy[BIN].default_department == urban

    # --- 1. the grid member reports from a phone ------------------------------------------------------------
    gm = new_page("grid-member", viewport=PHONE, geolocation=GM_PLACE)
    gm.context.grant_permissions(["geolocation"], origin=live_server.url)
    login(gm, live_server, "gm", PASSWORD)
    gm.get_by_test_id("nav-today").tap()
    expect(gm.get_by_test_id("my-reports").locator("li[data-case]")).to_have_count(0)
    gm.get_by_test_id("report-problem").tap()
    expect(gm.get_by_test_id("picker-map").locator("path").first).to_be_attached()  # the grids are drawn
    gm.locator("#category-search").fill("垃圾渣土")
    expect(gm.get_by_test_id("category-select")).to_have_value(RUBBISH)  # the one match is chosen
    gm.locator("textarea[name=description]").fill("小区东门外垃圾堆放，约两立方")
    gm.get_by_test_id("use-my-location").tap()
    expect(gm.locator("[data-location-status]")).to_contain_text("120.6050000, 31.3050000")
    gm.locator("input[name=photos]").set_input_files(_photo(tmp_path, "rubbish.png", (120, 90, 40)))
    gm.get_by_test_id("submit-report").tap()

    expect(gm).to_have_url(re.compile(r"/cases/\d+/$"))
    _state(gm, State.REPORTED)
    case = Case.objects.get(description="小区东门外垃圾堆放，约两立方")
    expect(gm.get_by_test_id("case-number")).to_contain_text(case.number)
    expect(gm.get_by_test_id("photo")).to_have_count(1)
    assert _timeline(gm) == ["step-report"]
    assert (case.grid, case.reporter, case.source, case.state) == (world["g1"], world["users"]["gm"],
                                                                   "grid_member", State.REPORTED)
    assert case.attachments.count() == 1 and case.lon == pytest.approx(120.605, abs=1e-6)
    case_url = gm.url

    # --- 1b. a resident reports another problem on the public page, no account, on a phone ----------------
    resident = new_page("resident", viewport=PHONE, geolocation=RESIDENT_PLACE)
    resident.context.grant_permissions(["geolocation"], origin=live_server.url)
    resident.goto(live_server.url + reverse("home"))
    resident.get_by_test_id("nav-report").tap()
    expect(resident.get_by_test_id("report-map")).to_have_attribute("data-ready", "1")
    resident.get_by_test_id("category-search").fill("垃圾箱")
    expect(resident.locator("#category-results button")).to_have_count(1)
    resident.locator("#category-results button").tap()
    expect(resident.get_by_test_id("category")).to_have_value(BIN)
    resident.get_by_test_id("use-location").tap()
    expect(resident.get_by_test_id("location-status")).to_contain_text(world["g2"].name)
    resident.locator("textarea[name=description]").fill("路边垃圾桶满溢，无人清理")
    resident.get_by_test_id("submit-report").tap()
    code = resident.get_by_test_id("tracking-code").inner_text().strip()
    other = Case.objects.get(tracking_code=code)
    assert (other.grid, other.reporter, other.source) == (world["g2"], None, "public")
    resident.get_by_test_id("track-link").tap()
    expect(resident.get_by_test_id("case-number")).to_have_text(other.number)
    _tracked(resident, State.REPORTED)
    public_steps = resident.get_by_test_id("timeline").locator("li")
    expect(public_steps).to_have_count(1)

    # --- 2. the dispatcher registers and dispatches from the console in one step ----------------------------
    dispatcher = new_page("dispatcher", viewport=DESKTOP)
    login(dispatcher, live_server, "disp", PASSWORD)
    _console(dispatcher)
    expect(dispatcher.get_by_test_id("queue-to_register").locator("strong")).to_have_attribute("data-count", "2")
    _console(dispatcher, "to_register")
    row = dispatcher.locator(f'tr[data-case="{case.number}"]')
    expect(row).to_have_attribute("data-state", State.REPORTED)
    expect(dispatcher.locator(f'tr[data-case="{other.number}"]')).to_have_attribute("data-state", State.REPORTED)
    expect(row.locator("select[name=lead]")).to_have_value(str(urban.pk))  # suggested by the category
    row.locator("button[type=submit]").click()
    expect(dispatcher.locator(".flash.success")).to_contain_text(case.number)
    expect(row).to_have_count(0)  # no longer waiting to be registered
    expect(dispatcher.get_by_test_id("queue-to_register").locator("strong")).to_have_attribute("data-count", "1")
    expect(dispatcher.get_by_test_id("queue-handling").locator("strong")).to_have_attribute("data-count", "1")
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.lead_department == urban and case.registered_at

    # the resident's case takes the same office steps, through the services
    disp_user, handler_user = world["users"]["dispatcher"], world["users"]["handler"]
    services.case_register(case_id=other.pk, by=disp_user)
    services.case_dispatch(case_id=other.pk, by=disp_user, lead=urban)

    # --- 3. the department's handler accepts it from the queue and reports back ------------------------------
    handler = new_page("handler", viewport=DESKTOP)
    login(handler, live_server, "h_urban", PASSWORD)
    handler.get_by_test_id("nav-queue").click()
    expect(handler.get_by_test_id("tab-pending")).to_have_attribute("aria-current", "page")
    task_row = handler.get_by_test_id("task-table").locator(f'tr[data-case="{case.number}"]')
    expect(task_row).to_be_visible()
    expect(handler.get_by_test_id("task-table").locator(f'tr[data-case="{other.number}"]')).to_be_visible()
    task_row.get_by_role("link", name=case.number).click()
    expect(handler).to_have_url(case_url)
    _state(handler, State.DISPATCHED)
    _act(handler, "accept")
    _state(handler, State.IN_PROGRESS)
    assert _timeline(handler) == ["step-report", "step-register", "step-dispatch", "step-accept"]
    report_back = handler.get_by_test_id("action-report_back")
    report_back.locator("textarea[name=result]").fill("已清运垃圾，现场冲洗干净")
    report_back.locator("input[name=photos]").set_input_files(_photo(tmp_path, "cleaned.png", (40, 160, 60)))
    report_back.locator("button[type=submit]").click()
    _state(handler, State.HANDLED)
    expect(handler.get_by_test_id("photo")).to_have_count(2)  # the report's photo and the result's
    expect(handler.get_by_test_id(f"task-{urban.code}")).to_be_visible()
    expect(handler.get_by_test_id("tasks")).to_contain_text("已清运垃圾，现场冲洗干净")
    handler.get_by_test_id("nav-queue").click()  # done: out of the department's queue; the other one waits
    expect(handler.get_by_test_id("task-table").locator(f'tr[data-case="{other.number}"]')).to_be_visible()
    expect(handler.get_by_test_id("task-table").locator(f'tr[data-case="{case.number}"]')).to_have_count(0)

    services.case_accept(case_id=other.pk, by=handler_user)
    services.case_report_back(case_id=other.pk, by=handler_user, result="已清理垃圾箱",
                              photos=[make_jpeg(name="bin.jpg")])  # this category needs a photo

    # --- 4. the grid member verifies it on site ---------------------------------------------------------------
    gm.get_by_test_id("nav-today").tap()
    expect(gm.get_by_test_id("my-reports").locator(f'li[data-case="{case.number}"]')).to_have_attribute(
        "data-state", State.HANDLED)
    to_verify = gm.get_by_test_id("to-verify").locator("li[data-case]")
    expect(to_verify).to_have_count(1)  # the resident's case is in another grid: not this member's
    expect(to_verify).to_have_attribute("data-case", case.number)
    expect(to_verify).to_have_attribute("data-state", State.HANDLED)
    to_verify.get_by_role("link").tap()
    _state(gm, State.HANDLED)
    _act(gm, "verify_ok")
    _state(gm, State.VERIFIED)
    assert _timeline(gm)[-1] == "step-verify_ok"

    # ... and the resident confirms theirs on the tracking page
    resident.reload()
    _tracked(resident, State.HANDLED)
    expect(public_steps).to_have_count(5)  # reported, registered, dispatched, accepted, reported back
    resident.get_by_test_id("verify-ok").tap()
    _tracked(resident, State.VERIFIED)
    expect(public_steps).to_have_count(6)
    expect(resident.get_by_test_id("verify")).to_have_count(0)

    # --- 5. the dispatcher closes both from the console's "to close" queue -------------------------------------
    for number in (case.number, other.number):
        _console(dispatcher, "to_close")
        row = dispatcher.locator(f'tr[data-case="{number}"]')
        expect(row).to_have_attribute("data-state", State.VERIFIED)
        row.get_by_role("link", name=number).click()
        _state(dispatcher, State.VERIFIED)
        _act(dispatcher, "close")
        _state(dispatcher, State.CLOSED)
        assert len(_timeline(dispatcher)) == 7 and _timeline(dispatcher)[-1] == "step-close"
    # the resident without an account acted as the reporter (not as "the system") on the staff timeline
    with translation.override("zh-hans"):
        reporter = translation.gettext("Reporter")
    for step in ("report", "verify_ok"):
        expect(dispatcher.get_by_test_id(f"step-{step}")).to_contain_text(reporter)
    _console(dispatcher)
    expect(dispatcher.get_by_test_id("queue-to_close").locator("strong")).to_have_attribute("data-count", "0")
    expect(dispatcher.get_by_test_id("queue-open").locator("strong")).to_have_attribute("data-count", "0")

    gm.goto(case_url)  # the reporter sees the whole loop on the case page
    _state(gm, State.CLOSED)
    assert _timeline(gm) == ["step-report", "step-register", "step-dispatch", "step-accept", "step-report_back",
                             "step-verify_ok", "step-close"]

    # --- 6. the resident sees theirs closed and rates it -------------------------------------------------------
    resident.reload()
    _tracked(resident, State.CLOSED)
    expect(public_steps).to_have_count(7)
    rate = resident.get_by_test_id("rate-form")
    rate.locator("label[for=star4]").tap()
    expect(rate.locator("#star4")).to_be_checked()
    rate.locator("textarea[name=comment]").fill("清理及时，谢谢")
    resident.get_by_test_id("rate-submit").tap()
    expect(resident.get_by_test_id("rated")).to_contain_text("4")
    expect(resident.get_by_test_id("rate-form")).to_have_count(0)  # once only
    _tracked(resident, State.CLOSED)
    expect(public_steps).to_have_count(8)
    other.refresh_from_db()
    assert (other.state, other.satisfaction, other.satisfaction_comment) == (State.CLOSED, 4, "清理及时，谢谢")
    assert other.rated_at is not None and other.verified_by_reporter
    case.refresh_from_db()
    stamps = [case.reported_at, case.registered_at, case.dispatched_at, case.accepted_at, case.handled_at,
              case.verified_at, case.closed_at]
    assert case.state == State.CLOSED and None not in stamps and stamps == sorted(stamps)
    assert case.attachments.count() == 2 and case.resolution_level

    assert js_errors == []
