"""The working calendar: which days are worked, the working periods of a day, and deadline arithmetic.

A day is a working day when it is Monday–Friday and not a public holiday, or a Saturday/Sunday that is an
adjusted workday (调休上班). The exceptions live in `CalendarDay`; they are read once per process and cached
(`calendar_changed()` drops the cache; it is also dropped after `_CACHE_TTL` seconds so that a load made by
another process shows up).

All arithmetic is done in wall-clock time of `settings.TIME_ZONE` (the working periods of
`settings.GRIDGOV_WORK_PERIODS` are local times); inputs must be timezone-aware and results are aware
datetimes in that zone. Loops go at most day by day, never minute by minute.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from .audit import audit_log
from .errors import InvalidInput
from .models import CalendarDay

UNITS = ("hours", "days")
_CACHE_TTL = 300.0  # seconds
_MAX_DAYS = 366 * 50  # a safety net against a calendar with no working day left
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --------------------------------------------------------------------------- the calendar cache


class _CalendarCache:
    """The CalendarDay exceptions as {date: kind}, loaded lazily, dropped on change or after the TTL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[dt.date, str] | None = None
        self._loaded_at = 0.0

    def get(self) -> dict[dt.date, str]:
        days = self._days
        if days is not None and time.monotonic() - self._loaded_at < _CACHE_TTL:
            return days
        with self._lock:
            if self._days is None or time.monotonic() - self._loaded_at >= _CACHE_TTL:
                self._days = dict(CalendarDay.objects.values_list("date", "kind"))
                self._loaded_at = time.monotonic()
            return self._days

    def clear(self) -> None:
        with self._lock:
            self._days = None


_cache = _CalendarCache()


def calendar_changed(**_kwargs) -> None:
    """Forget the cached calendar; the next question reloads it. Call it after writing CalendarDay rows."""
    _cache.clear()


post_save.connect(calendar_changed, sender=CalendarDay, dispatch_uid="gridgov.core.workcalendar.save")
post_delete.connect(calendar_changed, sender=CalendarDay, dispatch_uid="gridgov.core.workcalendar.delete")


def is_workday(d: dt.date) -> bool:
    """Monday–Friday unless a public holiday; Saturday/Sunday only if an adjusted workday."""
    if isinstance(d, dt.datetime):
        raise TypeError("is_workday() takes a date; convert the datetime to a local date first")
    kind = _cache.get().get(d)
    if kind == CalendarDay.Kind.HOLIDAY:
        return False
    if kind == CalendarDay.Kind.WORKDAY:
        return True
    return d.weekday() < 5


# --------------------------------------------------------------------------- working periods


def _parse_hhmm(text: str, raw: str) -> dt.time:
    try:
        hours, minutes = text.strip().split(":")
        if len(hours.strip()) not in (1, 2) or len(minutes.strip()) != 2:
            raise ValueError
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ImproperlyConfigured(
            f"GRIDGOV_WORK_PERIODS={raw!r}: {text.strip()!r} is not a time of day written HH:MM"
        ) from None


@lru_cache(maxsize=8)
def _parse_periods(raw: str) -> tuple[tuple[dt.time, dt.time], ...]:
    periods: list[tuple[dt.time, dt.time]] = []
    for part in raw.split(","):
        if not part.strip():
            continue
        if part.count("-") != 1:
            raise ImproperlyConfigured(
                f"GRIDGOV_WORK_PERIODS={raw!r}: {part.strip()!r} is not a period written HH:MM-HH:MM"
            )
        start_text, end_text = part.split("-")
        start, end = _parse_hhmm(start_text, raw), _parse_hhmm(end_text, raw)
        if start >= end:
            raise ImproperlyConfigured(
                f"GRIDGOV_WORK_PERIODS={raw!r}: the period {part.strip()!r} ends before it starts"
            )
        if periods and start < periods[-1][1]:
            raise ImproperlyConfigured(
                f"GRIDGOV_WORK_PERIODS={raw!r}: the periods must be in order and must not overlap "
                f"({part.strip()!r} starts before the previous one ends)"
            )
        periods.append((start, end))
    if not periods:
        raise ImproperlyConfigured(
            f"GRIDGOV_WORK_PERIODS={raw!r}: give at least one working period, e.g. '09:00-12:00,13:30-17:30'"
        )
    return tuple(periods)


