"""The governance-effectiveness screens: the leader's dashboard (numbers, drill-down links, breadcrumbs, scope,
bad parameters, the wall display, the index section), the map layers, the department's dashboard and the grid
member's scorecard, for a small month of cases whose figures are counted by hand (screens.make_figures)."""

from __future__ import annotations

import html
import re
import sys

import pytest
from django.test import Client

from gridgov.analytics import selectors
from gridgov.analytics.tests.screens import (
    ON,
    client_for,
    drill_links,
    errors,
    get,
    rank_rows,
    stub_index,
    tile,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_ui")]


# --- the leader's dashboard ------------------------------------------------------------------------------------

def test_the_leader_dashboard_opens_at_the_city_with_the_month_against_the_previous_one(figures):
    response = get(figures["users"]["leader"], "/analytics/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="node-name" data-code="320500" data-level="city"' in page
    assert 'data-start="2026-11-01" data-end="2026-11-30"' in page
    assert tile(page, "reported") == {"value": "6", "previous": "1", "direction": "up", "verdict": ""}  # more reports: neither good nor bad
    assert tile(page, "closed") == {"value": "2", "previous": "0", "direction": "up", "verdict": "good"}
    assert tile(page, "resolution_rate")["value"] == "66.7" and tile(page, "resolution_rate")["previous"] == ""
    assert tile(page, "overdue") == {"value": "0", "previous": "0", "direction": "flat", "verdict": ""}
    assert "▲ +5" in page  # the change of the reports, with its arrow
    # the trend: one point a day of November, 6 reports on the 2nd
    trend = page.split('id="trend-chart" type="application/json">')[1].split("</script>")[0]
    assert '"2026-11-02"' in trend and '"data": [0, 6, 0' in trend
    # the breakdown by category (one main category) and the department league table, best first
    assert re.search(r'data-testid="breakdown-row" data-key="T01"><td>市容</td><td class="num">6</td>', page)
    assert re.findall(r'data-testid="department-row" data-code="(\w+)" data-rank="(\d*)"', page) == [
        ("URBAN", "1"), ("WATER", "2")]
    assert rank_rows(page) == [{"code": "320508", "rank": "1", "previous_rank": ""}]
    assert 'data-testid="nav-analytics"' in page and 'class="topbar"' in page


def test_the_ranking_of_the_streets_with_the_previous_rank(figures):
    leader = figures["users"]["leader"]
    page = get(leader, "/analytics/", area="320508", kpi="reported").content.decode()
    assert rank_rows(page) == [{"code": "320508001", "rank": "1", "previous_rank": "1"},
                               {"code": "320508002", "rank": "2", "previous_rank": "2"}]
    by_resolution = get(leader, "/analytics/", area="320508").content.decode()
    # street 2 registered nothing: no resolution rate, so no rank
    assert rank_rows(by_resolution) == [{"code": "320508001", "rank": "1", "previous_rank": ""},
                                        {"code": "320508002", "rank": "", "previous_rank": ""}]
    assert '<option value="reported" selected>' in page  # the ranking's KPI select (htmx swaps the table)
    ranking = selectors.kpi_ranking(user=leader, area="320508", period=selectors.parse_period(
        period="month", on=selectors.dt.date(2026, 11, 2)), kpi="reported")
    assert [r["reported"] for r in ranking["rows"]] == [5, 1]


def test_each_row_drills_one_level_down_with_the_same_period_to_a_grid(figures):
    leader = figures["users"]["leader"]
    client = client_for(leader)
    url = f"/analytics/?period=month&on={ON}"
    for code, level in (("320508", "district"), ("320508001", "street"), ("320508001001", "community")):
        page = client.get(url).content.decode()
        links = drill_links(page)
        assert code in links, (code, links)
        url = links[code]
        assert url == f"/analytics/?period=month&on={ON}&area={code}"
        page = client.get(url).content.decode()
        assert f'data-testid="crumb-here" data-code="{code}" data-level="{level}"' in page
    links = drill_links(page)
    assert set(links) == {figures["g1"].code, figures["g2"].code}
    grid_url = links[figures["g1"].code]
    assert grid_url == f"/analytics/?period=month&on={ON}&grid={figures['g1'].code}"
    page = client.get(grid_url).content.decode()
    assert f'data-testid="crumb-here" data-code="{figures["g1"].code}" data-level="grid"' in page
    assert tile(page, "reported")["value"] == "4"
    # the way back up: a link to each level's dashboard, same period
    crumbs = dict(re.findall(r'<a href="([^"]+)" data-testid="crumb-(\w+)"', page))
    assert [html.unescape(h) for h in crumbs] == [f"/analytics/?period=month&on={ON}&area={c}" for c in
                                                 ("320500", "320508", "320508001", "320508001001")]
    assert 'data-testid="ranking-section"' not in page  # nothing below a grid
    assert 'data-testid="report-pdf"' not in page  # the monthly report is per area


def test_the_map_layers_link_each_child_to_its_dashboard(figures):
    leader = figures["users"]["leader"]
    nodes = get(leader, "/analytics/map/nodes.json", area="320508001001").json()
    props = {f["properties"]["code"]: f["properties"] for f in nodes["features"]}
    assert set(props) == {figures["g1"].code, figures["g2"].code}
    assert props[figures["g1"].code]["url"] == f"/analytics/?on={ON}&grid={figures['g1'].code}"
    assert props[figures["g1"].code]["value"] == 66.7 and props[figures["g1"].code]["rank"] == 1
    city = get(leader, "/analytics/map/nodes.json").json()
    (district,) = city["features"]  # an area without a boundary: the extent of its grids
    assert district["properties"]["url"] == f"/analytics/?on={ON}&area=320508"
    assert district["geometry"]["coordinates"][0][0] == [120.60, 31.30]
    cases = get(leader, "/analytics/map/cases.json").json()
    assert len(cases["features"]) == 5  # the open cases, whatever month they were reported in
    assert {f["properties"]["state"] for f in cases["features"]} == {"reported", "dispatched"}
    assert len(get(leader, "/analytics/map/cases.json", grid=figures["g2"].code).json()["features"]) == 1
    hexes = get(leader, "/analytics/map/hotspots.json").json()
    assert sum(f["properties"]["reported"] for f in hexes["features"]) == 6 and hexes["max"] >= 1
    bad = get(leader, "/analytics/map/nodes.json", kpi="nope")
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "kpi"


def test_a_street_dispatcher_cannot_read_another_street(figures):
    other = figures["users"]["other_dispatcher"]
    home = get(other, "/analytics/")
    assert home.status_code == 200
    assert 'data-testid="node-name" data-code="320508002"' in home.content.decode()
    assert tile(home.content.decode(), "reported")["value"] == "1"
    response = get(other, "/analytics/", area="320508001")
    assert response.status_code == 404
    assert 'data-testid="error-area"' in errors(response)
    assert 'data-testid="tile-reported"' not in response.content.decode()
    assert get(other, "/analytics/", grid=figures["g1"].code).status_code == 404
    assert get(other, "/analytics/", area="320500").status_code == 404  # not the city either
    layer = get(other, "/analytics/map/cases.json", area="320508001")
    assert layer.status_code == 404 and layer.json()["details"][0]["field"] == "area"
    assert get(other, "/analytics/map/hotspots.json", area="320508001").status_code == 404
    community = figures["users"]["community_dispatcher"]
    assert get(community, "/analytics/", area="320508001").status_code == 404  # their street is above them


@pytest.mark.parametrize(("params", "status", "field", "words"), [
    ({"area": "nope"}, 404, "area", "unknown or outside your area"),
    ({"grid": "nope"}, 404, "grid", "unknown or outside your area"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, 422, "end", "ends before it starts"),
    ({"start": "2000-01-01", "end": "2026-01-01"}, 422, "end", "more than"),
    ({"start": "2026-01-01"}, 422, "end", "give both"),
    ({"kpi": "nope"}, 422, "kpi", "unknown KPI"),
    ({"period": "decade"}, 422, "period", "one of day"),
    ({"on": "2026-13-01"}, 422, "on", "valid date"),
    ({"by": "nope"}, 422, "by", "one of"),
])
def test_bad_parameters_are_shown_on_the_form_with_a_4xx(figures, params, status, field, words):
    response = get(figures["users"]["leader"], "/analytics/", **params)
    assert response.status_code == status
    box = errors(response)
    assert f'data-testid="error-{field}"' in box and words in box
    assert 'data-testid="period-form"' in response.content.decode()  # the form stays, to correct it


def test_the_wall_display_has_no_menu_and_refreshes_itself(figures):
    response = get(figures["users"]["leader"], "/analytics/", wall="1")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="wall"' in page and 'data-theme="dark"' in page
    assert '<meta http-equiv="refresh" content="60">' in page
    assert 'class="topbar"' not in page and 'data-testid="nav-analytics"' not in page
    assert tile(page, "reported")["value"] == "6"
    assert drill_links(page)["320508"] == f"/analytics/?on={ON}&wall=1&area=320508"  # drilling stays on the wall
    assert 'data-testid="wall-exit"' in page
    normal = get(figures["users"]["leader"], "/analytics/").content.decode()
    assert 'data-testid="wall-link"' in normal


def test_the_index_ranking_of_the_children_and_the_index_of_a_grid(figures, monkeypatch):
    stub_index(monkeypatch)
    leader = figures["users"]["leader"]
    page = get(leader, "/analytics/", area="320508").content.decode()
    assert re.findall(r'data-testid="index-row" data-code="(\d+)" data-index="([\d.]+)"', page) == [
        ("320508001", "80.0"), ("320508002", "70.0")]
    section = page.split('data-testid="index-section"')[1].split("</section>")[0]
    assert "Effectiveness 0.4" in section and f'href="/analytics/?on={ON}&amp;area=320508001"' in section
    grid = get(leader, "/analytics/", grid=figures["g1"].code).content.decode()
    assert 'data-testid="index-value">64.5<' in grid and "Digital reporting" in grid


def test_without_the_index_module_the_dashboard_leaves_the_section_out(figures, monkeypatch):
    monkeypatch.setitem(sys.modules, "gridgov.analytics.index", None)  # importing it raises ImportError
    response = get(figures["users"]["leader"], "/analytics/", area="320508")
    assert response.status_code == 200
    assert 'data-testid="index-section"' not in response.content.decode()


def test_who_may_open_the_dashboard(figures):
    u = figures["users"]
    assert client_for(u["handler"]).get("/analytics/").url == "/analytics/department/"
    assert client_for(u["resident"]).get("/analytics/").status_code == 403
    assert Client().get("/analytics/").status_code == 302  # to the login page
    assert get(u["admin"], "/analytics/").status_code == 200


def test_the_menu_links_each_role_to_its_screen(figures):
    u = figures["users"]
    expected = {"leader": "/analytics/", "dispatcher": "/analytics/", "admin": "/analytics/",
                "handler": "/analytics/department/", "gm": "/analytics/scorecard/"}
    for name, url in expected.items():
        page = client_for(u[name]).get("/").content.decode()
        assert f'<a href="{url}" data-testid="nav-analytics">Effectiveness</a>' in page, name
    assert 'data-testid="nav-analytics"' not in client_for(u["resident"]).get("/").content.decode()


# --- the department's dashboard --------------------------------------------------------------------------------

def test_a_handler_sees_their_department_and_its_place_in_the_league(figures):
    u = figures["users"]
    response = get(u["handler"], "/analytics/department/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="department-name" data-code="URBAN"' in page
    assert 'data-testid="league-position" data-rank="1" data-of="2"' in page
    assert tile(page, "reported") == {"value": "2", "previous": "0", "direction": "up", "verdict": ""}
    assert tile(page, "resolution_rate")["value"] == "100.0"
    assert 'data-testid="league"' not in page  # the other departments' figures are not shown to a handler
    water = get(u["water_handler"], "/analytics/department/", kpi="response_rate").content.decode()
    assert 'data-testid="league-position" data-rank="2" data-of="2"' in water
    assert tile(water, "response_rate")["value"] == "0.0"
    refused = get(u["handler"], "/analytics/department/", department="WATER")
    assert refused.status_code == 404 and 'data-testid="error-department"' in errors(refused)


def test_a_dispatcher_opens_any_department_at_their_street(figures):
    u = figures["users"]
    page = get(u["dispatcher"], "/analytics/department/", department="WATER").content.decode()
    assert 'data-testid="department-name" data-code="WATER"' in page
    assert 'data-testid="league-position" data-rank="2" data-of="2"' in page
    assert re.findall(r'data-testid="league-row" data-code="(\w+)" data-rank="(\d*)"', page) == [
        ("URBAN", "1"), ("WATER", "2")]
    assert tile(page, "reported")["value"] == "1"
    unknown = get(u["dispatcher"], "/analytics/department/", department="NOPE")
    assert unknown.status_code == 404 and "department" in errors(unknown)
    picker = get(u["leader"], "/analytics/department/").content.decode()
    assert 'data-testid="department-select"' in picker and 'data-testid="league-position"' not in picker
    assert get(u["gm"], "/analytics/department/").status_code == 403
    assert get(u["resident"], "/analytics/department/").status_code == 403


# --- the grid member's scorecard -------------------------------------------------------------------------------

def test_the_grid_member_scorecard(figures):
    u = figures["users"]
    response = get(u["gm"], "/analytics/scorecard/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-testid="grid-name" data-code="{figures["g1"].code}"' in page
    assert tile(page, "reported") == {"value": "4", "previous": "1", "direction": "up", "verdict": ""}
    # g1 66.7 %, g2 has no resolution rate: first of the community's two grids
    assert 'data-testid="grid-rank" data-rank="1" data-of="2"' in page
    by_reports = get(u["gm"], "/analytics/scorecard/", kpi="reported").content.decode()
    assert 'data-testid="grid-rank" data-rank="1" data-of="2" data-previous-rank="1"' in by_reports
    # the same rank as the community's ranking, which the grid member may not read
    ranking = selectors.kpi_ranking(user=u["community_dispatcher"], area="320508001001", kpi="reported",
                                    period=selectors.parse_period(period="month", on=selectors.dt.date(2026, 11, 2)))
    assert [r["code"] for r in ranking["rows"]][0] == figures["g1"].code
    assert get(u["gm"], "/analytics/", area="320508001001").status_code == 404
    g3 = get(u["gm3"], "/analytics/scorecard/").content.decode()
    assert 'data-testid="grid-rank" data-rank="" data-of="1"' in g3  # nothing registered in g3
    assert get(u["gm"], "/analytics/scorecard/", grid=figures["g3"].code).status_code == 404


def test_the_scorecard_of_a_grid_for_others(figures):
    u = figures["users"]
    missing = get(u["leader"], "/analytics/scorecard/")
    assert missing.status_code == 422 and 'data-testid="error-grid"' in errors(missing)
    page = get(u["leader"], "/analytics/scorecard/", grid=figures["g2"].code).content.decode()
    assert 'data-testid="grid-rank" data-rank="" data-of="2"' in page
    assert tile(page, "reported")["value"] == "1"
    assert get(u["handler"], "/analytics/scorecard/").status_code == 403
