"""Every write on disputes. Each service is atomic, checks role, scope and state against the transitions
table, bumps the version (a stale version is a 409), writes a timeline step and an audit entry, and sends
its notifications after the commit.

    dispute_register(...)  /  dispute_from_case(...)      → registered
    dispute_assess / dispute_assign / dispute_record_session / dispute_agree / dispute_fail / dispute_refer /
    dispute_check_fulfilment / dispute_follow_up / dispute_close / dispute_regrade / dispute_comment
    disputes_apply_time_rules                              (the periodic job)
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.accounts.models import User
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridgov.core.models import Notification
from gridgov.core.notifications import notify
from gridgov.core.scope import ancestor_paths, in_scope, scope_q
from gridgov.core.workcalendar import add_working_time
from gridgov.geo.coords import to_wgs84
from gridgov.geo.locator import locate
from gridgov.geo.models import Grid

from .choices import (
    AREA_LEVEL,
    EXTERNAL_CHANNELS,
    GRADE_ORDER,
    LEVEL_CHANNELS,
    LEVEL_ORDER,
    TRANSITIONS,
    UNRESOLVED_STATES,
    Action,
    Channel,
    DisputeSource,
    DisputeType,
    FollowUpForm,
    Grade,
    Level,
    Outcome,
    PartyKind,
    PartyRole,
    SessionOutcome,
    State,
)
from .models import Agreement, Dispute, FollowUp, Party, Rules, Session, Step

MAX_PARTIES = 50
# A session or visit may be recorded a little ahead of the server's clock (a phone's clock runs fast).
CLOCK_SKEW = dt.timedelta(minutes=10)


# --- helpers -----------------------------------------------------------------------------------------------

def _now():
    return timezone.now()


def _url(dispute: Dispute) -> str:
    return reverse("disputes:detail", args=[dispute.pk])


def _invalid(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


def _snapshot(d: Dispute) -> dict:
    return {"state": d.state, "version": d.version, "grade": d.grade, "level": d.level,
            "mediator": d.mediator_id, "due_at": d.due_at}


def _choice(value, choices, field: str, code: str = "invalid") -> str:
    if value not in choices.values:
        raise _invalid(field, f"unknown value {value!r}; one of {', '.join(choices.values)}", code)
    return value


def _user_level(user: User) -> str:
    """The mediation level a user works at: a grid member at the grid, others at their area's level."""
    if user.role == Role.GRID_MEMBER or not user.area_id:
        return Level.GRID
    return AREA_LEVEL.get(user.area.level, Level.COMMUNITY)


def _level_index(level: str) -> int:
    return LEVEL_ORDER.index(Level(level))


def _deadline(start, grade: str, rules: Rules):
    return add_working_time(start, rules.deadline_days(grade), "days")


def address_key(address: str) -> str:
    """The address as the "same address" warning compares it: without spaces and punctuation."""
    return re.sub(r"[\s,，。.、;；:：#()（）\-]", "", address or "")[:200]


def _users_of_area(d: Dispute, roles: list[str], level: str | None = None) -> list[User]:
    """Users with these roles whose area holds the dispute; with `level`, only that level's area."""
    qs = User.objects.filter(role__in=roles, is_active=True, area__path__in=ancestor_paths(d.path))
    if level is not None and level != Level.GRID:
        qs = qs.filter(area__level=level)
    return list(qs.select_related("area"))


def _grid_members(d: Dispute) -> list[User]:
    return list(d.grid.members.filter(is_active=True))


def _notify_serious(d: Dispute) -> None:
    """A serious (重大) dispute goes to the leaders of its area at once."""
    notify(users=_users_of_area(d, [Role.LEADER]), kind=Notification.Kind.ESCALATED,
           title=f"Serious dispute {d.number}: {d.title}", url=_url(d), obj=d)


def dispute_visible(*, dispute: Dispute, user) -> bool:
    from .selectors import dispute_scope_q

    return Dispute.objects.filter(dispute_scope_q(user), pk=dispute.pk).exists()


def _is_mediator_of(d: Dispute, user: User | None) -> bool:
    return user is not None and d.mediator_id is not None and d.mediator_id == user.pk


