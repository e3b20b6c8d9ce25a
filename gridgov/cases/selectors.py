"""Reads on cases, scoped to the acting user:

- dispatchers, leaders, mediators, party secretaries: cases under their area;
- grid members: cases in their grids, and the cases they reported;
- handlers: cases with a task for their department;
- residents: the cases they reported;
- admins: everything.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.core.scope import ALL, covers_every_root, scope_paths, scope_q

from .choices import OPEN_STATES, STATE_EXPLAINED, Action, ExtensionState, State, TaskState
from .filters import CaseFilter
from .models import Case, Category, Task

EARTH_M_PER_DEG = 111_320.0


def case_scope_q(user) -> Q:
    if user is None or not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.role == Role.HANDLER:
        return Q(tasks__department_id=user.department_id) if user.department_id else Q(pk__in=[])
    if user.role == Role.RESIDENT:
        return Q(reporter=user)
    if scope_paths(user) is ALL or covers_every_root(user):  # every case lies in a grid under a root area
        return Q()
    q = scope_q(user, "path")
    if user.role == Role.GRID_MEMBER:
        q |= Q(reporter=user)
    return q


def case_visible(*, case: Case, user) -> bool:
    if user is not None and scope_paths(user) is ALL:
        return True
    return Case.objects.filter(case_scope_q(user), pk=case.pk).exists()


def _scoped(user) -> QuerySet[Case]:
    qs = Case.objects.filter(case_scope_q(user))
    if user is not None and getattr(user, "role", None) == Role.HANDLER:
        qs = qs.distinct()
    return qs


def case_list(*, user, filters: dict | None = None) -> QuerySet[Case]:
    qs = _scoped(user).select_related("category", "category__parent", "grid", "lead_department")
    fs = CaseFilter(data=filters or {}, queryset=qs)
    if not fs.is_valid():
        details = [{"field": f, "message": " ".join(str(m) for m in msgs)} for f, msgs in fs.errors.items()]
        raise InvalidInput("; ".join(f"{d['field']}: {d['message']}" for d in details), code="invalid_filter",
                           details=details)
    return fs.qs


def case_get(*, user, case_id: int) -> Case:
    case = (_scoped(user).select_related("category", "category__parent", "grid", "grid__community",
                                         "lead_department", "reporter", "merged_into")
            .prefetch_related("tasks__department", "attachments", "extensions").filter(pk=case_id).first())
    if case is None:
        raise NotFound("No such case.")
    return case


def case_by_tracking_code(*, code: str) -> Case:
    case = (Case.objects.select_related("category", "grid", "merged_into")
            .prefetch_related("attachments").filter(tracking_code=(code or "").strip().upper()).first())
    if case is None:
        raise NotFound("No case with this tracking code.")
    return case


def case_timeline(*, case: Case, public_only: bool = False):
    if "steps" in getattr(case, "_prefetched_objects_cache", {}):  # a case just reported (services.case_report)
        return [s for s in case.steps.all() if s.public or not public_only]
    steps = case.steps.select_related("actor", "department").prefetch_related("attachments")
    return steps.filter(public=True) if public_only else steps


def case_queue_counts(*, user) -> dict[str, int]:
    # no ordering: with the handlers' DISTINCT the default ordering would join the GROUP BY and split the counts
    rows = _scoped(user).order_by().values("state").annotate(n=Count("id", distinct=True))
    counts = {s.value: 0 for s in State}
    counts.update({r["state"]: r["n"] for r in rows})
    counts["overdue_open"] = _scoped(user).filter(state__in=OPEN_STATES, overdue=True).count()
    return counts


def case_duplicates(*, case: Case, user=None, limit: int = 10) -> list[Case]:
    """Open cases of the same category within the category's radius and recent window: likely duplicates."""
    category = case.category
    radius = category.duplicate_radius_m
    dlat = radius / EARTH_M_PER_DEG
    dlon = radius / (EARTH_M_PER_DEG * max(math.cos(math.radians(case.lat)), 0.01))
    since = case.reported_at - timedelta(days=category.duplicate_window_days)
    qs = (Case.objects.filter(category=category, state__in=OPEN_STATES, reported_at__gte=since,
                              lon__range=(case.lon - dlon, case.lon + dlon), lat__range=(case.lat - dlat, case.lat + dlat))
          .exclude(pk=case.pk).exclude(state=State.MERGED).select_related("grid"))
    if user is not None:
        qs = qs.filter(case_scope_q(user))
    found = []
    for other in qs.order_by("reported_at")[:200]:
        distance = _distance_m(case.lon, case.lat, other.lon, other.lat)
        if distance <= radius:
            other.distance_m = round(distance)
            found.append(other)
    return sorted(found, key=lambda c: c.distance_m)[:limit]


