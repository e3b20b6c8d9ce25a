"""Every write on cases. Each service is atomic, checks role, scope and state against the transitions
table, bumps the version (a stale version is a 409), writes a timeline step and an audit entry, and sends
its notifications after the commit.

    case_report(...)                      → reported (or handled, for a grid member's on-the-spot case)
    case_register / case_reject / case_merge / case_dispatch / case_accept / case_return / case_suspend /
    case_resume / case_report_back / case_verify / case_close / case_reopen
    case_request_extension / case_decide_extension / case_summon / case_supervise / case_rate / case_comment
    cases_escalate_overdue                (the periodic job)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department, User
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from gridgov.core.models import Notification
from gridgov.core.notifications import notify
from gridgov.core.preload import loaded
from gridgov.core.scope import ancestor_paths, in_scope
from gridgov.core.workcalendar import add_working_time, working_time_between
from gridgov.geo.coords import to_wgs84
from gridgov.geo.locator import locate
from gridgov.geo.models import Area, Grid

from .choices import (
    LEVEL_AREA,
    LEVEL_ORDER,
    OPEN_STATES,
    REPORTER_ACTIONS,
    TRANSITIONS,
    Action,
    ExtensionState,
    Level,
    LimitUnit,
    Source,
    State,
    TaskRole,
    TaskState,
)
from .forms_public import normalise_tracking_code
from .models import Attachment, Case, Category, Extension, Step, Task
from .photos import Photo, process_photo

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
AREA_LEVEL_TO_LEVEL = {"community": Level.COMMUNITY, "street": Level.STREET, "district": Level.DISTRICT,
                       "city": Level.CITY}


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"


# --- helpers -----------------------------------------------------------------------------------------------

def _now():
    return timezone.now()


def _ip_hash(ip: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest() if ip else ""


def _case_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


def _snapshot(case: Case) -> dict:
    return {"state": case.state, "version": case.version, "level": case.level,
            "lead_department": case.lead_department_id, "handle_due": case.handle_due}


def _allowed_actions(case: Case, user: User | None) -> list[str]:
    return [str(a) for a in case_allowed_actions(case=case, user=user)]


def case_allowed_actions(*, case: Case, user: User | None) -> list[Action]:
    """The actions this user may take on this case now (drives the buttons and the 409 message)."""
    result = []
    for action, rule in TRANSITIONS.items():
        if (case.state in rule.sources and _may_act(case, user, Action(action), raise_=False)
                and _possible_now(case, user, Action(action))):
            result.append(Action(action))
    return result


def _possible_now(case: Case, user: User | None, action: Action) -> bool:
    """What the services check beyond role, scope and state, so that no offered action is then refused."""
    if action in (Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION, Action.REQUEST_EXTENSION):
        pending = case.extensions.filter(state=ExtensionState.PENDING).exists()
        return pending if action != Action.REQUEST_EXTENSION else not pending
    if action == Action.RATE:
        return case.rated_at is None and _is_reporter(case, user)
    if action == Action.CONVERT:
        return case.category.is_dispute
    if action == Action.SUMMON:
        return user is not None and user.area_id is not None and user.area.level in ("street", "district", "city")
    return True


def _is_reporter(case: Case, user: User | None) -> bool:
    return user is not None and case.reporter_id is not None and case.reporter_id == user.pk


def _department_task(case: Case, user: User | None, roles: Iterable[str] | None = None) -> Task | None:
    if user is None or not user.department_id:
        return None
    tasks = [t for t in case.tasks.all() if t.department_id == user.department_id
             and t.state not in (TaskState.RETURNED, TaskState.CANCELLED)]
    if roles is not None:
        tasks = [t for t in tasks if t.role in roles]
    return tasks[0] if tasks else None


def _may_act(case: Case, user: User | None, action: Action, *, raise_: bool = True) -> bool:
    """Role and scope for an action (the state is checked separately)."""
    rule = TRANSITIONS[action]

    def no(message: str) -> bool:
        if raise_:
            raise Forbidden(message)
        return False

    if user is None or not user.is_active:
        return no("Log in to act on a case.")
    verifying = action in (Action.VERIFY_OK, Action.VERIFY_FAIL)
    if verifying and case.self_handled:
        # A case handled on the spot is checked by someone else: another member of the grid, or a
        # dispatcher of the area (spot check 抽查) — never by the grid member who handled it.
        if _is_reporter(case, user):
            return no("A case you handled yourself is verified by someone else.")
        if user.role in (Role.GRID_MEMBER, Role.DISPATCHER) and in_scope(user, case.path):
            return True
        return no("This case is verified by the grid's members or the area's dispatchers.")
    if action in REPORTER_ACTIONS and _is_reporter(case, user):
        return True
    if user.role not in rule.roles:
        return no(f"A {user.get_role_display()} may not {Action(action).label.lower()}.")
    if user.role == Role.HANDLER:
        lead_only = action in (Action.RETURN, Action.REQUEST_EXTENSION)
        task = _department_task(case, user, roles=[TaskRole.LEAD] if lead_only else None)
        if task is None:
            return no("This case is not dispatched to your department.")
        return True
    if not in_scope(user, case.path):
        return no("This case is outside your area.")
    return True


def _load(case_id: int, *, for_update: bool = True) -> Case:
    qs = Case.objects.select_related("category", "grid", "lead_department")
    if for_update:
        qs = qs.select_for_update(of=("self",)) if _supports_of() else qs.select_for_update()
    case = qs.filter(pk=case_id).first()
    if case is None:
        raise NotFound("No such case.")
    return case


def _supports_of() -> bool:
    from django.db import connection

    return connection.features.has_select_for_update_of


def _begin(case_id: int, action: Action, by: User | None, version: int | None, *,
           reason: str = "") -> tuple[Case, dict]:
    """Lock the case and check version, visibility, state, role and reason, in that order."""
    case = _load(case_id)
    from .selectors import case_visible

    if by is not None and not case_visible(case=case, user=by):
        raise NotFound("No such case.")
    if version is not None and version != case.version:
        raise Conflict(f"The case was changed meanwhile (version {case.version}, you had {version}); reload it.",
                       code="stale_version", details={"version": case.version})
    rule = TRANSITIONS[action]
    if case.state not in rule.sources:
        allowed = _allowed_actions(case, by)
        raise Conflict(
            f"Cannot {Action(action).label.lower()} a case that is {State(case.state).label.lower()}; "
            f"allowed now: {', '.join(allowed) or 'nothing'}.",
            code="invalid_transition", details={"state": case.state, "allowed_actions": allowed})
    _may_act(case, by, action)
    if rule.reason_required and not (reason or "").strip():
        raise InvalidInput("A reason is required.", code="reason_required",
                           details=[{"field": "reason", "message": "required"}])
    return case, _snapshot(case)


def _finish(case: Case, action: Action, by: User | None, before: dict, *, note: str = "", data: dict | None = None,
            department: Department | None = None, public: bool = True, from_state: str | None = None) -> Step:
    """Save the case with a new version, write the timeline step and the audit entry."""
    now = _now()
    getattr(case, "_prefetched_objects_cache", {}).pop("tasks", None)  # tasks may have changed
    case.version += 1
    case.updated_at = now
    case.updated_by = by if by is not None and by.is_authenticated else None
    case.save()
    step = Step.objects.create(
        case=case, action=action, from_state=from_state or before["state"], to_state=case.state,
        actor=by if by is not None else None, actor_name=str(by) if by is not None else "",
        department=department, at=now, note=note, data=data or {}, public=public)
    audit_log(actor=by, action=f"case.{action}", obj=case, before=before, after=_snapshot(case) | (data or {}))
    return step


def _attach(case: Case, step: Step | None, photos: list[Photo], kind: str, by: User | None) -> list[Attachment]:
    rows = []
    for photo in photos:
        att = Attachment(case=case, step=step, kind=kind, content_type=photo.content_type, size=photo.size,
                         width=photo.width, height=photo.height, sha256=photo.sha256, photo_lon=photo.lon,
                         photo_lat=photo.lat, taken_at=photo.taken_at,
                         uploaded_by=by if by is not None and by.is_authenticated else None)
        att.file.save(photo.content.name, photo.content, save=False)
        rows.append(att)
    Attachment.objects.bulk_create(rows)
    return rows


def _process_photos(files) -> list[Photo]:
    return [process_photo(f) for f in (files or [])]


def _department_id(value: Department | int | str) -> int:
    return value.pk if isinstance(value, Department) else int(value)


def _department_users(department_ids: Iterable[int]) -> list[User]:
    return list(User.objects.filter(department_id__in=list(department_ids), role=Role.HANDLER, is_active=True))


def _dispatchers_for(case: Case, level: str | None = None) -> list[User]:
    """Dispatchers whose area holds the case; with `level`, only those of that level's area."""
    paths = ancestor_paths(case.path)
    qs = User.objects.filter(role=Role.DISPATCHER, is_active=True, area__path__in=paths)
    if level is not None:
        qs = qs.filter(area__level=LEVEL_AREA[level])
    return list(qs)


