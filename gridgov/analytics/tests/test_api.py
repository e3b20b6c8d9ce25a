"""The analytics JSON API: each endpoint's figures for a small hand-computed fixture (and equal to the direct
computation from the raw cases), the previous period, scope (another street's dispatcher, handlers and residents
get a 404), hostile parameters (a 4xx naming the parameter, never a 5xx) and the OpenAPI document.

The fixture, November 2026 (previous period October 2026):
- g1 (street 1, community 1): one case closed on 2 November, one registered, one only reported; one reported on
  15 October;
- g3 (street 2, community 2): one reported on 2 November.
"""

from __future__ import annotations

import datetime as dt
import sys
import types

import pytest

import gridgov.analytics
from gridgov.analytics import api as analytics_api
from gridgov.analytics import selectors
from gridgov.analytics.kpis import KPIS
from gridgov.analytics.rollups import rollups_update
from gridgov.analytics.selectors import Period, direct_kpis

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics"
NOV = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
OCT = Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
MONTH = {"period": "month", "on": "2026-11-15"}
G3 = {"lon": 120.625, "lat": 31.305}


@pytest.fixture
def figures(world, drive, clock):
    clock.set(2026, 10, 15, 10)
    october = drive.report(description="十月")
    clock.set(2026, 11, 2, 10)
    closed = drive("closed")
    registered = drive("registered")
    reported = drive.report(description="只上报")
    g3 = drive.report(description="二街道", **G3)
    rollups_update()
    return {"october": october, "closed": closed, "registered": registered, "reported": reported, "g3": g3}


@pytest.fixture
def get(client, world):
    """get(user_name, endpoint, **params) → the response, as that user (None: anonymous), labels in English."""

    def call(name, endpoint, **params):
        client.logout()
        if name is not None:
            client.force_login(world["users"][name])
        return client.get(f"{BASE}/{endpoint}", params, headers={"Accept-Language": "en"})

    return call


def ok(response) -> dict | list:
    assert response.status_code == 200, response.content
    return response.json()


def refused(response, status: int, field: str, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert {"code", "message", "details"} <= set(body)
    fields = [d["field"] for d in body["details"] or []]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), body
    if code:
        assert body["code"] == code, body
    return body


def by_code(rows: list[dict]) -> dict[str, dict]:
    return {r["code"]: r for r in rows}


# --- the catalogue ------------------------------------------------------------------------------------------------

def test_the_catalogue_lists_every_kpi_with_its_counters(get, world):
    rows = ok(get("leader", "kpis"))
    assert [r["code"] for r in rows] == [k.code for k in KPIS]
    rate = by_code(rows)["resolution_rate"]
    assert rate == {"code": "resolution_rate", "label": "Resolution rate (解决率)", "unit": "%",
                    "numerator": ["registered_closed"], "denominator": ["registered"], "higher_is_better": True}
    assert by_code(rows)["overdue_rate"]["higher_is_better"] is False
    assert by_code(rows)["reported"]["denominator"] == []


# --- summary ------------------------------------------------------------------------------------------------------

def test_summary_of_a_street_for_a_month_with_the_previous_month(get, world, figures):
    body = ok(get("dispatcher", "summary", area=world["street"].code, **MONTH))
    assert body["node"] == {"code": world["street"].code, "name": world["street"].name, "level": "street"}
    assert body["period"] == {"start": "2026-11-01", "end": "2026-11-30"}
    assert body["previous_period"] == {"start": "2026-10-01", "end": "2026-10-31"}
    kpis = by_code(body["kpis"])
    assert [r["code"] for r in body["kpis"]] == [k.code for k in KPIS]
    # hand-computed: 3 reported in November (1 the month before), 2 registered, 1 of them closed
    assert kpis["reported"] | {"label": None} == {"code": "reported", "label": None, "unit": "count", "value": 3,
                                                  "previous": 1, "change": 2, "higher_is_better": None}
    assert kpis["closed"]["value"] == 1 and kpis["closed"]["previous"] == 0
    assert kpis["registration_rate"]["value"] == 100.0 and kpis["registration_rate"]["previous"] is None
    assert kpis["resolution_rate"]["value"] == 50.0
    assert kpis["resolution_rate"]["change"] is None  # nothing registered in October
    assert kpis["response_rate"]["value"] == 100.0  # the one dispatched was accepted
    assert kpis["satisfaction_rate"]["value"] is None  # nobody rated
    # and the same as a direct computation from the raw cases
    assert {k: r["value"] for k, r in kpis.items()} == direct_kpis(path=world["street"].path, period=NOV)
    assert {k: r["previous"] for k, r in kpis.items()} == direct_kpis(path=world["street"].path, period=OCT)