def _may_act(d: Dispute, user: User | None, action: str, *, raise_: bool = True) -> bool:
    rule = TRANSITIONS[action]

    def no(message: str) -> bool:
        if raise_:
            raise Forbidden(message)
        return False

    if user is None or not user.is_active:
        return no("Log in to act on a dispute.")
    if user.is_admin_role:
        return True
    if user.role not in rule.roles:
        return no(f"A {user.get_role_display()} may not {Action(action).label.lower()}.")
    if not in_scope(user, d.path) and not _is_mediator_of(d, user):
        return no("This dispute is outside your area.")
    if action in (Action.SESSION, Action.AGREE, Action.FAIL) and user.role == Role.GRID_MEMBER \
            and not _is_mediator_of(d, user):
        return no("Only the dispute's mediator records its sessions and outcome.")
    if action in (Action.ASSIGN, Action.REFER, Action.ASSESS, Action.CLOSE) and user.role != Role.GRID_MEMBER \
            and _level_index(_user_level(user)) < _level_index(d.level):
        return no("The dispute has been referred above your level.")
    return True


def _possible_now(d: Dispute, user: User | None, action: str) -> bool:
    """What the services check beyond role, scope and state, so that no offered action is then refused."""
    if action == Action.ASSIGN and d.state == State.REFERRED:
        return d.referral_channel in LEVEL_CHANNELS
    if action == Action.ASSIGN and d.state == State.MEDIATING:
        return True  # a change of mediator
    if action == Action.FOLLOW_UP and d.state == State.REFERRED:
        return d.referral_channel in EXTERNAL_CHANNELS
    if action == Action.AGREE:
        return d.session_count > 0
    if action == Action.CLOSE:
        if d.state == State.REFERRED and d.referral_channel not in EXTERNAL_CHANNELS:
            return False
        if d.state in (State.FULFILLED, State.REFERRED):
            return d.follow_up_count >= Rules.current().min_follow_ups
        return True
    return True


def dispute_allowed_actions(*, dispute: Dispute, user) -> list[str]:
    """The actions this user may take on this dispute now (drives the buttons and the 409 message)."""
    return [str(a) for a, rule in TRANSITIONS.items()
            if dispute.state in rule.sources and _may_act(dispute, user, a, raise_=False)
            and _possible_now(dispute, user, a)]


def _load(dispute_id: int) -> Dispute:
    from django.db import connection

    qs = Dispute.objects.select_related("grid", "mediator")
    qs = qs.select_for_update(of=("self",)) if connection.features.has_select_for_update_of else qs.select_for_update()
    d = qs.filter(pk=dispute_id).first()
    if d is None:
        raise NotFound("No such dispute.")
    return d


def _begin(dispute_id: int, action: str, by: User | None, version: int | None, *,
           reason: str = "") -> tuple[Dispute, dict]:
    """Lock the dispute and check visibility, version, state, role and reason, in that order."""
    d = _load(dispute_id)
    if by is None or not dispute_visible(dispute=d, user=by):
        raise NotFound("No such dispute.")
    if version is not None and version != d.version:
        raise Conflict(f"The dispute was changed meanwhile (version {d.version}, you had {version}); reload it.",
                       code="stale_version", details={"version": d.version})
    rule = TRANSITIONS[action]
    if d.state not in rule.sources:
        allowed = dispute_allowed_actions(dispute=d, user=by)
        raise Conflict(
            f"Cannot {Action(action).label.lower()} a dispute that is {State(d.state).label.lower()}; "
            f"allowed now: {', '.join(allowed) or 'nothing'}.",
            code="invalid_transition", details={"state": d.state, "allowed_actions": allowed})
    _may_act(d, by, action)
    if rule.reason_required and not (reason or "").strip():
        raise _invalid("reason", "required", "reason_required")
    return d, _snapshot(d)


def _finish(d: Dispute, action: str, by: User | None, before: dict, *, note: str = "",
            data: dict | None = None, at=None) -> Step:
    """Save the dispute with a new version, write the timeline step and the audit entry."""
    now = at or _now()
    d.version += 1
    d.updated_by = by if by is not None else None
    d.save()
    step = Step.objects.create(dispute=d, action=action, from_state=before["state"], to_state=d.state,
                               actor=by, actor_name=str(by) if by is not None else "", at=now, note=note,
                               data=data or {})
    audit_log(actor=by, action=f"dispute.{action}", obj=d, before=before, after=_snapshot(d) | (data or {}))
    return step


def _past_time(value, field: str, d: Dispute) -> dt.datetime:
    """A time that lies between the dispute's registration and now."""
    if value is None:
        raise _invalid(field, "required")
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise _invalid(field, "not a date and time") from exc
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value < d.registered_at - dt.timedelta(minutes=1):
        raise _invalid(field, "before the dispute was registered", "before_registration")
    if value > _now() + CLOCK_SKEW:
        raise _invalid(field, "in the future", "in_future")
    return value


# --- parties -----------------------------------------------------------------------------------------------

