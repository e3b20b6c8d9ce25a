"""In Chromium: a leader opens the governance dashboard at the city, drills down level by level by clicking —
district, street and community from the ranking table, then the grid on the map — and exports the grid's KPI
table (an xlsx workbook, a zip).

The UI is Chinese (the default): levels and nodes are read from data-* attributes, never from translated text.
"""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from gridgov.accounts.tests.factories import PASSWORD
from gridgov.analytics.rollups import rollups_update
from gridgov.browser_fixtures import login
from gridgov.core.models import AuditEntry

pytestmark = [pytest.mark.browser]

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def cases(transactional_db, world, drive, clock):
    """A month of work: two closed cases and an open one in g1, one reported in g2 and one in g3."""
    clock.set(2026, 10, 20, 10)
    drive("reported")
    clock.set(2026, 11, 2, 10)
    drive("closed")
    drive("closed")
    drive("dispatched")
    drive.report(lon=120.615, lat=31.305)
    drive.report(lon=120.625, lat=31.305)
    rollups_update()
    return world


def _at(page, level: str, code: str) -> None:
    from playwright.sync_api import expect

    here = page.get_by_test_id("crumb-here")
    expect(here).to_have_attribute("data-level", level)
    expect(here).to_have_attribute("data-code", code)
    expect(page.get_by_test_id("node-name")).to_have_attribute("data-code", code)


def _drill(page, code: str) -> None:
    page.get_by_test_id("ranking").locator(f'a[data-testid="drill"][data-code="{code}"]').click()


def test_a_leader_drills_from_the_city_to_a_grid_and_exports_the_table(live_server, cases, new_page, js_errors):
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    w = cases
    page = new_page("leader", viewport=DESKTOP)
    login(page, live_server, "leader", PASSWORD)
    page.get_by_test_id("nav-analytics").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("analytics:dashboard")) + "$"))
    _at(page, "city", w["city"].code)
    # the month of the cases (the page opened at today's month)
    page.get_by_test_id("period-on").fill("2026-11-02")
    page.get_by_test_id("period-month").click()
    expect(page.get_by_test_id("period")).to_have_attribute("data-start", "2026-11-01")
    expect(page.get_by_test_id("tile-reported")).to_have_attribute("data-value", "5")
    expect(page.get_by_test_id("tile-reported")).to_have_attribute("data-previous", "1")
    expect(page.get_by_test_id("trend-chart")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("dashboard-map")).to_have_attribute("data-ready", "1")

    _drill(page, w["district"].code)
    _at(page, "district", w["district"].code)
    _drill(page, w["street"].code)
    _at(page, "street", w["street"].code)
    expect(page.get_by_test_id("crumb-city")).to_have_attribute("data-code", w["city"].code)
    _drill(page, w["community"].code)
    _at(page, "community", w["community"].code)
    expect(page.get_by_test_id("tile-reported")).to_have_attribute("data-value", "4")  # g1: 3, g2: 1
    rows = page.get_by_test_id("rank-row")
    expect(rows).to_have_count(2)

    # the grids are drawn on the map, each a click one level down
    the_map = page.get_by_test_id("dashboard-map")
    expect(the_map).to_have_attribute("data-ready", "1")
    grid = the_map.locator(f'path[data-node="{w["g1"].code}"]')
    expect(grid).to_be_attached()
    expect(the_map.locator("path[data-case]")).to_have_count(3)  # the open cases of the community (any month)
    grid.dispatch_event("click")
    expect(page).to_have_url(re.compile(re.escape(f"grid={w['g1'].code}")))
    expect(page.get_by_test_id("crumb-here")).to_have_attribute("data-level", "grid")
    expect(page.get_by_test_id("node-name")).to_have_attribute("data-code", w["g1"].code)
    assert "on=2026-11-02" in page.url  # the period is kept on the way down
    for level in ("city", "district", "street", "community"):  # and the way back up is there
        expect(page.get_by_test_id(f"crumb-{level}")).to_be_visible()
    expect(page.get_by_test_id("tile-reported")).to_have_attribute("data-value", "3")
    expect(page.get_by_test_id("tile-closed")).to_have_attribute("data-value", "2")

    # the grid's KPI table, exported
    page.get_by_test_id("kpi-details").locator("summary").click()
    with page.expect_download() as download_info:
        page.get_by_test_id("export-kpis").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as fh:
        data = fh.read()
    assert data[:2] == b"PK"  # a zip
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    values = {row[0]: row[3] for row in sheet.iter_rows(min_row=4, values_only=True)}
    assert values["reported"] == 3 and values["closed"] == 2
    assert AuditEntry.objects.filter(action="analytics.export", actor=w["users"]["leader"],
                                     object_id=w["g1"].code).count() == 1
    assert js_errors == []
