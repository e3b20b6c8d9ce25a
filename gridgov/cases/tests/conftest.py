"""Fixtures for the cases tests: a small city, departments, users of every role, a category."""

import pytest

from gridgov.accounts.tests.factories import DepartmentFactory, UserFactory
from gridgov.cases.categories import categories_upsert
from gridgov.cases.models import Category
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree


@pytest.fixture
def world(db):
    """Two communities (two streets); grids g1 (mine) and g2 in community 1, g3 in community 2."""
    t = make_tree()
    street2 = AreaFactory(code="320508002", level="street", parent=t["district"], name="Street 2")
    community2 = AreaFactory(code="320508002001", level="community", parent=street2, name="Community 2")
    g1 = GridFactory(code="320508001001001", community=t["community"], bounds=(120.60, 31.30, 120.61, 31.31))
    g2 = GridFactory(code="320508001001002", community=t["community"], bounds=(120.61, 31.30, 120.62, 31.31))
    g3 = GridFactory(code="320508002001001", community=community2, bounds=(120.62, 31.30, 120.63, 31.31))
    urban = DepartmentFactory(code="URBAN", name="城管")
    water = DepartmentFactory(code="WATER", name="水务")
    police = DepartmentFactory(code="POLICE", name="公安")
    users = {
        "gm": UserFactory(username="gm", role="grid_member", display_name="张网格"),
        "gm3": UserFactory(username="gm3", role="grid_member"),
        "dispatcher": UserFactory(username="disp", role="dispatcher", area=t["street"]),
        "community_dispatcher": UserFactory(username="cdisp", role="dispatcher", area=t["community"]),
        "district_dispatcher": UserFactory(username="ddisp", role="dispatcher", area=t["district"]),
        "other_dispatcher": UserFactory(username="odisp", role="dispatcher", area=street2),
        "handler": UserFactory(username="h_urban", role="handler", department=urban),
        "water_handler": UserFactory(username="h_water", role="handler", department=water),
        "police_handler": UserFactory(username="h_police", role="handler", department=police),
        "leader": UserFactory(username="leader", role="leader", area=t["city"]),
        "resident": UserFactory(username="res", role="resident"),
        "admin": UserFactory(username="adm", role="admin"),
    }
    g1.members.add(users["gm"])
    g3.members.add(users["gm3"])
    categories_upsert(rows=[
        {"code": "T01", "name": "市容", "kind": "event", "parent": None},
        {"code": "T0101", "name": "暴露垃圾", "kind": "event", "parent": "T01", "department": "URBAN",
         "register_limit": 2, "dispatch_limit": 2, "handle_limit": 2, "limit_unit": "hours", "handle_unit": "days",
         "duplicate_radius_m": 50, "photo_required_report_back": False},
        {"code": "T0102", "name": "路面塌陷", "kind": "event", "parent": "T01", "department": "URBAN",
         "photo_required_report_back": True, "extra_fields": [
             {"code": "size", "label": "面积", "datatype": "singlevaluelist", "required": True,
              "values": [{"key": "small", "name": "小"}, {"key": "large", "name": "大"}]}]},
    ])
    return {**t, "street2": street2, "community2": community2, "g1": g1, "g2": g2, "g3": g3, "urban": urban,
            "water": water, "police": police, "users": users, "category": Category.objects.get(code="T0101")}


# --- fixtures for the workflow tests (transitions, intake, deadlines, photos, scope) -------------------------

import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402


class Clock:
    """What `gridgov.cases.services._now` returns while the `clock` fixture is active."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, year, month, day, hour=0, minute=0) -> dt.datetime:
        """Set the time, given in Asia/Shanghai wall-clock time."""
        self.now = dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    """Control the services' clock; the calendar is pinned to Asia/Shanghai, 09:00-12:00 and 13:30-17:30."""
    from django.utils import timezone

    from gridgov.cases import services
    from gridgov.core.workcalendar import calendar_changed

    settings.TIME_ZONE = "Asia/Shanghai"
    settings.GRIDGOV_WORK_PERIODS = "09:00-12:00,13:30-17:30"
    calendar_changed()
    c = Clock(timezone.now())
    monkeypatch.setattr(services, "_now", c)
    yield c
    calendar_changed()


