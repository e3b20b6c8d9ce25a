"""Who sees which cases (case_list, case_get, queue counts) and the duplicate candidates."""

import datetime as dt

import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.cases import services
from gridgov.cases.models import Case
from gridgov.cases.selectors import case_duplicates, case_get, case_list, case_queue_counts
from gridgov.core.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db

G1, G2, G3 = (120.605, 31.305), (120.615, 31.305), (120.625, 31.305)


def report(by, where, **kw):
    kw = {"category": "T0101", "description": "垃圾", **kw}
    return services.case_report(by=by, lon=where[0], lat=where[1], ip="10.9.9.9", **kw)[0]


@pytest.fixture
def cases(world):
    """In g1: one by the grid member, one by the resident; in g2: one public; in g3: one by gm3 and one by
    the g1 grid member (reported while passing by)."""
    u = world["users"]
    made = {
        "g1_gm": report(u["gm"], G1),
        "g1_resident": report(u["resident"], G1),
        "g2_public": report(None, G2),
        "g3_gm3": report(u["gm3"], G3),
        "g3_gm": report(u["gm"], G3),
    }
    return made


def names(qs, cases) -> set[str]:
    ids = {c.pk: name for name, c in cases.items()}
    return {ids[c.pk] for c in qs}


def test_dispatchers_see_their_area(world, cases):
    u = world["users"]
    assert names(case_list(user=u["dispatcher"]), cases) == {"g1_gm", "g1_resident", "g2_public"}
    assert names(case_list(user=u["community_dispatcher"]), cases) == {"g1_gm", "g1_resident", "g2_public"}
    assert names(case_list(user=u["other_dispatcher"]), cases) == {"g3_gm3", "g3_gm"}
    assert names(case_list(user=u["district_dispatcher"]), cases) == set(cases)
    assert names(case_list(user=u["leader"]), cases) == set(cases)
    assert names(case_list(user=u["admin"]), cases) == set(cases)
    with pytest.raises(NotFound):
        case_get(user=u["other_dispatcher"], case_id=cases["g1_gm"].pk)
    assert case_get(user=u["dispatcher"], case_id=cases["g1_gm"].pk) == cases["g1_gm"]
    counts = case_queue_counts(user=u["other_dispatcher"])
    assert counts["reported"] == 2 and counts["closed"] == 0


def test_a_scope_over_every_root_area_drops_the_path_condition_and_no_other(world, cases):
    # a city leader of the only city: the same cases, without the path range (which made SQLite sort a whole
    # city's cases for a page); with a second city in the installation the range stays and keeps it out
    from django.db.models import Q

    from gridgov.accounts.models import User
    from gridgov.cases.selectors import case_scope_q
    from gridgov.geo.tests.factories import AreaFactory

    leader = User.objects.get(pk=world["users"]["leader"].pk)
    assert case_scope_q(leader) == Q() and names(case_list(user=leader), cases) == set(cases)
    assert case_scope_q(world["users"]["district_dispatcher"]) != Q()  # a district is not every root
    other_city = AreaFactory(code="310100", level="city", name="Other City")
    Case.objects.filter(pk=cases["g2_public"].pk).update(path=f"{other_city.path}310101/")
    leader = User.objects.get(pk=leader.pk)  # a new request: nothing cached on the user
    assert case_scope_q(leader) != Q()
    assert names(case_list(user=leader), cases) == set(cases) - {"g2_public"}
    with pytest.raises(NotFound):
        case_get(user=leader, case_id=cases["g2_public"].pk)
    assert names(case_list(user=world["users"]["admin"]), cases) == set(cases)


def test_grid_members_see_their_grids_and_their_own_reports(world, cases):
    u = world["users"]
    assert names(case_list(user=u["gm"]), cases) == {"g1_gm", "g1_resident", "g3_gm"}
    assert names(case_list(user=u["gm3"]), cases) == {"g3_gm3", "g3_gm"}
    with pytest.raises(NotFound):
        case_get(user=u["gm"], case_id=cases["g2_public"].pk)
    with pytest.raises(NotFound):
        case_get(user=u["gm"], case_id=cases["g3_gm3"].pk)
    lonely = UserFactory(role="grid_member")  # in no grid yet
    assert list(case_list(user=lonely)) == []


def test_residents_see_only_their_own_reports(world, cases):
    u = world["users"]
    assert names(case_list(user=u["resident"]), cases) == {"g1_resident"}
    assert list(case_list(user=UserFactory(role="resident"))) == []
    with pytest.raises(NotFound):
        case_get(user=u["resident"], case_id=cases["g1_gm"].pk)
    assert list(case_list(user=None)) == []
    inactive = UserFactory(role="admin", is_active=False)
    assert list(case_list(user=inactive)) == []


