"""The demo city's year of cases built on its own: determinism, the count parameter, the working-time index it
uses, and the seeded categories."""

import datetime as dt
import hashlib
import json
import random
import time
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from gridgov.accounts.demo import build_people
from gridgov.accounts.models import User
from gridgov.cases import services
from gridgov.cases.demo import _Clock, build_cases
from gridgov.cases.models import Case, Category, Extension, Step, Task
from gridgov.core.workcalendar import add_working_time, working_time_between
from gridgov.geo.demo import build_geography

pytestmark = pytest.mark.django_db

CHAIN = ["reported_at", "registered_at", "dispatched_at", "accepted_at", "handled_at", "verified_at", "closed_at"]

def _fingerprint() -> str:
    cases = list(Case.objects.order_by("reported_at", "tracking_code").values_list(
        "tracking_code", "state", "category__code", "grid__code", "source", "reporter__username",
        "reporter_phone_index", "lon", "lat", *CHAIN, "handle_due", "level", "overdue", "return_count",
        "rework_count", "extension_count", "escalation_count", "reopen_count", "satisfaction",
        "merged_into__tracking_code", "number"))
    steps = list(Step.objects.order_by("case__tracking_code", "at", "action").values_list(
        "case__tracking_code", "action", "at", "from_state", "to_state", "actor_name", "note"))
    return hashlib.sha256(json.dumps([cases, steps], default=str).encode()).hexdigest()


def _wipe_cases():
    Step.objects.all().delete()
    Extension.objects.all().delete()
    Task.objects.all().delete()
    Case.objects.update(merged_into=None)
    Case.objects.all().delete()


def test_same_seed_and_end_same_cases():
    build_geography(size="small", seed=2)
    build_people(size="small", seed=2)
    now = dt.datetime(2026, 3, 11, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    started = time.monotonic()
    build_cases(size="small", seed=5, now=now)
    print(f"build_cases (small) in {time.monotonic() - started:.1f}s")
    assert Case.objects.filter(reported_at__gt=now).count() == 0
    assert not Step.objects.filter(at__gt=now).exists()
    first = _fingerprint()
    _wipe_cases()
    build_cases(size="small", seed=5, now=now)
    assert _fingerprint() == first
    _wipe_cases()
    build_cases(size="small", seed=6, now=now)
    assert _fingerprint() != first


def test_count_is_a_parameter():
    build_geography(size="small", seed=1)
    build_people(size="small", seed=1)
    result = build_cases(size="small", seed=1, count=200, showcase=False)
    assert result["cases"] == Case.objects.count() == 200
    result = build_cases(size="small", seed=2, count=100, showcase=False)  # more on top (manage.py cases_demo)
    assert Case.objects.count() == 300 and Case.objects.values("number").distinct().count() == 300
    # rows were written with explicit ids: the database still hands out the next one (PostgreSQL's sequence
    # was moved on), so a real report after the demo works
    where = Case.objects.first()
    case, _ = services.case_report(by=User.objects.get(username="gridmember"), category="B0101",
                                   description="井盖松动", lon=where.lon, lat=where.lat)
    assert case.pk > max(Case.objects.exclude(pk=case.pk).values_list("pk", flat=True))


def test_the_working_time_index_agrees_with_the_calendar():
    zone = ZoneInfo(settings.TIME_ZONE)
    today = dt.date(2026, 1, 20)
    clock = _Clock(zone, today - dt.timedelta(days=400), today + dt.timedelta(days=60))
    rng = random.Random(3)
    for _ in range(3000):
        start = dt.datetime.combine(today - dt.timedelta(days=rng.randint(0, 390)),
                                    dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.choice([0, 17])), tzinfo=zone)
        hours = rng.choice([1 / 60, 0.5, 1, 2, 3, 3.5, 7, 8, 14, 30, rng.uniform(0, 50)])
        minutes = max(1, round(hours * 60))
        assert clock.after(start, hours) == add_working_time(start, minutes / 60, "hours").replace(microsecond=0), (
            start, hours)
        end = start + dt.timedelta(hours=rng.uniform(0, 300))
        assert abs(clock.between(start, end) - working_time_between(start, end)) < 1e-6, (start, end)
        for unit, amount in (("hours", rng.randint(1, 8)), ("days", rng.randint(1, 5))):
            assert clock.due(start, amount, unit) == add_working_time(start, amount, unit)
    # outside its range it asks the calendar itself
    far = dt.datetime(2030, 6, 3, 9, 0, tzinfo=zone)
    assert clock.after(far, 2) == add_working_time(far, 2, "hours")


def test_an_empty_database_gets_the_seeded_categories_first():
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()
    build_geography(size="small", seed=1)
    build_people(size="small", seed=1)
    build_cases(size="small", seed=1, count=50, showcase=False)
    assert Category.objects.count() > 50 and Case.objects.count() == 50
    assert Category.objects.get(code="B0101").default_department.code == "WATER"
