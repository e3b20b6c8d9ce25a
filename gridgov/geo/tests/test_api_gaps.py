"""What the web UI did and the API now does too: the GeoJSON import (dry run, every problem, all or nothing)
and one search over areas, grids and addresses within the user's scope."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gridgov.accounts.services import token_create
from gridgov.accounts.tests.factories import UserFactory
from gridgov.core.models import AuditEntry
from gridgov.geo.models import Address, Area, Grid
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree, rect

pytestmark = pytest.mark.django_db


def bearer(user):
    return {"Authorization": f"Bearer {token_create(user=user, name='t')[1]}", "Accept-Language": "en"}


@pytest.fixture
def city():
    t = make_tree()
    street2 = AreaFactory(code="320508002", level="street", parent=t["district"], name="枫桥二街道")
    community2 = AreaFactory(code="320508002001", level="community", parent=street2, name="枫桥二社区")
    g1 = GridFactory(code="320508001001001", community=t["community"], bounds=(120.60, 31.30, 120.61, 31.31),
                     name="枫桥第1网格")
    g3 = GridFactory(code="320508002001001", community=community2, bounds=(120.62, 31.30, 120.63, 31.31),
                     name="枫桥第3网格")
    for grid, number in ((g1, "1"), (g3, "3")):
        Address.objects.create(grid=grid, path=grid.path, community=grid.community, road="枫桥路", number=number,
                               full_text=f"枫桥路{number}号")
    member = UserFactory(role="grid_member")
    g1.members.add(member)
    users = {"admin": UserFactory(role="admin"), "dispatcher": UserFactory(role="dispatcher", area=t["street"]),
             "gm": member, "leader": UserFactory(role="leader", area=t["city"]),
             "resident": UserFactory(role="resident")}
    return {**t, "street2": street2, "community2": community2, "g1": g1, "g3": g3, "users": users}


# --- search ------------------------------------------------------------------------------------------------

def search(client, user, **params):
    return client.get("/api/v1/geo/search", params, headers=bearer(user))


def test_search_finds_areas_grids_and_addresses_in_scope(client, city):
    body = search(client, city["users"]["leader"], q="枫桥").json()
    assert [a["code"] for a in body["areas"]] == ["320508002", "320508002001"]
    assert [g["code"] for g in body["grids"]] == ["320508001001001", "320508002001001"]
    assert [(a["full_text"], a["grid"]) for a in body["addresses"]] == [
        ("枫桥路1号", "320508001001001"), ("枫桥路3号", "320508002001001")]

    # a street dispatcher: street 1 only (street 2's community, grid and address stay hidden)
    narrow = search(client, city["users"]["dispatcher"], q="枫桥").json()
    assert narrow["areas"] == [] and [g["code"] for g in narrow["grids"]] == ["320508001001001"]
    assert [a["full_text"] for a in narrow["addresses"]] == ["枫桥路1号"]
    gm = search(client, city["users"]["gm"], q="3205").json()
    assert [g["code"] for g in gm["grids"]] == ["320508001001001"]
    nothing = search(client, city["users"]["resident"], q="枫桥").json()
    assert nothing["grids"] == [] and nothing["addresses"] == []

    limited = search(client, city["users"]["admin"], q="3205", limit=1).json()
    assert len(limited["areas"]) == 1 and len(limited["grids"]) == 1


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "a", "limit": 0},
                                    {"q": "a", "limit": 51}, {"q": "a", "limit": "many"}])
def test_search_bad_input_is_a_422_naming_the_parameter(client, city, params):
    response = search(client, city["users"]["admin"], **params)
    assert response.status_code == 422, response.content
    assert {d["field"] for d in response.json()["details"]} <= {"q", "limit"}


def test_search_needs_credentials(client, city):
    assert client.get("/api/v1/geo/search", {"q": "枫桥"}).status_code == 401


# --- GeoJSON import ----------------------------------------------------------------------------------------

def feature(level, code, parent, geometry=None, **props):
    properties = {"level": level, "code": code, "name": f"{level} {code}", **props}
    if parent:
        properties["parent"] = parent
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def geojson_file(*features, name="grids.geojson"):
    body = json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()
    return SimpleUploadedFile(name, body, content_type="application/geo+json")


NEW_GRID = feature("grid", "320508001001009", "320508001001", rect(120.61, 31.30, 120.62, 31.31),
                   kind="commercial")


def post(client, user, file, **fields):
    data = {**fields} | ({"geojson": file} if file is not None else {})
    return client.post("/api/v1/geo/import", data, headers=bearer(user))


def rows():
    return (list(Area.objects.order_by("code").values_list("code", "name", "path")),
            list(Grid.objects.order_by("code").values_list("code", "name", "path")),
            AuditEntry.objects.filter(action="geo.import").count())


def test_dry_run_then_apply(client, city):
    admin = city["users"]["admin"]
    before = rows()
    dry = post(client, admin, geojson_file(NEW_GRID), dry_run="true")
    assert dry.status_code == 200, dry.content
    assert dry.json() == {"dry_run": True, "moved": [],
                          "created": {"city": 0, "district": 0, "street": 0, "community": 0, "grid": 1},
                          "updated": {"city": 0, "district": 0, "street": 0, "community": 0, "grid": 0}}
    assert rows() == before

    applied = post(client, admin, geojson_file(NEW_GRID))
    assert applied.status_code == 200 and applied.json()["dry_run"] is False
    grid = Grid.objects.get(code="320508001001009")
    assert grid.kind == "commercial" and grid.community == city["community"]
    assert AuditEntry.objects.get(action="geo.import").actor == admin


def test_a_bad_file_is_refused_whole_with_every_problem(client, city):
    overlapping = feature("grid", "320508001001008", "320508001001", rect(120.605, 31.30, 120.615, 31.31))
    orphan = feature("grid", "320508009009001", "320508009009", rect(120.70, 31.30, 120.71, 31.31))
    no_geometry = feature("grid", "320508001001007", "320508001001")
    before = rows()
    response = post(client, city["users"]["admin"], geojson_file(NEW_GRID, overlapping, orphan, no_geometry))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "geojson_invalid"
    by_feature = {(p["feature"], p["kind"]) for p in body["details"]}
    assert {(2, "overlap"), (3, "unknown_parent"), (4, "missing_geometry")} <= by_feature, by_feature
    assert all(set(p) == {"feature", "code", "kind", "message"} for p in body["details"])
    assert rows() == before


@pytest.mark.parametrize("file", [
    SimpleUploadedFile("bad.geojson", b"{not json", content_type="application/geo+json"),
    SimpleUploadedFile("bad.geojson", b"\xff\xfe\x00garbage", content_type="application/geo+json"),
    SimpleUploadedFile("bad.geojson", b"[]", content_type="application/geo+json"),
    SimpleUploadedFile("empty.geojson", b"", content_type="application/geo+json"),
    None,
])
def test_bad_uploads_are_422_and_write_nothing(client, city, file):
    before = rows()
    response = post(client, city["users"]["admin"], file)
    assert response.status_code == 422, response.content
    assert response.json()["code"] in ("geojson_invalid", "invalid_file", "validation_error")
    assert rows() == before


def test_too_large_a_file_is_refused(client, city, monkeypatch):
    monkeypatch.setattr("gridgov.geo.views_import.MAX_UPLOAD_BYTES", 10)  # the UI form's limit, shared
    before = rows()
    response = post(client, city["users"]["admin"], geojson_file(NEW_GRID))
    assert response.status_code == 422 and response.json()["code"] == "invalid_file"
    assert response.json()["details"][0]["field"] == "geojson"
    assert rows() == before


def test_only_administrators_import(client, city):
    before = rows()
    for name in ("dispatcher", "leader", "gm", "resident"):
        response = post(client, city["users"][name], geojson_file(NEW_GRID))
        assert response.status_code == 403 and response.json()["code"] == "forbidden", name
    assert client.post("/api/v1/geo/import", {"geojson": geojson_file(NEW_GRID)}).status_code == 401
    assert rows() == before