def test_summary_of_the_city_a_grid_a_range_and_the_default_node(get, world, figures):
    city = by_code(ok(get("leader", "summary", area=world["city"].code, **MONTH))["kpis"])
    assert city["reported"]["value"] == 4  # street 2's case too
    grid = ok(get("dispatcher", "summary", grid=world["g1"].code, **MONTH))
    assert grid["node"]["level"] == "grid" and by_code(grid["kpis"])["reported"]["value"] == 3
    assert by_code(ok(get("dispatcher", "summary", grid=world["g2"].code, **MONTH))["kpis"])["reported"]["value"] == 0
    # an explicit range: the previous period is as many days just before
    ranged = ok(get("dispatcher", "summary", start="2026-10-10", end="2026-11-02"))
    assert ranged["previous_period"] == {"start": "2026-09-16", "end": "2026-10-09"}
    assert by_code(ranged["kpis"])["reported"]["value"] == 4
    assert ({r["code"]: r["value"] for r in ranged["kpis"]}
            == direct_kpis(path=world["street"].path, period=Period(dt.date(2026, 10, 10), dt.date(2026, 11, 2))))
    # no area: the caller's own (the grid member's grid, the dispatcher's street)
    assert ok(get("gm", "summary", **MONTH))["node"]["code"] == world["g1"].code
    assert ok(get("dispatcher", "summary", **MONTH))["node"]["code"] == world["street"].code
    # named periods around the same day
    day = ok(get("dispatcher", "summary", period="day", on="2026-11-02"))
    assert day["previous_period"] == {"start": "2026-11-01", "end": "2026-11-01"}
    assert by_code(day["kpis"])["reported"]["value"] == 3
    year = ok(get("dispatcher", "summary", period="year", on="2026-11-02"))
    assert year["previous_period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert by_code(year["kpis"])["reported"]["value"] == 4


# --- trend --------------------------------------------------------------------------------------------------------

def test_trend_per_day_holds_only_the_kpis_asked_for(get, world, figures):
    body = ok(get("dispatcher", "trend", area=world["street"].code, start="2026-11-01", end="2026-11-07",
                  step="day", kpi=["reported", "resolution_rate"]))
    assert body["step"] == "day" and body["kpis"] == ["reported", "resolution_rate"]
    assert len(body["series"]) == 7
    second = body["series"][1]
    assert second == {"start": "2026-11-02", "end": "2026-11-02", "reported": 3, "resolution_rate": 50.0}
    assert body["series"][0] == {"start": "2026-11-01", "end": "2026-11-01", "reported": 0, "resolution_rate": None}


def test_trend_per_week_and_month(get, world, figures):
    weeks = ok(get("dispatcher", "trend", area=world["street"].code, **MONTH, step="week"))["series"]
    assert weeks[0]["start"] == "2026-11-01" and weeks[0]["end"] == "2026-11-01"  # a Sunday
    assert weeks[1] == {"start": "2026-11-02", "end": "2026-11-08", "reported": 3, "closed": 1,
                        "resolution_rate": 50.0, "on_time_closure_rate": 100.0, "satisfaction_rate": None}
    assert sum(w["reported"] for w in weeks) == 3
    months = ok(get("leader", "trend", area=world["city"].code, start="2026-10-01", end="2026-11-30", step="month",
                    kpi="reported"))["series"]
    assert months == [{"start": "2026-10-01", "end": "2026-10-31", "reported": 1},
                      {"start": "2026-11-01", "end": "2026-11-30", "reported": 4}]


# --- breakdown ----------------------------------------------------------------------------------------------------

def test_breakdown_by_category_source_department_and_kind(get, world, figures):
    street = world["street"]
    rows = ok(get("dispatcher", "breakdown", area=street.code, by="category", **MONTH))["rows"]
    assert [(r["key"], r["label"], r["reported"], r["resolution_rate"]) for r in rows] == [("T01", "市容", 3, 50.0)]
    assert rows[0]["previous"]["reported"] == 1
    assert set(rows[0]) == {"key", "label", "previous", *(k.code for k in KPIS)}
    for by, prefix in (("source", "s:"), ("department", "d:"), ("kind", "k:")):
        body = ok(get("dispatcher", "breakdown", area=street.code, by=by, **MONTH))
        assert body["by"] == by and body["rows"], by
        for row in body["rows"]:
            expected = direct_kpis(path=street.path, period=NOV, dim=f"{prefix}{row['key']}")
            assert {k: row[k] for k in expected} == expected, (by, row["key"])
    [urban] = ok(get("dispatcher", "breakdown", area=street.code, by="department", **MONTH))["rows"]
    assert (urban["key"], urban["label"], urban["closed"]) == ("URBAN", "城管", 1)
    [kind] = ok(get("dispatcher", "breakdown", grid=world["g1"].code, by="kind", **MONTH))["rows"]
    assert (kind["key"], kind["reported"]) == ("event", 3)


# --- ranking ------------------------------------------------------------------------------------------------------

def test_ranking_of_the_streets_of_a_district_and_the_grids_of_a_community(get, world, figures):
    body = ok(get("district_dispatcher", "ranking", area=world["district"].code, kpi="reported", **MONTH))
    assert body["kpi"] == "reported"
    assert [(r["code"], r["level"], r["reported"], r["rank"]) for r in body["rows"]] == [
        (world["street"].code, "street", 3, 1), (world["street2"].code, "street", 1, 2)]
    assert body["rows"][0]["previous"]["reported"] == 1 and body["rows"][0]["previous_rank"] == 1
    assert body["rows"][1]["previous_rank"] == 2  # 0 in October: a value, ranked after
    rate = ok(get("district_dispatcher", "ranking", area=world["district"].code, **MONTH))
    assert rate["kpi"] == "resolution_rate"
    assert [(r["code"], r["resolution_rate"], r["rank"]) for r in rate["rows"]] == [
        (world["street"].code, 50.0, 1), (world["street2"].code, None, None)]
    grids = ok(get("community_dispatcher", "ranking", kpi="reported", **MONTH))
    assert grids["node"]["code"] == world["community"].code
    assert [(r["code"], r["level"], r["reported"]) for r in grids["rows"]] == [
        (world["g1"].code, "grid", 3), (world["g2"].code, "grid", 0)]
    assert ok(get("dispatcher", "ranking", grid=world["g1"].code, **MONTH))["rows"] == []


# --- hotspots -----------------------------------------------------------------------------------------------------

def test_hotspots_are_h3_polygons_counting_the_reports(get, world, figures):
    body = ok(get("dispatcher", "hotspots", area=world["street"].code, **MONTH))
    assert body["type"] == "FeatureCollection" and body["months"] == ["2026-11-01"]
    assert sum(f["properties"]["reported"] for f in body["features"]) == 3
    feature = body["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) >= 6
    assert all(120.5 < lon < 120.7 and 31.2 < lat < 31.4 for lon, lat in ring)
    city = ok(get("leader", "hotspots", area=world["city"].code, **MONTH))
    assert sum(f["properties"]["reported"] for f in city["features"]) == 4
    refused(get("dispatcher", "hotspots", grid=world["g1"].code, **MONTH), 422, "grid")


# --- the open cases on the map -------------------------------------------------------------------------------------

def test_cases_map_shows_the_open_cases_under_the_node(get, world, figures):
    body = ok(get("dispatcher", "cases-map", area=world["street"].code))
    ids = {f["properties"]["id"] for f in body["features"]}
    assert ids == {figures["october"].pk, figures["registered"].pk, figures["reported"].pk}  # not the closed one
    assert body["truncated"] is False and body["limit"] == analytics_api.CASES_MAP_LIMIT
    feature = next(f for f in body["features"] if f["properties"]["id"] == figures["registered"].pk)
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.605, 31.305]}
    assert feature["properties"] | {"url": None} == {
        "id": figures["registered"].pk, "number": figures["registered"].number, "category": "暴露垃圾",
        "state": "registered", "state_label": "Registered", "overdue": False, "url": None}
    assert feature["properties"]["url"] == f"/cases/{figures['registered'].pk}/"
    # a grid; the whole city; nothing overdue yet
    assert len(ok(get("dispatcher", "cases-map", grid=world["g2"].code))["features"]) == 0
    assert len(ok(get("leader", "cases-map", area=world["city"].code))["features"]) == 4
    assert ok(get("dispatcher", "cases-map", area=world["street"].code, overdue="true"))["features"] == []