def _grid_members(case: Case) -> list[User]:
    return list(case.grid.members.filter(is_active=True))


def _deadline(start, amount: int, unit: str):
    # in UTC, as a case read back from the database has it (the new case is answered from memory)
    due = add_working_time(start, amount, unit)
    return due.astimezone(UTC) if due is not None else None


def _user_level(user: User) -> str:
    if user.area_id:
        return AREA_LEVEL_TO_LEVEL.get(user.area.level, Level.COMMUNITY)
    return Level.GRID


def _higher(a: str, b: str) -> str:
    return a if LEVEL_ORDER.index(a) >= LEVEL_ORDER.index(b) else b


# --- intake ------------------------------------------------------------------------------------------------

def _clean_extra(category: Category, extra: dict | None) -> dict:
    """Validate the category's extra fields: required ones present, values of the right type and list."""
    extra = dict(extra or {})
    clean, problems = {}, []
    for spec in category.extra_fields or []:
        code = spec["code"]
        value = extra.pop(code, None)
        if value in (None, "", []):
            if spec.get("required"):
                problems.append({"field": f"extra.{code}", "message": f"{spec.get('label', code)} is required"})
            continue
        datatype = spec.get("datatype", "string")
        keys = {str(v["key"]) for v in spec.get("values", [])}
        if datatype == "number":
            try:
                value = float(value)
            except (TypeError, ValueError):
                problems.append({"field": f"extra.{code}", "message": "must be a number"})
                continue
        elif datatype == "singlevaluelist":
            if str(value) not in keys:
                problems.append({"field": f"extra.{code}", "message": f"must be one of {', '.join(sorted(keys))}"})
                continue
            value = str(value)
        elif datatype == "multivaluelist":
            values = value if isinstance(value, list) else [value]
            if not values or any(str(v) not in keys for v in values):
                problems.append({"field": f"extra.{code}", "message": f"must be among {', '.join(sorted(keys))}"})
                continue
            value = [str(v) for v in values]
        else:
            value = str(value)[:2000]
        clean[code] = value
    for unknown in extra:
        problems.append({"field": f"extra.{unknown}", "message": "unknown field for this category"})
    if problems:
        raise InvalidInput("; ".join(f"{p['field']}: {p['message']}" for p in problems), code="invalid_extra",
                           details=problems)
    return clean