def _distance_m(lon1, lat1, lon2, lat2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def category_list(*, active_only: bool = True) -> QuerySet[Category]:
    qs = Category.objects.select_related("parent", "default_department")
    return qs.filter(is_active=True) if active_only else qs


def category_tree(*, active_only: bool = True) -> list[dict]:
    cats = list(category_list(active_only=active_only).order_by("sort", "code"))
    parents = [c for c in cats if c.parent_id is None]
    return [{"category": p, "children": [c for c in cats if c.parent_id == p.pk]} for p in parents]




# --- the queue pages: the console's queues, the department's tasks, the grid member's today -------------------

# Which cases each console queue holds (its label and hint live with the page).
CONSOLE_QUEUES: dict[str, Q] = {
    "open": Q(state__in=OPEN_STATES),
    "to_register": Q(state=State.REPORTED),
    "to_dispatch": Q(state=State.REGISTERED),
    "returned": Q(state=State.REGISTERED, return_count__gt=0),
    "extensions": Q(extensions__state=ExtensionState.PENDING),
    "handling": Q(state__in=[State.DISPATCHED, State.IN_PROGRESS, State.SUSPENDED]),
    "to_verify": Q(state=State.HANDLED),
    "to_close": Q(state=State.VERIFIED),
    "overdue": Q(state__in=OPEN_STATES, overdue=True),
    "all": Q(),
}
# Queues joining a to-many relation: a case with two pending requests would be listed twice.
_DISTINCT_QUEUES = {"extensions"}


def case_queue(*, user, key: str, filters: dict | None = None) -> QuerySet[Case]:
    """The cases of one console queue (unknown keys: "open"), within scope and the CaseFilter `filters`."""
    key = key if key in CONSOLE_QUEUES else "open"
    cases = case_list(user=user, filters=filters).filter(CONSOLE_QUEUES[key])
    return cases.distinct() if key in _DISTINCT_QUEUES else cases


def console_counts(*, user) -> dict[str, int]:
    """The number of cases in each console queue, over the user's whole scope."""
    counts = case_queue_counts(user=user)
    scoped = _scoped(user)
    return {
        "open": sum(counts[s] for s in OPEN_STATES),
        "to_register": counts[State.REPORTED],
        "to_dispatch": counts[State.REGISTERED],
        "returned": scoped.filter(CONSOLE_QUEUES["returned"]).order_by().values("pk").distinct().count(),
        "extensions": scoped.filter(CONSOLE_QUEUES["extensions"]).order_by().values("pk").distinct().count(),
        "handling": counts[State.DISPATCHED] + counts[State.IN_PROGRESS] + counts[State.SUSPENDED],
        "to_verify": counts[State.HANDLED],
        "to_close": counts[State.VERIFIED],
        "overdue": counts["overdue_open"],
        "all": sum(v for k, v in counts.items() if k in State.values),
    }


DEPARTMENT_TABS = ("pending", "accepted", "overdue")


def department_tasks(*, user, filters: dict | None = None) -> dict[str, QuerySet[Task]]:
    """The tasks of the user's department on open cases, per tab of the department queue: to accept, in
    progress, and overdue (either, past its due time). No department: empty tabs."""
    tasks = Task.objects.none()
    if user.department_id is not None:
        cases = case_list(user=user, filters=filters)
        tasks = Task.objects.filter(department_id=user.department_id, case_id__in=cases.values("pk"),
                                    case__state__in=OPEN_STATES)
    live = tasks.filter(state__in=[TaskState.PENDING, TaskState.ACCEPTED])
    return {"pending": live.filter(state=TaskState.PENDING), "accepted": live.filter(state=TaskState.ACCEPTED),
            "overdue": live.filter(due_at__lt=timezone.now())}


def department_counts(*, user, filters: dict | None = None) -> dict[str, int]:
    return {key: qs.count() for key, qs in department_tasks(user=user, filters=filters).items()}


def today_lists(*, user) -> dict[str, QuerySet[Case]]:
    """The grid member's "today": handled cases to verify, overdue open cases in their grids, their own reports."""
    return {
        "to_verify": case_list(user=user, filters={"state": [State.HANDLED]}).order_by("handled_at"),
        "overdue": (case_list(user=user, filters={"open": True, "overdue": True})
                    .filter(grid__in=user.grids.all()).order_by("reported_at")),
        "my_reports": case_list(user=user).filter(reporter=user).order_by("-reported_at"),
    }


def today_counts(*, user) -> dict[str, int]:
    return {key: qs.count() for key, qs in today_lists(user=user).items()}


def queue_page_counters(*, user) -> dict[str, dict[str, int] | None]:
    """The counters of the queue pages the user may open (the others None), as the pages show them: the
    console (dispatchers, admins), the department queue (handlers, admins), today (grid members)."""
    admin = user.is_admin_role
    return {
        "console": console_counts(user=user) if user.role == Role.DISPATCHER or admin else None,
        "department": department_counts(user=user) if user.role == Role.HANDLER or admin else None,
        "today": today_counts(user=user) if user.role == Role.GRID_MEMBER else None,
    }


def public_tracking(*, case: Case) -> dict:
    """What a tracking code shows, to the public page and the public API alike — deliberately little: the
    number, category, state in plain words, the public timeline (action, time, department; never staff names,
    notes or internal comments), the photo count, and for a merged report only the state of the report it
    joined (never that one's code). No personal data. Labels in the active language."""
    steps = [{"action": s.action, "action_label": str(Action(s.action).label) if s.action in Action.values else s.action,
              "at": s.at, "department": s.department.name if s.department_id and s.department else ""}
             for s in case_timeline(case=case, public_only=True)]
    merged_into = case.merged_into if case.state == State.MERGED and case.merged_into_id else None
    return {
        "tracking_code": case.tracking_code,
        "number": case.number,
        "category": case.category.name,
        "reported_at": case.reported_at,
        "state": case.state,
        "state_label": str(State(case.state).label),
        "state_text": str(STATE_EXPLAINED.get(case.state, "")),
        "merged_state": merged_into.state if merged_into else "",
        "merged_state_label": str(State(merged_into.state).label) if merged_into else "",
        "merged_state_text": str(STATE_EXPLAINED.get(merged_into.state, "")) if merged_into else "",
        "steps": steps,
        "photo_count": len(case.attachments.all()),
        "rated": case.rated_at is not None,
        "can_verify": case.state == State.HANDLED,
        "can_rate": case.state in (State.VERIFIED, State.CLOSED) and case.rated_at is None,
        "version": case.version,
    }