def test_cases_map_overdue_only_and_truncated(get, world, figures, clock, monkeypatch):
    from gridgov.cases import services

    clock.set(2026, 11, 10, 10)
    services.cases_escalate_overdue(now=clock.now)
    overdue = ok(get("leader", "cases-map", area=world["city"].code, overdue="true"))["features"]
    assert overdue and all(f["properties"]["overdue"] for f in overdue)
    assert figures["closed"].pk not in {f["properties"]["id"] for f in overdue}
    monkeypatch.setattr(analytics_api, "CASES_MAP_LIMIT", 2)
    body = ok(get("leader", "cases-map", area=world["city"].code))
    assert len(body["features"]) == 2 and body["truncated"] is True and body["limit"] == 2


# --- the governance effectiveness index (the index module stubbed: its own tests check the numbers) ---------------

@pytest.fixture
def index_stub(monkeypatch):
    """gridgov.analytics.index replaced by a stub following its interface; it records its calls."""
    calls = []
    aspects = {"concept": 70.0, "subjects": 60.5, "methods": None, "effectiveness": 80.0}

    def index_ranking(*, user, area=None, grid=None, period):
        calls.append(("ranking", user, area, grid, period))
        node = selectors.resolve_node(user=user, area=area, grid=grid)
        rows = [{**c.as_dict(), "index": 71.2, "aspects": aspects, "previous_index": None, "rank": i + 1,
                 "previous_rank": None} for i, c in enumerate(selectors.children_of(node))]
        return {"node": node.as_dict(), "period": period.as_dict(),
                "weights": {"concept": 0.2, "subjects": 0.2, "methods": 0.3, "effectiveness": 0.3}, "rows": rows}

    def index_of(*, user, area=None, grid=None, period):
        calls.append(("node", user, area, grid, period))
        node = selectors.resolve_node(user=user, area=area, grid=grid)
        return {"node": node.as_dict(), "index": 71.2, "aspects": aspects, "previous_index": 65.0,
                "indicators": [{"code": "digital_reporting", "label": "数字化上报", "aspect": "methods",
                                "value": 88.0, "weight": 0.5}]}

    stub = types.ModuleType("gridgov.analytics.index")
    stub.index_ranking, stub.index_of = index_ranking, index_of
    monkeypatch.setitem(sys.modules, "gridgov.analytics.index", stub)
    monkeypatch.setattr(gridgov.analytics, "index", stub, raising=False)
    return calls