def category_for_report(code: str | None) -> Category:
    # by code, else by Open311 service code; chosen here rather than by an ORDER BY, whose compiling cost more
    # than the query on every report
    found = list(Category.objects.select_related("parent").filter(
        Q(code=code) | Q(service_code=code), is_active=True, parent__isnull=False).order_by()[:2]) if code else []
    category = next((c for c in found if c.code == code), found[0] if found else None)
    if category is None:
        raise InvalidInput(f"Unknown category {code!r}.", code="unknown_category",
                           details=[{"field": "category", "message": "unknown or inactive category"}])
    return category


def case_report(*, by: User | None, category: str, description: str, lon: float, lat: float,
                coord_sys: str = "wgs84", source: str | None = None, address: str = "",
                extra: dict | None = None, photos: list | None = None, reporter_name: str = "",
                reporter_phone: str = "", idempotency_key: str = "", ip: str = "",
                self_handle: bool = False, handle_note: str = "") -> tuple[Case, bool]:
    """Intake from every channel. Returns (case, created): a retried idempotency key gives the first case."""
    description = (description or "").strip()
    if not description:
        raise InvalidInput("A description is required.", code="invalid",
                           details=[{"field": "description", "message": "required"}])
    if len(idempotency_key or "") > 100:  # stored in 100 characters: a longer key could never match its retry
        raise InvalidInput("The idempotency key is longer than 100 characters.", code="invalid",
                           details=[{"field": "idempotency_key", "message": "at most 100 characters"}])
    if by is not None and idempotency_key:
        existing = Case.objects.filter(reporter=by, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    cat = category_for_report(category)
    clean_extra = _clean_extra(cat, extra)
    try:
        wlon, wlat = to_wgs84(float(lon), float(lat), coord_sys)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), code="invalid", details=[{"field": "coord_sys", "message": str(exc)}]) from exc
    if not (-180 <= wlon <= 180 and -90 <= wlat <= 90):
        raise InvalidInput("Coordinates out of range.", code="invalid", details=[{"field": "lon"}])
    hit = locate(wlon, wlat)
    if hit is None:
        raise InvalidInput("The location is outside every grid of this jurisdiction.", code="outside_jurisdiction",
                           details=[{"field": "location", "message": "outside every grid"}])
    phone = crypto.normalise_phone(reporter_phone)
    if reporter_phone and not (7 <= len(phone) <= 12):
        raise InvalidInput("The phone number is not valid.", code="invalid",
                           details=[{"field": "reporter_phone", "message": "not a phone number"}])
    if source is None:
        source = {Role.GRID_MEMBER: Source.GRID_MEMBER, Role.DISPATCHER: Source.HOTLINE}.get(
            getattr(by, "role", None), Source.API if by is not None else Source.PUBLIC)
    # the locator's row (as fresh as the polygon that located the point); other fields load if ever read
    grid = Grid.from_db("default", ["id", "code", "name", "path"], [hit.id, hit.code, hit.name, hit.path])
    if self_handle:
        if by is None or by.role != Role.GRID_MEMBER or not in_scope(by, grid.path):
            raise Forbidden("Only the grid's own grid member handles a case on the spot.")
        if not photos:
            raise InvalidInput("A case handled on the spot needs a photo as evidence.", code="photo_required",
                               details=[{"field": "photos", "message": "required"}])
    processed = _process_photos(photos)
    ip_hash = _ip_hash(ip)
    if by is None and ip_hash:
        since = _now() - timedelta(hours=1)
        recent = Case.objects.filter(reporter_ip_hash=ip_hash, reported_at__gte=since, reporter__isnull=True).count()
        if recent >= settings.GRIDGOV_PUBLIC_REPORTS_PER_HOUR:
            raise RateLimited("Too many reports from this address in the last hour; please try again later.")

    now = _now()
    try:
        with transaction.atomic():
            case = Case(
                number=f"T{secrets.token_hex(8)}", tracking_code=_tracking_code(), category=cat,
                description=description[:4000], address=(address or "")[:200], extra=clean_extra, source=source,
                lon=wlon, lat=wlat, grid=grid, path=grid.path,
                reporter=by if by is not None else None,
                reporter_name=(reporter_name or (str(by) if by is not None else ""))[:50],
                reporter_phone=crypto.encrypt(phone), reporter_phone_index=crypto.blind_index(phone),
                reporter_ip_hash=ip_hash, idempotency_key=(idempotency_key or "")[:100],
                reported_at=now, register_due=_deadline(now, cat.register_limit, cat.limit_unit),
                created_by=by, updated_by=by,
            )
            if self_handle:
                case.state = State.HANDLED
                case.self_handled = True
                case.handled_at = now
                case.register_due = None
            case.save()
            case.number = f"{timezone.localtime(now):%Y%m%d}{case.pk:07d}"
            Case.objects.filter(pk=case.pk).update(number=case.number)
            action = Action.SELF_HANDLE if self_handle else Action.REPORT
            step = Step.objects.create(case=case, action=action, from_state="", to_state=case.state,
                                       actor=by, actor_name=case.reporter_name, at=now,
                                       note=handle_note if self_handle else "",
                                       data={"source": source, "channel": source})
            attachments = _attach(case, step, processed,
                                  Attachment.Kind.EVIDENCE if self_handle else Attachment.Kind.REPORT, by)
            loaded(case, tasks=[], extensions=[], attachments=attachments, steps=[step])
            audit_log(actor=by, action=f"case.{action}", obj=case,
                      after={"state": case.state, "category": cat.code, "grid": grid.code, "source": source})
            if self_handle:
                # the grid's other members (or the community dispatchers) verify on site
                notify(users=[u for u in _grid_members(case) if u.pk != by.pk] or _dispatchers_for(case),
                       kind=Notification.Kind.VERIFY, title=f"Case {case.number}: verify the handling", url=_case_url(case),
                       obj=case)
    except IntegrityError:
        # the same idempotency key raced in twice: the first one won
        if by is not None and idempotency_key:
            existing = Case.objects.filter(reporter=by, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
        raise
    return case, True


def _tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


# --- the closed loop -------------------------------------------------------------------------------------

@transaction.atomic
def case_register(*, case_id: int, by: User, version: int | None = None, note: str = "") -> Case:
    case, before = _begin(case_id, Action.REGISTER, by, version)
    now = _now()
    case.state = State.REGISTERED
    case.registered_at = now
    case.dispatch_due = _deadline(now, case.category.dispatch_limit, case.category.limit_unit)
    case.level = _higher(case.level, _user_level(by))
    _finish(case, Action.REGISTER, by, before, note=note)
    return case


@transaction.atomic
def case_reject(*, case_id: int, by: User, reason: str, version: int | None = None) -> Case:
    case, before = _begin(case_id, Action.REJECT, by, version, reason=reason)
    case.state = State.REJECTED
    case.rejected_at = _now()
    _finish(case, Action.REJECT, by, before, note=reason)
    return case


@transaction.atomic
def case_merge(*, case_id: int, into_id: int, by: User, version: int | None = None, note: str = "") -> Case:
    case, before = _begin(case_id, Action.MERGE, by, version)
    from .selectors import case_visible

    target = Case.objects.select_for_update().filter(pk=into_id).first()
    if target is None or target.pk == case.pk or not case_visible(case=target, user=by):
        raise InvalidInput("Merge into an existing case in your area.", code="invalid",
                           details=[{"field": "into", "message": "unknown case"}])
    if target.state not in OPEN_STATES or target.merged_into_id:
        raise Conflict(f"Case {target.number} is {State(target.state).label.lower()}; merge into an open case.",
                       code="invalid_transition", details={"state": target.state})
    case.state = State.MERGED
    case.merged_into = target
    _finish(case, Action.MERGE, by, before, note=note, data={"into": target.number})
    Step.objects.create(case=target, action=Action.COMMENT, from_state=target.state, to_state=target.state,
                        actor=by, actor_name=str(by), at=_now(), note=f"Duplicate {case.number} merged into this case.",
                        data={"merged": case.number}, public=False)
    return case


@transaction.atomic
def case_dispatch(*, case_id: int, by: User, lead: Department | int, assist: Iterable[Department | int] = (),
                  instructions: str = "", version: int | None = None) -> Case:
    case, before = _begin(case_id, Action.DISPATCH, by, version)
    try:
        lead_id = _department_id(lead)
        assist_ids = [_department_id(a) for a in assist]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Unknown department.", code="unknown_department",
                           details=[{"field": "lead", "message": "not a department"}]) from exc
    assist_ids = [a for a in dict.fromkeys(assist_ids) if a != lead_id]
    departments = {d.pk: d for d in Department.objects.filter(pk__in=[lead_id, *assist_ids], is_active=True)}
    missing = [i for i in [lead_id, *assist_ids] if i not in departments]
    if missing:
        raise InvalidInput("Unknown department.", code="unknown_department",
                           details=[{"field": "lead" if lead_id in missing else "assist", "message": "unknown"}])
    now = _now()
    due = _deadline(now, case.category.handle_limit, case.category.handle_unit)
    case.tasks.filter(state__in=[TaskState.PENDING, TaskState.ACCEPTED], role__in=[TaskRole.LEAD, TaskRole.ASSIST]
                      ).update(state=TaskState.CANCELLED)
    Task.objects.create(case=case, department=departments[lead_id], role=TaskRole.LEAD, due_at=due,
                        instructions=instructions, created_by=by)
    for dep_id in assist_ids:
        Task.objects.create(case=case, department=departments[dep_id], role=TaskRole.ASSIST, due_at=due,
                            instructions=instructions, created_by=by)
    case.state = State.DISPATCHED
    case.dispatched_at = case.dispatched_at or now
    case.level = _higher(case.level, _user_level(by))  # a dispatched case is handled at the centre's level
    case.lead_department = departments[lead_id]
    case.handle_due = due
    _finish(case, Action.DISPATCH, by, before, note=instructions, department=departments[lead_id],
            data={"lead": departments[lead_id].code, "assist": [departments[i].code for i in assist_ids]})
    notify(users=_department_users(departments), kind=Notification.Kind.DISPATCHED,
           title=f"Case {case.number} dispatched to your department: {case.category.name}", url=_case_url(case),
           obj=case)
    return case