def test_a_handler_sees_only_cases_dispatched_to_the_department(world, cases):
    u = world["users"]
    assert list(case_list(user=u["handler"])) == []
    for name in ("g1_gm", "g1_resident"):
        services.case_register(case_id=cases[name].pk, by=u["dispatcher"])
    services.case_dispatch(case_id=cases["g1_gm"].pk, by=u["dispatcher"], lead=world["urban"])
    services.case_dispatch(case_id=cases["g1_resident"].pk, by=u["dispatcher"], lead=world["water"],
                           assist=[world["urban"]])
    assert names(case_list(user=u["handler"]), cases) == {"g1_gm", "g1_resident"}
    assert names(case_list(user=u["water_handler"]), cases) == {"g1_resident"}
    assert list(case_list(user=u["police_handler"])) == []
    with pytest.raises(NotFound):
        case_get(user=u["water_handler"], case_id=cases["g1_gm"].pk)
    assert case_get(user=u["handler"], case_id=cases["g1_resident"].pk) == cases["g1_resident"]
    # returned and dispatched again to the same department: listed and counted once
    services.case_return(case_id=cases["g1_gm"].pk, by=u["handler"], reason="再核实")
    services.case_dispatch(case_id=cases["g1_gm"].pk, by=u["dispatcher"], lead=world["urban"])
    listed = list(case_list(user=u["handler"]))
    assert len(listed) == 2 and names(listed, cases) == {"g1_gm", "g1_resident"}
    assert case_queue_counts(user=u["handler"])["dispatched"] == 2
    assert case_list(user=u["handler"], filters={"department": "URBAN"}).count() == 2
    no_department = UserFactory(role="handler")
    assert list(case_list(user=no_department)) == []


def test_filters_narrow_within_the_scope(world, cases):
    u = world["users"]
    assert names(case_list(user=u["district_dispatcher"], filters={"grid": world["g2"].code}), cases) == {
        "g2_public"}
    assert names(case_list(user=u["dispatcher"], filters={"grid": world["g3"].code}), cases) == set()
    assert names(case_list(user=u["district_dispatcher"], filters={"area": world["community2"].code}), cases) == {
        "g3_gm3", "g3_gm"}
    assert case_list(user=u["district_dispatcher"], filters={"source": "public"}).get() == cases["g2_public"]
    with pytest.raises(InvalidInput) as exc:
        case_list(user=u["dispatcher"], filters={"state": "nonsense"})
    assert exc.value.details[0]["field"] == "state"


# --- duplicate candidates ------------------------------------------------------------------------------------


def test_duplicates_are_same_category_open_near_and_recent(world, clock):
    u = world["users"]
    now = clock.set(2026, 3, 16, 10, 0)
    lon, lat = 120.605, 31.305
    metre_lat = 1 / 111_320  # degrees of latitude per metre
    case = report(u["gm"], (lon, lat))
    near = report(u["resident"], (lon, lat + 30 * metre_lat))  # 30 m north
    very_near = report(None, (lon + 0.0001, lat))  # about 9.5 m east
    far = report(u["gm"], (lon, lat + 80 * metre_lat))  # beyond the 50 m radius
    corner = report(u["gm"], (lon + 40 * metre_lat / 0.855, lat + 40 * metre_lat))  # in the box, 56 m away
    other_category = report(u["gm"], (lon, lat), category="T0102", extra={"size": "small"})
    closed = report(u["gm"], (lon, lat + 10 * metre_lat))
    Case.objects.filter(pk=closed.pk).update(state="closed")
    rejected = report(u["gm"], (lon, lat + 10 * metre_lat))
    services.case_reject(case_id=rejected.pk, by=u["dispatcher"], reason="重复")
    clock.now = now - dt.timedelta(days=8)  # outside the 7-day window
    old = report(u["gm"], (lon, lat))
    clock.now = now - dt.timedelta(days=6)
    recent = report(u["gm"], (lon, lat + 5 * metre_lat))
    merged = report(u["gm"], (lon, lat))
    services.case_merge(case_id=merged.pk, into_id=near.pk, by=u["dispatcher"])

    found = case_duplicates(case=case)
    assert [c.pk for c in found] == [recent.pk, very_near.pk, near.pk]  # nearest first
    assert [c.distance_m for c in found] == [5, 10, 30]
    for excluded in (far, corner, other_category, closed, rejected, old, merged, case):
        assert excluded not in found
    assert case_duplicates(case=case, limit=1) == [recent]


def test_duplicates_respect_the_category_radius_and_window(world, clock):
    u = world["users"]
    clock.set(2026, 3, 16, 10, 0)
    case = report(u["gm"], G1)
    neighbour = report(u["gm"], (G1[0], G1[1] + 0.0009))  # about 100 m north
    assert case_duplicates(case=case) == []
    case.category.duplicate_radius_m = 150
    case.category.save()
    case = Case.objects.get(pk=case.pk)
    assert case_duplicates(case=case) == [neighbour]
    case.category.duplicate_window_days = 0
    case.category.save()
    clock.advance(minutes=1)
    later = report(u["gm"], G1)
    assert case_duplicates(case=later) == []  # only cases reported since the same moment


def test_duplicates_are_limited_to_what_the_user_may_see(world):
    u = world["users"]
    # a point on the g2/g3 border: reports on either side are within the radius
    mine = report(u["dispatcher"], (120.6199, 31.305))
    theirs = report(u["gm3"], (120.6201, 31.305))
    assert case_duplicates(case=mine) == [theirs]
    assert case_duplicates(case=mine, user=u["dispatcher"]) == []
    assert case_duplicates(case=theirs, user=u["other_dispatcher"]) == []
    assert case_duplicates(case=theirs, user=u["district_dispatcher"]) == [mine]