def test_index_ranking_and_node_pass_the_node_and_period(get, world, index_stub):
    body = ok(get("dispatcher", "index", area=world["street"].code, **MONTH))
    assert body["weights"] == {"concept": 0.2, "subjects": 0.2, "methods": 0.3, "effectiveness": 0.3}
    assert [(r["code"], r["index"], r["rank"]) for r in body["rows"]] == [(world["community"].code, 71.2, 1)]
    assert body["rows"][0]["aspects"]["methods"] is None
    kind, user, area, grid, period = index_stub[-1]
    assert (kind, user, area, grid, period) == ("ranking", world["users"]["dispatcher"], world["street"].code,
                                                None, NOV)
    node = ok(get("gm", "index/node", grid=world["g1"].code, start="2026-11-01", end="2026-11-10"))
    assert node["index"] == 71.2 and node["previous_index"] == 65.0 and node["indicators"][0]["weight"] == 0.5
    assert index_stub[-1][4] == Period(dt.date(2026, 11, 1), dt.date(2026, 11, 10))
    refused(get("other_dispatcher", "index", area=world["street"].code, **MONTH), 404, "area", "unknown_area")
    refused(get("dispatcher", "index/node", period="fortnight"), 422, "period", "invalid_period")


def test_index_endpoints_answer_with_the_real_index_module(get, world, figures):
    pytest.importorskip("gridgov.analytics.index")
    ranking = ok(get("leader", "index", area=world["district"].code, **MONTH))
    assert {r["code"] for r in ranking["rows"]} == {world["street"].code, world["street2"].code}
    assert ranking["previous_period"] == {"start": "2026-10-01", "end": "2026-10-31"}
    assert set(ranking["weights"]) == {"concept", "subjects", "methods", "effectiveness"}
    node = ok(get("leader", "index/node", area=world["street"].code, **MONTH))
    assert node["node"]["code"] == world["street"].code
    assert node["indicators"] and {"code", "label", "aspect", "value", "weight"} <= set(node["indicators"][0])
    refused(get("other_dispatcher", "index/node", area=world["street"].code, **MONTH), 404, "area", "unknown_area")


