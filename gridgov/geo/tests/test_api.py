import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.geo.coords import wgs84_to_bd09, wgs84_to_gcj02
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    """One city, two communities in two streets, two grids each; users scoped at each level."""
    t = make_tree()
    street2 = AreaFactory(code="320508002", level="street", parent=t["district"], name="Street 2")
    community2 = AreaFactory(code="320508002001", level="community", parent=street2, name="Community 2")
    grids = {
        "g1": GridFactory(code="320508001001001", community=t["community"], kind="residential",
                          bounds=(120.60, 31.30, 120.61, 31.31), name="枫桥第1网格"),
        "g2": GridFactory(code="320508001001002", community=t["community"], kind="school",
                          bounds=(120.61, 31.30, 120.62, 31.31)),
        "g3": GridFactory(code="320508002001001", community=community2, bounds=(120.62, 31.30, 120.63, 31.31)),
        "g4": GridFactory(code="320508002001002", community=community2, bounds=(120.63, 31.30, 120.64, 31.31)),
    }
    member = UserFactory(username="gm", role="grid_member", display_name="张网格")
    grids["g1"].members.add(member)
    users = {
        "admin": UserFactory(role="admin"),
        "leader": UserFactory(role="leader", area=t["city"]),
        "dispatcher": UserFactory(role="dispatcher", area=t["street"]),
        "gm": member,
        "resident": UserFactory(role="resident"),
    }
    return {**t, "street2": street2, "community2": community2, **grids, "users": users}


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def test_locate_inside_and_outside(client, city):
    leader = city["users"]["leader"]
    body = get(client, leader, "/api/v1/geo/locate", lon=120.605, lat=31.305).json()
    assert body["inside"] is True and body["grid"]["code"] == "320508001001001"
    assert body["community"]["code"] == city["community"].code
    outside = get(client, leader, "/api/v1/geo/locate", lon=121.5, lat=31.305)
    assert outside.status_code == 200 and outside.json() == {
        "inside": False, "lon_wgs84": 121.5, "lat_wgs84": 31.305, "grid": None, "community": None}


@pytest.mark.parametrize("convert, coord_sys", [(wgs84_to_gcj02, "gcj02"), (wgs84_to_bd09, "bd09")])
def test_locate_converts_chinese_coordinate_systems(client, city, convert, coord_sys):
    # (120.6195, 31.305) in WGS84 is in g2, ~50 m from g1; its GCJ-02/BD-09 values lie hundreds of metres east.
    lon, lat = convert(120.6195, 31.305)
    assert lon > 120.62  # unconverted, the point would fall in g3
    body = get(client, city["users"]["leader"], "/api/v1/geo/locate", lon=lon, lat=lat, coord_sys=coord_sys).json()
    assert body["grid"]["code"] == "320508001001002"
    assert abs(body["lon_wgs84"] - 120.6195) < 1e-6


@pytest.mark.parametrize("params, field", [
    ({"lon": 181, "lat": 31}, "lon"),
    ({"lon": 120, "lat": -91}, "lat"),
    ({"lon": 120, "lat": 31, "coord_sys": "utm"}, "coord_sys"),
    ({"lat": 31}, "lon"),
    ({"lon": "east", "lat": 31}, "lon"),
])
def test_locate_bad_input_is_a_422_naming_the_field(client, city, params, field):
    response = get(client, city["users"]["leader"], "/api/v1/geo/locate", **params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]
    assert field in body["message"]


def test_locate_needs_credentials(client, city):
    assert client.get("/api/v1/geo/locate", {"lon": 120.6, "lat": 31.3}).status_code == 401


def test_grid_list_paginates_with_total_and_filters(client, city):
    leader = city["users"]["leader"]
    page = get(client, leader, "/api/v1/geo/grids", page_size=3).json()
    assert page["count"] == 4 and len(page["items"]) == 3
    page2 = get(client, leader, "/api/v1/geo/grids", page_size=3, page=2).json()
    assert [g["code"] for g in page2["items"]] == ["320508002001002"]
    assert get(client, leader, "/api/v1/geo/grids", kind="school").json()["count"] == 1
    in_street2 = get(client, leader, "/api/v1/geo/grids", area=city["street2"].code).json()
    assert {g["code"] for g in in_street2["items"]} == {"320508002001001", "320508002001002"}
    assert get(client, leader, "/api/v1/geo/grids", q="枫桥").json()["count"] == 1


def test_unknown_filter_value_is_a_422(client, city):
    response = get(client, city["users"]["leader"], "/api/v1/geo/grids", kind="castle")
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "kind"


def test_grid_member_sees_only_own_grid(client, city):
    gm = city["users"]["gm"]
    page = get(client, gm, "/api/v1/geo/grids").json()
    assert [g["code"] for g in page["items"]] == ["320508001001001"]
    assert get(client, gm, "/api/v1/geo/grids/320508001001002").status_code == 404
    assert get(client, gm, "/api/v1/geo/grids/320508002001001/geojson").status_code == 404
    detail = get(client, gm, "/api/v1/geo/grids/320508001001001").json()
    assert [m["display_name"] for m in detail["members"]] == ["张网格"]


def test_dispatcher_sees_own_street_only(client, city):
    dispatcher = city["users"]["dispatcher"]
    codes = {g["code"] for g in get(client, dispatcher, "/api/v1/geo/grids").json()["items"]}
    assert codes == {"320508001001001", "320508001001002"}
    assert get(client, dispatcher, f"/api/v1/geo/areas/{city['street2'].code}").status_code == 404
    assert get(client, dispatcher, f"/api/v1/geo/areas/{city['community'].code}").status_code == 200


def test_resident_without_scope_sees_no_grids(client, city):
    assert get(client, city["users"]["resident"], "/api/v1/geo/grids").json()["count"] == 0


def test_area_list_and_detail(client, city):
    leader = city["users"]["leader"]
    streets = get(client, leader, "/api/v1/geo/areas", level="street").json()
    assert streets["count"] == 2
    detail = get(client, leader, f"/api/v1/geo/areas/{city['district'].code}").json()
    assert [a["code"] for a in detail["ancestors"]] == [city["city"].code]
    assert {a["code"] for a in detail["children"]} == {city["street"].code, city["street2"].code}
    assert detail["grid_count"] == 4
    # the grid member sees the way down to their grid, not the neighbouring street
    gm_areas = {a["code"] for a in get(client, city["users"]["gm"], "/api/v1/geo/areas").json()["items"]}
    assert city["community"].code in gm_areas and city["street2"].code not in gm_areas


def test_area_geojson_export(client, city):
    body = get(client, city["users"]["leader"], f"/api/v1/geo/areas/{city['street'].code}/geojson").json()
    assert body["type"] == "FeatureCollection"
    levels = sorted(f["properties"]["level"] for f in body["features"])
    assert levels == ["community", "grid", "grid", "street"]
    grid = next(f for f in body["features"] if f["properties"]["code"] == "320508001001001")
    assert grid["geometry"]["type"] == "Polygon" and grid["properties"]["parent"] == city["community"].code


def test_openapi_document_describes_errors(client):
    doc = client.get("/api/v1/openapi.json").json()
    locate = doc["paths"]["/api/v1/geo/locate"]["get"]
    assert {"200", "401", "422"} <= set(locate["responses"])
    assert "/api/v1/auth/token" in doc["paths"]