@transaction.atomic
def case_accept(*, case_id: int, by: User, version: int | None = None, note: str = "") -> Case:
    case, before = _begin(case_id, Action.ACCEPT, by, version)
    task = _department_task(case, by)
    now = _now()
    task.state, task.accepted_at = TaskState.ACCEPTED, task.accepted_at or now
    task.save(update_fields=["state", "accepted_at", "updated_at"])
    if task.role == TaskRole.LEAD:
        case.state = State.IN_PROGRESS
        case.accepted_at = case.accepted_at or now
    _finish(case, Action.ACCEPT, by, before, note=note, department=task.department, data={"task": task.role})
    return case


@transaction.atomic
def case_return(*, case_id: int, by: User, reason: str, version: int | None = None) -> Case:
    """回退: the lead department says the case is not theirs; it goes back to the dispatcher."""
    case, before = _begin(case_id, Action.RETURN, by, version, reason=reason)
    now = _now()
    case.tasks.filter(state__in=[TaskState.PENDING, TaskState.ACCEPTED],
                      role__in=[TaskRole.LEAD, TaskRole.ASSIST]).update(state=TaskState.RETURNED, updated_at=now)
    department = case.lead_department
    case.state = State.REGISTERED
    case.lead_department = None
    case.return_count += 1
    case.handle_due = None
    case.dispatch_due = _deadline(now, case.category.dispatch_limit, case.category.limit_unit)
    _finish(case, Action.RETURN, by, before, note=reason, department=department)
    notify(users=_dispatchers_for(case), kind=Notification.Kind.RETURNED,
           title=f"Case {case.number} returned by {department}: {reason[:80]}", url=_case_url(case), obj=case)
    return case


