"""GeoJSON import: a good file is written whole, a bad one is refused whole with every problem listed."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from gridgov.accounts.tests.factories import UserFactory
from gridgov.core.errors import InvalidInput
from gridgov.core.models import AuditEntry
from gridgov.geo.geojson_import import geojson_import, geojson_validate
from gridgov.geo.geometry import describe
from gridgov.geo.models import Address, Area, Building, Grid
from gridgov.geo.tests.factories import GridFactory, rect

pytestmark = pytest.mark.django_db

COMMUNITY_BOUNDARY = rect(120.60, 31.30, 120.62, 31.31)
WEST = rect(120.60, 31.30, 120.61, 31.31)
EAST = rect(120.61, 31.30, 120.62, 31.31)


def area(level: str, code: str, parent: str | None, geometry: dict | None = None) -> dict:
    props = {"level": level, "code": code, "name": f"{level} {code}"}
    if parent:
        props["parent"] = parent
    return {"type": "Feature", "geometry": geometry, "properties": props}


def grid(code: str, parent: str, geometry: dict | None, kind: str = "residential") -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"level": "grid", "code": code, "name": f"网格 {code}", "parent": parent, "kind": kind}}


def tree_features(boundary: dict | None = COMMUNITY_BOUNDARY) -> list[dict]:
    return [
        area("city", "320500", None),
        area("district", "320508", "320500"),
        area("street", "320508001", "320508"),
        area("community", "320508001001", "320508001", boundary),
    ]


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def good_file() -> dict:
    return collection(*tree_features(), grid("320508001001001", "320508001001", WEST),
                      grid("320508001001002", "320508001001", EAST, kind="commercial"))


def rows() -> tuple[int, int, int]:
    return Area.objects.count(), Grid.objects.count(), AuditEntry.objects.count()


def refused(raw) -> list[dict]:
    """Import `raw`, expect a refusal that wrote nothing, and return the problems."""
    before = rows()
    with pytest.raises(InvalidInput) as info:
        geojson_import(raw=raw, by=None)
    assert rows() == before
    assert info.value.code == "geojson_invalid"
    problems = info.value.details
    assert info.value.message == f"The GeoJSON was refused: {len(problems)} problem" + (
        "s" if len(problems) != 1 else "")
    return problems


def kinds(problems: list[dict]) -> list[str]:
    return [p["kind"] for p in problems]


# --- good files ------------------------------------------------------------------------------------------

def test_good_file_creates_the_tree_and_grids():
    admin = UserFactory(role="admin")
    report = geojson_import(raw=json.dumps(good_file(), ensure_ascii=False).encode(), by=admin)
    assert report.ok and not report.dry_run
    assert report.created == {"city": 1, "district": 1, "street": 1, "community": 1, "grid": 2}
    assert sum(report.updated.values()) == 0
    community = Area.objects.get(code="320508001001")
    assert community.path == "320500/320508/320508001/320508001001/"
    assert community.depth == 3 and community.parent.code == "320508001"
    assert community.center_lon is not None
    g = Grid.objects.get(code="320508001001002")
    assert g.path == community.path + "320508001001002/"
    assert g.kind == "commercial" and g.community == community and g.name == "网格 320508001001002"
    assert g.min_lon == pytest.approx(120.61) and g.area_m2 > 1_000_000
    assert g.created_by == admin
    for imported in Grid.objects.all():  # the derived columns are those of geometry.describe
        derived = describe(imported.geometry)
        assert {k: getattr(imported, k) for k in derived} == pytest.approx(derived)
    entry = AuditEntry.objects.get(action="geo.import")
    assert entry.after["created"]["grid"] == 2 and entry.actor == admin


def test_second_import_updates_and_keeps_members():
    geojson_import(raw=good_file(), by=None)
    member = UserFactory(role="grid_member")
    Grid.objects.get(code="320508001001001").members.add(member)
    changed = good_file()
    changed["features"][4]["properties"]["name"] = "Renamed"
    report = geojson_import(raw=changed, by=None)
    assert report.created == {"city": 0, "district": 0, "street": 0, "community": 0, "grid": 0}
    assert report.updated == {"city": 1, "district": 1, "street": 1, "community": 1, "grid": 2}
    assert Area.objects.count() == 4 and Grid.objects.count() == 2
    updated = Grid.objects.get(code="320508001001001")
    assert updated.name == "Renamed"
    assert list(updated.members.all()) == [member]
    assert AuditEntry.objects.filter(action="geo.import").count() == 2


def test_null_area_geometry_keeps_the_boundary():
    geojson_import(raw=good_file(), by=None)
    again = good_file()
    again["features"][3]["geometry"] = None
    geojson_import(raw=again, by=None)
    assert Area.objects.get(code="320508001001").geometry == COMMUNITY_BOUNDARY


def test_round_trip_export_then_import(tmp_path):
    geojson_import(raw=good_file(), by=None)
    before = {g.code: (g.name, g.kind, g.path, g.geometry) for g in Grid.objects.all()}
    areas_before = {a.code: (a.name, a.level, a.path, a.geometry) for a in Area.objects.all()}
    out = tmp_path / "export.geojson"
    call_command("geo_export", "320500", "-o", str(out))
    text = out.read_text(encoding="utf-8")
    assert "网格" in text  # ensure_ascii=False
    # Importing the export back over the same data changes nothing …
    report = geojson_import(raw=out.read_bytes(), by=None)
    assert report.updated == {"city": 1, "district": 1, "street": 1, "community": 1, "grid": 2}
    # … and into an empty database it recreates the same tree.
    Grid.objects.all().delete()
    for level in ("community", "street", "district", "city"):
        Area.objects.filter(level=level).delete()
    call_command("geo_import", str(out))
    assert {g.code: (g.name, g.kind, g.path, g.geometry) for g in Grid.objects.all()} == before
    assert {a.code: (a.name, a.level, a.path, a.geometry) for a in Area.objects.all()} == areas_before


def test_import_under_existing_tree(tree):
    """Parents may already be in the database; the grid path follows the community's."""
    report = geojson_import(raw=collection(grid("G1", tree["community"].code, WEST)), by=None)
    assert report.created["grid"] == 1
    assert Grid.objects.get(code="G1").path == tree["community"].path + "G1/"


