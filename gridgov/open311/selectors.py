"""Reads for Open311: the services (categories) and the service requests (cases) as the reader may see them.

Who sees what (docs/open311.md, "Privacy"):

- with an api_key: the cases in the key's user's scope (gridgov.cases.selectors.case_scope_q: a resident their
  own reports, a dispatcher their area, …), with description, address and location;
- without one: only a case whose service_request_id (its tracking code) is asked for, and only what the public
  tracking page shows: service, state, dates and the department — never the description, the place or notes.
- never: the reporter's name, phone or account, or staff names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext

from gridgov.cases.choices import FINAL_STATES, STATE_EXPLAINED, Action, State
from gridgov.cases.models import Case, Category, Step
from gridgov.cases.selectors import case_scope_q, category_list

from .formats import Open311Error

MAX_SPAN = timedelta(days=90)
PAGE_SIZE_DEFAULT = 1000  # the specification's default volume: the first 1000 requests
PAGE_SIZE_MAX = 1000
PAGE_MAX = 1_000_000
MAX_IDS = 100
# datetimes outside these years are refused: near year 1 or 9999 the 90-day arithmetic and the conversion to UTC
# overflow (a 500), and no report or filter needs them
YEARS = range(1000, 9000)
OPEN, CLOSED = "open", "closed"
# W3C datetime (a profile of ISO 8601) with the time zone the specification requires
W3C_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})$", re.ASCII)
W3C_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
DIGITS = re.compile(r"^[0-9]{1,12}$")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")


def status_of(state: str) -> str:
    """The two Open311 statuses: every final state (closed, refused, merged, converted) is closed."""
    return CLOSED if state in FINAL_STATES else OPEN


def w3c(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def parse_w3c(value: str, field: str) -> datetime:
    """A W3C datetime with its zone; a bare date is the start of that day in the server's zone."""
    value = (value or "").strip()
    match = W3C_DATETIME.match(value)
    if match:
        y, mo, d, h, mi, s, frac, zone = match.groups()
        iso = f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{'.' + frac.ljust(6, '0') if frac else ''}"
        iso += "+00:00" if zone == "Z" else zone
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.year in YEARS:
            return parsed
    elif W3C_DATE.match(value):
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is not None and day.year in YEARS:
            return timezone.make_aware(datetime(day.year, day.month, day.day))
    raise Open311Error(400, f"{field} must be a W3C datetime with a time zone, e.g. 2026-01-01T00:00:00Z.")


# --- services ----------------------------------------------------------------------------------------------

def _reportable() -> QuerySet[Category]:
    # cases are filed under a subclass (a category with a parent): the main classes are the groups
    return category_list(active_only=True).filter(parent__isnull=False).order_by("parent__sort", "parent__code",
                                                                                  "sort", "code")


def service_list() -> list[dict]:
    return [{
        "service_code": c.service_code,
        "service_name": c.name,
        "description": c.description or None,
        "metadata": bool(c.extra_fields),
        "type": "realtime",
        "keywords": c.keywords or None,
        "group": c.parent.name if c.parent_id else None,
    } for c in _reportable()]


def service_get(code: str) -> Category:
    category = _reportable().filter(service_code=code).first() if code and len(code) <= 40 else None
    if category is None:
        raise Open311Error(404, f"service_code {code[:40]!r} was not found.")
    return category


def attribute_specs(category: Category) -> list[dict]:
    """The category's extra fields that are well-formed (a code and a known datatype)."""
    return [spec for spec in category.extra_fields or []
            if isinstance(spec, dict) and spec.get("code") and spec.get("datatype", "string") in DATATYPES]


def service_definition(category: Category) -> dict:
    attributes = []
    for order, spec in enumerate(attribute_specs(category), start=1):
        datatype = spec.get("datatype", "string")
        attribute = {
            "variable": True,
            "code": str(spec["code"]),
            "datatype": datatype,
            "required": bool(spec.get("required")),
            "datatype_description": spec.get("datatype_description") or _datatype_hint(datatype),
            "order": order,
            "description": spec.get("description") or spec.get("label") or str(spec["code"]),
        }
        if datatype in LIST_DATATYPES:
            attribute["values"] = [{"key": str(v.get("key")), "name": str(v.get("name", v.get("key")))}
                                   for v in spec.get("values", []) if isinstance(v, dict)]
        attributes.append(attribute)
    return {"service_code": category.service_code, "attributes": attributes}