def case_convert(*, case_id: int, by: User, dispute_number: str, version: int | None = None,
                 note: str = "") -> Case:
    """The case goes to mediation: it ends here as "converted" and its dispute carries on. Called by
    gridgov.disputes.services.dispute_from_case inside its transaction (so both happen or neither)."""
    case, before = _begin(case_id, Action.CONVERT, by, version)
    if not case.category.is_dispute:
        raise Conflict(f"{case.category.name} is not a dispute category; only disputes go to mediation.",
                       code="not_a_dispute", details={"category": case.category.code})
    case.tasks.filter(state__in=[TaskState.PENDING, TaskState.ACCEPTED]).update(state=TaskState.CANCELLED)
    case.state = State.CONVERTED
    _finish(case, Action.CONVERT, by, before, note=note, data={"dispute": dispute_number})
    return case


@transaction.atomic
def case_suspend(*, case_id: int, by: User, reason: str, version: int | None = None) -> Case:
    """挂账: the problem cannot be solved now (funds, season, planning); the clock stops."""
    case, before = _begin(case_id, Action.SUSPEND, by, version, reason=reason)
    case.state = State.SUSPENDED
    case.suspended_at = _now()
    _finish(case, Action.SUSPEND, by, before, note=reason)
    return case


@transaction.atomic
def case_resume(*, case_id: int, by: User, version: int | None = None, note: str = "") -> Case:
    case, before = _begin(case_id, Action.RESUME, by, version)
    now = _now()
    paused = working_time_between(case.suspended_at, now) if case.suspended_at else 0
    if case.handle_due and paused:
        case.handle_due = add_working_time(case.handle_due, paused, LimitUnit.HOURS)
        case.tasks.filter(state__in=[TaskState.PENDING, TaskState.ACCEPTED]).update(due_at=case.handle_due)
    case.state = State.IN_PROGRESS
    case.suspended_at = None
    _finish(case, Action.RESUME, by, before, note=note, data={"paused_working_hours": round(paused, 2)})
    return case


@transaction.atomic
def case_report_back(*, case_id: int, by: User, result: str, photos: list | None = None,
                     version: int | None = None) -> Case:
    """处置反馈: the lead department reports the result (an assisting department reports its own part)."""
    case, before = _begin(case_id, Action.REPORT_BACK, by, version)
    task = _department_task(case, by)
    if not (result or "").strip():
        raise InvalidInput("Describe what was done.", code="invalid", details=[{"field": "result"}])
    if task.role == TaskRole.LEAD and case.category.photo_required_report_back and not photos:
        raise InvalidInput("This category needs a photo of the result.", code="photo_required",
                           details=[{"field": "photos", "message": "required"}])
    processed = _process_photos(photos)
    now = _now()
    task.state, task.done_at, task.result = TaskState.DONE, now, result
    task.accepted_at = task.accepted_at or now
    task.save(update_fields=["state", "done_at", "result", "accepted_at", "updated_at"])
    if task.role == TaskRole.LEAD:
        case.state = State.HANDLED
        case.handled_at = now
    step = _finish(case, Action.REPORT_BACK, by, before, note=result, department=task.department,
                   data={"task": task.role})
    _attach(case, step, processed, Attachment.Kind.EVIDENCE, by)
    if task.role == TaskRole.LEAD:
        notify(users=_grid_members(case) + ([case.reporter] if case.reporter_id else []),
               kind=Notification.Kind.VERIFY, title=f"Case {case.number} handled: please verify on site",
               url=_case_url(case), obj=case)
    return case


