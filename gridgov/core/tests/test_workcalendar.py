"""The working calendar: working days, working periods, deadline arithmetic and calendar loading.

Working periods are pinned to 09:00-12:00 and 13:30-17:30 (7 h a day) in Asia/Shanghai; every expected
instant below was worked out by hand from the 2026 State Council schedule seeded by migration 0002.
"""

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from gridgov.core.errors import InvalidInput
from gridgov.core.models import AuditEntry, CalendarDay
from gridgov.core.workcalendar import (
    add_working_time,
    calendar_changed,
    calendar_load,
    is_workday,
    work_periods,
    working_time_between,
)

SH = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.django_db


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture(autouse=True)
def _calendar(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.GRIDGOV_WORK_PERIODS = "09:00-12:00,13:30-17:30"
    calendar_changed()
    yield
    calendar_changed()


# --------------------------------------------------------------------------- working days


def test_is_workday_follows_the_2026_schedule():
    assert is_workday(dt.date(2026, 3, 13))  # Friday
    assert not is_workday(dt.date(2026, 3, 14))  # Saturday
    assert not is_workday(dt.date(2026, 3, 15))  # Sunday
    assert not is_workday(dt.date(2026, 10, 1))  # National Day
    assert not is_workday(dt.date(2026, 10, 7))  # National Day, Wednesday
    assert is_workday(dt.date(2026, 10, 8))
    assert is_workday(dt.date(2026, 9, 20))  # Sunday, adjusted workday
    assert is_workday(dt.date(2026, 10, 10))  # Saturday, adjusted workday
    assert not is_workday(dt.date(2026, 10, 11))  # ordinary Sunday
    assert not is_workday(dt.date(2026, 9, 25))  # Mid-Autumn, Friday
    assert is_workday(dt.date(2026, 2, 14))  # Saturday, adjusted workday
    assert not is_workday(dt.date(2026, 2, 16))  # Spring Festival, Monday
    assert not is_workday(dt.date(2026, 2, 23))
    assert is_workday(dt.date(2026, 2, 24))
    assert is_workday(dt.date(2026, 2, 28))  # Saturday, adjusted workday
    assert not is_workday(dt.date(2026, 1, 2))
    assert is_workday(dt.date(2026, 1, 4))  # Sunday, adjusted workday


def test_calendar_is_cached_and_refreshed_on_change(django_assert_num_queries):
    assert is_workday(dt.date(2026, 3, 16))
    with django_assert_num_queries(0):
        for _ in range(100):
            is_workday(dt.date(2026, 3, 16))
    CalendarDay.objects.create(date=dt.date(2026, 3, 16), kind="holiday", name="test")
    assert not is_workday(dt.date(2026, 3, 16))  # the save signal dropped the cache
    CalendarDay.objects.filter(date=dt.date(2026, 3, 16)).update(kind="workday")  # no signal
    calendar_changed()
    assert is_workday(dt.date(2026, 3, 16))


def test_is_workday_refuses_a_datetime():
    with pytest.raises(TypeError):
        is_workday(at(2026, 3, 16, 10))


# --------------------------------------------------------------------------- working periods


def test_work_periods_parsed(settings):
    assert work_periods() == [(dt.time(9, 0), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30))]
    settings.GRIDGOV_WORK_PERIODS = " 8:30-12:00 , 14:00-18:00 "
    assert work_periods() == [(dt.time(8, 30), dt.time(12, 0)), (dt.time(14, 0), dt.time(18, 0))]


@pytest.mark.parametrize("raw, fragment", [
    ("", "at least one"),
    ("09:00", "HH:MM-HH:MM"),
    ("09:00-25:00", "25:00"),
    ("nine-five", "nine"),
    ("12:00-09:00", "ends before it starts"),
    ("09:00-12:00,11:00-17:00", "overlap"),
])
def test_work_periods_invalid(settings, raw, fragment):
    settings.GRIDGOV_WORK_PERIODS = raw
    with pytest.raises(ImproperlyConfigured, match=fragment):
        work_periods()


# --------------------------------------------------------------------------- hours


def test_hours_across_a_weekend():
    # Fri 16:00-17:30 = 1.5 h, then Mon 09:00 + 1.5 h
    assert add_working_time(at(2026, 3, 13, 16), 3, "hours") == at(2026, 3, 16, 10, 30)


