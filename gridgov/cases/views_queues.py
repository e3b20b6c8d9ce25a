"""The work queues: the dispatcher's console (with its map and the one-step register & dispatch), the
department's queue, the grid member's "today" and the plain case list.

Every list goes through selectors.case_list (scope + CaseFilter); a bad filter value is shown on the page
with a 400, never a 500. An htmx request gets the table partial from the same view.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department
from gridgov.core.errors import InvalidInput, NotFound, ServiceError
from gridgov.core.scope import ALL, scope_paths, scope_q
from gridgov.geo import selectors as geo_selectors
from gridgov.geo.models import Area

from . import selectors, services
from .choices import OPEN_STATES, Source, State
from .models import Case, Task

PAGE_SIZE = 25
MAP_LIMIT = 2000
FILTER_KEYS = ("state", "open", "category", "source", "area", "grid", "department", "level", "overdue",
               "reported_from", "reported_to", "q", "ordering")
ORDERINGS = [("-reported_at", _("Newest first")), ("reported_at", _("Oldest first")),
             ("handle_due", _("Due soonest")), ("-updated_at", _("Recently changed"))]


def role_required(*roles: str, admin: bool = True):
    """Logged in, and one of `roles` (administrators too unless admin=False); otherwise 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if user.role not in roles and not (admin and user.is_admin_role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# --- filters, queues and rows ---------------------------------------------------------------------------

def case_filters(request) -> QueryDict:
    """The CaseFilter parameters of the request, without empty values (an empty choice means "any")."""
    filters = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        values = [v for v in request.GET.getlist(key) if v.strip()]
        if values:
            filters.setlist(key, values)
    return filters


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    hint: str = ""


# The console's queues as the page lists them; which cases each holds is selectors.CONSOLE_QUEUES.
QUEUES = [
    Queue("open", _("All open")),
    Queue("to_register", _("To register"), _("reported")),
    Queue("to_dispatch", _("To dispatch"), _("registered")),
    Queue("returned", _("Returned"), _("to dispatch again")),
    Queue("extensions", _("Extension requests"), _("to decide")),
    Queue("handling", _("Being handled")),
    Queue("to_verify", _("Awaiting verification"), _("handled")),
    Queue("to_close", _("To close"), _("verified")),
    Queue("overdue", _("Overdue"), _("open")),
    Queue("all", _("All cases")),
]
QUEUE_BY_KEY = {q.key: q for q in QUEUES}


def current_due(case: Case):
    """The deadline of the step the case is in now (none while suspended or after handling)."""
    return {State.REPORTED: case.register_due, State.REGISTERED: case.dispatch_due,
            State.DISPATCHED: case.handle_due, State.IN_PROGRESS: case.handle_due}.get(case.state)


def decorate(cases, *, duplicates_for=None):
    """Add what the table shows: the current due time, whether it is late, possible duplicates."""
    now = timezone.now()
    rows = list(cases)
    for case in rows:
        case.due = current_due(case)
        case.is_open = case.state in OPEN_STATES
        case.is_late = case.is_open and (case.overdue or (case.due is not None and case.due < now))
        case.duplicate_count = 0
        if duplicates_for is not None and case.state in (State.REPORTED, State.REGISTERED):
            case.duplicate_count = len(selectors.case_duplicates(case=case, user=duplicates_for, limit=5))
    return rows


def _table_context(request, *, queue: Queue | None = None, duplicates: bool = False) -> tuple[dict, int]:
    filters = case_filters(request)
    error, cases = "", Case.objects.none()
    try:
        cases = (selectors.case_list(user=request.user, filters=filters) if queue is None
                 else selectors.case_queue(user=request.user, key=queue.key, filters=filters))
    except InvalidInput as exc:
        error = exc.message
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = decorate(page.object_list, duplicates_for=request.user if duplicates else None)
    base = filters.copy()
    if queue is not None:
        base["queue"] = queue.key
    return {
        "page": page,
        "total": page.paginator.count,
        "filter_error": error,
        "querystring": base.urlencode(),
        "params": filters,
    }, (400 if error else 200)


def filter_choices(user) -> dict:
    """The options of the filter bar, limited to the user's scope."""
    areas = Area.objects.filter(scope_q(user))
    return {
        "states": State.choices,
        "sources": Source.choices,
        "category_tree": selectors.category_tree(),
        "areas": list(areas.exclude(level="city").order_by("path")[:300]),
        "grids": list(geo_selectors.grid_list(user=user).order_by("code").values("code", "name")[:500]),
        "orderings": ORDERINGS,
    }


def _is_htmx(request) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


def map_area(user) -> Area | None:
    """The area whose grids draw the background of a map for this user."""
    if user.area_id:
        return user.area
    paths = scope_paths(user)
    if paths is ALL:
        return Area.objects.filter(parent__isnull=True).order_by("code").first()
    grids = list(user.grids.select_related("community"))
    if not grids:
        return None
    common = [p for p in grids[0].community.path.split("/") if p]
    for grid in grids[1:]:
        parts = [p for p in grid.community.path.split("/") if p]
        n = 0
        while n < min(len(common), len(parts)) and common[n] == parts[n]:
            n += 1
        common = common[:n]
    return Area.objects.filter(path="/".join(common) + "/").first() if common else None


# --- the dispatcher's console ------------------------------------------------------------------------------

@role_required(Role.DISPATCHER)
def console(request):
    queue = QUEUE_BY_KEY.get(request.GET.get("queue") or "open", QUEUE_BY_KEY["open"])
    context, status = _table_context(request, queue=queue, duplicates=True)
    context.update(console=True, queue=queue, departments=list(Department.objects.filter(is_active=True)
                                                                 .order_by("code").only("pk", "code", "name")),
                   map_url=f"{reverse('cases:console_map')}?{context['querystring']}",
                   next_url=request.get_full_path())
    if _is_htmx(request):
        return render(request, "cases/_q_case_table.html", context, status=200)
    counts = selectors.console_counts(user=request.user)
    area = map_area(request.user)
    context.update(
        queues=[(q, counts[q.key]) for q in QUEUES],
        grids_url=reverse("geo:area_map", args=[area.code]) if area else "",
        **filter_choices(request.user),
    )
    return render(request, "cases/console.html", context, status=status)


@role_required(Role.DISPATCHER)
def console_map(request):
    """The open cases of the console's current filter as GeoJSON points (at most MAP_LIMIT)."""
    queue = QUEUE_BY_KEY.get(request.GET.get("queue") or "open", QUEUE_BY_KEY["open"])
    try:
        cases = selectors.case_queue(user=request.user, key=queue.key, filters=case_filters(request))
    except InvalidInput as exc:
        return JsonResponse({"code": exc.code, "message": exc.message, "details": exc.details}, status=400)
    cases = cases.filter(state__in=OPEN_STATES)
    rows = list(cases.order_by("-reported_at").values("pk", "number", "state", "lon", "lat", "overdue",
                                                      "category__name")[:MAP_LIMIT + 1])
    labels = dict(State.choices)
    features = [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
        "properties": {"id": r["pk"], "number": r["number"], "state": r["state"],
                       "state_label": str(labels.get(r["state"], r["state"])), "category": r["category__name"],
                       "overdue": r["overdue"], "url": reverse("cases:detail", args=[r["pk"]])},
    } for r in rows[:MAP_LIMIT]]
    return JsonResponse({"type": "FeatureCollection", "features": features, "truncated": len(rows) > MAP_LIMIT,
                         "limit": MAP_LIMIT}, json_dumps_params={"ensure_ascii": False})


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_POST
@role_required(Role.DISPATCHER)
def console_dispatch(request, pk: int):
    """Register (when still reported) and dispatch in one step, to the department the dispatcher picked
    (the category's default department is preselected)."""
    back = _safe_next(request, reverse("cases:console"))
    try:
        case = selectors.case_get(user=request.user, case_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    lead = _int(request.POST.get("lead"))
    if lead is None:
        messages.error(request, gettext("Case %(number)s: choose the department to dispatch to.") % {"number": case.number})
        return redirect(back)
    version = _int(request.POST.get("version"))
    registered = False
    if case.state == State.REPORTED:
        try:
            case = services.case_register(case_id=case.pk, by=request.user, version=version)
        except ServiceError as exc:
            messages.error(request, gettext("Case %(number)s was not registered: %(error)s")
                           % {"number": case.number, "error": exc.message})
            return redirect(back)
        registered, version = True, case.version
    try:
        case = services.case_dispatch(case_id=case.pk, by=request.user, lead=lead, version=version)
    except ServiceError as exc:
        template = (gettext("Case %(number)s was registered but not dispatched: %(error)s") if registered
                    else gettext("Case %(number)s was not dispatched: %(error)s"))
        messages.error(request, template % {"number": case.number, "error": exc.message})
        return redirect(back)
    if registered:
        messages.success(request, gettext("Case %(number)s registered and dispatched to %(department)s.")
                         % {"number": case.number, "department": case.lead_department})
    else:
        messages.success(request, gettext("Case %(number)s dispatched to %(department)s.")
                         % {"number": case.number, "department": case.lead_department})
    return redirect(back)


# --- the department's queue --------------------------------------------------------------------------------

TASK_TABS = [("pending", _("To accept")), ("accepted", _("In progress")), ("overdue", _("Overdue"))]


@role_required(Role.HANDLER)
def department_queue(request):
    """The department's tasks: to accept and in progress, the most urgent (overdue) first."""
    department = request.user.department
    filters = case_filters(request)
    error = ""
    try:
        by_tab = selectors.department_tasks(user=request.user, filters=filters)
    except InvalidInput as exc:
        error = exc.message
        by_tab = {key: Task.objects.none() for key in selectors.DEPARTMENT_TABS}
    now = timezone.now()
    counts = {key: qs.count() for key, qs in by_tab.items()}
    tab = request.GET.get("tab")
    if tab not in by_tab:
        tab = "pending" if counts["pending"] or not counts["accepted"] else "accepted"
    ordered = by_tab[tab].select_related("case", "case__category", "case__grid").order_by(
        F("due_at").asc(nulls_last=True), "id")
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    for task in page.object_list:
        task.is_late = task.due_at is not None and task.due_at < now
    base = filters.copy()
    base["tab"] = tab
    context = {"department": department, "page": page, "tab": tab, "counts": counts,
               "tabs": [(key, label, counts[key]) for key, label in TASK_TABS], "filter_error": error,
               "querystring": base.urlencode(), "filter_qs": filters.urlencode(), "params": filters,
               "category_tree": selectors.category_tree()}
    if _is_htmx(request):
        return render(request, "cases/_q_task_table.html", context)
    return render(request, "cases/queue.html", context, status=400 if error else 200)


# --- the grid member's today -------------------------------------------------------------------------------

@role_required(Role.GRID_MEMBER, admin=False)
def today(request):
    lists = selectors.today_lists(user=request.user)
    to_verify, overdue, mine = lists["to_verify"], lists["overdue"], lists["my_reports"]
    context = {
        "to_verify": decorate(to_verify[:50]),
        "to_verify_count": to_verify.count(),
        "overdue": decorate(overdue[:50]),
        "overdue_count": overdue.count(),
        "my_reports": decorate(mine[:10]),
        "my_report_count": mine.count(),
    }
    return render(request, "cases/today.html", context)


# --- the plain list ----------------------------------------------------------------------------------------

@login_required
def case_list(request):
    """Every case the user may see, with the same filters as the console."""
    context, status = _table_context(request)
    if _is_htmx(request):
        return render(request, "cases/_q_case_table.html", context)
    context.update(filter_choices(request.user))
    return render(request, "cases/list.html", context, status=status)