def case_verify(*, case_id: int, by: User | None, ok: bool, note: str = "", photos: list | None = None,
                version: int | None = None, tracking_code: str = "") -> Case:
    """核查: the grid member (or the reporter) checks on site: pass → verified, fail → rework (返工)."""
    with transaction.atomic():
        action = Action.VERIFY_OK if ok else Action.VERIFY_FAIL
        if tracking_code:
            case, before = _begin_as_reporter(case_id, action, tracking_code, version, reason=note)
        else:
            case, before = _begin(case_id, action, by, version, reason=note)
        if (by is not None and by.role == Role.GRID_MEMBER and case.category.photo_required_verify and not photos
                and not _is_reporter(case, by)):
            raise InvalidInput("This category needs a photo to verify.", code="photo_required",
                               details=[{"field": "photos", "message": "required"}])
        processed = _process_photos(photos)
        now = _now()
        by_reporter = bool(tracking_code) or _is_reporter(case, by)
        if ok:
            case.state = State.VERIFIED
            case.verified_at = now
            case.verified_by_reporter = by_reporter
        elif case.self_handled and not case.tasks.filter(role=TaskRole.LEAD).exists():
            # handled on the spot but not solved: it enters the normal loop, to be dispatched to a department
            case.state = State.REGISTERED
            case.self_handled = False
            case.rework_count += 1
            case.handled_at = None
            case.registered_at = case.registered_at or now
            case.dispatch_due = _deadline(now, case.category.dispatch_limit, case.category.limit_unit)
        else:
            case.state = State.IN_PROGRESS
            case.rework_count += 1
            case.handled_at = None
            case.handle_due = _deadline(now, case.category.handle_limit, case.category.handle_unit)
            case.tasks.filter(role=TaskRole.LEAD, state=TaskState.DONE).update(
                state=TaskState.ACCEPTED, done_at=None, due_at=case.handle_due)
        step = _finish(case, action, by, before, note=note, data={"by_reporter": by_reporter})
        _attach(case, step, processed, Attachment.Kind.VERIFY, by)
        if not ok and case.lead_department_id:
            notify(users=_department_users([case.lead_department_id]), kind=Notification.Kind.RETURNED,
                   title=f"Case {case.number} failed verification: rework", url=_case_url(case), obj=case)
    return case


def _begin_as_reporter(case_id: int, action: Action, tracking_code: str, version: int | None, *,
                       reason: str = "") -> tuple[Case, dict]:
    """A reporter without an account acts through the tracking code they were given."""
    case = _load(case_id)
    if not secrets.compare_digest(case.tracking_code, (tracking_code or "").upper()):
        raise NotFound("No such case.")
    if version is not None and version != case.version:
        raise Conflict("The case was changed meanwhile; reload it.", code="stale_version",
                       details={"version": case.version})
    if case.state not in TRANSITIONS[action].sources:
        raise Conflict(f"Cannot {Action(action).label.lower()} a case that is {State(case.state).label.lower()}.",
                       code="invalid_transition", details={"state": case.state, "allowed_actions": []})
    if TRANSITIONS[action].reason_required and not (reason or "").strip():
        raise InvalidInput("A reason is required.", code="reason_required", details=[{"field": "reason"}])
    return case, _snapshot(case)


@transaction.atomic
def case_close(*, case_id: int, by: User, version: int | None = None, note: str = "") -> Case:
    case, before = _begin(case_id, Action.CLOSE, by, version)
    now = _now()
    case.state = State.CLOSED
    case.closed_at = now
    case.closed_on_time = case.self_handled or (case.handle_due is None) or (
        case.handled_at is not None and case.handled_at <= case.handle_due)
    case.resolution_level = case.level
    _finish(case, Action.CLOSE, by, before, note=note, data={"resolution_level": case.level,
                                                             "on_time": case.closed_on_time})
    return case


@transaction.atomic
def case_reopen(*, case_id: int, by: User, reason: str, version: int | None = None) -> Case:
    case, before = _begin(case_id, Action.REOPEN, by, version, reason=reason)
    now = _now()
    if case.closed_at and now - case.closed_at > timedelta(days=settings.GRIDGOV_REOPEN_DAYS):
        raise Conflict(f"A case can be reopened within {settings.GRIDGOV_REOPEN_DAYS} days of closing.",
                       code="reopen_period_over", details={"closed_at": case.closed_at.isoformat()})
    case.state = State.IN_PROGRESS
    case.reopen_count += 1
    case.closed_at = None
    case.closed_on_time = None
    case.resolution_level = ""
    case.verified_at = None
    case.handled_at = None
    case.handle_due = _deadline(now, case.category.handle_limit, case.category.handle_unit)
    reopened = case.tasks.filter(role=TaskRole.LEAD).exclude(state__in=[TaskState.RETURNED, TaskState.CANCELLED])
    reopened.update(state=TaskState.ACCEPTED, done_at=None, due_at=case.handle_due)
    _finish(case, Action.REOPEN, by, before, note=reason)
    if case.lead_department_id:
        notify(users=_department_users([case.lead_department_id]), kind=Notification.Kind.RETURNED,
               title=f"Case {case.number} reopened: {reason[:80]}", url=_case_url(case), obj=case)
    return case


