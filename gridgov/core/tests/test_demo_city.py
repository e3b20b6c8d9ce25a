import hashlib
import json

import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import transaction
from shapely.geometry import shape

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department, User
from gridgov.geo.geometry import area_m2
from gridgov.geo.models import Area, Grid

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _city_and_people_only(settings):
    # these tests are about the city and its people; the later steps (cases, residents, disputes, rollups) are
    # tested with the whole demo city in cases/tests/test_demo.py and in their own apps
    settings.GRIDGOV_DEMO_STEPS = settings.GRIDGOV_DEMO_STEPS[:2]
    settings.GRIDGOV_DEMO_RESIDENTS_PER_GRID = 3


def _fingerprint() -> str:
    rows = list(Grid.objects.order_by("code").values_list("code", "kind", "geometry"))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_small_demo_city_is_complete(settings):
    call_command("demo_city", "--seed", "3")
    assert Area.objects.filter(level="city").count() == 1
    assert Area.objects.filter(level="district").count() >= 2
    communities = list(Area.objects.filter(level="community"))
    assert len(communities) >= 8
    assert Grid.objects.count() >= 100
    # every role has a demo login, every grid a grid member, and the departments exist
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert not Grid.objects.filter(members__isnull=True).exists()
    assert Department.objects.filter(code__in=["URBAN", "POLICE", "HOUSING", "CIVIL", "PROPERTY"]).count() == 5
    assert User.objects.get(username="leader").check_password(settings.GRIDGOV_DEMO_PASSWORD)


def test_grids_tile_each_community_without_gap_or_overlap():
    call_command("demo_city")
    for community in Area.objects.filter(level="community"):
        grids = [shape(g) for g in community.grids.values_list("geometry", flat=True)]
        assert all(g.is_valid for g in grids)
        union = shapely.union_all(grids)
        boundary = shape(community.geometry)
        # no overlap: the parts add up to the whole; no gap: the whole is the community
        assert abs(sum(area_m2(g) for g in grids) - area_m2(union)) < 1.0
        assert area_m2(boundary.symmetric_difference(union)) < 1.0


def _build_and_fingerprint(seed: int) -> str:
    """Build the city inside a savepoint, fingerprint it, and roll it back."""
    sid = transaction.savepoint()
    try:
        call_command("demo_city", "--seed", str(seed))
        return _fingerprint()
    finally:
        transaction.savepoint_rollback(sid)


def test_same_seed_same_city_and_a_second_run_is_refused():
    first = _build_and_fingerprint(7)
    assert _build_and_fingerprint(7) == first
    assert _build_and_fingerprint(8) != first
    call_command("demo_city", "--seed", "7")
    with pytest.raises(CommandError):
        call_command("demo_city", "--seed", "7")
    call_command("demo_city", "--seed", "8", "--if-empty")  # reuses the city, changes nothing
    assert _fingerprint() == first


def test_an_existing_admin_account_is_kept():
    User.objects.create_superuser("admin", "admin@example.org", "own-password-123")
    call_command("demo_city")
    admin = User.objects.get(username="admin")
    assert admin.check_password("own-password-123")
    assert User.objects.filter(username="leader").exists()