def test_dry_run_writes_nothing():
    before = rows()
    report = geojson_import(raw=good_file(), by=None, dry_run=True)
    assert report.dry_run and report.ok
    assert report.created["grid"] == 2 and report.created["city"] == 1
    assert rows() == before


def test_moving_a_community_rewrites_the_paths_below_it():
    geojson_import(raw=good_file(), by=None)
    g = Grid.objects.get(code="320508001001001")
    building = Building.objects.create(grid=g, path=g.path, code="B1", name="Building 1")
    address = Address.objects.create(grid=g, path=g.path, community=g.community, road="Road", number="1",
                                     full_text="Road 1")
    moved = collection(area("street", "320508002", "320508"),
                       area("community", "320508001001", "320508002", COMMUNITY_BOUNDARY))
    report = geojson_import(raw=moved, by=None)
    assert report.moved == ["320508001001"]
    community = Area.objects.get(code="320508001001")
    assert community.path == "320500/320508/320508002/320508001001/"
    assert community.parent.code == "320508002"
    assert set(Grid.objects.values_list("path", flat=True)) == {
        "320500/320508/320508002/320508001001/320508001001001/",
        "320500/320508/320508002/320508001001/320508001001002/",
    }
    building.refresh_from_db()
    address.refresh_from_db()
    assert building.path == address.path == "320500/320508/320508002/320508001001/320508001001001/"


def test_dry_run_lists_moves_and_writes_nothing():
    geojson_import(raw=good_file(), by=None)
    report = geojson_import(raw=collection(area("street", "320508002", "320508"),
                                           area("community", "320508001001", "320508002")), by=None, dry_run=True)
    assert report.moved == ["320508001001"] and report.created["street"] == 1
    assert Area.objects.get(code="320508001001").path == "320500/320508/320508001/320508001001/"
    assert not Area.objects.filter(code="320508002").exists()