# --- actions that keep the state ----------------------------------------------------------------------------

@transaction.atomic
def case_request_extension(*, case_id: int, by: User, amount: int, unit: str, reason: str,
                           version: int | None = None) -> Extension:
    case, before = _begin(case_id, Action.REQUEST_EXTENSION, by, version, reason=reason)
    if unit not in LimitUnit.values or not isinstance(amount, int) or not 1 <= amount <= 365:
        raise InvalidInput("Ask for 1 to 365 working hours or days.", code="invalid",
                           details=[{"field": "amount" if unit in LimitUnit.values else "unit"}])
    if case.extensions.filter(state=ExtensionState.PENDING).exists():
        raise Conflict("An extension request is already waiting for a decision.", code="extension_pending")
    extension = Extension.objects.create(case=case, task=_department_task(case, by, [TaskRole.LEAD]),
                                         amount=amount, unit=unit, reason=reason, requested_by=by,
                                         requested_at=_now())
    _finish(case, Action.REQUEST_EXTENSION, by, before, note=reason,
            data={"extension": extension.pk, "amount": amount, "unit": unit}, department=by.department)
    notify(users=_dispatchers_for(case), kind=Notification.Kind.EXTENSION,
           title=f"Case {case.number}: extension of {amount} {LimitUnit(unit).label} requested",
           url=_case_url(case), obj=case)
    return extension


@transaction.atomic
def case_decide_extension(*, case_id: int, by: User, approve: bool, note: str = "",
                          version: int | None = None) -> Extension:
    action = Action.APPROVE_EXTENSION if approve else Action.REJECT_EXTENSION
    case, before = _begin(case_id, action, by, version, reason=note)
    extension = case.extensions.select_for_update().filter(state=ExtensionState.PENDING).first()
    if extension is None:
        raise Conflict("No extension request is waiting for a decision.", code="no_pending_extension")
    extension.state = ExtensionState.APPROVED if approve else ExtensionState.REJECTED
    extension.decided_by, extension.decided_at, extension.decision_note = by, _now(), note
    extension.save()
    if approve:
        case.extension_count += 1
        base = case.handle_due or _now()
        case.handle_due = add_working_time(base, extension.amount, extension.unit)
        case.tasks.filter(role=TaskRole.LEAD, state__in=[TaskState.PENDING, TaskState.ACCEPTED]).update(
            due_at=case.handle_due)
    _finish(case, action, by, before, note=note, data={"extension": extension.pk})
    if extension.requested_by_id:
        notify(users=[extension.requested_by], kind=Notification.Kind.EXTENSION,
               title=f"Case {case.number}: extension {'approved' if approve else 'refused'}", url=_case_url(case),
               obj=case)
    return extension


@transaction.atomic
def case_summon(*, case_id: int, by: User, departments: Iterable[Department | int], amount: int,
                unit: str = LimitUnit.DAYS, instructions: str = "", version: int | None = None) -> list[Task]:
    """吹哨报到: a street (or higher) command centre summons several departments to one case."""
    case, before = _begin(case_id, Action.SUMMON, by, version)
    if not by.area_id or by.area.level not in ("street", "district", "city"):
        raise Forbidden("Only a street, district or city command centre can summon departments.")
    try:
        ids = list(dict.fromkeys(_department_id(d) for d in departments))
        amount = int(amount)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Name existing departments and a whole number of hours or days.", code="invalid",
                           details=[{"field": "departments"}]) from exc
    found = {d.pk: d for d in Department.objects.filter(pk__in=ids, is_active=True)}
    if not ids or len(found) != len(ids):
        raise InvalidInput("Name one or more existing departments.", code="unknown_department",
                           details=[{"field": "departments"}])
    if unit not in LimitUnit.values or not 1 <= amount <= 365:
        raise InvalidInput("Give each department 1 to 365 working hours or days.", code="invalid",
                           details=[{"field": "amount"}])
    due = _deadline(_now(), int(amount), unit)
    tasks = [Task.objects.create(case=case, department=found[i], role=TaskRole.SUMMONED, due_at=due,
                                 instructions=instructions, created_by=by) for i in ids]
    case.level = _higher(case.level, _user_level(by))
    _finish(case, Action.SUMMON, by, before, note=instructions,
            data={"departments": [found[i].code for i in ids], "due": due.isoformat()})
    notify(users=_department_users(ids), kind=Notification.Kind.DISPATCHED,
           title=f"Summoned to case {case.number} (吹哨报到): {case.category.name}", url=_case_url(case), obj=case)
    return tasks


@transaction.atomic
def case_supervise(*, case_id: int, by: User, reason: str, version: int | None = None) -> Case:
    """督办: a leader marks a case for supervision; the departments and dispatchers are told."""
    case, before = _begin(case_id, Action.SUPERVISE, by, version, reason=reason)
    case.supervision_count += 1
    _finish(case, Action.SUPERVISE, by, before, note=reason)
    departments = [t.department_id for t in case.tasks.all() if t.state in (TaskState.PENDING, TaskState.ACCEPTED)]
    notify(users=_department_users(departments) + _dispatchers_for(case), kind=Notification.Kind.SUPERVISED,
           title=f"Case {case.number} is under supervision (督办): {reason[:80]}", url=_case_url(case), obj=case)
    return case