def _party_rows(parties: list[dict] | None, by: User) -> list[Party]:
    """Validate the parties: at least two sides, each a resident of the registry or a named person or body."""
    from gridgov.residents.models import Resident

    parties = list(parties or [])
    if len(parties) < 2:
        raise _invalid("parties", "a dispute needs at least two parties", "missing_party")
    if len(parties) > MAX_PARTIES:
        raise _invalid("parties", f"at most {MAX_PARTIES} parties")
    rows, problems = [], []
    for i, raw in enumerate(parties):
        field = f"parties[{i}]"
        if not isinstance(raw, dict):
            problems.append({"field": field, "message": "not a party"})
            continue
        kind = raw.get("kind") or PartyKind.PERSON
        role = raw.get("role") or ""
        if kind not in PartyKind.values:
            problems.append({"field": f"{field}.kind", "message": f"one of {', '.join(PartyKind.values)}"})
            continue
        if role not in PartyRole.values:
            problems.append({"field": f"{field}.role", "message": f"one of {', '.join(PartyRole.values)}"})
            continue
        resident = None
        resident_id = raw.get("resident_id") or raw.get("resident")
        if resident_id:
            resident = Resident.objects.filter(scope_q(by), pk=resident_id).first() if str(resident_id).isdigit() \
                else None
            if resident is None:
                problems.append({"field": f"{field}.resident_id", "message": "no such resident in your area"})
                continue
        name = (raw.get("name") or (resident.name if resident else "")).strip()[:100]
        if not name:
            problems.append({"field": f"{field}.name", "message": "a party needs a name or a resident"})
            continue
        phone = crypto.normalise_phone(raw.get("phone") or "")
        if raw.get("phone") and not 7 <= len(phone) <= 12:
            problems.append({"field": f"{field}.phone", "message": "not a phone number"})
            continue
        credit_code = (raw.get("credit_code") or "").strip().upper()
        if credit_code:
            from gridgov.residents.validators import IdentityError, validate_uscc

            try:
                credit_code = validate_uscc(credit_code)
            except IdentityError as exc:
                problems.append({"field": f"{field}.credit_code", "message": str(exc)})
                continue
        phone_index = crypto.blind_index(phone) if phone else (resident.phone_index if resident else "")
        if resident is not None:
            identity = f"r:{resident.pk}"
        elif credit_code:
            identity = f"o:{credit_code}"
        elif phone_index:
            identity = f"p:{phone_index}"
        else:
            identity = "n:" + re.sub(r"\s", "", name)
        rows.append(Party(kind=kind, role=role, resident=resident, name=name, phone=crypto.encrypt(phone),
                          phone_last4=phone[-4:], phone_index=phone_index, credit_code=credit_code,
                          identity=identity[:80], note=(raw.get("note") or "")[:200]))
    if problems:
        raise InvalidInput("; ".join(f"{p['field']}: {p['message']}" for p in problems), code="invalid_party",
                           details=problems)
    roles = {p.role for p in rows}
    if not roles & {PartyRole.APPLICANT, PartyRole.RESPONDENT}:
        raise _invalid("parties", "name the applicant or the respondent", "missing_party")
    return rows


def _save_parties(d: Dispute, rows: list[Party]) -> None:
    for row in rows:
        row.dispute = d
    Party.objects.bulk_create(rows)


# --- registration ------------------------------------------------------------------------------------------

def _where(by: User, *, grid: str | None, lon, lat, coord_sys: str) -> tuple[Grid, float | None, float | None]:
    if lon not in (None, "") and lat not in (None, ""):
        try:
            wlon, wlat = to_wgs84(float(lon), float(lat), coord_sys or "wgs84")
        except (TypeError, ValueError) as exc:
            raise _invalid("location", str(exc)) from exc
        hit = locate(wlon, wlat)
        if hit is None:
            raise _invalid("location", "outside every grid of this jurisdiction", "outside_jurisdiction")
        found = Grid.objects.get(pk=hit.id)
        if grid and found.code != grid:
            raise _invalid("grid", f"the location lies in grid {found.code}, not {grid}")
    elif grid:
        found = Grid.objects.filter(code=grid).first()
        if found is None:
            raise _invalid("grid", f"unknown grid {grid!r}", "unknown_grid")
        wlon = wlat = None
    else:
        raise _invalid("location", "give the grid or the location", "missing_location")
    if not in_scope(by, found.path):
        raise Forbidden("This place is outside your area.")
    return found, wlon, wlat