# --- scope --------------------------------------------------------------------------------------------------------

READS = [("summary", {}), ("trend", {}), ("breakdown", {"by": "source"}), ("ranking", {}), ("hotspots", {}),
         ("cases-map", {}), ("index", {}), ("index/node", {})]


@pytest.mark.parametrize(("endpoint", "extra"), READS)
def test_another_streets_dispatcher_gets_a_404_naming_the_area(get, world, figures, endpoint, extra):
    refused(get("other_dispatcher", endpoint, area=world["street"].code, **extra), 404, "area", "unknown_area")
    refused(get("other_dispatcher", endpoint, grid=world["g1"].code, **extra), 404, "grid", "unknown_grid")
    refused(get("gm", endpoint, area=world["street"].code, **extra), 404, "area")  # above the grid member
    refused(get("dispatcher", endpoint, area="999999", **extra), 404, "area", "unknown_area")  # no such area
    if endpoint != "hotspots":
        ok(get("other_dispatcher", endpoint, grid=world["g3"].code, **extra))  # their own street is fine


@pytest.mark.parametrize(("endpoint", "extra"), READS)
def test_handlers_and_residents_have_no_figures_anonymous_a_401(get, world, figures, endpoint, extra):
    """Handlers and residents read no figures (selectors.may_read): a 404, as if nothing were there."""
    for name in ("handler", "resident"):
        response = get(name, endpoint, **extra)
        assert response.status_code == 404, (name, response.content)
        assert response.json()["code"] == "not_found"
        assert get(name, endpoint, area=world["street"].code, **extra).status_code == 404
    assert get(None, endpoint, **extra).status_code == 401
    assert get(None, "kpis").status_code == 401
    assert get("resident", "kpis").status_code == 200  # the catalogue is only definitions


def test_a_street_dispatcher_cannot_read_street_2_figures_but_the_city_leader_can(get, world, figures):
    """The city's figures hold street 2's case; the street dispatcher cannot ask for the city."""
    refused(get("dispatcher", "summary", area=world["city"].code, **MONTH), 404, "area")
    refused(get("dispatcher", "ranking", area=world["district"].code, **MONTH), 404, "area")
    own = by_code(ok(get("other_dispatcher", "summary", **MONTH))["kpis"])
    assert own["reported"]["value"] == 1  # street 2: only its own case


