"""Reads on the registry, scoped to the acting user; identifiers stay masked here (see services.resident_unmask).

Search: an 18-character ID number or a phone number is looked up exactly through its blind index; anything
else matches names.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Avg, Count, Max, Q, QuerySet
from django.utils import timezone

from gridgov.core import crypto
from gridgov.core.errors import NotFound
from gridgov.core.scope import scope_q

from .choices import FREQUENCY_DAYS, PersonStatus
from .models import House, Household, KeyTag, Resident, ResidentTag, Unit, Visit
from .services import may_see_sensitive
from .validators import IdentityError, parse_citizen_id

STALE_AFTER = dt.timedelta(days=365)
# What a search result row shows — the people page's rows, the API's ResidentOut, a dispute party's label — and
# what scope checks read: the exact-ID search loads only these (tested against the number of queries).
RESULT_ROW_FIELDS = ("name", "status", "relation", "gender", "birth_date", "id_region", "id_last4", "phone_last4",
                     "completeness", "confirmed_at", "path", "grid_id", "house_id", "household_id", "grid__code",
                     "grid__name", "grid__path", "house__address__full_text")


def resident_list(*, user, q: str = "", grid: str = "", status: str | None = PersonStatus.ACTIVE,
                  tag: str = "") -> QuerySet[Resident]:
    conditions = {"status": status} if status else {}
    if grid:
        conditions["grid__code"] = grid
    if tag:
        # in one filter() call, so all conditions hold for the same tag row (a second call would join again and
        # reveal a sensitive tag through any other tag of the person)
        conditions.update({"tags__tag__code": tag, "tags__active": True})
        if not may_see_sensitive(user):
            conditions["tags__tag__sensitive"] = False
    q = (q or "").strip()
    compact = re.sub(r"[\s-]", "", q).upper()
    if q and re.fullmatch(r"\d{17}[\dX]", compact):
        try:
            number = parse_citizen_id(compact).number
        except IdentityError:
            return Resident.objects.none()
        # at most one resident holds an ID number (unique index): no ORDER BY, no household join, and only the
        # columns a result row shows — compiling the list's 88 columns and its ordering was most of the lookup
        return (Resident.objects.filter(scope_q(user), id_index=crypto.blind_index(number), **conditions)
                .select_related("grid", "house__address").only(*RESULT_ROW_FIELDS).order_by())
    qs = Resident.objects.filter(scope_q(user), **conditions).select_related("grid", "house__address", "household")
    if not q:
        return qs
    if re.fullmatch(r"(\+?86)?1\d{10}", compact) or re.fullmatch(r"\d{7,12}", compact):
        return qs.filter(phone_index=crypto.blind_index(crypto.normalise_phone(compact)))
    return qs.filter(name__icontains=q)


def resident_get(*, user, pk: int) -> Resident:
    resident = (Resident.objects.filter(scope_q(user), pk=pk)
                .select_related("grid__community", "house__address", "household").first())
    if resident is None:
        raise NotFound("No such resident.")
    return resident


def resident_tags(*, user, resident: Resident) -> list[ResidentTag]:
    tags = resident.tags.filter(active=True).select_related("tag")
    if not may_see_sensitive(user):
        tags = tags.filter(tag__sensitive=False)
    return list(tags)


def masked_id(resident: Resident) -> str:
    return crypto.mask_id(region=resident.id_region, last4=resident.id_last4)


def masked_phone(resident: Resident) -> str:
    return f"{'*' * 7}{resident.phone_last4}" if resident.phone_last4 else ""


def visible_tags(*, user) -> QuerySet[KeyTag]:
    return KeyTag.objects.all() if may_see_sensitive(user) else KeyTag.objects.filter(sensitive=False)


@dataclass
class VisitDue:
    record: ResidentTag
    last_visit: dt.datetime | None
    due: dt.datetime
    frequency: str

    @property
    def overdue(self) -> bool:
        return self.due < timezone.now()


def visits_due(*, user, within_days: int = 7) -> list[VisitDue]:
    """Key-population residents whose next visit is due within `within_days`, overdue ones first."""
    records = (ResidentTag.objects.filter(active=True, resident__status=PersonStatus.ACTIVE)
               .filter(scope_q(user, "resident__path")).select_related("tag", "resident__grid"))
    if not may_see_sensitive(user):
        records = records.filter(tag__sensitive=False)
    records = list(records)
    last = dict(Visit.objects.filter(resident_id__in=[r.resident_id for r in records])
                .values("resident_id").annotate(last=Max("visited_at")).values_list("resident_id", "last"))
    horizon = timezone.now() + dt.timedelta(days=within_days)
    due = []
    for record in records:
        frequency = record.tag.visit_policy.get(str(record.grade), record.tag.default_frequency)
        previous = last.get(record.resident_id)
        start = previous or timezone.make_aware(dt.datetime.combine(record.since or record.created_at.date(),
                                                                    dt.time(9)))
        next_due = start + dt.timedelta(days=FREQUENCY_DAYS.get(frequency, 30))
        if next_due <= horizon:
            due.append(VisitDue(record=record, last_visit=previous, due=next_due, frequency=frequency))
    return sorted(due, key=lambda d: d.due)


def suspected_duplicates(*, user, limit: int = 200) -> list[tuple[Resident, Resident]]:
    """Same name and birth date at the same house: likely the same person entered twice."""
    groups = (Resident.objects.filter(scope_q(user), status=PersonStatus.ACTIVE, birth_date__isnull=False)
              .values("name", "birth_date", "house_id").annotate(n=Count("id")).filter(n__gt=1)[:limit])
    pairs = []
    for g in groups:
        rows = list(Resident.objects.filter(scope_q(user), status=PersonStatus.ACTIVE, name=g["name"],
                                            birth_date=g["birth_date"], house_id=g["house_id"]).order_by("id"))
        pairs += [(rows[0], other) for other in rows[1:]]
    return pairs


@dataclass
class GridQuality:
    residents: int
    average_completeness: int
    incomplete: list[Resident]
    stale: list[Resident]
    no_house: int
    bad_phone: int
    duplicates: list[tuple[Resident, Resident]]


def grid_quality(*, user, grid_code: str, limit: int = 50) -> GridQuality:
    qs = resident_list(user=user, grid=grid_code)
    total = qs.count()
    avg = qs.aggregate(a=Avg("completeness"))["a"] or 0
    stale_before = timezone.now() - STALE_AFTER
    return GridQuality(
        residents=total,
        average_completeness=round(avg),
        incomplete=list(qs.filter(completeness__lt=100).order_by("completeness", "name")[:limit]),
        stale=list(qs.filter(Q(confirmed_at__lt=stale_before) | Q(confirmed_at__isnull=True))[:limit]),
        no_house=qs.filter(house__isnull=True).count(),
        bad_phone=qs.filter(phone_index="").count(),
        duplicates=[p for p in suspected_duplicates(user=user) if p[0].grid.code == grid_code],
    )


def house_list(*, user, grid: str = "") -> QuerySet[House]:
    qs = House.objects.filter(scope_q(user)).select_related("address", "grid")
    return qs.filter(grid__code=grid) if grid else qs


def household_get(*, user, pk: int) -> Household:
    household = Household.objects.filter(scope_q(user), pk=pk).select_related("house__address", "grid").first()
    if household is None:
        raise NotFound("No such household.")
    return household


def unit_list(*, user, grid: str = "") -> QuerySet[Unit]:
    qs = Unit.objects.filter(scope_q(user)).select_related("address", "grid")
    return qs.filter(grid__code=grid) if grid else qs


def address_list(*, user, grid: str = "", q: str = "") -> QuerySet:
    """Standard addresses in scope (by grid, or containing `q`)."""
    from gridgov.geo.models import Address

    qs = Address.objects.filter(scope_q(user)).select_related("grid", "community").order_by("full_text")
    if grid:
        qs = qs.filter(grid__code=grid)
    if q:
        qs = qs.filter(full_text__icontains=q.strip())
    return qs


# --- visits and their photos, a grid's buildings, import jobs (the web UI's and the API's reads) -----------------

def resident_visits(*, user, resident: Resident) -> QuerySet[Visit]:
    """A resident's visits, newest first, with their photos; a visit under a sensitive tag only for users who
    may see such tags (it would reveal the tag)."""
    visits = resident.visits.select_related("tag", "visitor").prefetch_related("photos")
    if not may_see_sensitive(user):
        visits = visits.exclude(tag__sensitive=True)
    return visits


def visit_photo_get(*, user, pk: int):
    """A visit photo for a user who may see the resident visited (and the visit's tag, when sensitive);
    NotFound otherwise, as if it did not exist."""
    from .models import VisitPhoto

    photo = VisitPhoto.objects.select_related("visit__resident", "visit__tag").filter(pk=pk).first()
    if photo is None or not Resident.objects.filter(scope_q(user), pk=photo.visit.resident_id).exists():
        raise NotFound("No such photo.")
    if photo.visit.tag_id and photo.visit.tag.sensitive and not may_see_sensitive(user):
        raise NotFound("No such photo.")
    return photo


def grid_buildings(*, user, grid_code: str) -> QuerySet:
    """The buildings of a grid in the user's scope, each with its number of houses (`n_houses`)."""
    from gridgov.geo.models import Building

    return (Building.objects.filter(scope_q(user), grid__code=grid_code)
            .annotate(n_houses=Count("addresses__house")).order_by("code"))


def import_job_list(*, user) -> QuerySet:
    """The user's own resident imports (every import for an administrator), newest first."""
    from .models import ImportJob

    qs = ImportJob.objects.all()
    return qs if user.is_admin_role else qs.filter(created_by=user)


def import_job_get(*, user, pk: int):
    job = import_job_list(user=user).filter(pk=pk).first()
    if job is None:
        raise NotFound("No such import.")
    return job