def test_hours_across_the_lunch_break():
    assert add_working_time(at(2026, 3, 16, 11), 2, "hours") == at(2026, 3, 16, 14, 30)
    assert add_working_time(at(2026, 3, 16, 11, 50), 0.25, "hours") == at(2026, 3, 16, 13, 35)
    assert add_working_time(at(2026, 3, 16, 12, 30), 1, "hours") == at(2026, 3, 16, 14, 30)  # in lunch


def test_hours_across_days():
    # Mon 16:00: 1.5 h on Monday, 7 h on Tuesday, 1.5 h on Wednesday
    assert add_working_time(at(2026, 3, 16, 16), 10, "hours") == at(2026, 3, 18, 10, 30)


def test_hours_ending_exactly_at_the_end_of_a_period():
    assert add_working_time(at(2026, 3, 16, 16, 30), 1, "hours") == at(2026, 3, 16, 17, 30)
    assert add_working_time(at(2026, 3, 16, 9), 3, "hours") == at(2026, 3, 16, 12)


def test_hours_starting_outside_working_time():
    assert add_working_time(at(2026, 3, 16, 7), 1, "hours") == at(2026, 3, 16, 10)  # before opening
    assert add_working_time(at(2026, 3, 16, 18), 1, "hours") == at(2026, 3, 17, 10)  # after closing
    assert add_working_time(at(2026, 3, 14, 11), 2, "hours") == at(2026, 3, 16, 11)  # Saturday


def test_hours_across_national_day_2026():
    # Wed Sep 30 15:00-17:30 = 2.5 h; Oct 1-7 off; Thu Oct 8 09:00-12:00 = 3 h, 13:30 + 1.5 h
    assert add_working_time(at(2026, 9, 30, 15), 7, "hours") == at(2026, 10, 8, 15)
    # Fri Oct 9 17:00-17:30, then Saturday Oct 10 is an adjusted workday
    assert add_working_time(at(2026, 10, 9, 17), 1, "hours") == at(2026, 10, 10, 9, 30)
    # Saturday Sep 19 is off; Sunday Sep 20 is an adjusted workday
    assert add_working_time(at(2026, 9, 19, 10), 2, "hours") == at(2026, 9, 20, 11)


def test_hours_across_spring_festival_2026():
    # Sat Feb 14 (worked) 16:30-17:30 = 1 h; Feb 15-23 off; Tue Feb 24 09:00 + 1 h
    assert add_working_time(at(2026, 2, 14, 16, 30), 2, "hours") == at(2026, 2, 24, 10)
    # Fri Feb 13 17:00: 0.5 h Friday, 7 h Saturday Feb 14, 0.5 h Tuesday Feb 24
    assert add_working_time(at(2026, 2, 13, 17), 8, "hours") == at(2026, 2, 24, 9, 30)


def test_result_is_in_the_local_zone_whatever_the_input_zone():
    # 2026-03-15 20:00 UTC is Monday 04:00 in Shanghai: the clock starts at 09:00 Monday
    result = add_working_time(dt.datetime(2026, 3, 15, 20, 0, tzinfo=dt.UTC), 2, "hours")
    assert result == at(2026, 3, 16, 11)
    assert result.tzinfo == SH
    assert result.isoformat() == "2026-03-16T11:00:00+08:00"


# --------------------------------------------------------------------------- days


def test_days_friday_to_monday():
    assert add_working_time(at(2026, 3, 13, 10), 1, "days") == at(2026, 3, 16, 17, 30)


def test_days_count_from_the_next_day_whatever_the_time():
    assert add_working_time(at(2026, 3, 16, 8), 1, "days") == at(2026, 3, 17, 17, 30)
    assert add_working_time(at(2026, 3, 16, 23), 1, "days") == at(2026, 3, 17, 17, 30)
    assert add_working_time(at(2026, 3, 16, 8), 5, "days") == at(2026, 3, 23, 17, 30)
    assert add_working_time(at(2026, 3, 14, 10), 1, "days") == at(2026, 3, 16, 17, 30)  # from Saturday


def test_days_across_national_day_and_adjusted_workdays_2026():
    assert add_working_time(at(2026, 9, 30, 10), 1, "days") == at(2026, 10, 8, 17, 30)
    # Oct 8 (1), Fri Oct 9 (2), Sat Oct 10 adjusted workday (3)
    assert add_working_time(at(2026, 9, 30, 10), 3, "days") == at(2026, 10, 10, 17, 30)
    assert add_working_time(at(2026, 9, 19, 10), 1, "days") == at(2026, 9, 20, 17, 30)  # Sun Sep 20 worked
    # Mon Sep 21..Thu Sep 24 (1-4), Fri Sep 25-Sun Sep 27 Mid-Autumn off, Mon Sep 28 (5)
    assert add_working_time(at(2026, 9, 20, 10), 5, "days") == at(2026, 9, 28, 17, 30)


