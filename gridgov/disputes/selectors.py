"""Reads on disputes, scoped to the acting user:

- mediators, dispatchers, leaders, party secretaries: disputes under their area;
- grid members: disputes in their grids, the ones they registered and the ones they mediate;
- mediators besides: the disputes assigned to them;
- handlers and residents: none; admins: everything.

Also the early warnings (`dispute_warnings`), the measures (`dispute_measures`) and the map layer.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.choices import Role
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import ALL, ancestor_paths, scope_paths, scope_q
from gridgov.core.workcalendar import add_working_time
from gridgov.geo.choices import AreaLevel
from gridgov.geo.models import Area

from .choices import (
    EXTERNAL_CHANNELS,
    FOUND_SOURCES,
    GRADE_ORDER,
    LEVEL_CHANNELS,
    LEVEL_ORDER,
    OPEN_STATES,
    Grade,
    Level,
    Outcome,
    State,
)
from .filters import DisputeFilter
from .models import Dispute, Party, Rules

SCOPED_ROLES = frozenset({Role.MEDIATOR, Role.DISPATCHER, Role.LEADER, Role.PARTY_SECRETARY, Role.GRID_MEMBER})
NEAR_M = 30  # two disputes this close are "at the same address"
MAX_RANGE_DAYS = 3660


def _now() -> dt.datetime:
    return timezone.now()


def dispute_scope_q(user) -> Q:
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if scope_paths(user) is ALL:
        return Q()
    if user.role not in SCOPED_ROLES:
        return Q(pk__in=[])
    q = scope_q(user, "path")
    if user.role in (Role.GRID_MEMBER, Role.MEDIATOR):
        q |= Q(mediator=user)
    if user.role == Role.GRID_MEMBER:
        q |= Q(created_by=user)
    return q


def may_see_disputes(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and (scope_paths(user) is ALL or user.role in SCOPED_ROLES))


def _scoped(user) -> QuerySet[Dispute]:
    return Dispute.objects.filter(dispute_scope_q(user))


def dispute_list(*, user, filters: dict | None = None) -> QuerySet[Dispute]:
    qs = _scoped(user).select_related("grid", "mediator")
    fs = DisputeFilter(data=filters or {}, queryset=qs)
    if not fs.is_valid():
        details = [{"field": f, "message": " ".join(str(m) for m in msgs)} for f, msgs in fs.errors.items()]
        raise InvalidInput("; ".join(f"{d['field']}: {d['message']}" for d in details), code="invalid_filter",
                           details=details)
    return fs.qs


def dispute_get(*, user, pk: int) -> Dispute:
    d = (_scoped(user).select_related("grid", "grid__community", "mediator", "case", "case__category")
         .prefetch_related("parties__resident", "sessions__mediator", "follow_ups__visitor")
         .filter(pk=pk).first())
    if d is None:
        raise NotFound("No such dispute.")
    return d


def dispute_queue(*, user) -> dict[str, list[Dispute]]:
    """The mediator's queue: mine, waiting for a mediator at my level, and to follow up."""
    qs = _scoped(user).select_related("grid", "mediator").exclude(state=State.CLOSED)
    mine = list(qs.filter(mediator=user).order_by("due_at"))
    waiting = list(qs.filter(Q(state__in=[State.REGISTERED, State.ASSESSED, State.FAILED])
                             | Q(state=State.REFERRED, referral_channel__in=list(LEVEL_CHANNELS)))
                   .exclude(mediator=user).order_by("due_at"))
    follow = list(qs.filter(Q(state__in=[State.AGREED, State.FULFILLED])
                            | Q(state=State.REFERRED, referral_channel__in=list(EXTERNAL_CHANNELS)))
                  .order_by("agreed_at"))
    return {"mine": mine, "waiting": waiting, "follow_up": follow}


def dispute_timeline(*, dispute: Dispute) -> list:
    return list(dispute.steps.select_related("actor").all())