# --- bad parameters -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "field", "code"), [
    ({"start": "2026-11-10", "end": "2026-11-01"}, "end", "invalid_range"),
    ({"start": "2026-11-10"}, "end", "invalid_range"),
    ({"end": "2026-11-10"}, "start", "invalid_range"),
    ({"start": "2000-01-01", "end": "2026-11-01"}, "end", "invalid_range"),  # longer than the maximum
    ({"period": "fortnight"}, "period", "invalid_period"),
    ({"period": "x" * 5000}, "period", "validation_error"),
    ({"on": "0001-01-01"}, "on", "invalid_range"),
    ({"on": "9999-12-31"}, "on", "invalid_range"),
    ({"start": "0001-01-01", "end": "0001-01-02"}, "start", "invalid_range"),
    ({"start": "2026-11-01", "end": "9999-12-31"}, "end", "invalid_range"),
    ({"on": "2026-13-01"}, "on", "validation_error"),
    ({"on": "2026-02-30"}, "on", "validation_error"),
    ({"start": "yesterday", "end": "2026-11-01"}, "start", "validation_error"),
    ({"on": "1" * 5000}, "on", "validation_error"),
    ({"area": "3" * 5000}, "area", "validation_error"),
    ({"grid": "g" * 41}, "grid", "validation_error"),
    ({"area": "nowhere"}, "area", "unknown_area"),
    ({"grid": "nowhere"}, "grid", "unknown_grid"),
    ({"area": "' OR 1=1 --"}, "area", "unknown_area"),
])
@pytest.mark.parametrize("endpoint", ["summary", "trend", "breakdown", "ranking", "hotspots", "index", "index/node"])
def test_bad_parameters_are_a_4xx_naming_the_parameter(get, world, endpoint, params, field, code):
    extra = {"by": "source"} if endpoint == "breakdown" else {}
    response = get("leader", endpoint, **extra, **params)
    status = 404 if code.startswith("unknown_") else 422
    refused(response, status, field, code)


@pytest.mark.parametrize(("endpoint", "params", "field", "code"), [
    ("trend", {"kpi": "nope"}, "kpi", "unknown_kpi"),
    ("trend", {"kpi": ["reported", "nope"]}, "kpi", "unknown_kpi"),
    ("trend", {"kpi": "k" * 5000}, "kpi", "validation_error"),
    ("trend", {"kpi": ["reported"] * 21}, "kpi", "validation_error"),
    ("trend", {"step": "hour"}, "step", "invalid_step"),
    ("trend", {"step": "s" * 5000}, "step", "validation_error"),
    ("trend", {"step": "day", "start": "2020-01-01", "end": "2026-11-01"}, "step", "invalid_step"),  # > 400 points
    ("ranking", {"kpi": "nope"}, "kpi", "unknown_kpi"),
    ("ranking", {"kpi": ""}, "kpi", "unknown_kpi"),
    ("ranking", {"kpi": "k" * 5000}, "kpi", "validation_error"),
    ("ranking", {"level": "planet"}, "level", "invalid_level"),
    ("ranking", {"level": "grid"}, "level", "invalid_level"),  # grids only within a street or a community
    ("ranking", {"level": "l" * 21}, "level", "validation_error"),
    ("breakdown", {}, "by", "validation_error"),
    ("breakdown", {"by": "colour"}, "by", "invalid_breakdown"),
    ("breakdown", {"by": "category", "grid": "320508001001001"}, "by", "invalid_breakdown"),  # grids: source, kind
    ("breakdown", {"by": "b" * 5000}, "by", "validation_error"),
    ("hotspots", {"grid": "320508001001001"}, "grid", "invalid_breakdown"),
    ("cases-map", {"overdue": "maybe"}, "overdue", "validation_error"),
    ("cases-map", {"area": "nowhere"}, "area", "unknown_area"),
    ("cases-map", {"area": "a" * 5000}, "area", "validation_error"),
])
def test_endpoint_specific_bad_parameters(get, world, endpoint, params, field, code):
    status = 404 if code.startswith("unknown_") and code != "unknown_kpi" else 422
    refused(get("leader", endpoint, **params), status, field, code)