def test_moving_a_grid_to_another_community():
    geojson_import(raw=good_file(), by=None)
    g = Grid.objects.get(code="320508001001002")
    g.members.add(member := UserFactory(role="grid_member"))
    address = Address.objects.create(grid=g, path=g.path, community=g.community, road="Road", number="2",
                                     full_text="Road 2")
    report = geojson_import(raw=collection(
        area("community", "320508001002", "320508001", EAST),
        area("community", "320508001001", "320508001", WEST),  # the old community shrinks to its other grid
        grid("320508001001002", "320508001002", EAST),
    ), by=None)
    assert report.moved == ["320508001001002"]
    assert report.created["community"] == 1 and report.updated["grid"] == 1
    g.refresh_from_db()
    address.refresh_from_db()
    assert g.community.code == "320508001002"
    assert g.path == "320500/320508/320508001/320508001002/320508001001002/"
    assert address.path == g.path and address.community == g.community
    assert list(g.members.all()) == [member]


# --- refusals --------------------------------------------------------------------------------------------

def test_refuses_what_is_not_json():
    problems = refused(b"{this is not json")
    assert kinds(problems) == ["json"]
    assert problems[0]["feature"] is None and "not valid JSON" in problems[0]["message"]
    assert kinds(refused("caf\u00e9".encode("latin-1"))) == ["encoding"]


def test_refuses_what_is_not_a_feature_collection():
    problems = refused({"type": "Feature", "geometry": WEST, "properties": {}})
    assert kinds(problems) == ["not_feature_collection"]
    assert "FeatureCollection" in problems[0]["message"]


def test_refuses_a_linestring_grid():
    line = {"type": "LineString", "coordinates": [[120.60, 31.30], [120.61, 31.31]]}
    problems = refused(collection(*tree_features(boundary=None), grid("G1", "320508001001", line)))
    assert kinds(problems) == ["bad_geometry_type"]
    assert problems[0]["feature"] == 5 and problems[0]["code"] == "G1"
    assert problems[0]["message"].startswith("feature 5 (grid G1): the geometry is a LineString")


def test_refuses_a_bow_tie_polygon():
    bow_tie = {"type": "Polygon", "coordinates": [[[120.60, 31.30], [120.61, 31.31], [120.61, 31.30],
                                                   [120.60, 31.31], [120.60, 31.30]]]}
    problems = refused(collection(*tree_features(boundary=None), grid("G1", "320508001001", bow_tie)))
    assert kinds(problems) == ["invalid_geometry"]
    message = problems[0]["message"]
    assert "feature 5 (grid G1)" in message and "self-intersection at 120.605000, 31.305000" in message


def test_refuses_two_overlapping_grids():
    problems = refused(collection(*tree_features(boundary=None), grid("G1", "320508001001", WEST),
                                  grid("G2", "320508001001", rect(120.605, 31.30, 120.615, 31.31))))
    assert kinds(problems) == ["overlap"]
    assert problems[0]["feature"] == 5
    assert problems[0]["message"].startswith("feature 5 (grid G1): overlaps grid G2 (feature 6) by ")


def test_refuses_an_overlap_with_a_grid_already_in_the_database(tree):
    GridFactory(code="OLD", community=tree["community"], bounds=(120.60, 31.30, 120.61, 31.31))
    problems = refused(collection(grid("G1", tree["community"].code, rect(120.605, 31.30, 120.615, 31.31))))
    assert kinds(problems) == ["overlap"]
    assert "overlaps grid OLD (in the database, not in the file)" in problems[0]["message"]


def test_replacing_a_database_grid_is_not_an_overlap(tree):
    GridFactory(code="OLD", community=tree["community"], bounds=(120.60, 31.30, 120.61, 31.31))
    report = geojson_import(raw=collection(grid("OLD", tree["community"].code, rect(120.605, 31.30, 120.615,
                                                                                      31.31))), by=None)
    assert report.updated["grid"] == 1


