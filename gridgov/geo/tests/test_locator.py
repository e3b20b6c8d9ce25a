import numpy as np
import pytest
from django.test import override_settings

from gridgov.geo import locator as locator_module
from gridgov.geo.locator import Locator, get_locator, grids_changed, locate
from gridgov.geo.models import GeoState
from gridgov.geo.tests.factories import GridFactory, rect

SQUARE_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
    ],
}
TWO_ISLANDS = {"type": "MultiPolygon", "coordinates": [rect(20, 0, 22, 2)["coordinates"],
                                                        rect(30, 0, 32, 2)["coordinates"]]}


@pytest.fixture
def loc() -> Locator:
    # B and A share the edge x=10; C sits in A's hole? no: C is a separate grid filling the hole.
    rows = [
        (2, "B", "grid B", "p/B/", rect(10, 0, 20, 10)),
        (1, "A", "grid A", "p/A/", SQUARE_WITH_HOLE),
        (3, "C", "grid C", "p/C/", rect(4.5, 4.5, 5.5, 5.5)),
        (4, "D", "grid D", "p/D/", TWO_ISLANDS),
        (5, "E", "grid E", "p/E/", rect(10, 10, 20, 20)),
        (6, "F", "grid F", "p/F/", rect(0, 10, 10, 20)),
    ]
    return Locator(rows)


def code(hit):
    return hit.code if hit else None


def test_inside(loc):
    assert code(loc.locate(1, 1)) == "A"
    assert code(loc.locate(15, 5)) == "B"


def test_shared_edge_goes_to_one_grid_deterministically(loc):
    # x=10 is the edge between A and B: always A (the code that sorts first), whatever the input order
    assert code(loc.locate(10, 2)) == "A"
    reversed_rows = Locator(list(reversed([(h.id, h.code, h.name, h.path, g.__geo_interface__)
                                           for h, g in zip(loc.hits, loc.geoms, strict=True)])))
    assert code(reversed_rows.locate(10, 2)) == "A"


def test_shared_corner_of_four_grids(loc):
    assert code(loc.locate(10, 10)) == "A"


def test_hole_is_not_the_outer_grid(loc):
    assert code(loc.locate(4.2, 4.2)) is None  # in A's hole, outside the small grid C
    assert code(loc.locate(5, 5)) == "C"  # the grid that fills part of the hole


def test_multipolygon_parts(loc):
    assert code(loc.locate(21, 1)) == "D"
    assert code(loc.locate(31, 1)) == "D"
    assert code(loc.locate(26, 1)) is None  # between the islands


def test_outside_every_grid_is_none(loc):
    assert loc.locate(-5, -5) is None
    assert loc.locate(100, 100) is None


def test_batch_agrees_with_single_lookups(loc):
    rng = np.random.default_rng(1)
    lons, lats = rng.uniform(-2, 34, 2000), rng.uniform(-2, 22, 2000)
    lons[:3], lats[:3] = [10, 10, 4.2], [2, 10, 4.2]  # edges, corners and holes too
    batch = [code(h) for h in loc.locate_many(lons, lats)]
    single = [code(loc.locate(x, y)) for x, y in zip(lons, lats, strict=True)]
    assert batch == single
    assert batch[:3] == ["A", "A", None]


@pytest.mark.django_db
def test_process_locator_is_rebuilt_when_grids_change():
    g1 = GridFactory(code="G1", bounds=(120.0, 31.0, 120.1, 31.1))
    assert code(locate(120.05, 31.05)) == "G1"
    assert locate(120.15, 31.05) is None
    GridFactory(code="G2", community=g1.community, bounds=(120.1, 31.0, 120.2, 31.1))
    grids_changed()  # the import service calls this in its transaction
    assert code(locate(120.15, 31.05)) == "G2"


@pytest.mark.django_db
@override_settings(GRIDGOV_LOCATOR_CHECK_SECONDS=0)
def test_a_change_made_by_another_process_is_noticed():
    g1 = GridFactory(code="G1", bounds=(120.0, 31.0, 120.1, 31.1))
    first = get_locator()
    assert len(first) == 1
    # Another process adds a grid and bumps the version; this process has not been told.
    GridFactory(code="G2", community=g1.community, bounds=(120.1, 31.0, 120.2, 31.1))
    GeoState.objects.update_or_create(id=1, defaults={"grids_version": first.version + 1})
    assert get_locator() is not first
    assert code(locate(120.15, 31.05)) == "G2"


@pytest.mark.django_db
def test_locator_is_built_once_between_changes():
    GridFactory(code="G1", bounds=(120.0, 31.0, 120.1, 31.1))
    assert get_locator() is get_locator()
    assert locator_module._current is not None


def test_grid_area_and_centre_are_right():
    from gridgov.geo.geometry import describe

    # 0.01° × 0.01° at 31.3° N: 1111.95 m × (1111.95 m × cos 31.3°) = 1,056,450 m²
    info = describe(rect(120.60, 31.295, 120.61, 31.305))
    assert abs(info["area_m2"] - 1_056_450) / 1_056_450 < 0.005
    assert (info["min_lon"], info["max_lat"]) == (120.60, 31.305)
    assert 120.60 < info["center_lon"] < 120.61 and 31.295 < info["center_lat"] < 31.305