def case_history(*, dispute: Dispute) -> list:
    """The history of the case a dispute was converted from (it stays with the case)."""
    if dispute.case_id is None:
        return []
    return list(dispute.case.steps.select_related("actor", "department").all())


def disputes_for_resident(*, user, resident) -> list[Dispute]:
    """The disputes a resident is a party to, as far as this user may see disputes."""
    if not may_see_disputes(user):
        return []
    return list(_scoped(user).filter(parties__resident=resident).distinct().select_related("grid")
                .order_by("-registered_at"))


# --- early warnings -----------------------------------------------------------------------------------------

@dataclass
class Warning:
    dispute: Dispute
    rule: str
    reason: str
    act_by: list[str] = field(default_factory=list)


WARNING_RULES = {
    "repeated_parties": "Repeated dispute between the same parties",
    "repeated_address": "Repeated dispute at the same address",
    "many_people": "Many people involved",
    "rising_grade": "Rising risk grade",
    "key_population": "A party is in a key population",
    "due": "Mediation deadline near or passed",
    "unsettled": "A follow-up found it unsettled",
}


def _metres(lon1, lat1, lon2, lat2) -> float:
    x = (lon2 - lon1) * 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    y = (lat2 - lat1) * 110_540.0
    return math.hypot(x, y)


class _Actors:
    """Who should act: names of users (and of the areas whose mediators or leaders should), cached per area."""

    def __init__(self):
        self.areas: dict[str, Area] = {}

    def area_at(self, d: Dispute, level: str) -> Area | None:
        paths = ancestor_paths(d.path)
        missing = [p for p in paths if p not in self.areas]
        if missing:
            for area in Area.objects.filter(path__in=missing):
                self.areas[area.path] = area
        wanted = "community" if level == Level.GRID else level
        return next((self.areas[p] for p in paths if p in self.areas and self.areas[p].level == wanted), None)

    def mediators(self, d: Dispute) -> str:
        if d.mediator_id:
            return _("mediator %(name)s") % {"name": d.mediator}
        area = self.area_at(d, d.level)
        return _("mediators of %(area)s") % {"area": area.name if area else d.get_level_display()}

    def leaders(self, d: Dispute) -> str:
        area = self.area_at(d, Level.COMMUNITY)
        return _("leaders of %(area)s") % {"area": area.name if area else "—"}

    def grid(self, d: Dispute) -> str:
        return _("grid members of %(grid)s") % {"grid": d.grid.name}