def work_periods() -> list[tuple[dt.time, dt.time]]:
    """The working periods of a working day, in local time, in order, e.g. [(09:00, 12:00), (13:30, 17:30)]."""
    raw = getattr(settings, "GRIDGOV_WORK_PERIODS", None)
    if not isinstance(raw, str):
        raise ImproperlyConfigured("GRIDGOV_WORK_PERIODS must be a string such as '09:00-12:00,13:30-17:30'")
    return list(_parse_periods(raw))


# --------------------------------------------------------------------------- deadline arithmetic


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _local(value: dt.datetime, name: str) -> dt.datetime:
    """`value` as a naive wall-clock datetime of TIME_ZONE; refuses naive input."""
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got the naive datetime {value.isoformat()})")
    return value.astimezone(_zone()).replace(tzinfo=None)


def _aware(naive_local: dt.datetime) -> dt.datetime:
    return naive_local.replace(tzinfo=_zone())


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}: use 'hours' or 'days'")


def add_working_time(start: dt.datetime, amount: int | float, unit: str) -> dt.datetime:
    """The instant `amount` working hours or working days after `start`.

    - hours: working time is consumed period by period on working days; a start outside working time
      begins at the next working period. An amount that ends exactly at the end of a period gives that end
      (16:30 + 1h = 17:30, not 09:00 the next day).
    - days: the end of the last working period of the N-th working day after the start's local date; the
      start's own day never counts, whatever the time (Friday 10:00 + 1 day = Monday 17:30 unless Monday
      is not a working day). Days must be a whole number.
    - amount 0 gives `start` (in TIME_ZONE). Negative amounts, naive datetimes and other units: ValueError.
    """
    _check_unit(unit)
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        raise ValueError(f"amount must be a finite number, not {amount!r}")
    if amount < 0:
        raise ValueError(f"amount must not be negative (got {amount})")
    local = _local(start, "start")
    if amount == 0:
        return _aware(local)
    periods = work_periods()
    if unit == "days":
        if amount != int(amount):
            raise ValueError(f"working days must be a whole number (got {amount}); use hours for fractions")
        return _aware(_add_days(local.date(), int(amount), periods))
    return _aware(_add_hours(local, dt.timedelta(hours=amount), periods))


def _add_days(day: dt.date, n: int, periods) -> dt.datetime:
    counted = 0
    for _ in range(_MAX_DAYS):
        day += dt.timedelta(days=1)
        if is_workday(day):
            counted += 1
            if counted == n:
                return dt.datetime.combine(day, periods[-1][1])
    raise ValueError(f"no {n}th working day within {_MAX_DAYS} days: check the calendar")


def _add_hours(local: dt.datetime, remaining: dt.timedelta, periods) -> dt.datetime:
    day, cursor = local.date(), local.time()
    for _ in range(_MAX_DAYS):
        if is_workday(day):
            for p_start, p_end in periods:
                seg_start = max(p_start, cursor)
                if seg_start >= p_end:
                    continue
                begin = dt.datetime.combine(day, seg_start)
                available = dt.datetime.combine(day, p_end) - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += dt.timedelta(days=1)
        cursor = dt.time.min
    raise ValueError(f"the working time does not fit within {_MAX_DAYS} days: check the calendar")


def working_time_between(start: dt.datetime, end: dt.datetime, unit: str = "hours") -> float:
    """Working time from `start` to `end` (0 when end <= start).

    unit "hours": working hours; unit "days": those hours divided by the length of a full working day
    (so a full working day counts 1.0 — a KPI measure, not the deadline rule of add_working_time).
    """
    _check_unit(unit)
    lo, hi = _local(start, "start"), _local(end, "end")
    if hi <= lo:
        return 0.0
    periods = work_periods()
    total = 0.0
    day = lo.date()
    while day <= hi.date():
        if is_workday(day):
            for p_start, p_end in periods:
                seg_lo = max(dt.datetime.combine(day, p_start), lo)
                seg_hi = min(dt.datetime.combine(day, p_end), hi)
                if seg_hi > seg_lo:
                    total += (seg_hi - seg_lo).total_seconds()
        day += dt.timedelta(days=1)
    hours = total / 3600
    if unit == "days":
        return hours / (sum(_seconds(e) - _seconds(s) for s, e in periods) / 3600)
    return hours


