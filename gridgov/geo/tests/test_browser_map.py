"""In the browser: a grid member on a phone opens the grid map, taps their grid, switches the language."""

from __future__ import annotations

import gettext
import re

import pytest
from django.conf import settings
from django.urls import reverse

from gridgov.browser_fixtures import login

pytestmark = [pytest.mark.browser]

# >>> ENABLE ME once the Chinese catalogue is compiled in every checkout (CI runs compilemessages):
# the test then requires the Chinese UI text before the switch, not only when django.mo happens to exist.
REQUIRE_CHINESE_UI = True
# <<<
MO_FILE = settings.BASE_DIR / "gridgov" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"


def _zh(msgid: str) -> str | None:
    """The compiled Chinese translation of msgid, or None while the catalogue is not compiled."""
    if not MO_FILE.exists():
        return None
    with MO_FILE.open("rb") as fh:
        text = gettext.GNUTranslations(fh).gettext(msgid)
    return text if text != msgid else None


def test_grid_member_opens_own_grid_from_the_map_and_switches_language(page, live_server, demo_city, js_errors):
    from playwright.sync_api import expect

    grid = demo_city.grid
    login(page, live_server, "gridmember")

    # Home page, in Chinese (the site's default and the browser's language).
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.get_by_test_id("open-map").click()

    # The browser sends a grid member to their community; the map draws their grid.
    expect(page).to_have_url(re.compile(re.escape(reverse("geo:area", args=[grid.community.code])) + "$"))
    grid_map = page.get_by_test_id("grid-map")
    expect(grid_map).to_have_attribute("data-ready", "1")
    polygon = grid_map.locator(f'path[data-grid="{grid.code}"]')
    expect(polygon).to_be_visible()

    polygon.tap()  # a phone: touch, not a mouse

    grid_url = reverse("geo:grid", args=[grid.code])
    expect(page).to_have_url(re.compile(re.escape(grid_url) + "$"))
    expect(page.get_by_test_id("grid-name")).to_have_text(grid.name)
    expect(page.get_by_test_id("members")).to_contain_text("张网格")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    nav_map = page.get_by_test_id("nav-map")
    # Chinese UI text: checked whenever gridgov/locale/zh_Hans/LC_MESSAGES/django.mo exists (and translates
    # "Grids & map"); required with REQUIRE_CHINESE_UI.
    zh_nav = _zh("Grids & map")
    if REQUIRE_CHINESE_UI:
        assert zh_nav, f"{MO_FILE} is missing or does not translate 'Grids & map' (run compilemessages)"
    if zh_nav:
        expect(nav_map).to_have_text(zh_nav)

    # Switch to English: same page, English UI.
    page.get_by_test_id("lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(re.escape(grid_url) + "$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(nav_map).to_have_text("Grids & map")
    expect(page.get_by_test_id("lang-zh-hans")).to_be_visible()
    expect(page.get_by_test_id("grid-name")).to_have_text(grid.name)

    assert js_errors == []


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(page, live_server, demo_city):
    from playwright.sync_api import expect

    login(page, live_server, "gridmember", "not-the-password", expect_success=False)

    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).not_to_be_empty()
    expect(page).to_have_url(re.compile(re.escape(reverse("login")) + r"(\?.*)?$"))
    expect(page.get_by_test_id("login-form").locator("input[name=username]")).to_have_value("gridmember")
    expect(page.get_by_test_id("nav-map")).to_have_count(0)  # not logged in


def test_grid_member_gets_404_for_a_grid_of_another_community(page, live_server, demo_city):
    from playwright.sync_api import expect

    from gridgov.geo.models import Grid

    other = Grid.objects.exclude(community=demo_city.grid.community).order_by("code").first()
    assert other is not None
    login(page, live_server, "gridmember")

    response = page.goto(live_server.url + reverse("geo:grid", args=[other.code]))

    assert response is not None and response.status == 404
    expect(page.get_by_test_id("grid-name")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(other.name)