def test_refuses_a_gap_inside_a_community_with_a_boundary():
    problems = refused(collection(*tree_features(), grid("G1", "320508001001", WEST),
                                  grid("G2", "320508001001", rect(120.611, 31.30, 120.62, 31.31))))
    assert kinds(problems) == ["gap"]
    assert problems[0]["feature"] == 4 and problems[0]["code"] == "320508001001"
    assert problems[0]["message"].startswith("feature 4 (community 320508001001): ")
    assert "not covered by any grid" in problems[0]["message"]


def test_refuses_a_hole_between_grids_of_a_community_without_boundary():
    ring = {"type": "Polygon", "coordinates": [
        [[120.60, 31.30], [120.63, 31.30], [120.63, 31.33], [120.60, 31.33], [120.60, 31.30]],
        [[120.61, 31.31], [120.62, 31.31], [120.62, 31.32], [120.61, 31.32], [120.61, 31.31]],
    ]}
    # A grid with a hole is fine on its own: the hole is its own.
    assert geojson_validate(collection(*tree_features(boundary=None), grid("G1", "320508001001", ring))).ok
    # Two grids enclosing an uncovered square are not.
    west = rect(120.60, 31.30, 120.61, 31.33)
    rest = {"type": "Polygon", "coordinates": [[[120.61, 31.30], [120.63, 31.30], [120.63, 31.33],
                                                [120.61, 31.33], [120.61, 31.32], [120.62, 31.32],
                                                [120.62, 31.31], [120.61, 31.31], [120.61, 31.30]]]}
    problems = refused(collection(*tree_features(boundary=None), grid("G1", "320508001001", west),
                                  grid("G2", "320508001001", rest)))
    assert kinds(problems) == ["gap"]
    assert "enclosed by its grids" in problems[0]["message"]


def test_refuses_a_gap_against_a_boundary_from_the_database(tree):
    Area.objects.filter(pk=tree["community"].pk).update(geometry=COMMUNITY_BOUNDARY)
    problems = refused(collection(grid("G1", tree["community"].code, WEST)))
    assert kinds(problems) == ["gap"]
    assert problems[0]["feature"] is None and problems[0]["code"] == tree["community"].code
    assert problems[0]["message"].startswith(f"community {tree['community'].code} (in the database): ")


def test_refuses_a_move_that_would_duplicate_an_address():
    other = rect(120.62, 31.30, 120.63, 31.31)
    geojson_import(raw=collection(*good_file()["features"], area("community", "320508001002", "320508001", other),
                                  grid("320508001002001", "320508001002", other)), by=None)
    for code in ("320508001001002", "320508001002001"):
        g = Grid.objects.get(code=code)
        Address.objects.create(grid=g, path=g.path, community=g.community, road="Road", number="9",
                               full_text="Road 9")
    problems = refused(collection(
        area("community", "320508001002", "320508001", rect(120.61, 31.30, 120.63, 31.31)),
        area("community", "320508001001", "320508001", WEST),
        grid("320508001001002", "320508001002", EAST),
    ))
    assert kinds(problems) == ["move_conflict"]
    assert "Road 9" in problems[0]["message"]


def test_refuses_a_grid_outside_its_community():
    problems = refused(collection(*tree_features(), grid("G1", "320508001001", WEST),
                                  grid("G2", "320508001001", rect(120.61, 31.30, 120.63, 31.31))))
    assert kinds(problems) == ["outside_community"]
    assert problems[0]["message"].startswith("feature 6 (grid G2): ")
    assert "outside its community 320508001001" in problems[0]["message"]


def test_refuses_an_unknown_parent():
    problems = refused(collection(area("community", "C1", "NOPE"), grid("G1", "C1", WEST)))
    assert kinds(problems) == ["unknown_parent"]
    assert problems[0]["message"] == ("feature 1 (community C1): the parent NOPE is neither in the file nor in "
                                      "the database.")


def test_refuses_a_parent_of_the_wrong_level():
    problems = refused(collection(*tree_features(boundary=None), grid("G1", "320508001", WEST)))
    assert kinds(problems) == ["wrong_parent_level"]


