"""Intake: one service for every channel. Bad input is a 422 naming the field, and writes nothing."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from gridgov.accounts.tests.factories import UserFactory
from gridgov.cases import services
from gridgov.cases.choices import Source, State
from gridgov.cases.models import Case, Category
from gridgov.cases.selectors import case_by_tracking_code
from gridgov.core import crypto
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.models import AuditEntry
from gridgov.geo.coords import wgs84_to_bd09, wgs84_to_gcj02

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
IN_G1 = {"lon": 120.605, "lat": 31.305}


def report(by, **kw):
    kw = {"category": "T0101", "description": "垃圾堆放", **IN_G1, **kw}
    return services.case_report(by=by, **kw)


def test_a_report_is_located_timed_and_recorded(world, clock):
    clock.set(2026, 3, 16, 9, 0)  # Monday
    case, created = report(world["users"]["gm"], address="人民路1号")
    assert created and case.state == State.REPORTED and case.version == 1
    assert case.grid == world["g1"] and case.path == world["g1"].path
    assert case.source == Source.GRID_MEMBER and case.reported_at == clock.now
    assert case.register_due == dt.datetime(2026, 3, 16, 11, 0, tzinfo=SH)  # 2 working hours
    step = case.steps.get()
    assert step.action == "report" and step.to_state == State.REPORTED and step.actor == world["users"]["gm"]
    assert AuditEntry.objects.filter(action="case.report", object_id=str(case.pk)).exists()


def test_source_follows_the_channel(world):
    u = world["users"]
    assert report(u["dispatcher"])[0].source == Source.HOTLINE
    assert report(None, ip="10.1.1.1")[0].source == Source.PUBLIC
    assert report(u["resident"], source=Source.PUBLIC)[0].source == Source.PUBLIC


def test_unknown_category_names_the_field(world, nothing_written):
    Category.objects.filter(code="T0102").update(is_active=False)
    for code in ("NOPE", "", None, "T01", "T0102"):  # unknown, missing, a main class, inactive
        with nothing_written(), pytest.raises(InvalidInput) as exc:
            report(world["users"]["gm"], category=code)
        assert exc.value.status == 422 and exc.value.code == "unknown_category"
        assert [d["field"] for d in exc.value.details] == ["category"]
    # the Open311 service code is accepted for the code
    assert report(world["users"]["gm"], category="t0101")[0].category.code == "T0101"
    # a code wins over another category's service code that reads the same (listed first, too: sort 0 vs 1)
    Category.objects.filter(code="T0101").update(sort=1)
    Category.objects.filter(code="T0102").update(is_active=True, service_code="T0101", sort=0)
    assert report(world["users"]["gm"], category="T0101")[0].category.code == "T0101"
    Category.objects.filter(code="T0101").update(service_code="T0102")
    assert report(world["users"]["gm"], category="T0101")[0].category.code == "T0101"


def test_extra_fields_are_checked(world, nothing_written):
    gm = world["users"]["gm"]
    for extra, message in [(None, "required"), ({}, "required"), ({"size": ""}, "required"),
                           ({"size": "huge"}, "must be one of"), ({"size": "small", "depth": 3}, "unknown")]:
        with nothing_written(), pytest.raises(InvalidInput) as exc:
            report(gm, category="T0102", extra=extra)
        assert exc.value.status == 422
        fields = [d["field"] for d in exc.value.details]
        assert fields == (["extra.depth"] if extra and "depth" in extra else ["extra.size"])
        assert message in exc.value.details[0]["message"]
    case, _ = report(gm, category="T0102", extra={"size": "large"})
    assert case.extra == {"size": "large"}


def test_a_description_is_required(world, nothing_written):
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world["users"]["gm"], description="   ")
    assert exc.value.details[0]["field"] == "description"


def test_a_point_outside_every_grid_is_refused(world, nothing_written):
    for lon, lat in [(120.70, 31.305), (116.39, 39.9), (120.605, 31.40)]:
        with nothing_written(), pytest.raises(InvalidInput) as exc:
            report(world["users"]["gm"], lon=lon, lat=lat)
        assert exc.value.status == 422 and exc.value.code == "outside_jurisdiction"
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world["users"]["gm"], coord_sys="mercator")
    assert exc.value.details[0]["field"] == "coord_sys"
    with nothing_written(), pytest.raises(InvalidInput):
        report(world["users"]["gm"], lon="east", lat=31.3)


@pytest.mark.parametrize("coord_sys,convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_chinese_map_coordinates_are_converted_before_locating(world, coord_sys, convert):
    # near g1's eastern edge: the shifted coordinates, taken as WGS84, would fall in g2
    lon, lat = 120.6075, 31.305
    shifted = convert(lon, lat)
    assert 120.61 < shifted[0] < 120.62
    case, _ = report(world["users"]["gm"], lon=shifted[0], lat=shifted[1], coord_sys=coord_sys)
    assert case.grid == world["g1"]
    assert case.lon == pytest.approx(lon, abs=1e-6) and case.lat == pytest.approx(lat, abs=1e-6)
    raw, _ = report(world["users"]["gm"], lon=shifted[0], lat=shifted[1])
    assert raw.grid == world["g2"]


def test_the_same_idempotency_key_twice_gives_one_case(world):
    u = world["users"]
    first, created = report(u["gm"], idempotency_key="dev-1:42")
    again, created_again = report(u["gm"], idempotency_key="dev-1:42", description="重试")
    assert created and not created_again and again.pk == first.pk
    assert again.description == "垃圾堆放"
    assert Case.objects.filter(idempotency_key="dev-1:42").count() == 1
    assert first.steps.count() == 1
    # another reporter's key is another case; no key, no deduplication
    other, created_other = report(u["gm3"], idempotency_key="dev-1:42")
    assert created_other and other.pk != first.pk
    assert report(u["gm"])[0].pk != report(u["gm"])[0].pk


def test_an_overlong_idempotency_key_is_refused(world, nothing_written):
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world["users"]["gm"], idempotency_key="k" * 150)
    assert exc.value.details[0]["field"] == "idempotency_key"


def test_public_reports_are_rate_limited_per_address(world, clock, settings, nothing_written):
    settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR = 3
    clock.set(2026, 3, 16, 10, 0)
    for _ in range(3):
        report(None, ip="203.0.113.7")
        clock.advance(minutes=5)
    with nothing_written(), pytest.raises(services.RateLimited) as exc:
        report(None, ip="203.0.113.7")
    assert exc.value.status == 429 and exc.value.code == "rate_limited"
    assert report(None, ip="203.0.113.8")[1]  # another address
    assert report(world["users"]["resident"], ip="203.0.113.7")[1]  # a logged-in reporter is not limited
    clock.set(2026, 3, 16, 11, 1)  # the first report is more than an hour old
    assert report(None, ip="203.0.113.7")[1]
    with pytest.raises(services.RateLimited):
        report(None, ip="203.0.113.7")
    stored = set(Case.objects.values_list("reporter_ip_hash", flat=True))
    assert all(h and "203.0.113" not in h for h in stored if h)


def test_reporter_phone_is_encrypted_with_a_blind_index(world):
    case, _ = report(None, reporter_name="李女士", reporter_phone="+86 139-1234-5678", ip="10.0.0.1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_phone, reporter_phone_index FROM cases_case WHERE id = %s", [case.pk])
        stored, index = cursor.fetchone()
    assert stored.startswith("gg1:") and "13912345678" not in stored and not re.search(r"\d{11}", stored)
    assert crypto.decrypt(stored) == "13912345678"
    assert index == crypto.blind_index("13912345678") and "13912345678" not in index
    assert list(Case.objects.filter(reporter_phone_index=crypto.blind_index(crypto.normalise_phone("139 1234 5678"))))\
        == [case]
    # the same number encrypts differently each time (random nonce) but indexes the same
    second, _ = report(None, reporter_phone="13912345678", ip="10.0.0.2")
    assert second.reporter_phone != case.reporter_phone and second.reporter_phone_index == index


def test_a_bad_phone_number_names_the_field(world, nothing_written):
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(None, reporter_phone="12", ip="10.0.0.1")
    assert exc.value.details[0]["field"] == "reporter_phone"


def test_tracking_code_format(world):
    codes = {report(None, ip=f"10.0.1.{i}")[0].tracking_code for i in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert re.fullmatch(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{10}", code), code  # no 0/O or 1/I
    code = codes.pop()
    assert case_by_tracking_code(code=f"  {code.lower()} ").tracking_code == code
    with pytest.raises(NotFound):
        case_by_tracking_code(code="2222222222")


def test_case_number_is_the_local_date_and_a_sequence(world, clock):
    clock.set(2026, 3, 13, 0, 30)  # still 12 March in UTC
    case, _ = report(world["users"]["gm"])
    assert re.fullmatch(r"20260313\d{7}", case.number)
    assert case.number == f"20260313{case.pk:07d}"
    assert Case.objects.get(pk=case.pk).number == case.number
    clock.set(2026, 3, 13, 23, 50)
    later, _ = report(world["users"]["gm"])
    assert later.number.startswith("20260313") and later.number > case.number


def test_the_reporter_name_defaults_to_the_user(world):
    gm = world["users"]["gm"]
    case, _ = report(gm)
    assert case.reporter == gm and case.reporter_name == "张网格"
    anon = UserFactory(role="resident", username="wang")
    assert report(anon)[0].reporter_name == "wang"