def test_days_across_spring_festival_2026():
    assert add_working_time(at(2026, 2, 13, 10), 1, "days") == at(2026, 2, 14, 17, 30)  # Saturday worked
    assert add_working_time(at(2026, 2, 13, 10), 2, "days") == at(2026, 2, 24, 17, 30)
    assert add_working_time(at(2026, 2, 27, 10), 1, "days") == at(2026, 2, 28, 17, 30)  # Saturday worked


def test_a_year_long_jump_is_fast_and_right():
    # 2026: 261 weekdays - 19 weekday holidays + 6 adjusted workdays = 248 working days = 1736 h
    t0 = time.perf_counter()
    assert add_working_time(at(2025, 12, 31, 12), 248, "days") == at(2026, 12, 31, 17, 30)
    assert add_working_time(at(2026, 1, 1), 1736, "hours") == at(2026, 12, 31, 17, 30)
    assert working_time_between(at(2026, 1, 1), at(2027, 1, 1)) == 1736.0
    assert time.perf_counter() - t0 < 1.0


def test_zero_amount_returns_the_start():
    start = dt.datetime(2026, 3, 14, 2, 0, tzinfo=dt.UTC)  # Saturday, not working time
    assert add_working_time(start, 0, "hours") == start
    assert add_working_time(start, 0, "days") == start
    assert add_working_time(start, 0, "days").tzinfo == SH


def test_naive_datetime_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_time(dt.datetime(2026, 3, 16, 10), 1, "hours")
    with pytest.raises(ValueError, match="timezone-aware"):
        working_time_between(dt.datetime(2026, 3, 16, 10), at(2026, 3, 16, 11))


@pytest.mark.parametrize("unit", ["minutes", "day", "", "HOURS"])
def test_bad_unit_refused(unit):
    with pytest.raises(ValueError, match="unit"):
        add_working_time(at(2026, 3, 16, 10), 1, unit)


def test_bad_amount_refused():
    with pytest.raises(ValueError, match="negative"):
        add_working_time(at(2026, 3, 16, 10), -1, "hours")
    with pytest.raises(ValueError, match="whole number"):
        add_working_time(at(2026, 3, 16, 10), 1.5, "days")
    with pytest.raises(ValueError):
        add_working_time(at(2026, 3, 16, 10), float("nan"), "hours")
    assert add_working_time(at(2026, 3, 13, 10), 1.0, "days") == at(2026, 3, 16, 17, 30)


# --------------------------------------------------------------------------- working_time_between


def test_working_time_between():
    assert working_time_between(at(2026, 3, 13, 16), at(2026, 3, 16, 10, 30)) == 3.0
    assert working_time_between(at(2026, 3, 16, 11), at(2026, 3, 16, 14, 30)) == 2.0
    assert working_time_between(at(2026, 3, 16, 12), at(2026, 3, 16, 13, 30)) == 0.0  # lunch
    assert working_time_between(at(2026, 3, 14, 0), at(2026, 3, 16, 0)) == 0.0  # weekend
    assert working_time_between(at(2026, 9, 30, 15), at(2026, 10, 8, 15)) == 7.0  # National Day
    assert working_time_between(at(2026, 3, 16, 9), at(2026, 3, 17, 17, 30), unit="days") == 2.0
    assert working_time_between(dt.datetime(2026, 3, 16, 1, 30, tzinfo=dt.UTC), at(2026, 3, 16, 10)) == 0.5


def test_working_time_between_reversed_or_equal_is_zero():
    assert working_time_between(at(2026, 3, 16, 15), at(2026, 3, 16, 10)) == 0.0
    assert working_time_between(at(2026, 3, 16, 10), at(2026, 3, 16, 10)) == 0.0


# --------------------------------------------------------------------------- loading the calendar


