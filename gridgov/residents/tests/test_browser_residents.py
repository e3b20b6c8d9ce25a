"""In Chromium on a phone, a grid member's round through the resident registry.

The grid member (`officer`: grid member of g1 who may unmask, but does not here) logs in, finds 张三 by typing
his full ID number into the live search of the residents' home page (the result shows the masked number; the
address bar never carries the number), opens his page, changes his
phone number (the page then shows the new number masked), opens "visits due" where he is listed as an elderly
person living alone, records a visit on the one-screen form and finds it among his visits. The database holds
the new phone only encrypted, with the blind index of the new number; no page ever carried the plain ID number
or a plain phone number.

The UI is Chinese (the default): the test reads data-testid hooks, values and URLs, never translated text.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts.tests.factories import PASSWORD
from gridgov.browser_fixtures import login
from gridgov.core import crypto
from gridgov.residents import services
from gridgov.residents.models import KeyTag, Resident, Visit

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
NEW_PHONE = "13566667777"


@pytest.fixture
def elderly_zhang(transactional_db, registry):
    """张三 tagged as an elderly person living alone since a month ago: his weekly visit is overdue. The tag is
    seeded by a migration, but an earlier live-server test may have flushed it."""
    tag, _ = KeyTag.objects.get_or_create(
        code="elderly_alone", defaults={"name": "独居老人", "sensitive": False, "default_frequency": "weekly",
                                        "visit_policy": {"1": "weekly", "2": "weekly", "3": "monthly"}})
    zhang = registry["residents"]["zhang"]
    services.resident_tag_set(resident=zhang, tag=tag, by=registry["users"]["officer"], grade=2,
                              since=timezone.localdate() - dt.timedelta(days=30))
    return zhang


def test_a_grid_member_finds_edits_and_visits_a_resident(live_server, registry, elderly_zhang, new_page,
                                                         js_errors):
    from playwright.sync_api import expect

    zhang, officer = elderly_zhang, registry["users"]["officer"]
    plain_id, old_phone = registry["ids"]["zhang"], registry["phones"]["zhang"]
    masked_id = f"{plain_id[:4]}{'*' * 10}{plain_id[-4:]}"
    detail_url = live_server.url + reverse("residents:detail", args=[zhang.pk])
    pages: dict[str, str] = {}  # step → the page's HTML (and URL) once loaded

    def keep(step: str) -> None:
        pages[step] = page.url + "\n" + page.content()

    page = new_page("grid-member", viewport=PHONE)
    login(page, live_server, "officer", PASSWORD)

    # --- find him by his full ID number ----------------------------------------------------------------------
    page.get_by_test_id("nav-residents").tap()
    expect(page).to_have_url(re.compile(re.escape(reverse("residents:index")) + "$"))
    keep("index")
    search = page.get_by_test_id("resident-search").locator("input[name=q]")
    search.press_sequentially(plain_id)  # typed: the live search answers after a pause
    row = page.get_by_test_id("resident-rows").locator(f'[data-testid="resident-{zhang.pk}"]')
    expect(row).to_be_visible()
    expect(page.get_by_test_id("resident-rows").locator("li")).to_have_count(1)  # exactly him, not 李四
    expect(row.get_by_test_id("masked-id")).to_have_text(masked_id)
    expect(row.get_by_test_id("masked-phone")).to_have_text("*******" + old_phone[-4:])
    keep("search")

    # --- his page; change his phone number ---------------------------------------------------------------------
    row.get_by_role("link").tap()
    expect(page).to_have_url(detail_url)
    expect(page.get_by_test_id("masked-id")).to_have_text(masked_id)
    keep("resident")
    page.get_by_test_id("edit-resident").tap()
    expect(page).to_have_url(live_server.url + reverse("residents:edit", args=[zhang.pk]))
    form = page.get_by_test_id("resident-form")
    expect(form.locator("input[name=id_number]")).to_have_value(masked_id)  # masked in the form, too
    expect(form.locator("input[name=phone]")).to_have_value("*******" + old_phone[-4:])
    keep("edit")
    form.locator("input[name=phone]").fill(NEW_PHONE)
    page.get_by_test_id("save-resident").tap()
    expect(page).to_have_url(detail_url)
    expect(page.get_by_test_id("masked-phone")).to_have_text("*******" + NEW_PHONE[-4:])
    expect(page.get_by_test_id("masked-id")).to_have_text(masked_id)  # the ID number is kept
    keep("saved")

    # --- visits due: he is listed; record a visit on the one-screen form --------------------------------------
    page.get_by_test_id("nav-residents").tap()
    page.get_by_test_id("visits-due-link").tap()
    expect(page).to_have_url(live_server.url + reverse("residents:visits_due"))
    due = page.get_by_test_id(f"due-{zhang.pk}")
    expect(due).to_have_class(re.compile(r"\boverdue\b"))  # tagged a month ago, visited weekly: overdue
    expect(page.get_by_test_id("visits-due").locator("li[data-testid^=due-]")).to_have_count(1)
    keep("visits_due")
    due.get_by_role("button").tap()  # "record a visit"
    expect(page).to_have_url(live_server.url + reverse("residents:visit", args=[zhang.pk]))
    visit_form = page.get_by_test_id("visit-form")
    tag = KeyTag.objects.get(code="elderly_alone")
    expect(visit_form.locator("select[name=tag]")).to_have_value(str(tag.pk))  # his one tag, chosen already
    expect(visit_form.locator("input[name=seen]")).to_be_checked()
    keep("visit_form")
    visit_form.locator("textarea[name=content]").fill("老人身体状况良好，冰箱有食物，已提醒注意防滑")
    page.get_by_test_id("save-visit").tap()
    expect(page).to_have_url(detail_url)
    visits = page.get_by_test_id("visits").locator("li")
    expect(visits).to_have_count(1)
    expect(visits).to_contain_text("老人身体状况良好，冰箱有食物，已提醒注意防滑")
    keep("visited")

    # --- the database -----------------------------------------------------------------------------------------
    zhang = Resident.objects.get(pk=zhang.pk)
    assert zhang.phone_index == crypto.blind_index(NEW_PHONE)
    assert zhang.phone_last4 == NEW_PHONE[-4:]
    assert NEW_PHONE not in zhang.phone and zhang.phone.startswith(crypto.PREFIX)  # a ciphertext
    assert crypto.decrypt(zhang.phone) == NEW_PHONE
    assert zhang.id_index == crypto.blind_index(plain_id) and plain_id not in zhang.id_number  # unchanged
    visit = Visit.objects.get(resident=zhang)
    assert (visit.visitor, visit.tag, visit.seen) == (officer, tag, True)
    assert visit.content == "老人身体状况良好，冰箱有食物，已提醒注意防滑"

    # --- no page carried the plain ID number or a plain phone number ----------------------------------------
    assert len(pages) == 8
    for step, html in pages.items():
        for secret in (plain_id, old_phone, NEW_PHONE):
            assert secret not in html, f"{secret} on the {step} page"
    assert js_errors == []