def case_rate(*, case_id: int, by: User | None, satisfaction: int, comment: str = "",
              tracking_code: str = "") -> Case:
    """The reporter's satisfaction (1–5), once, from the tracking page or their account."""
    with transaction.atomic():
        if tracking_code:
            case, before = _begin_as_reporter(case_id, Action.RATE, tracking_code, None)
        else:
            case, before = _begin(case_id, Action.RATE, by, None)
            if not _is_reporter(case, by):
                raise Forbidden("Only the reporter rates a case.")
        if type(satisfaction) is not int or not 1 <= satisfaction <= 5:
            raise InvalidInput("Rate from 1 to 5.", code="invalid", details=[{"field": "satisfaction"}])
        if case.rated_at is not None:
            raise Conflict("This case has already been rated.", code="already_rated")
        case.satisfaction = satisfaction
        case.satisfaction_comment = (comment or "")[:300]
        case.rated_at = _now()
        _finish(case, Action.RATE, by, before, note=comment, data={"satisfaction": satisfaction})
    return case


@transaction.atomic
def case_comment(*, case_id: int, by: User, note: str, version: int | None = None) -> Case:
    case, before = _begin(case_id, Action.COMMENT, by, version, reason=note)
    if not (note or "").strip():
        raise InvalidInput("Write a comment.", code="invalid", details=[{"field": "note"}])
    _finish(case, Action.COMMENT, by, before, note=note, public=False)
    return case


# --- deadlines and escalation (the periodic job) --------------------------------------------------------

def _overdue_q(now) -> Q:
    return (Q(state=State.REPORTED, register_due__lt=now) | Q(state=State.REGISTERED, dispatch_due__lt=now)
            | Q(state__in=[State.DISPATCHED, State.IN_PROGRESS], handle_due__lt=now))


def cases_escalate_overdue(*, now=None, limit: int = 500) -> dict[str, int]:
    """Find cases whose current step is overdue: mark them, and raise each one level (grid → community →
    street → district → city), again every GRIDGOV_ESCALATION_INTERVAL_HOURS working hours while overdue.
    Idempotent: running it twice at the same moment changes nothing the second time."""
    now = now or _now()
    interval = settings.GRIDGOV_ESCALATION_INTERVAL_HOURS
    marked = escalated = 0
    ids = list(Case.objects.filter(_overdue_q(now)).order_by("handle_due", "id").values_list("id", flat=True)[:limit])
    for case_id in ids:
        with transaction.atomic():
            case = _load(case_id)
            if not Case.objects.filter(_overdue_q(now), pk=case_id).exists():
                continue  # moved on meanwhile
            before = _snapshot(case)
            changed = False
            if not case.overdue:
                case.overdue = True
                changed = True
                marked += 1
                responsible = (_department_users([case.lead_department_id]) if case.lead_department_id
                               else _dispatchers_for(case))
                notify(users=responsible, kind=Notification.Kind.OVERDUE, title=f"Case {case.number} is overdue",
                       url=_case_url(case), obj=case)
            due_escalation = case.escalated_at is None or add_working_time(
                case.escalated_at, interval, LimitUnit.HOURS) <= now
            next_level = _next_escalation_level(case)
            if due_escalation and next_level is not None:
                case.level = next_level
                case.escalation_count += 1
                case.escalated_at = now
                changed = True
                escalated += 1
                _finish(case, Action.ESCALATE, None, before, note=f"Overdue: escalated to {Level(next_level).label}",
                        data={"level": next_level})
                notify(users=_dispatchers_for(case, level=next_level), kind=Notification.Kind.ESCALATED,
                       title=f"Case {case.number} escalated to you: overdue {case.category.name}",
                       url=_case_url(case), obj=case)
            elif changed:
                case.save(update_fields=["overdue"])
                audit_log(actor=None, action="case.overdue", obj=case, before=before, after={"overdue": True})
    return {"marked_overdue": marked, "escalated": escalated}


def _next_escalation_level(case: Case) -> str | None:
    """The next level up that has an area above the case (a city-level case cannot go higher)."""
    index = LEVEL_ORDER.index(case.level)
    for level in LEVEL_ORDER[index + 1:]:
        if Area.objects.filter(path__in=ancestor_paths(case.path), level=LEVEL_AREA[level]).exists():
            return level
    return None


# --- the public tracking code (no account) ------------------------------------------------------------------

def _lookup_misses_key(ip: str) -> str:
    return f"gridgov:public:track-misses:{_ip_hash(ip)[:32]}"


def public_case_lookup(*, code: str, ip: str, misses_per_hour: int | None = None) -> Case:
    """The case of a tracking code, for the public page and the public API alike. Loose protection against
    guessing codes: after many unknown codes from one address within an hour, every lookup from it is refused
    (RateLimited, 429) for the rest of that hour; an unknown code is a NotFound and counts as a miss."""
    limit = misses_per_hour if misses_per_hour is not None else getattr(
        settings, "GRIDGOV_PUBLIC_TRACK_MISSES_PER_HOUR", 30)
    from .selectors import case_by_tracking_code

    key = _lookup_misses_key(ip)
    if (cache.get(key) or 0) >= limit:
        raise RateLimited("Too many unknown tracking codes from your address; please try again in an hour.")
    try:
        return case_by_tracking_code(code=normalise_tracking_code(code))
    except NotFound:
        if not cache.add(key, 1, timeout=3600):
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.add(key, 1, timeout=3600)
        raise