def dispute_warnings(*, user, now: dt.datetime | None = None, dispute_ids: list[int] | None = None) -> list[Warning]:
    """Each open dispute in scope that matches an early-warning rule, once per rule, with its reason and who
    should act. Repeats are found across the whole jurisdiction (numbers outside the user's scope are counted,
    not named)."""
    from gridgov.residents.models import ResidentTag
    from gridgov.residents.services import may_see_sensitive

    now = now or _now()
    rules = Rules.current()
    qs = (_scoped(user).filter(state__in=OPEN_STATES).select_related("grid", "mediator")
          .prefetch_related("parties", "follow_ups"))
    if dispute_ids is not None:
        qs = qs.filter(pk__in=dispute_ids)
    disputes = list(qs)
    if not disputes:
        return []
    window = dt.timedelta(days=rules.repeat_window_days)
    since = min(d.registered_at for d in disputes) - window
    visible = set(_scoped(user).filter(registered_at__gte=since).values_list("pk", flat=True))
    actors = _Actors()
    warnings: list[Warning] = []

    # who is who, across disputes: identity and phone index of each party of the disputes in the window
    identities = {p.identity for d in disputes for p in d.parties.all()}
    phones = {p.phone_index for d in disputes for p in d.parties.all() if p.phone_index}
    related = defaultdict(set)  # other dispute id -> keys it shares
    other_at: dict[int, tuple[dt.datetime, str]] = {}
    for row in (Party.objects.filter(Q(identity__in=identities) | Q(phone_index__in=phones),
                                     dispute__registered_at__gte=since)
                .values("dispute_id", "identity", "phone_index", "dispute__registered_at", "dispute__number")):
        related[row["dispute_id"]].add(row["identity"])
        if row["phone_index"]:
            related[row["dispute_id"]].add("ph:" + row["phone_index"])
        other_at[row["dispute_id"]] = (row["dispute__registered_at"], row["dispute__number"])

    # disputes at the same address (same normalised text, or within NEAR_M metres in the same grid)
    keys = {d.address_key for d in disputes if d.address_key}
    grids = {d.grid_id for d in disputes if d.lon is not None}
    nearby = list(Dispute.objects.filter(Q(address_key__in=keys) | Q(grid_id__in=grids, lon__isnull=False),
                                         registered_at__gte=since)
                  .values("pk", "number", "address_key", "grid_id", "lon", "lat", "registered_at"))

    resident_ids = {p.resident_id for d in disputes for p in d.parties.all() if p.resident_id}
    tags = defaultdict(list)
    sensitive_ok = may_see_sensitive(user)
    for rt in ResidentTag.objects.filter(resident_id__in=resident_ids, active=True).select_related("tag"):
        tags[rt.resident_id].append(rt.tag.name if (sensitive_ok or not rt.tag.sensitive) else _("a key population"))

    def named(ids: list[int]) -> str:
        shown = [other_at[i][1] if i in other_at else str(i) for i in ids if i in visible]
        hidden = len(ids) - len(shown)
        text = ", ".join(shown)
        if hidden:
            text += (", " if text else "") + _("%(n)d outside your area") % {"n": hidden}
        return text

    for d in disputes:
        lo, hi = d.registered_at - window, d.registered_at + window

        def same_parties(other_keys: set[str], own=d) -> bool:
            # the same parties: at least two parties of this dispute (by identity or phone) in the other one
            return sum(1 for p in own.parties.all()
                       if ({p.identity} | ({"ph:" + p.phone_index} if p.phone_index else set())) & other_keys) >= 2

        repeats = sorted(i for i, ks in related.items()
                         if i != d.pk and lo <= other_at[i][0] <= hi and same_parties(ks))
        if repeats:
            warnings.append(Warning(d, "repeated_parties", _("%(n)d other dispute(s) between the same parties within "
                                                             "%(days)d days: %(which)s")
                                    % {"n": len(repeats), "days": rules.repeat_window_days, "which": named(repeats)},
                                    [actors.mediators(d), actors.grid(d)]))
        same_place = sorted(
            row["pk"] for row in nearby if row["pk"] != d.pk and lo <= row["registered_at"] <= hi and (
                (d.address_key and row["address_key"] == d.address_key)
                or (d.lon is not None and row["lon"] is not None and row["grid_id"] == d.grid_id
                    and _metres(d.lon, d.lat, row["lon"], row["lat"]) <= NEAR_M)))
        if same_place:
            for row in nearby:
                other_at.setdefault(row["pk"], (row["registered_at"], row["number"]))
            warnings.append(Warning(d, "repeated_address", _("%(n)d other dispute(s) at the same address within "
                                                             "%(days)d days: %(which)s")
                                    % {"n": len(same_place), "days": rules.repeat_window_days,
                                       "which": named(same_place)}, [actors.mediators(d), actors.grid(d)]))
        if d.people_count >= rules.many_people:
            warnings.append(Warning(d, "many_people", _("%(n)d people involved (warning from %(min)d)")
                                    % {"n": d.people_count, "min": rules.many_people},
                                    [actors.mediators(d), actors.leaders(d)]))
        if GRADE_ORDER.index(Grade(d.grade)) > GRADE_ORDER.index(Grade(d.initial_grade)):
            warnings.append(Warning(d, "rising_grade", _("Grade rose from %(a)s to %(b)s")
                                    % {"a": Grade(d.initial_grade).label, "b": Grade(d.grade).label},
                                    [actors.mediators(d)] + ([actors.leaders(d)] if d.grade == Grade.SERIOUS else [])))
        flagged = [(p.name, t) for p in d.parties.all() if p.resident_id for t in tags.get(p.resident_id, [])]
        if flagged:
            warnings.append(Warning(d, "key_population", "; ".join(f"{name}: {tag}" for name, tag in flagged),
                                    [actors.grid(d), actors.mediators(d)]))
        if d.due_at and d.state in (State.REGISTERED, State.ASSESSED, State.MEDIATING, State.FAILED) \
                and add_working_time(now, rules.due_soon_days, "days") >= d.due_at:
            late = d.due_at < now
            text = (_("Mediation deadline passed on %(at)s") if late else _("Mediation deadline on %(at)s")) % {
                "at": timezone.localtime(d.due_at).strftime("%Y-%m-%d %H:%M")}
            warnings.append(Warning(d, "due", text, [actors.mediators(d)]))
        follow_ups = list(d.follow_ups.all())
        if follow_ups and not follow_ups[-1].stable:
            warnings.append(Warning(d, "unsettled", _("Follow-up on %(at)s: %(what)s")
                                    % {"at": timezone.localtime(follow_ups[-1].visited_at).strftime("%Y-%m-%d"),
                                       "what": follow_ups[-1].content[:80]}, [actors.mediators(d), actors.grid(d)]))
    grade_rank = {g: i for i, g in enumerate(GRADE_ORDER)}
    warnings.sort(key=lambda w: (-grade_rank[Grade(w.dispute.grade)], w.dispute.due_at or now, w.dispute.pk))
    return warnings