@pytest.mark.parametrize("endpoint", ["summary", "trend", "breakdown", "ranking", "hotspots", "cases-map", "index"])
def test_a_nul_character_is_refused_before_any_query(get, world, endpoint):
    """The NUL-refusing middleware answers 400 first (the schemas refuse it too, as a second line)."""
    response = get("leader", endpoint, area="3205\x00", by="source")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_the_widest_allowed_inputs_answer_200(get, world, figures, settings):
    """The edges that are allowed: the earliest and latest dates, the longest range, a year of days."""
    limit = getattr(settings, "GRIDGOV_ANALYTICS_MAX_DAYS", 3660)
    start = dt.date(2026, 11, 30) - dt.timedelta(days=limit - 1)
    city = world["city"].code
    body = ok(get("leader", "summary", area=city, start=start.isoformat(), end="2026-11-30"))
    assert by_code(body["kpis"])["reported"]["value"] == 5
    ok(get("leader", "summary", area=city, period="year", on="1900-01-01"))
    ok(get("leader", "summary", area=city, period="year", on="2999-12-31"))
    ok(get("leader", "trend", area=city, period="year", on="2999-06-01", step="day"))
    ok(get("leader", "trend", area=city, start=start.isoformat(), end="2026-11-30", step="month"))
    ok(get("leader", "ranking", area=city, start=start.isoformat(), end="2026-11-30"))
    ok(get("leader", "breakdown", area=city, by="department", period="quarter", on="2026-11-01"))
    ok(get("leader", "hotspots", area=city, start=start.isoformat(), end="2026-11-30"))
    ok(get("admin", "summary", **MONTH))  # no area of their own: the root
    for endpoint in ("index", "index/node"):  # the real index module at the same edges
        ok(get("leader", endpoint, area=city, start=start.isoformat(), end="2026-11-30"))
        ok(get("leader", endpoint, area=city, period="year", on="1900-01-01"))
        ok(get("leader", endpoint, area=city, period="year", on="2999-12-31"))
        ok(get("gm", endpoint, **MONTH))


# --- the OpenAPI document -----------------------------------------------------------------------------------------

def test_the_openapi_document_lists_the_analytics_paths_with_their_errors(client):
    doc = client.get("/api/v1/openapi.json").json()
    paths = {p: v for p, v in doc["paths"].items() if p.startswith("/api/v1/analytics/")}
    assert set(paths) == {f"/api/v1/analytics/{p}" for p in ("kpis", "summary", "trend", "breakdown", "ranking",
                                                              "index", "index/node", "hotspots", "cases-map",
                                                              "map/nodes", "export", "report.xlsx", "report.pdf")}
    for path, item in paths.items():
        responses = item["get"]["responses"]
        assert "200" in responses and "401" in responses, path
        if not path.endswith("/kpis"):
            assert {"404", "422"} <= set(responses), path
            assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
        assert "analytics" in item["get"]["tags"]
    schemas = doc["components"]["schemas"]
    kpi_fields = set(schemas["KpiValuesOut"]["properties"])
    assert kpi_fields == {k.code for k in KPIS}
    assert "resolution_rate" in schemas["BreakdownRowOut"]["properties"]
    assert schemas["BreakdownRowOut"]["properties"]["resolution_rate"]["description"].startswith("resolution_rate:")
    summary_params = {p["name"] for p in paths["/api/v1/analytics/summary"]["get"]["parameters"]}
    assert summary_params == {"area", "grid", "period", "on", "start", "end"}
    trend_kpi = next(p for p in paths["/api/v1/analytics/trend"]["get"]["parameters"] if p["name"] == "kpi")
    assert trend_kpi["schema"]["anyOf"][0]["type"] == "array"


def test_a_refusal_speaks_the_callers_language(client, world):
    client.force_login(world["users"]["leader"])
    chinese = client.get(f"{BASE}/summary", {"period": "decade"}).json()  # the default language
    english = client.get(f"{BASE}/summary", {"period": "decade"}, headers={"Accept-Language": "en"}).json()
    assert chinese["code"] == english["code"] == "invalid_period"
    assert chinese["details"][0]["message"].startswith("必须为以下之一：day, week")
    assert english["details"][0]["message"].startswith("one of day, week")
    too_long = client.get(f"{BASE}/summary", {"start": "2000-01-01", "end": "2026-01-01"}).json()
    assert too_long["details"] == [{"field": "end", "message": "时间范围超过 3660 天"}]