def test_seeded_calendar_has_2026_and_2027():
    assert CalendarDay.objects.filter(date__year=2026, kind="holiday").count() == 33
    assert CalendarDay.objects.filter(date__year=2026, kind="workday").count() == 6
    assert CalendarDay.objects.get(date=dt.date(2026, 10, 10)).kind == "workday"
    assert CalendarDay.objects.get(date=dt.date(2026, 2, 15)).name == "春节"
    assert CalendarDay.objects.filter(date__year=2027).exists()
    assert CalendarDay.objects.get(date=dt.date(2027, 2, 6)).kind == "holiday"  # 春节 2027
    assert CalendarDay.objects.get(date=dt.date(2027, 10, 1)).kind == "holiday"
    assert not is_workday(dt.date(2027, 2, 8))  # Monday, 春节 (statutory)
    assert not is_workday(dt.date(2027, 1, 1))


def test_data_file_shape():
    from pathlib import Path

    import gridgov.core

    doc = json.loads((Path(gridgov.core.__file__).parent / "data" / "holidays_cn.json").read_text("utf-8"))
    assert {"source", "note", "days"} <= set(doc)
    assert "2027" in doc["note"]
    assert {d["date"][:4] for d in doc["days"]} == {"2026", "2027"}


def test_calendar_load_upserts_replaces_the_years_and_audits():
    audits = AuditEntry.objects.count()
    n = calendar_load(days=[
        {"date": "2027-02-13", "kind": "workday", "name": "春节调休上班"},
        {"date": "2027-02-09", "kind": "holiday", "name": "春节"},
    ])
    assert n == 2
    assert set(CalendarDay.objects.filter(date__year=2027).values_list("date", flat=True)) == {
        dt.date(2027, 2, 13), dt.date(2027, 2, 9)}
    assert CalendarDay.objects.filter(date__year=2026).count() == 39  # other years untouched
    assert is_workday(dt.date(2027, 2, 13))  # the cache was dropped
    assert is_workday(dt.date(2027, 2, 8))  # the statutory row of 2027 was replaced
    assert not is_workday(dt.date(2027, 2, 9))
    entry = AuditEntry.objects.latest("seq")
    assert AuditEntry.objects.count() == audits + 1
    assert entry.action == "calendar.load"
    assert entry.object_type == "core.calendarday"
    assert entry.after == {"years": [2027], "days": 2}


def test_calendar_load_without_replacing_keeps_other_days():
    calendar_load(days=[{"date": "2027-02-13", "kind": "workday", "name": ""}], replace_years=False)
    assert CalendarDay.objects.filter(date__year=2027).count() == 14
    calendar_load(days=[{"date": "2027-02-13", "kind": "holiday", "name": "x"}], replace_years=False)
    assert CalendarDay.objects.get(date=dt.date(2027, 2, 13)).kind == "holiday"


def test_calendar_load_refuses_bad_entries_and_writes_nothing():
    before = list(CalendarDay.objects.values_list("date", "kind", "name"))
    audits = AuditEntry.objects.count()
    with pytest.raises(InvalidInput) as exc:
        calendar_load(days=[
            {"date": "2027-02-13", "kind": "workday"},
            {"date": "2027-02-30", "kind": "holiday"},
            {"date": "2027-03-01", "kind": "vacation"},
            {"date": "13/02/2027", "kind": "holiday"},
            {"date": "2027-02-13", "kind": "holiday"},
            "2027-04-01",
        ])
    lines = [d["line"] for d in exc.value.details]
    assert lines == [2, 3, 4, 5, 6]
    reasons = {d["line"]: d["reason"] for d in exc.value.details}
    assert "2027-02-30" in reasons[2]
    assert "vacation" in reasons[3]
    assert "13/02/2027" in reasons[4]
    assert "entry 1" in reasons[5]
    assert list(CalendarDay.objects.values_list("date", "kind", "name")) == before
    assert AuditEntry.objects.count() == audits
    with pytest.raises(InvalidInput):
        calendar_load(days=[])


def test_calendar_load_command(tmp_path, capsys):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"source": "test", "note": "", "days": [
        {"date": "2027-02-13", "kind": "workday", "name": "春节调休上班"}]}), "utf-8")
    call_command("calendar_load", str(path))
    assert "Loaded 1 calendar days" in capsys.readouterr().out
    assert is_workday(dt.date(2027, 2, 13))

    path.write_text(json.dumps([{"date": "2027-02-31", "kind": "holiday"}]), "utf-8")
    with pytest.raises(CommandError, match="entry 1"):
        call_command("calendar_load", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("calendar_load", str(tmp_path / "missing.json"))