def _datatype_hint(datatype: str) -> str | None:
    return {
        "number": gettext("A number, e.g. 12.5"),
        "datetime": gettext("A W3C datetime with a time zone, e.g. 2026-01-01T08:00:00+08:00"),
        "multivaluelist": gettext("One or more of the keys listed"),
        "singlevaluelist": gettext("One of the keys listed"),
    }.get(datatype)


# --- requests ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """Who reads: a user (through an api_key) or the public (None)."""

    user: object | None

    @property
    def public(self) -> bool:
        return self.user is None


def _base() -> QuerySet[Case]:
    return Case.objects.select_related("category", "lead_department").prefetch_related("open311")


def _scoped(reader: Reader) -> QuerySet[Case]:
    if reader.public:
        return _base()
    return _base().filter(pk__in=Case.objects.filter(case_scope_q(reader.user)).values("pk"))


def _multi(params, name: str) -> list[str]:
    """An argument that may be comma delimited and declared several times."""
    return [v.strip() for value in params.getlist(name) for v in value.split(",") if v.strip()]


def _ids(raw: str | list[str]) -> list[str]:
    ids = [i.strip().upper() for i in (raw.split(",") if isinstance(raw, str) else raw) if i.strip()]
    if len(ids) > MAX_IDS:
        raise Open311Error(400, f"At most {MAX_IDS} service_request_id values at once.")
    return [i for i in ids if len(i) <= 40]