@pytest.fixture
def calendar_2026(db):
    """The 2026 days the deadline tests rely on (seeded by a core migration; re-stated so a flushed database
    from an earlier transactional test cannot change the outcome)."""
    from gridgov.core.models import CalendarDay
    from gridgov.core.workcalendar import calendar_changed

    days = {"2026-09-20": "workday", "2026-09-25": "holiday", "2026-09-26": "holiday", "2026-09-27": "holiday",
            "2026-10-10": "workday", **{f"2026-10-0{d}": "holiday" for d in range(1, 8)}}
    for day, kind in days.items():
        CalendarDay.objects.update_or_create(date=dt.date.fromisoformat(day), defaults={"kind": kind})
    calendar_changed()
    yield
    calendar_changed()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _rational(value: float):
    from PIL.TiffImagePlugin import IFDRational

    return IFDRational(round(value * 10000), 10000)


def _dms(value: float):
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (_rational(degrees), _rational(minutes), _rational(seconds))


@pytest.fixture
def make_jpeg(media):
    """A real JPEG with camera metadata: make_jpeg(gps=(lon, lat), size=(w, h), orientation=6, noisy=True)."""
    from PIL import ExifTags, Image

    def build(*, gps=None, size=(64, 48), orientation=None, noisy=False, name="photo.jpg",
              taken="2026:03:10 09:15:00") -> SimpleUploadedFile:
        if noisy:
            image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        else:
            image = Image.new("RGB", size, (180, 40, 40))
        exif = Image.Exif()
        exif[271] = "PhoneMaker"  # Make
        exif[272] = "Model X"  # Model
        exif[305] = "SecretCam 1.0"  # Software
        if orientation:
            exif[274] = orientation
        exif.get_ifd(ExifTags.IFD.Exif)[36867] = taken
        if gps is not None:
            lon, lat = gps
            exif.get_ifd(ExifTags.IFD.GPSInfo).update({
                1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)})
        buf = io.BytesIO()
        image.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
        return SimpleUploadedFile(name, buf.getvalue(), content_type="image/jpeg")

    return build


@pytest.fixture
def nothing_written():
    """`with nothing_written(case), pytest.raises(...)`: the refusal changed no row and added none."""
    from gridgov.cases.models import Attachment, Case, Extension, Step, Task
    from gridgov.core.models import AuditEntry, Notification

    def counts():
        return {m.__name__: m.objects.count()
                for m in (Case, Step, Task, Extension, Attachment, AuditEntry, Notification)}

    @contextlib.contextmanager
    def check(*cases):
        rows = {c.pk: Case.objects.filter(pk=c.pk).values().get() for c in cases}
        tasks = {c.pk: list(Task.objects.filter(case_id=c.pk).values()) for c in cases}
        before = counts()
        yield
        assert counts() == before
        for pk, row in rows.items():
            assert Case.objects.filter(pk=pk).values().get() == row
            assert list(Task.objects.filter(case_id=pk).values()) == tasks[pk]

    return check


@pytest.fixture
def drive(world):
    """drive(state) → a case of category T0101 in grid g1 reported by the grid member `gm`, brought to
    `state` through the services by the world's users (street dispatcher, urban department as lead and
    water as assisting department, `gm` verifying)."""
    from gridgov.cases import services

    u = world["users"]

    def report(**kw):
        kw = {"category": "T0101", "description": "垃圾堆放", "lon": 120.605, "lat": 31.305, **kw}
        return services.case_report(by=kw.pop("by", u["gm"]), **kw)[0]

    def to(state: str, **report_kw):
        case = report(**report_kw)
        if state == "reported":
            return case
        if state == "rejected":
            return services.case_reject(case_id=case.pk, by=u["dispatcher"], reason="不属实")
        if state == "merged":
            other = report(description="另一个")
            return services.case_merge(case_id=case.pk, into_id=other.pk, by=u["dispatcher"])
        case = services.case_register(case_id=case.pk, by=u["dispatcher"])
        if state == "registered":
            return case
        case = services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"],
                                      assist=[world["water"]])
        if state == "dispatched":
            return case
        case = services.case_accept(case_id=case.pk, by=u["handler"])
        if state == "in_progress":
            return case
        if state == "suspended":
            return services.case_suspend(case_id=case.pk, by=u["dispatcher"], reason="资金未到位")
        case = services.case_report_back(case_id=case.pk, by=u["handler"], result="已清理")
        if state == "handled":
            return case
        case = services.case_verify(case_id=case.pk, by=u["gm"], ok=True, note="现场核实")
        if state == "verified":
            return case
        case = services.case_close(case_id=case.pk, by=u["dispatcher"])
        assert state == "closed", state
        return case

    to.report = report
    return to
