"""The boards: the early-warning board, the measures page and the map with its GeoJSON."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from gridgov.disputes import selectors, services
from gridgov.disputes.tests.pages import text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_ui(settings):
    """These tests read the UI's messages in English, the second UI language."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield




# --- warnings -----------------------------------------------------------------------------------------------

def test_the_warnings_board_lists_a_dispute_with_many_people(as_user, mediation, register, t0):
    crowd = register(people_count=8, title="八户业主纠纷")
    quiet = register(people_count=2, title="两户纠纷")
    c = as_user(mediation["users"]["mediator"])
    response = c.get("/disputes/warnings/")
    assert response.status_code == 200
    html = response.content.decode()
    group = html.split('data-testid="group-many_people"')[1].split("</section>")[0]
    assert crowd.number in group and "8 people involved" in text(response)
    assert quiet.number not in group
    assert "Many people involved" in group  # the rule's label
    assert "mediators of" in group or "leaders of" in group  # who should act
    assert f'href="/disputes/{crowd.pk}/"' in group
    counts = html.split('data-testid="rule-counts"')[1].split("</nav>")[0]
    assert re.search(r'data-testid="rule-many_people">\s*<strong>1</strong>', counts)


def test_the_warnings_board_filters_by_rule(as_user, mediation, register, t0):
    crowd = register(people_count=8)
    services.dispute_regrade(dispute_id=crowd.pk, by=mediation["users"]["mediator"], grade="major", reason="r")
    c = as_user(mediation["users"]["mediator"])
    only = c.get("/disputes/warnings/", {"rule": "rising_grade"}).content.decode()
    assert 'data-testid="group-rising_grade"' in only and 'data-testid="group-many_people"' not in only
    everything = c.get("/disputes/warnings/", {"rule": "nonsense"}).content.decode()
    assert 'data-testid="group-rising_grade"' in everything and 'data-testid="group-many_people"' in everything


def test_the_warnings_of_another_community_are_not_shown(as_user, mediation, register, t0):
    crowd = register(people_count=8)
    assert crowd.number not in as_user(mediation["users"]["mediator2"]).get("/disputes/warnings/").content.decode()


def test_every_warning_rule_has_a_translatable_label():
    from gridgov.disputes.views_boards import RULE_LABELS

    assert set(RULE_LABELS) == set(selectors.WARNING_RULES)
    assert {k: str(v) for k, v in RULE_LABELS.items()} == selectors.WARNING_RULES


# --- measures -------------------------------------------------------------------------------------------------

def test_the_measures_page_shows_the_totals(as_user, mediation, register, t0):
    register()
    register(source="application", grade="serious")
    c = as_user(mediation["users"]["cleader"])
    response = c.get("/disputes/measures/", {"start": "2026-11-01", "end": "2026-11-30"})
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'data-testid="tile-total"><strong>2</strong><small>Registered', html)
    assert re.search(r'data-testid="tile-found_by_screening"><strong>1</strong>', html)
    assert re.search(r'data-testid="tile-serious"><strong>1</strong>', html)
    assert "Resolution rate" in text(response) and "Follow-up rate" in text(response)
    grouped = c.get("/disputes/measures/", {"start": "2026-11-01", "end": "2026-11-30", "group": "grid"})
    assert grouped.status_code == 200
    table = grouped.content.decode().split('data-testid="groups"')[1].split("</table>")[0]
    assert mediation["g1"].name in table and "Days to resolve (median)" in table


def test_every_measure_has_a_header(as_user, mediation, register, t0):
    from gridgov.disputes.views_boards import MEASURES

    keys = set(selectors._measure([]))  # noqa: SLF001 - the keys the page must show
    assert keys - {"resolution_levels"} == {key for key, _label, _unit in MEASURES}


@pytest.mark.parametrize("params", [{"start": "2026-11-30", "end": "2026-11-01"}, {"start": "yesterday"},
                                    {"group": "planet"}, {"start": "2000-01-01", "end": "2026-11-01"}])
def test_a_bad_range_is_a_form_error(as_user, mediation, t0, params):
    response = as_user(mediation["users"]["leader"]).get("/disputes/measures/", params)
    assert response.status_code == 422
    assert "form-error" in response.content.decode() or 'data-testid="form-errors"' in response.content.decode()
    assert 'data-testid="totals"' not in response.content.decode()


# --- the map ------------------------------------------------------------------------------------------------------

def test_map_json_returns_features_in_scope_only(as_user, mediation, register, t0):
    u = mediation["users"]
    mine = register(lon=120.605, lat=31.305, grid=None, title="有坐标")
    theirs = register(by=u["gm3"], grid=mediation["g3"].code, parties=[
        {"kind": "person", "role": "applicant", "resident_id": mediation["residents"]["wang"].pk},
        {"kind": "person", "role": "respondent", "name": "邻居"}])
    data = as_user(u["mediator"]).get("/disputes/map.json").json()
    numbers = {f["properties"]["number"] for f in data["features"]}
    assert numbers == {mine.number}
    feature = data["features"][0]
    assert feature["geometry"]["coordinates"] == [120.605, 31.305]
    assert feature["properties"]["url"] == f"/disputes/{mine.pk}/" and feature["properties"]["colour"] == "#e3b505"
    assert {f["properties"]["number"] for f in as_user(u["mediator2"]).get("/disputes/map.json").json()["features"]} \
        == {theirs.number}
    assert len(as_user(u["admin"]).get("/disputes/map.json").json()["features"]) == 2


def test_map_json_includes_closed_disputes_on_request(as_user, mediation, register, t0):
    u = mediation["users"]
    d = register()
    services.dispute_close(dispute_id=d.pk, by=u["mediator"], note="当事人撤回")
    c = as_user(u["mediator"])
    assert c.get("/disputes/map.json").json()["features"] == []
    assert [f["properties"]["number"] for f in c.get("/disputes/map.json", {"all": "1"}).json()["features"]] \
        == [d.number]


def test_the_map_page(as_user, mediation, t0):
    response = as_user(mediation["users"]["mediator"]).get("/disputes/map/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-dispute-map="/disputes/map.json"' in html and "disputes_map.js" in html
    legend = html.split('data-testid="legend"')[1].split("</div>")[0]
    assert "General" in legend and "Major" in legend and "Serious" in legend and "#d62828" in legend
