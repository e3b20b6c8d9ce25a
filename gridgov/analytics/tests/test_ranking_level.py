"""The ranking at a level below the node (`?level=`): every community of the city, the grids of a street. In the
API (values equal to each row's own summary, bad levels a 422 naming `level`, scope as for any read), on the
leader's dashboard (the "rank by level" buttons, the level kept by the links to the same node and by the
ranking's export, dropped by the drill-down links; the map stays on the children) and in the xlsx export.

The figures are those of screens.make_figures (November 2026): community 1 (g1, g2) reported 5, community 2
(g3) 1; g1 4, g2 1.
"""

from __future__ import annotations

import html
import io
import re

import pytest
from openpyxl import load_workbook

from gridgov.accounts.tests.factories import UserFactory
from gridgov.analytics.kpis import KPIS
from gridgov.analytics.tests.screens import ON, client_for, drill_links, errors, get, rank_rows
from gridgov.core.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_ui")]

API = "/api/v1/analytics"
MONTH = {"period": "month", "on": ON}
COMMUNITY1, COMMUNITY2 = "320508001001", "320508002001"


def api(user, endpoint: str, **params):
    return client_for(user).get(f"{API}/{endpoint}", params)


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def refused(response, status: int, field: str, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert field in [d["field"] for d in body["details"]], body


def page_of(user, **params) -> str:
    response = get(user, "/analytics/", **params)
    assert response.status_code == 200, response.content[:2000]
    return response.content.decode()


def links(page: str, testid: str) -> dict[str, str]:
    return {m[1]: html.unescape(m[0]) for m in re.findall(rf'<a href="([^"]+)" [^>]*data-testid="{testid}-(\w+)"',
                                                         page)}


# --- the API ---------------------------------------------------------------------------------------------------

def test_every_community_of_the_city_with_the_values_of_its_own_summary(figures):
    leader = figures["users"]["leader"]
    body = ok(api(leader, "ranking", area="320500", level="community", kpi="reported", **MONTH))
    assert body["level"] == "community" and body["node"]["code"] == "320500"
    assert [(r["code"], r["level"], r["reported"], r["rank"]) for r in body["rows"]] == [
        (COMMUNITY1, "community", 5, 1), (COMMUNITY2, "community", 1, 2)]
    for row in body["rows"]:
        summary = ok(api(leader, "summary", area=row["code"], **MONTH))
        assert {k["code"]: k["value"] for k in summary["kpis"]} == {k.code: row[k.code] for k in KPIS}
        assert {k["code"]: k["previous"] for k in summary["kpis"]} == row["previous"]
    # no level: the children, as before, with their level
    children = ok(api(leader, "ranking", area="320500", **MONTH))
    assert children["level"] == "district" and [r["code"] for r in children["rows"]] == ["320508"]
    streets = ok(api(leader, "ranking", level="street", kpi="reported", **MONTH))  # the leader's own city
    assert [(r["code"], r["reported"]) for r in streets["rows"]] == [("320508001", 5), ("320508002", 1)]


def test_the_grids_of_a_street_or_a_community_only(figures):
    u = figures["users"]
    street = ok(api(u["dispatcher"], "ranking", level="grid", kpi="reported", **MONTH))
    assert street["level"] == "grid"
    assert [(r["code"], r["reported"]) for r in street["rows"]] == [(figures["g1"].code, 4), (figures["g2"].code, 1)]
    community = ok(api(u["community_dispatcher"], "ranking", level="grid", kpi="reported", **MONTH))
    assert [r["code"] for r in community["rows"]] == [figures["g1"].code, figures["g2"].code]
    refused(api(u["leader"], "ranking", area="320508", level="grid", **MONTH), 422, "level", "invalid_level")
    refused(api(u["leader"], "ranking", level="grid", **MONTH), 422, "level", "invalid_level")


@pytest.mark.parametrize(("params", "code"), [
    ({"level": "planet"}, "invalid_level"),
    ({"level": "city"}, "invalid_level"),  # not below the city
    ({"area": "320508001", "level": "district"}, "invalid_level"),  # above the street
    ({"area": "320508001", "level": "street"}, "invalid_level"),  # the street's own level
    ({"grid": "320508001001001", "level": "grid"}, "invalid_level"),  # nothing below a grid
    ({"level": "l" * 21}, "validation_error"),
])
def test_a_bad_level_is_a_422_naming_level(figures, params, code):
    refused(api(figures["users"]["leader"], "ranking", **params, **MONTH), 422, "level", code)


def test_a_community_leader_cannot_rank_the_grids_of_another_community(figures):
    leader = UserFactory(username="cleader", role="leader", area=figures["community"])
    refused(api(leader, "ranking", area=COMMUNITY2, level="grid", **MONTH), 404, "area", "unknown_area")
    refused(api(leader, "ranking", area="320508001", level="grid", **MONTH), 404, "area", "unknown_area")  # above
    own = ok(api(leader, "ranking", level="grid", **MONTH))
    assert [r["code"] for r in own["rows"]] == [figures["g1"].code, figures["g2"].code]
    refused(api(leader, "ranking", level="community", **MONTH), 422, "level", "invalid_level")


def test_the_openapi_document_describes_the_level(client):
    doc = client.get("/api/v1/openapi.json").json()
    ranking = doc["paths"]["/api/v1/analytics/ranking"]["get"]
    level = next(p for p in ranking["parameters"] if p["name"] == "level")
    assert level["required"] is False and "community" in level["description"]
    assert "invalid_level" in ranking["description"]
    assert "level" in doc["components"]["schemas"]["RankingOut"]["properties"]


# --- the leader's dashboard --------------------------------------------------------------------------------------

def test_the_city_dashboard_ranks_every_community_and_keeps_the_level_on_its_own_links(figures):
    leader = figures["users"]["leader"]
    page = page_of(leader, level="community", kpi="reported")
    assert [(r["code"], r["rank"]) for r in rank_rows(page)] == [(COMMUNITY1, "1"), (COMMUNITY2, "2")]
    assert 'data-testid="ranking-level">Community<' in page
    # the choices: the city's levels below it (no grids city-wide), the children's without a level
    choices = links(page, "level")
    assert set(choices) == {"district", "street", "community"}
    assert choices["district"] == f"/analytics/?on={ON}&kpi=reported&area=320500#ranking"
    assert choices["community"] == f"/analytics/?on={ON}&kpi=reported&area=320500&level=community#ranking"
    assert re.search(r'class="active" data-testid="level-community" aria-current="true"', page)
    # each row still opens the row's own dashboard, without the level
    assert drill_links(page)[COMMUNITY1] == f"/analytics/?on={ON}&kpi=reported&area={COMMUNITY1}"
    # the links to the same node keep it: other periods, the breakdown, the wall, the ranking's export and forms
    for testid in ("period-before", "period-after", "by-kind", "wall-link", "export-ranking"):
        href = html.unescape(re.search(rf'<a href="([^"]+)" [^>]*data-testid="{testid}"', page)[1])
        assert "level=community" in href, (testid, href)
    kpis_export = html.unescape(re.search(r'<a href="([^"]+)" data-testid="export-kpis"', page)[1])
    assert "level" not in kpis_export
    for form in ("period-form", "range-form", "ranking-form"):
        body = page.split(f'data-testid="{form}"')[1].split("</form>")[0]
        assert '<input type="hidden" name="level" value="community">' in body, form
    # the map stays on the children
    nodes = get(leader, "/analytics/map/nodes.json", level="community").json()
    assert [f["properties"]["code"] for f in nodes["features"]] == ["320508"]
    # no level: the children (the districts), their button active
    plain = page_of(leader)
    assert [r["code"] for r in rank_rows(plain)] == ["320508"]
    assert re.search(r'class="active" data-testid="level-district"', plain)
    assert 'name="level"' not in plain


def test_the_level_choices_of_a_street_and_a_community(figures):
    leader = figures["users"]["leader"]
    street = page_of(leader, area="320508001", level="grid", kpi="reported")
    assert set(links(street, "level")) == {"community", "grid"}
    assert [r["code"] for r in rank_rows(street)] == [figures["g1"].code, figures["g2"].code]
    assert drill_links(street)[figures["g1"].code] == f"/analytics/?on={ON}&kpi=reported&grid={figures['g1'].code}"
    # the level asked for may be the children's own: the same rows, its button the default one
    same = page_of(leader, area="320508001", level="community")
    assert [r["code"] for r in rank_rows(same)] == [COMMUNITY1]
    assert links(same, "level")["community"] == f"/analytics/?on={ON}&area=320508001#ranking"
    community = page_of(leader, area=COMMUNITY1)
    assert 'data-testid="ranking-levels"' not in community  # only the grids: nothing to choose


@pytest.mark.parametrize("params", [
    {"level": "planet"}, {"level": "grid"}, {"level": "city"}, {"level": "l" * 21},
    {"area": "320508001", "level": "district"}, {"grid": "320508001001001", "level": "community"},
])
def test_a_bad_level_is_shown_on_the_form_with_a_422(figures, params):
    response = get(figures["users"]["leader"], "/analytics/", **params)
    assert response.status_code == 422
    assert 'data-testid="error-level"' in errors(response)
    assert 'data-testid="period-form"' in response.content.decode()


def test_a_community_leader_dashboard_of_another_community_is_a_404(figures):
    leader = UserFactory(username="cleader", role="leader", area=figures["community"])
    response = get(leader, "/analytics/", area=COMMUNITY2, level="grid")
    assert response.status_code == 404 and 'data-testid="error-area"' in errors(response)


# --- the export ------------------------------------------------------------------------------------------------

def test_the_ranking_export_honours_the_level(figures):
    leader = figures["users"]["leader"]
    page = page_of(leader, level="community", kpi="reported")
    url = html.unescape(re.search(r'<a href="([^"]+)" data-testid="export-ranking"', page)[1])
    response = client_for(leader).get(url)
    assert response.status_code == 200
    assert 'filename="320500-ranking-community-2026-11-01_2026-11-30.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet["A1"].value.startswith("Community ranking by Reported")
    rows = [r for r in sheet.iter_rows(min_row=4, values_only=True)]
    assert [(r[0], r[2], r[4]) for r in rows] == [(1, COMMUNITY1, "Community"), (2, COMMUNITY2, "Community")]
    assert AuditEntry.objects.get(action="analytics.export").after["level"] == "community"
    bad = client_for(leader).get("/analytics/export.xlsx", {"on": ON, "table": "ranking", "level": "grid"})
    assert bad.status_code == 422 and 'data-testid="error-level"' in errors(bad)