# --------------------------------------------------------------------------- loading the calendar


def _validate_days(days) -> tuple[list[tuple[dt.date, str, str]], list[dict]]:
    kinds = set(CalendarDay.Kind.values)
    name_max = CalendarDay._meta.get_field("name").max_length
    rows: list[tuple[dt.date, str, str]] = []
    problems: list[dict] = []
    seen: dict[dt.date, int] = {}
    for i, entry in enumerate(days, start=1):
        if not isinstance(entry, dict):
            problems.append({"line": i, "reason": "an entry must be an object with date, kind and name"})
            continue
        reasons = []
        raw_date = entry.get("date")
        day = None
        if isinstance(raw_date, dt.date) and not isinstance(raw_date, dt.datetime):
            day = raw_date
        elif isinstance(raw_date, str) and _ISO_DATE.fullmatch(raw_date.strip()):
            try:
                day = dt.date.fromisoformat(raw_date.strip())
            except ValueError:
                reasons.append(f"bad date {raw_date!r} (no such day)")
        else:
            reasons.append("missing date" if raw_date is None else f"bad date {raw_date!r} (expected YYYY-MM-DD)")
        kind = entry.get("kind")
        if kind not in kinds:
            reasons.append(f"unknown kind {kind!r} (expected one of {', '.join(sorted(kinds))})")
        name = entry.get("name", "")
        if name is None:
            name = ""
        if not isinstance(name, str):
            reasons.append("name must be text")
        elif len(name) > name_max:
            reasons.append(f"name is longer than {name_max} characters")
        if day is not None:
            if day in seen:
                reasons.append(f"date {day.isoformat()} is already given by entry {seen[day]}")
            else:
                seen[day] = i
        if reasons:
            problems.append({"line": i, "reason": "; ".join(reasons)})
        else:
            rows.append((day, kind, name.strip()))
    return rows, problems


def calendar_load(*, days: list[dict], by=None, replace_years: bool = True) -> int:
    """Upsert CalendarDay rows from [{"date": "YYYY-MM-DD", "kind": "holiday"|"workday", "name": ...}].

    With `replace_years` the load is authoritative for every year it mentions: rows of those years that it
    does not list are deleted (so loading the official schedule replaces a statutory-only seed). Every entry
    is checked first; if any is bad, InvalidInput lists them all (details=[{"line": n, "reason": ...}], n
    counting entries from 1) and nothing is written. Returns the number of days loaded.
    """
    if not isinstance(days, list | tuple):
        raise InvalidInput("days must be a list of {date, kind, name} entries",
                           details=[{"line": 0, "reason": "not a list"}])
    rows, problems = _validate_days(days)
    if problems:
        summary = "; ".join(f"entry {p['line']}: {p['reason']}" for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise InvalidInput(f"the calendar has {len(problems)} bad entries: {summary}{more}", details=problems)
    if not rows:
        raise InvalidInput("the calendar is empty", details=[{"line": 0, "reason": "no days given"}])
    years = sorted({day.year for day, _, _ in rows})
    with transaction.atomic():
        if replace_years:
            CalendarDay.objects.filter(date__year__in=years).exclude(
                date__in=[day for day, _, _ in rows]).delete()
        CalendarDay.objects.bulk_create(
            [CalendarDay(date=day, kind=kind, name=name) for day, kind, name in rows],
            update_conflicts=True, unique_fields=["date"], update_fields=["kind", "name"],
        )
        audit_log(actor=by, action="calendar.load", object_type="core.calendarday",
                  object_repr=f"calendar {', '.join(str(y) for y in years)}"[:200],
                  after={"years": years, "days": len(rows)})
        transaction.on_commit(calendar_changed)
    calendar_changed()
    return len(rows)