def test_reports_every_problem_of_a_file():
    no_name = grid("G2", "320508001001", EAST)
    del no_name["properties"]["name"]
    far = rect(200.0, 31.30, 200.01, 31.31)
    problems = refused(collection(
        *tree_features(boundary=None),
        grid("G1", "320508001001", WEST, kind="palace"),  # 5: bad kind
        no_name,  # 6: missing name
        grid("G1", "320508001001", EAST),  # 7: duplicate code
        grid("G3", "320508001001", far),  # 8: out of range
        grid("G4", "320508001001", None),  # 9: no geometry
        grid("G5", "NOPE", rect(120.70, 31.30, 120.71, 31.31)),  # 10: unknown parent
        {"type": "Feature", "geometry": None},  # 11: no properties
    ))
    assert [(p["feature"], p["kind"]) for p in problems] == [
        (5, "bad_kind"), (6, "missing_property"), (7, "duplicate_code"), (8, "coordinates_out_of_range"),
        (9, "missing_geometry"), (10, "unknown_parent"), (11, "missing_property"),
    ]
    assert "[200, 31.3]" in problems[3]["message"]


def test_validate_writes_nothing_and_lists_problems():
    plan = geojson_validate(collection(area("district", "D1", None)))
    assert not plan.ok
    assert plan.problems[0].kind == "missing_property" and plan.problems[0].code == "D1"
    assert Area.objects.count() == 0


# --- the commands ----------------------------------------------------------------------------------------

def test_command_prints_counts(tmp_path, capsys):
    path = tmp_path / "good.geojson"
    path.write_text(json.dumps(good_file(), ensure_ascii=False), encoding="utf-8")
    UserFactory(username="boss", role="admin")
    call_command("geo_import", str(path), "--user", "boss")
    out = capsys.readouterr().out
    assert "created: city 1, district 1, street 1, community 1, grid 2" in out
    assert AuditEntry.objects.get(action="geo.import").actor_name == "boss"


def test_command_dry_run(tmp_path, capsys):
    path = tmp_path / "good.geojson"
    path.write_text(json.dumps(good_file()), encoding="utf-8")
    call_command("geo_import", str(path), "--dry-run")
    assert "dry run" in capsys.readouterr().out
    assert Grid.objects.count() == 0


def test_command_exits_with_status_1_listing_every_problem(tmp_path, capsys):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(collection(area("community", "C1", "NOPE"), grid("G1", "C1", None))),
                    encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("geo_import", str(path))
    assert info.value.returncode == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "feature 1 (community C1): the parent NOPE is neither in the file nor in the database.",
        "feature 2 (grid G1): a grid needs a Polygon or MultiPolygon geometry and this one has none.",
    ]
    assert Area.objects.count() == 0


# --- the upload page -------------------------------------------------------------------------------------

def upload(client, data: dict | bytes, **extra):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post(reverse("geo:import"),
                       {"file": SimpleUploadedFile("grids.geojson", raw, "application/geo+json"), **extra})


def test_upload_page_shows_the_problems(client):
    client.force_login(UserFactory(role="admin"))
    assert client.get(reverse("geo:import")).status_code == 200
    response = upload(client, collection(area("community", "C1", "NOPE")))
    assert response.status_code == 422
    content = response.content.decode()
    assert 'data-testid="import-problems"' in content
    assert "the parent NOPE is neither in the file nor in the database." in content
    assert Area.objects.count() == 0


def test_upload_page_imports_and_shows_counts(client):
    client.force_login(UserFactory(role="admin"))
    response = upload(client, good_file(), dry_run="on")
    assert response.status_code == 200 and 'data-testid="import-report"' in response.content.decode()
    assert Grid.objects.count() == 0
    response = upload(client, good_file())
    assert response.status_code == 200 and 'data-testid="import-report"' in response.content.decode()
    assert Grid.objects.count() == 2


def test_upload_page_is_refused_to_a_grid_member(client):
    client.force_login(UserFactory(role="grid_member"))
    assert client.get(reverse("geo:import")).status_code == 403
    assert upload(client, good_file()).status_code == 403
    assert Grid.objects.count() == 0


def test_upload_page_needs_a_login(client):
    response = client.get(reverse("geo:import"))
    assert response.status_code == 302 and "login" in response["Location"]