def _int(params, name: str, default: int, low: int, high: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not DIGITS.match(raw) or not (low <= int(raw) <= high):
        raise Open311Error(400, f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def date_range(params) -> tuple[datetime, datetime]:
    """start_date / end_date: at most 90 days apart; a missing end is 90 days after the start (or now), a
    missing start 90 days before the end."""
    start = parse_w3c(params["start_date"], "start_date") if params.get("start_date") else None
    end = parse_w3c(params["end_date"], "end_date") if params.get("end_date") else None
    if start and end:
        if end < start:
            raise Open311Error(400, "end_date is before start_date.")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days.")
    elif start:
        end = start + MAX_SPAN
    else:
        end = end or timezone.now()
        start = end - MAX_SPAN
    return start, end


def _statuses(params) -> set[str]:
    raw = [s.lower() for s in _multi(params, "status")]
    wrong = [s for s in raw if s not in (OPEN, CLOSED)]
    if wrong:
        raise Open311Error(400, "status must be open, closed or both (comma delimited).")
    return set(raw)


def page_of(params) -> tuple[int, int]:
    """The page / page_size extension (1-based; the default page holds the specification's 1000)."""
    return _int(params, "page", 1, 1, PAGE_MAX), _int(params, "page_size", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX)


def request_list(*, reader: Reader, params) -> list[Case]:
    """GET requests: service_request_id (overrides the rest), service_code, start_date/end_date, status,
    page/page_size."""
    ids = _ids(_multi(params, "service_request_id"))
    if ids:
        found = {c.tracking_code: c for c in _scoped(reader).filter(tracking_code__in=ids)}
        return [found[i] for i in dict.fromkeys(ids) if i in found]
    if reader.public:
        raise Open311Error(403, "An api_key is required to list requests; without one, ask for them by "
                                "service_request_id.")
    qs = _scoped(reader)
    codes = _multi(params, "service_code")
    if codes:
        known = set(_reportable().filter(service_code__in=codes).values_list("service_code", flat=True))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise Open311Error(404, f"service_code {unknown[0][:40]!r} was not found.")
        qs = qs.filter(category__service_code__in=codes)
    start, end = date_range(params)
    qs = qs.filter(reported_at__gte=start, reported_at__lte=end)
    statuses = _statuses(params)
    if statuses == {OPEN}:
        qs = qs.exclude(state__in=FINAL_STATES)
    elif statuses == {CLOSED}:
        qs = qs.filter(state__in=FINAL_STATES)
    page, size = page_of(params)
    offset = (page - 1) * size
    return list(qs.order_by("-reported_at", "-pk")[offset:offset + size])


def request_get(*, reader: Reader, code: str) -> Case:
    ids = _ids(code)
    case = _scoped(reader).filter(tracking_code=ids[0]).first() if len(ids) == 1 else None
    if case is None:
        raise Open311Error(404, "service_request_id was not found.")
    return case


def _public_steps(case: Case) -> list[Step]:
    # ordered in Python: the steps may have been prefetched
    return sorted((s for s in case.steps.all() if s.public), key=lambda s: (s.at, s.pk))


def _status_notes(case: Case, reader: Reader) -> str | None:
    if not reader.public:
        for step in reversed(_public_steps(case)):
            if step.note.strip():
                return step.note.strip()
    return str(STATE_EXPLAINED.get(case.state, "")) or None


def _updated(case: Case) -> datetime:
    if case.state == State.CLOSED and case.closed_at:
        return case.closed_at
    if case.state == State.REJECTED and case.rejected_at:
        return case.rejected_at
    return case.updated_at or case.reported_at


def _attribute_answers(case: Case) -> list[dict]:
    return [{"code": str(code), "value": [str(v) for v in value] if isinstance(value, list) else str(value)}
            for code, value in (case.extra or {}).items()]


def _note(step: Step, reader: Reader) -> dict:
    label = Action(step.action).label if step.action in Action.values else step.action
    return {
        "datetime": w3c(step.at),
        "summary": str(label),
        "description": (step.note.strip() or None) if not reader.public else None,
        "type": step.action,
        "status": status_of(step.to_state) if step.to_state else None,
        "agency": step.department.name if step.department_id and step.department else None,
    }


def request_out(case: Case, *, reader: Reader, extensions: bool = False) -> dict:
    """One request, as the reader may see it (redacted fields are null, so every answer has one shape)."""
    full = not reader.public
    open311 = getattr(case, "open311", None) if full else None
    out = {
        "service_request_id": case.tracking_code,
        "status": status_of(case.state),
        "status_notes": _status_notes(case, reader),
        "service_name": case.category.name,
        "service_code": case.category.service_code,
        "description": case.description if full else None,
        "agency_responsible": case.lead_department.name if case.lead_department_id else None,
        "service_notice": None,
        "requested_datetime": w3c(case.reported_at),
        "updated_datetime": w3c(_updated(case)),
        "expected_datetime": w3c(case.handle_due) if case.state not in FINAL_STATES else None,
        "address": (case.address or None) if full else None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat if full else None,
        "long": case.lon if full else None,
        "media_url": (open311.media_url or None) if open311 is not None else None,
    }
    if extensions:
        out["extended_attributes"] = {
            "number": case.number,
            "state": case.state,
            "state_name": str(State(case.state).label),
            "channel": case.source,
            "group": case.category.parent.name if case.category.parent_id else None,
            "attributes": _attribute_answers(case) if full else [],
        }
        out["notes"] = [_note(step, reader) for step in _public_steps(case)]
    return out


def requests_out(cases: list[Case], *, reader: Reader, extensions: bool = False) -> list[dict]:
    if extensions:
        prefetch_related_objects(cases, "steps__department", "category__parent")
    elif not reader.public:
        prefetch_related_objects(cases, "steps")
    return [request_out(c, reader=reader, extensions=extensions) for c in cases]


# --- updates (the servicerequestupdates extension) --------------------------------------------------------

def update_list(*, reader: Reader, params) -> list[Step]:
    """The public timeline steps of the reader's cases between start_date and end_date (at most 90 days)."""
    if reader.public:
        raise Open311Error(403, "An api_key is required to read updates.")
    start, end = date_range(params)
    qs = (Step.objects.filter(public=True, at__gte=start, at__lte=end,
                              case__in=Case.objects.filter(case_scope_q(reader.user)).values("pk"))
          .select_related("case"))
    ids = _ids(_multi(params, "service_request_id"))
    if ids:
        qs = qs.filter(case__tracking_code__in=ids)
    page, size = page_of(params)
    offset = (page - 1) * size
    return list(qs.order_by("at", "pk")[offset:offset + size])


def update_out(step: Step) -> dict:
    return {
        "update_id": str(step.pk),
        "service_request_id": step.case.tracking_code,
        "status": status_of(step.to_state or step.case.state),
        "updated_datetime": w3c(step.at),
        "description": step.note.strip() or str(Action(step.action).label if step.action in Action.values
                                                else step.action),
        "media_url": None,
    }


def token_get(*, token: str) -> Case:
    """A realtime server's token is the request's own id (docs/open311.md, "Tokens")."""
    return request_get(reader=Reader(None), code=token)