# --- measures ------------------------------------------------------------------------------------------------

GROUPS = ("mediator", "grid", "community", "street")


def _period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    for name, value in (("start", start), ("end", end)):
        if value is not None and not 1900 <= value.year <= 2999:
            raise InvalidInput(f"{name}: a date between 1900 and 2999", code="invalid_range",
                               details=[{"field": name, "message": "between 1900 and 2999"}])
    end = end or today
    start = start or end - dt.timedelta(days=364)
    if end < start:
        raise InvalidInput("end: the range ends before it starts", code="invalid_range",
                           details=[{"field": "end", "message": "before start"}])
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"end: at most {MAX_RANGE_DAYS} days", code="invalid_range",
                           details=[{"field": "end", "message": f"at most {MAX_RANGE_DAYS} days"}])
    return start, end


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


def _rate(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def _measure(rows: list[dict]) -> dict:
    """The measures of a set of disputes (definitions in docs/disputes.md)."""
    total = len(rows)
    taken = [r for r in rows if r["outcome"] != Outcome.WITHDRAWN]
    found = sum(1 for r in rows if r["source"] in FOUND_SOURCES)
    # resolved: an agreement was reached and not found unfulfilled afterwards
    agreed = [r for r in taken if r["agreed_at"] is not None and r["fulfilled"] is not False]
    checked = [r for r in rows if r["fulfilled"] is not None]
    days = [(r["agreed_at"] - r["registered_at"]).total_seconds() / 86400 for r in agreed]
    levels = {lv.value: sum(1 for r in agreed if r["resolution_level"] == lv) for lv in LEVEL_ORDER}
    # to be followed up: agreements found fulfilled, and disputes referred out of mediation
    to_follow = [r for r in taken if r["fulfilled"] is True
                 or r["referral_channel"] in EXTERNAL_CHANNELS and r["state"] in (State.REFERRED, State.CLOSED)]
    followed = sum(1 for r in to_follow if r["follow_up_count"] > 0)
    return {
        "total": total,
        "found_by_screening": found,
        "brought_in": total - found,
        "screening_share": _rate(found, total),
        "resolved": len(agreed),
        "resolution_rate": _rate(len(agreed), len(taken)),
        "fulfilment_checked": len(checked),
        "fulfilled": sum(1 for r in checked if r["fulfilled"]),
        "fulfilment_rate": _rate(sum(1 for r in checked if r["fulfilled"]), len(checked)),
        "days_to_resolve_median": round(statistics.median(days), 1) if days else None,
        "days_to_resolve_p90": _percentile(days, 0.9),
        "resolution_levels": levels,
        "resolved_in_grid_rate": _rate(levels[Level.GRID], len(agreed)),
        "resolved_in_community_rate": _rate(levels[Level.GRID] + levels[Level.COMMUNITY], len(agreed)),
        "to_follow_up": len(to_follow),
        "followed_up": followed,
        "follow_up_rate": _rate(followed, len(to_follow)),
        "open": sum(1 for r in rows if r["state"] != State.CLOSED),
        "serious": sum(1 for r in rows if r["grade"] == Grade.SERIOUS),
    }


def dispute_measures(*, user, start: dt.date | None = None, end: dt.date | None = None,
                     group: str | None = None) -> dict:
    """Measures of the disputes registered in [start, end] (dates inclusive) in the user's scope, in total and
    per mediator, grid, community or street."""
    if group not in (None, "", *GROUPS):
        raise InvalidInput(f"group: one of {', '.join(GROUPS)}", code="invalid_group",
                           details=[{"field": "group", "message": f"one of {', '.join(GROUPS)}"}])
    start, end = _period(start, end)
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    rows = list(_scoped(user).filter(registered_at__gte=lo, registered_at__lt=hi).values(
        "pk", "source", "state", "grade", "outcome", "registered_at", "agreed_at", "fulfilled", "resolution_level",
        "follow_up_count", "referral_channel", "mediator_id", "mediator__display_name", "mediator__username",
        "grid__code", "grid__name", "path"))
    result = {"start": start, "end": end, "total": _measure(rows), "group": group or "", "groups": []}
    if group:
        buckets: dict[str, list[dict]] = defaultdict(list)
        labels: dict[str, str] = {}
        if group in ("community", "street"):
            ancestors = {a for r in rows for a in ancestor_paths(r["path"])}
            areas = dict(Area.objects.filter(path__in=ancestors, level=group).values_list("path", "name"))
        for r in rows:
            if group == "mediator":
                key = str(r["mediator_id"] or "")
                labels[key] = (r["mediator__display_name"] or r["mediator__username"] or _("not assigned"))
            elif group == "grid":
                key = r["grid__code"]
                labels[key] = r["grid__name"]
            else:
                key = next((a for a in ancestor_paths(r["path"]) if a in areas), "")
                labels[key] = areas.get(key, _("outside any %(level)s") % {"level": AreaLevel(group).label})
            buckets[key].append(r)
        result["groups"] = sorted(
            ({"key": k, "label": labels[k], **_measure(v)} for k, v in buckets.items()),
            key=lambda g: (-(g["total"]), g["label"]))
    return result


# --- the map -----------------------------------------------------------------------------------------------

def dispute_map_features(*, user, open_only: bool = True, limit: int = 5000) -> dict:
    """A GeoJSON FeatureCollection of disputes (their point, or their grid's centre) coloured by grade."""
    from .choices import GRADE_COLOURS

    qs = _scoped(user).select_related("grid")
    if open_only:
        qs = qs.filter(state__in=OPEN_STATES)
    features = []
    for d in qs.order_by("-registered_at")[:limit]:
        lon, lat = (d.lon, d.lat) if d.lon is not None else (d.grid.center_lon, d.grid.center_lat)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {"id": d.pk, "number": d.number, "title": d.title, "type": d.type,
                           "type_label": str(d.get_type_display()), "grade": d.grade,
                           "grade_label": str(d.get_grade_display()), "colour": GRADE_COLOURS[Grade(d.grade)],
                           "state": d.state, "state_label": str(d.get_state_display()), "grid": d.grid.code,
                           "exact": d.lon is not None},
        })
    return {"type": "FeatureCollection", "features": features}
