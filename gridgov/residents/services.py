"""Writes on the resident registry. Each is atomic, checks scope, validates identifiers, encrypts personal
data, keeps the change history (django-simple-history, with the acting user) and writes an audit entry.

    resident_save(...)        create or update one resident (upsert by ID number when `upsert=True`)
    resident_unmask(...)      the plain ID number / phone for a user allowed to see it — audited
    resident_confirm(...)     "still correct" (clears staleness)
    resident_merge(...)       fold a suspected duplicate into the record kept
    resident_tag_set(...)     key-population tag with its grade; visit_record(...)
    house_save / household_save / unit_save
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from gridgov.cases.photos import process_photo
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridgov.core.scope import in_scope
from gridgov.geo.models import Address, Grid

from .choices import PersonStatus, Presence, ResidenceType
from .models import House, Household, KeyTag, Resident, ResidentTag, Unit, Visit, VisitPhoto
from .validators import IdentityError, ethnicity_code, parse_citizen_id, valid_mobile, validate_uscc

UNMASK_PERMISSION = "residents.unmask_personal"
SENSITIVE_PERMISSION = "residents.view_sensitive_tags"
EDITABLE = ["name", "ethnicity", "registered_address", "presence", "residence_type", "occupation",
            "political_status", "status", "relation"]


def _bad(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


def _grid_in_scope(grid: Grid, by) -> None:
    if not in_scope(by, grid.path):
        raise NotFound("No such grid in your area.")


def completeness(resident: Resident) -> int:
    """Share of the required facts present: name, valid ID, ethnicity, valid mobile, actual address
    (a house at a standard address), registered residence, household."""
    checks = [bool(resident.name), bool(resident.id_index), bool(resident.ethnicity),
              bool(resident.phone_index) and resident.phone_last4 != "", bool(resident.house_id),
              bool(resident.registered_address), bool(resident.household_id)]
    return round(100 * sum(checks) / len(checks))


def _identity(resident: Resident, id_number: str | None, phone: str | None, *, today: dt.date) -> None:
    if id_number is not None:
        if id_number.strip():
            try:
                parsed = parse_citizen_id(id_number, today=today)
            except IdentityError as exc:
                raise _bad("id_number", str(exc)) from exc
            resident.id_number = crypto.encrypt(parsed.number)
            resident.id_index = crypto.blind_index(parsed.number)
            resident.id_last4 = parsed.number[-4:]
            resident.id_region = parsed.region
            resident.birth_date = parsed.birth_date
            resident.gender = parsed.gender
        else:
            resident.id_number = resident.id_index = resident.id_last4 = resident.id_region = ""
    if phone is not None:
        digits = crypto.normalise_phone(phone)
        if digits and not valid_mobile(digits) and not (7 <= len(digits) <= 12):
            raise _bad("phone", "not a phone number")
        resident.phone = crypto.encrypt(digits)
        resident.phone_index = crypto.blind_index(digits)
        resident.phone_last4 = digits[-4:] if digits else ""


def resident_save(*, by, grid: Grid, data: dict[str, Any], resident: Resident | None = None,
                  upsert: bool = False, today: dt.date | None = None) -> tuple[Resident, bool]:
    """Create or update a resident. `data` holds EDITABLE fields plus optional `id_number`, `phone`, `house`,
    `household`. With `upsert`, an existing resident with the same ID number is updated instead of refused.
    Returns (resident, created)."""
    today = today or timezone.localdate()
    _grid_in_scope(grid, by)
    with transaction.atomic():
        created = resident is None
        if resident is None and upsert and data.get("id_number"):
            try:
                number = parse_citizen_id(data["id_number"], today=today).number
            except IdentityError as exc:
                raise _bad("id_number", str(exc)) from exc
            resident = Resident.objects.select_for_update().filter(id_index=crypto.blind_index(number)).first()
            if resident is not None:
                created = False
                if not in_scope(by, resident.path):
                    raise Conflict("A resident with this ID number is registered in another area.",
                                   code="duplicate_id", details=[{"field": "id_number"}])
        resident = resident or Resident(created_by=by, grid=grid, path=grid.path)
        before = None if created else resident_snapshot(resident)
        name = (data.get("name") if "name" in data else resident.name) or ""
        if not name.strip():
            raise _bad("name", "required")
        for field in EDITABLE:
            if field in data and data[field] is not None:
                setattr(resident, field, data[field].strip() if isinstance(data[field], str) else data[field])
        if data.get("ethnicity"):
            try:
                resident.ethnicity = ethnicity_code(data["ethnicity"])
            except IdentityError as exc:
                raise _bad("ethnicity", str(exc)) from exc
        _check_choice(resident, "presence", Presence)
        _check_choice(resident, "residence_type", ResidenceType)
        _check_choice(resident, "status", PersonStatus)
        _identity(resident, data.get("id_number"), data.get("phone"), today=today)
        if "house" in data:
            resident.house = data["house"]
        if "household" in data:
            resident.household = data["household"]
        resident.grid, resident.path = grid, grid.path
        resident.updated_by = by
        resident.confirmed_at = timezone.now()
        resident.completeness = completeness(resident)
        resident._history_user = by
        if resident.id_index:
            clash = Resident.objects.filter(id_index=resident.id_index).exclude(pk=resident.pk).exists()
            if clash:
                raise Conflict("A resident with this ID number is already registered.", code="duplicate_id",
                               details=[{"field": "id_number", "message": "duplicate"}])
        try:
            with transaction.atomic():
                resident.save()
        except IntegrityError as exc:  # a concurrent insert of the same ID number
            raise Conflict("A resident with this ID number is already registered.", code="duplicate_id",
                           details=[{"field": "id_number", "message": "duplicate"}]) from exc
        audit_log(actor=by, action="resident.create" if created else "resident.update", obj=resident,
                  before=before, after=resident_snapshot(resident))
    return resident, created


def _check_choice(resident: Resident, field: str, choices) -> None:
    if getattr(resident, field) not in choices.values:
        raise _bad(field, f"must be one of {', '.join(choices.values)}")


def resident_snapshot(resident: Resident) -> dict:
    """What the audit log keeps of a change: facts, never the plaintext identifiers."""
    return {"name": resident.name, "grid": resident.grid_id, "status": resident.status,
            "id": crypto.mask_id(region=resident.id_region, last4=resident.id_last4),
            "phone_last4": resident.phone_last4, "house": resident.house_id, "household": resident.household_id,
            "presence": resident.presence, "residence_type": resident.residence_type}


def may_unmask(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_admin_role or user.has_perm(UNMASK_PERMISSION)))


def may_see_sensitive(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_admin_role or user.has_perm(SENSITIVE_PERMISSION)))


def resident_unmask(*, resident: Resident, field: str, by) -> str:
    """The plain ID number or phone, for a user with the permission; every unmasking is audited."""
    if field not in ("id_number", "phone"):
        raise _bad("field", "id_number or phone")
    if not may_unmask(by):
        raise Forbidden("You may not see full ID numbers and phone numbers.")
    if not in_scope(by, resident.path):
        raise NotFound("No such resident.")
    with transaction.atomic():
        audit_log(actor=by, action="resident.unmask", obj=resident, after={"field": field})
    return crypto.decrypt(getattr(resident, field))


@transaction.atomic
def resident_confirm(*, resident: Resident, by) -> Resident:
    if not in_scope(by, resident.path):
        raise NotFound("No such resident.")
    resident.confirmed_at = timezone.now()
    resident._history_user = by
    resident.save(update_fields=["confirmed_at", "updated_at"])
    audit_log(actor=by, action="resident.confirm", obj=resident)
    return resident


@transaction.atomic
def resident_merge(*, keep: Resident, duplicate: Resident, by) -> Resident:
    """Fold a suspected duplicate into the record kept: blanks filled, tags and visits moved, the duplicate
    marked moved out (kept for history, never deleted)."""
    if keep.pk == duplicate.pk:
        raise _bad("duplicate", "choose two different records")
    for r in (keep, duplicate):
        if not in_scope(by, r.path):
            raise NotFound("No such resident.")
    if keep.id_index and duplicate.id_index and keep.id_index != duplicate.id_index:
        raise Conflict("The two records have different ID numbers: they are different people.",
                       code="different_people")
    before = {"keep": resident_snapshot(keep), "duplicate": resident_snapshot(duplicate)}
    for field in ["id_number", "id_index", "id_last4", "id_region", "gender", "birth_date", "ethnicity", "phone",
                  "phone_index", "phone_last4", "registered_address", "house_id", "household_id", "relation",
                  "occupation"]:
        if not getattr(keep, field) and getattr(duplicate, field):
            setattr(keep, field, getattr(duplicate, field))
    id_moved = bool(duplicate.id_index and keep.id_index == duplicate.id_index)
    duplicate.status = PersonStatus.MOVED_OUT
    duplicate.id_number = duplicate.id_index = ""
    duplicate._history_user = by
    duplicate.save()
    for tag in duplicate.tags.all():
        if not keep.tags.filter(tag_id=tag.tag_id).exists():
            tag.resident = keep
            tag.save(update_fields=["resident"])
    duplicate.visits.update(resident=keep)
    keep.completeness = completeness(keep)
    keep.confirmed_at = timezone.now()
    keep._history_user = by
    keep.save()
    audit_log(actor=by, action="resident.merge", obj=keep, before=before,
              after={"kept": keep.pk, "merged": duplicate.pk, "id_moved": id_moved})
    return keep


@transaction.atomic
def resident_tag_set(*, resident: Resident, tag: KeyTag, by, grade: int = 2, note: str = "",
                     active: bool = True, since: dt.date | None = None) -> ResidentTag:
    if not in_scope(by, resident.path):
        raise NotFound("No such resident.")
    if tag.sensitive and not may_see_sensitive(by):
        raise Forbidden("You may not manage this key-population tag.")
    if grade not in (1, 2, 3):
        raise _bad("grade", "1, 2 or 3")
    record, created = ResidentTag.objects.get_or_create(
        resident=resident, tag=tag, defaults={"grade": grade, "note": note, "active": active, "since": since,
                                              "created_by": by})
    if not created:
        record.grade, record.note, record.active = grade, note, active
        record.since = since or record.since
        record.updated_by = by
    record._history_user = by
    record.save()
    audit_log(actor=by, action="resident.tag", obj=resident,
              after={"tag": tag.code, "grade": grade, "active": active})
    return record


@transaction.atomic
def visit_record(*, resident: Resident, by, content: str, visited_at: dt.datetime | None = None,
                 tag: KeyTag | None = None, form: str = "home", purpose: str = "", seen: bool = True,
                 condition: str = "", measures: str = "", photos: list | None = None) -> Visit:
    if not in_scope(by, resident.path):
        raise NotFound("No such resident.")
    if tag is not None and tag.sensitive and not may_see_sensitive(by):
        raise Forbidden("You may not record visits for this key-population tag.")
    if not (content or "").strip():
        raise _bad("content", "describe the visit")
    visited_at = visited_at or timezone.now()
    if visited_at > timezone.now() + dt.timedelta(minutes=5):
        raise _bad("visited_at", "a visit cannot be in the future")
    processed = [process_photo(f) for f in (photos or [])]  # 422 for anything but a real image
    visit = Visit.objects.create(resident=resident, tag=tag, visitor=by, visited_at=visited_at, form=form,
                                 purpose=purpose, content=content, seen=seen, condition=condition,
                                 measures=measures, path=resident.path, created_by=by)
    for photo in processed:
        row = VisitPhoto(visit=visit, content_type=photo.content_type, size=photo.size, width=photo.width,
                         height=photo.height, sha256=photo.sha256, photo_lon=photo.lon, photo_lat=photo.lat,
                         taken_at=photo.taken_at)
        row.file.save(photo.content.name, photo.content, save=True)
    audit_log(actor=by, action="resident.visit", obj=resident,
              after={"visit": visit.pk, "tag": tag.code if tag else None, "form": form, "seen": seen,
                     "photos": len(processed)})
    return visit


@transaction.atomic
def house_save(*, by, address: Address, data: dict[str, Any], house: House | None = None) -> House:
    _grid_in_scope(address.grid, by)
    created = house is None
    house = house or House(address=address, created_by=by)
    for field in ["use", "floor_area", "owner_name", "rented"]:
        if field in data:
            setattr(house, field, data[field])
    if "owner_phone" in data:
        house.owner_phone = crypto.encrypt(crypto.normalise_phone(data["owner_phone"] or ""))
    house.grid, house.path = address.grid, address.grid.path
    house.updated_by = by
    house.confirmed_at = timezone.now()
    house._history_user = by
    house.save()
    audit_log(actor=by, action="house.create" if created else "house.update", obj=house,
              after={"use": house.use, "rented": house.rented})
    return house


@transaction.atomic
def household_save(*, by, grid: Grid, number: str, house: House | None = None,
                   household: Household | None = None) -> Household:
    _grid_in_scope(grid, by)
    number = (number or "").strip()
    if not number:
        raise _bad("number", "required")
    if Household.objects.filter(number=number).exclude(pk=getattr(household, "pk", None)).exists():
        raise Conflict("This household number is already registered.", code="duplicate_household",
                       details=[{"field": "number"}])
    created = household is None
    household = household or Household(created_by=by)
    household.number, household.house, household.grid, household.path = number, house, grid, grid.path
    household.updated_by = by
    household._history_user = by
    household.save()
    audit_log(actor=by, action="household.create" if created else "household.update", obj=household,
              after={"number": number, "house": getattr(house, "pk", None)})
    return household


@transaction.atomic
def unit_save(*, by, grid: Grid, data: dict[str, Any], unit: Unit | None = None) -> Unit:
    _grid_in_scope(grid, by)
    created = unit is None
    unit = unit or Unit(created_by=by)
    name = (data.get("name", unit.name) or "").strip()
    if not name:
        raise _bad("name", "required")
    unit.name = name
    if data.get("credit_code"):
        try:
            unit.credit_code = validate_uscc(data["credit_code"])
        except IdentityError as exc:
            raise _bad("credit_code", str(exc)) from exc
        if Unit.objects.filter(credit_code=unit.credit_code).exclude(pk=unit.pk).exists():
            raise Conflict("A unit with this credit code is already registered.", code="duplicate_credit_code",
                           details=[{"field": "credit_code"}])
    for field in ["kind", "contact_name", "address"]:
        if field in data:
            setattr(unit, field, data[field])
    if "contact_phone" in data:
        digits = crypto.normalise_phone(data["contact_phone"] or "")
        unit.contact_phone = crypto.encrypt(digits)
        unit.contact_phone_last4 = digits[-4:] if digits else ""
    unit.grid, unit.path = grid, grid.path
    unit.updated_by = by
    unit.confirmed_at = timezone.now()
    unit._history_user = by
    unit.save()
    audit_log(actor=by, action="unit.create" if created else "unit.update", obj=unit,
              after={"name": unit.name, "credit_code": unit.credit_code})
    return unit