def _amount(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise _invalid("amount", "not a number") from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise _invalid("amount", "between 0 and 999,999,999,999")
    return amount.quantize(Decimal("0.01"))


def _people(value, parties: list[Party]) -> int:
    try:
        count = int(value) if value not in (None, "") else len(parties)
    except (TypeError, ValueError) as exc:
        raise _invalid("people_count", "not a whole number") from exc
    if count < 1 or count > 1_000_000:
        raise _invalid("people_count", "between 1 and 1,000,000")
    return max(count, len([p for p in parties if p.kind == PartyKind.PERSON]))


REGISTER_ROLES = frozenset({Role.GRID_MEMBER, Role.MEDIATOR, Role.DISPATCHER, Role.ADMIN})


def _create(*, by: User, type: str, source: str, title: str, description: str, grid: Grid, lon, lat,
            address: str, people_count, amount, grade: str, parties: list[dict], source_reference: str,
            case=None, note: str = "") -> Dispute:
    if by is None or not by.is_active or by.role not in REGISTER_ROLES:
        raise Forbidden("Grid members, mediators and dispatchers register disputes.")
    _choice(type, DisputeType, "type", "unknown_type")
    _choice(source, DisputeSource, "source", "unknown_source")
    _choice(grade, Grade, "grade", "unknown_grade")
    description = (description or "").strip()
    if not description:
        raise _invalid("description", "required")
    rows = _party_rows(parties, by)
    people = _people(people_count, rows)
    money = _amount(amount)
    rules = Rules.current()
    now = _now()
    title = (title or "").strip() or " / ".join(p.name for p in rows[:3])
    d = Dispute(
        number=f"T{now:%H%M%S%f}", type=type, source=source, source_reference=(source_reference or "")[:60],
        case=case, title=title[:100], description=description[:4000], grid=grid, path=grid.path, lon=lon, lat=lat,
        address=(address or "")[:200], address_key=address_key(address), people_count=people, amount=money,
        grade=grade, initial_grade=grade, level=_user_level(by), level_since=now, registered_at=now,
        due_at=_deadline(now, grade, rules), created_by=by, updated_by=by)
    d.save()
    d.number = f"J{timezone.localtime(now):%Y%m%d}{d.pk:05d}"
    Dispute.objects.filter(pk=d.pk).update(number=d.number)
    _save_parties(d, rows)
    action = Action.CONVERT if case is not None else Action.REGISTER
    Step.objects.create(dispute=d, action=action, from_state="", to_state=d.state, actor=by, actor_name=str(by),
                        at=now, note=note, data={"source": source, "case": case.number if case else ""})
    audit_log(actor=by, action=f"dispute.{action}", obj=d,
              after={"state": d.state, "type": type, "grade": grade, "grid": grid.code, "parties": len(rows)})
    notify(users=[u for u in _users_of_area(d, [Role.MEDIATOR], level=Level.COMMUNITY) if u.pk != by.pk],
           kind=Notification.Kind.INFO, title=f"New dispute {d.number}: {d.title}", url=_url(d), obj=d)
    if grade == Grade.SERIOUS:
        _notify_serious(d)
    return d


@transaction.atomic
def dispute_register(*, by: User, type: str, source: str, description: str, parties: list[dict],
                     grade: str = Grade.GENERAL, title: str = "", grid: str | None = None, lon=None, lat=None,
                     coord_sys: str = "wgs84", address: str = "", people_count=None, amount=None,
                     source_reference: str = "") -> Dispute:
    """登记: a grid member's screening, a party's application, the hotline or a referral from another body."""
    if source == DisputeSource.CASE:
        raise _invalid("source", "a case becomes a dispute through conversion (POST /disputes/from-case/{id})")
    if by is None or not by.is_active:
        raise Forbidden("Log in to register a dispute.")
    where, wlon, wlat = _where(by, grid=grid, lon=lon, lat=lat, coord_sys=coord_sys)
    return _create(by=by, type=type, source=source, title=title, description=description, grid=where, lon=wlon,
                   lat=wlat, address=address, people_count=people_count, amount=amount, grade=grade,
                   parties=parties, source_reference=source_reference)


@transaction.atomic
def dispute_from_case(*, case_id: int, by: User, type: str, parties: list[dict], grade: str = Grade.GENERAL,
                      people_count=None, amount=None, title: str = "", version: int | None = None,
                      note: str = "") -> Dispute:
    """A case in a dispute category goes to mediation: the case ends as "converted", the dispute keeps its
    place, description and reporter's words, and its page shows the case's history."""
    from gridgov.cases.models import Case
    from gridgov.cases.selectors import case_visible
    from gridgov.cases.services import case_convert

    case = Case.objects.select_related("grid", "category").filter(pk=case_id).first()
    if case is None or by is None or not case_visible(case=case, user=by):
        raise NotFound("No such case.")
    if Dispute.objects.filter(case=case).exists():
        raise Conflict("This case has already been converted to a dispute.", code="already_converted")
    d = _create(by=by, type=type, source=DisputeSource.CASE, title=title or case.description[:60],
                description=case.description, grid=case.grid, lon=case.lon, lat=case.lat, address=case.address,
                people_count=people_count, amount=amount, grade=grade, parties=parties,
                source_reference=case.number, case=case, note=note)
    case_convert(case_id=case.pk, by=by, dispute_number=d.number, version=version, note=note)
    return d


# --- the workflow ------------------------------------------------------------------------------------------

def _set_grade(d: Dispute, grade: str, rules: Rules) -> bool:
    """Change the grade and the deadline with it; returns whether it rose to serious."""
    old = d.grade
    d.grade = grade
    d.due_at = _deadline(d.level_since, grade, rules)
    return grade == Grade.SERIOUS and old != Grade.SERIOUS


@transaction.atomic
def dispute_assess(*, dispute_id: int, by: User, grade: str, risk_note: str, version: int | None = None) -> Dispute:
    """风险研判: confirm (or change) the grade with the reasons."""
    d, before = _begin(dispute_id, Action.ASSESS, by, version)
    _choice(grade, Grade, "grade", "unknown_grade")
    if not (risk_note or "").strip():
        raise _invalid("risk_note", "write down the assessment")
    now = _now()
    serious = _set_grade(d, grade, Rules.current())
    d.risk_note = risk_note.strip()[:4000]
    d.state = State.ASSESSED
    d.assessed_at = now
    _finish(d, Action.ASSESS, by, before, note=d.risk_note, data={"grade": grade})
    if serious:
        _notify_serious(d)
    return d


@transaction.atomic
def dispute_assign(*, dispute_id: int, by: User, mediator_id: int, committee: str = "",
                   version: int | None = None, note: str = "") -> Dispute:
    """A mediator (or the grid member, for a matter of the grid) takes the dispute on."""
    d, before = _begin(dispute_id, Action.ASSIGN, by, version)
    if d.state == State.REFERRED and d.referral_channel not in LEVEL_CHANNELS:
        raise Conflict("The dispute was referred out of mediation; record follow-ups and close it.",
                       code="invalid_transition", details={"state": d.state})
    mediator = User.objects.select_related("area").filter(pk=mediator_id, is_active=True).first() \
        if str(mediator_id).isdigit() else None
    if mediator is None or mediator.role not in (Role.MEDIATOR, Role.GRID_MEMBER):
        raise _invalid("mediator", "choose a mediator or a grid member", "unknown_mediator")
    if not in_scope(mediator, d.path):
        raise _invalid("mediator", "this mediator does not work where the dispute is", "unknown_mediator")
    level = _user_level(mediator)
    if _level_index(level) < _level_index(d.level):
        raise _invalid("mediator", f"the dispute is at the {Level(d.level).label.lower()} level; choose a "
                                   "mediator of that level or above", "level_too_low")
    now = _now()
    rules = Rules.current()
    if level != d.level:
        d.level, d.level_since, d.failed_sessions = level, now, 0
        d.due_at = _deadline(now, d.grade, rules)
    d.mediator = mediator
    d.committee = (committee or "").strip()[:100]
    d.state = State.MEDIATING
    d.mediation_started_at = d.mediation_started_at or now
    _finish(d, Action.ASSIGN, by, before, note=note, data={"mediator": str(mediator), "level": level})
    if mediator.pk != by.pk:
        notify(users=[mediator], kind=Notification.Kind.DISPATCHED,
               title=f"Dispute {d.number} assigned to you: {d.title}", url=_url(d), obj=d)
    return d


@transaction.atomic
def dispute_record_session(*, dispute_id: int, by: User, held_at, place: str, participants: str, record: str,
                           outcome: str = SessionOutcome.PROGRESS, version: int | None = None) -> Session:
    d, before = _begin(dispute_id, Action.SESSION, by, version)
    held_at = _past_time(held_at, "held_at", d)
    _choice(outcome, SessionOutcome, "outcome")
    for field, value in (("place", place), ("participants", participants), ("record", record)):
        if not (value or "").strip():
            raise _invalid(field, "required")
    session = Session.objects.create(dispute=d, held_at=held_at, place=place.strip()[:100],
                                     participants=participants.strip()[:2000], record=record.strip()[:20000],
                                     outcome=outcome, level=d.level, mediator=by)
    d.session_count += 1
    if outcome == SessionOutcome.FAILED:
        d.failed_sessions += 1
    _finish(d, Action.SESSION, by, before, note=f"{place.strip()[:100]}: {SessionOutcome(outcome).label}",
            data={"session": session.pk, "outcome": outcome, "held_at": held_at.isoformat()})
    return session


@transaction.atomic
def dispute_agree(*, dispute_id: int, by: User, facts: str, terms: list[str], fulfil_by: dt.date | None = None,
                  fulfilment: str = "", version: int | None = None) -> Agreement:
    """调解协议: the parties agree; the agreement document is generated from its template on request."""
    d, before = _begin(dispute_id, Action.AGREE, by, version)
    if d.session_count == 0:
        raise _invalid("sessions", "record the session at which the parties agreed first", "no_session")
    clean_terms = [str(t).strip()[:2000] for t in (terms or []) if str(t).strip()]
    if not clean_terms:
        raise _invalid("terms", "an agreement needs at least one term")
    if not (facts or "").strip():
        raise _invalid("facts", "required")
    if isinstance(fulfil_by, str):
        try:
            fulfil_by = dt.date.fromisoformat(fulfil_by) if fulfil_by else None
        except ValueError as exc:
            raise _invalid("fulfil_by", "not a date") from exc
    now = _now()
    if fulfil_by is not None and fulfil_by < timezone.localdate(now):
        raise _invalid("fulfil_by", "in the past")
    # a dispute mediated again after an unfulfilled agreement gets a new one in its place (the old terms stay in
    # the timeline and the audit log)
    agreement, _created = Agreement.objects.update_or_create(dispute=d, defaults={
        "number": f"{d.number}-XY{d.referral_count + d.session_count:02d}", "facts": facts.strip()[:8000],
        "terms": clean_terms[:50], "fulfil_by": fulfil_by, "fulfilment": (fulfilment or "").strip()[:200],
        "signed_at": now, "mediator": by, "committee": d.committee, "fulfilment_note": ""})
    d.fulfilled = None
    d.fulfilment_checked_at = None
    d.state = State.AGREED
    d.agreed_at = now
    d.resolution_level = d.level
    _finish(d, Action.AGREE, by, before, data={"agreement": agreement.number, "terms": clean_terms[:50]})
    return agreement


@transaction.atomic
def dispute_fail(*, dispute_id: int, by: User, reason: str, version: int | None = None) -> Dispute:
    d, before = _begin(dispute_id, Action.FAIL, by, version, reason=reason)
    d.state = State.FAILED
    d.failed_at = _now()
    _finish(d, Action.FAIL, by, before, note=reason)
    notify(users=_users_of_area(d, [Role.MEDIATOR, Role.DISPATCHER], level=d.level if d.level != Level.GRID
                                else Level.COMMUNITY),
           kind=Notification.Kind.ESCALATED, title=f"Mediation of {d.number} failed: refer it", url=_url(d), obj=d)
    return d


def _refer(d: Dispute, by: User | None, channel: str, reference: str, reason: str, action: str,
           before: dict, now: dt.datetime | None = None) -> Dispute:
    now = now or _now()
    if channel in LEVEL_CHANNELS:
        level = LEVEL_CHANNELS[Channel(channel)]
        if _level_index(level) <= _level_index(d.level):
            raise _invalid("channel", f"the dispute is already at the {Level(d.level).label.lower()} level; "
                                      "refer it up", "level_too_low")
        d.level, d.level_since, d.failed_sessions, d.mediator = level, now, 0, None
        d.due_at = _deadline(now, d.grade, Rules.current())
    elif not (reference or "").strip():
        raise _invalid("reference", "give the receiving body's reference (案号/编号)", "reference_required")
    d.state = State.REFERRED
    d.referred_at = now
    d.referral_channel = channel
    d.referral_reference = (reference or "").strip()[:60]
    d.referral_count += 1
    _finish(d, action, by, before, note=reason, data={"channel": channel, "reference": d.referral_reference}, at=now)
    if channel in LEVEL_CHANNELS:
        notify(users=_users_of_area(d, [Role.MEDIATOR, Role.DISPATCHER], level=d.level),
               kind=Notification.Kind.ESCALATED, title=f"Dispute {d.number} referred to you: {d.title}",
               url=_url(d), obj=d)
    return d


@transaction.atomic
def dispute_refer(*, dispute_id: int, by: User, channel: str, reason: str, reference: str = "",
                  version: int | None = None) -> Dispute:
    """Up a level of mediation, or out to judicial confirmation, arbitration, litigation or petitions."""
    d, before = _begin(dispute_id, Action.REFER, by, version, reason=reason)
    _choice(channel, Channel, "channel", "unknown_channel")
    return _refer(d, by, channel, reference, reason, Action.REFER, before)


@transaction.atomic
def dispute_check_fulfilment(*, dispute_id: int, by: User, fulfilled: bool, note: str = "",
                             version: int | None = None) -> Dispute:
    """履行回查: has each party done what the agreement says? If not, the dispute is open again (failed)."""
    d, before = _begin(dispute_id, Action.CHECK_FULFILMENT, by, version)
    if not fulfilled and not (note or "").strip():
        raise _invalid("note", "say what was not fulfilled", "reason_required")
    now = _now()
    d.fulfilled = bool(fulfilled)
    d.fulfilment_checked_at = now
    if fulfilled:
        d.state = State.FULFILLED
    else:
        # mediation starts again at this level: the clock and the failed sessions count from now
        d.state = State.FAILED
        d.failed_at = now
        d.resolution_level = ""
        d.level_since, d.failed_sessions = now, 0
        d.due_at = _deadline(now, d.grade, Rules.current())
    Agreement.objects.filter(dispute=d).update(fulfilment_note=(note or "").strip()[:4000])
    _finish(d, Action.CHECK_FULFILMENT, by, before, note=note, data={"fulfilled": bool(fulfilled)})
    return d


@transaction.atomic
def dispute_follow_up(*, dispute_id: int, by: User, visited_at, content: str, form: str = FollowUpForm.HOME,
                      stable: bool = True, satisfied: bool | None = None, version: int | None = None) -> FollowUp:
    """回访: is the settlement holding? An unsettled visit puts the dispute on the warnings board."""
    d, before = _begin(dispute_id, Action.FOLLOW_UP, by, version)
    if d.state == State.REFERRED and d.referral_channel not in EXTERNAL_CHANNELS:
        raise Conflict("The dispute waits for a mediator at the next level.", code="invalid_transition",
                       details={"state": d.state})
    visited_at = _past_time(visited_at, "visited_at", d)
    _choice(form, FollowUpForm, "form")
    if not (content or "").strip():
        raise _invalid("content", "required")
    visit = FollowUp.objects.create(dispute=d, visited_at=visited_at, visitor=by, form=form,
                                    content=content.strip()[:4000], stable=bool(stable), satisfied=satisfied)
    d.follow_up_count += 1
    _finish(d, Action.FOLLOW_UP, by, before, note=content.strip()[:200],
            data={"follow_up": visit.pk, "stable": bool(stable), "satisfied": satisfied})
    return visit


@transaction.atomic
def dispute_close(*, dispute_id: int, by: User, note: str = "", version: int | None = None) -> Dispute:
    d, before = _begin(dispute_id, Action.CLOSE, by, version)
    rules = Rules.current()
    if d.state in (State.REGISTERED, State.ASSESSED):
        if not (note or "").strip():
            raise _invalid("note", "say why the dispute is withdrawn", "reason_required")
        d.outcome = Outcome.WITHDRAWN
    else:
        if d.state == State.REFERRED and d.referral_channel not in EXTERNAL_CHANNELS:
            raise Conflict("The dispute waits for a mediator at the next level.", code="invalid_transition",
                           details={"state": d.state})
        if d.follow_up_count < rules.min_follow_ups:
            raise Conflict(f"Record {rules.min_follow_ups} follow-up visit(s) before closing.",
                           code="follow_up_required", details={"follow_ups": d.follow_up_count})
        last = d.follow_ups.order_by("-visited_at", "-id").first()
        if last is not None and not last.stable:
            raise Conflict("The last follow-up found the dispute unsettled; mediate again or visit once more.",
                           code="not_settled")
        if d.state == State.REFERRED and not (note or "").strip():
            raise _invalid("note", "record how the other channel concluded", "reason_required")
        d.outcome = Outcome.RESOLVED if d.state == State.FULFILLED else Outcome.EXTERNAL
    d.state = State.CLOSED
    d.closed_at = _now()
    _finish(d, Action.CLOSE, by, before, note=note, data={"outcome": d.outcome})
    return d


@transaction.atomic
def dispute_regrade(*, dispute_id: int, by: User, grade: str, reason: str, version: int | None = None) -> Dispute:
    d, before = _begin(dispute_id, Action.REGRADE, by, version, reason=reason)
    _choice(grade, Grade, "grade", "unknown_grade")
    if grade == d.grade:
        raise _invalid("grade", "the dispute already has this grade")
    serious = _set_grade(d, grade, Rules.current())
    _finish(d, Action.REGRADE, by, before, note=reason, data={"from": before["grade"], "to": grade})
    if serious:
        _notify_serious(d)
    return d


@transaction.atomic
def dispute_comment(*, dispute_id: int, by: User, note: str, version: int | None = None) -> Dispute:
    d, before = _begin(dispute_id, Action.COMMENT, by, version)
    if not (note or "").strip():
        raise _invalid("note", "required")
    _finish(d, Action.COMMENT, by, before, note=note.strip()[:4000])
    return d


# --- the time rules (periodic job) ---------------------------------------------------------------------------

def _unresolved_q() -> Q:
    """Not yet resolved: being dealt with, or waiting for the next level's mediators."""
    return Q(state__in=UNRESOLVED_STATES) | Q(state=State.REFERRED, referral_channel__in=list(LEVEL_CHANNELS))


def is_unresolved(d: Dispute) -> bool:
    return d.state in UNRESOLVED_STATES or (d.state == State.REFERRED and d.referral_channel in LEVEL_CHANNELS)


def _next_channel(level: str) -> str | None:
    i = _level_index(level)
    if i + 1 >= len(LEVEL_ORDER):
        return None
    return {Level.COMMUNITY: Channel.COMMUNITY, Level.STREET: Channel.STREET,
            Level.DISTRICT: Channel.DISTRICT}[LEVEL_ORDER[i + 1]]


def disputes_apply_time_rules(*, now: dt.datetime | None = None) -> dict:
    """Apply the configurable rules (Rules), idempotently:

    - a general dispute still unresolved `escalate_general_after_days` working days after registration
      becomes major (once);
    - an unresolved dispute with `refer_after_failed_sessions` failed sessions at its level, or
      `refer_after_days` working days at its level, is referred up a level (until the district);
    - an unresolved dispute past its mediation deadline is marked overdue and its mediator told (once).
    """
    now = now or _now()
    rules = Rules.current()
    result = {"escalated": 0, "referred": 0, "overdue": 0}
    unresolved = _unresolved_q()
    # Working days are never fewer than calendar days, so a calendar cut-off finds every candidate.
    cutoff = now - dt.timedelta(days=rules.escalate_general_after_days)
    for pk in Dispute.objects.filter(unresolved, grade=Grade.GENERAL, auto_escalated=False,
                                     registered_at__lte=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            d = _load(pk)
            if (d.grade != Grade.GENERAL or d.auto_escalated or not is_unresolved(d)
                    or add_working_time(d.registered_at, rules.escalate_general_after_days, "days") > now):
                continue
            before = _snapshot(d)
            _set_grade(d, Grade.MAJOR, rules)
            d.auto_escalated = True
            _finish(d, Action.AUTO_ESCALATE, None, before, data={"from": Grade.GENERAL, "to": Grade.MAJOR},
                    note=f"Unresolved after {rules.escalate_general_after_days} working days.", at=now)
            notify(users=([d.mediator] if d.mediator_id else [])
                   + _users_of_area(d, [Role.DISPATCHER], level=Level.COMMUNITY),
                   kind=Notification.Kind.ESCALATED, title=f"Dispute {d.number} raised to major", url=_url(d), obj=d)
            result["escalated"] += 1
    day_cutoff = now - dt.timedelta(days=rules.refer_after_days)
    candidates = Dispute.objects.filter(unresolved).exclude(level=Level.DISTRICT).filter(
        Q(failed_sessions__gte=rules.refer_after_failed_sessions) | Q(level_since__lte=day_cutoff))
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            d = _load(pk)
            channel = _next_channel(d.level)
            if not is_unresolved(d) or channel is None:
                continue
            too_many = d.failed_sessions >= rules.refer_after_failed_sessions
            too_long = add_working_time(d.level_since, rules.refer_after_days, "days") <= now
            if not (too_many or too_long):
                continue
            why = (f"{d.failed_sessions} failed sessions" if too_many
                   else f"unresolved after {rules.refer_after_days} working days")
            _refer(d, None, channel, "", f"Referred up by the time rule: {why}.", Action.AUTO_REFER, _snapshot(d),
                   now=now)
            result["referred"] += 1
    for pk in Dispute.objects.filter(unresolved, overdue=False, due_at__lt=now).values_list("pk", flat=True):
        with transaction.atomic():
            d = _load(pk)
            if d.overdue or d.due_at is None or d.due_at >= now:
                continue
            Dispute.objects.filter(pk=pk).update(overdue=True)
            notify(users=([d.mediator] if d.mediator_id else [])
                   + _users_of_area(d, [Role.MEDIATOR], level=d.level if d.level != Level.GRID else Level.COMMUNITY),
                   kind=Notification.Kind.OVERDUE, title=f"Dispute {d.number} is past its mediation deadline",
                   url=_url(d), obj=d)
            result["overdue"] += 1
    return result


def grade_rank(grade: str) -> int:
    return GRADE_ORDER.index(Grade(grade))
