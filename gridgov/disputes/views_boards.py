"""The dispute boards: the mediator's queue, the filterable list, the early-warning board, the measures and the
map. Read-only: everything comes from the scoped selectors; a bad filter or range is shown on the page with a
4xx, never a 500. Users who may not see disputes at all (residents, department handlers) get a 403.
"""

from __future__ import annotations

from collections import Counter
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.accounts.models import User
from gridgov.cases.views_queues import map_area
from gridgov.core.errors import InvalidInput
from gridgov.core.scope import scope_q
from gridgov.geo import selectors as geo_selectors
from gridgov.geo.models import Area

from . import selectors, services
from .choices import GRADE_COLOURS, GRADE_ORDER, LEVEL_ORDER, DisputeSource, DisputeType, Grade, Level, State
from .forms import MeasuresForm
from .models import Dispute

PAGE_SIZE = 25
FILTER_KEYS = ("state", "open", "type", "source", "grade", "level", "area", "grid", "mediator", "overdue",
               "registered_from", "registered_to", "q", "ordering")
ORDERINGS = [("-registered_at", _("Newest first")), ("registered_at", _("Oldest first")),
             ("due_at", _("Deadline soonest")), ("-updated_at", _("Recently changed")), ("number", _("Number"))]

# The early-warning rules (selectors.WARNING_RULES) with translatable labels.
RULE_LABELS = {
    "repeated_parties": _("Repeated dispute between the same parties"),
    "repeated_address": _("Repeated dispute at the same address"),
    "many_people": _("Many people involved"),
    "rising_grade": _("Rising risk grade"),
    "key_population": _("A party is in a key population"),
    "due": _("Mediation deadline near or passed"),
    "unsettled": _("A follow-up found it unsettled"),
}

# Every measure of selectors.dispute_measures, with its header; `unit` "%" for rates, "d" for days.
MEASURES = [
    ("total", pgettext_lazy("dispute count", "Registered"), ""),
    ("found_by_screening", _("Found by screening"), ""),
    ("brought_in", _("Brought in"), ""),
    ("screening_share", _("Share found by screening"), "%"),
    ("resolved", _("Resolved by agreement"), ""),
    ("resolution_rate", _("Resolution rate"), "%"),
    ("fulfilment_checked", _("Fulfilment checked"), ""),
    ("fulfilled", _("Fulfilled"), ""),
    ("fulfilment_rate", _("Fulfilment rate"), "%"),
    ("days_to_resolve_median", _("Days to resolve (median)"), "d"),
    ("days_to_resolve_p90", _("Days to resolve (90th percentile)"), "d"),
    ("resolved_in_grid_rate", _("Resolved in the grid"), "%"),
    ("resolved_in_community_rate", _("Resolved in the grid or community"), "%"),
    ("to_follow_up", _("To follow up"), ""),
    ("followed_up", _("Followed up"), ""),
    ("follow_up_rate", _("Follow-up rate"), "%"),
    ("open", _("Still open"), ""),
    ("serious", _("Serious"), ""),
]
LEVEL_LABELS = {
    Level.GRID: _("Resolved at grid level"),
    Level.COMMUNITY: _("Resolved at community level"),
    Level.STREET: _("Resolved at street level"),
    Level.DISTRICT: _("Resolved at district level"),
}


def dispute_reader(view):
    """Logged in, and allowed to see disputes (selectors.may_see_disputes); otherwise 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not selectors.may_see_disputes(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _is_htmx(request) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


def decorate(disputes) -> list[Dispute]:
    """Add what the rows show: whether the mediation deadline has passed on an unresolved dispute."""
    now = timezone.now()
    rows = list(disputes)
    for d in rows:
        d.is_late = bool(d.due_at and d.due_at < now and services.is_unresolved(d))
    return rows


# --- the mediator's queue ---------------------------------------------------------------------------------------

@dispute_reader
def queue(request):
    sections = selectors.dispute_queue(user=request.user)
    context = {
        "sections": [
            {"key": "mine", "title": _("Mine"), "rows": decorate(sections["mine"]),
             "empty": _("No dispute is assigned to you.")},
            {"key": "waiting", "title": _("Waiting for a mediator"), "rows": decorate(sections["waiting"]),
             "empty": _("No dispute is waiting.")},
            {"key": "follow_up", "title": _("To check and follow up"), "rows": decorate(sections["follow_up"]),
             "empty": _("Nothing to check or follow up.")},
        ],
    }
    return render(request, "disputes/queue.html", context)


# --- the list ---------------------------------------------------------------------------------------------------

def dispute_filters(request) -> QueryDict:
    """The DisputeFilter parameters of the request, without empty values (an empty choice means "any")."""
    filters = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        values = [v for v in request.GET.getlist(key) if v.strip()]
        if values:
            filters.setlist(key, values)
    return filters


def _filter_choices(user) -> dict:
    mediator_ids = selectors.dispute_list(user=user).exclude(mediator=None).values("mediator_id")
    return {
        "states": State.choices,
        "types": DisputeType.choices,
        "sources": DisputeSource.choices,
        "grades": Grade.choices,
        "levels": Level.choices,
        "areas": list(Area.objects.filter(scope_q(user)).exclude(level="city").order_by("path")[:300]),
        "grids": list(geo_selectors.grid_list(user=user).order_by("code").values("code", "name")[:500]),
        "mediators": list(User.objects.filter(pk__in=mediator_ids).order_by("username")),
        "orderings": ORDERINGS,
    }


@dispute_reader
def dispute_list(request):
    filters = dispute_filters(request)
    error, disputes = "", Dispute.objects.none()
    try:
        disputes = selectors.dispute_list(user=request.user, filters=filters)
    except InvalidInput as exc:
        error = exc.message
    page = Paginator(disputes, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = decorate(page.object_list)
    context = {"page": page, "total": page.paginator.count, "filter_error": error, "params": filters,
               "querystring": filters.urlencode()}
    status = 400 if error else 200
    if _is_htmx(request):
        return render(request, "disputes/_table.html", context, status=status)
    context.update(_filter_choices(request.user))
    return render(request, "disputes/list.html", context, status=status)


# --- the warnings board -------------------------------------------------------------------------------------------

@dispute_reader
def warnings_board(request):
    warnings = selectors.dispute_warnings(user=request.user)
    counts = Counter(w.rule for w in warnings)
    rule = request.GET.get("rule", "")
    if rule not in RULE_LABELS:
        rule = ""
    groups = []
    for key, label in RULE_LABELS.items():
        if rule and key != rule:
            continue
        rows = [w for w in warnings if w.rule == key]
        if rows:
            decorate(w.dispute for w in rows)
            groups.append({"rule": key, "label": label, "rows": rows})
    context = {
        "rules": [{"rule": k, "label": label, "count": counts.get(k, 0)} for k, label in RULE_LABELS.items()],
        "groups": groups,
        "rule": rule,
        "total": len(warnings),
        "disputes": len({w.dispute.pk for w in warnings}),
    }
    return render(request, "disputes/warnings.html", context)


# --- measures ---------------------------------------------------------------------------------------------------

def _value(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value} %"
    return str(value)


def _cells(measure: dict) -> list[dict]:
    cells = [{"key": key, "label": label, "value": _value(measure.get(key), unit)} for key, label, unit in MEASURES]
    levels = measure.get("resolution_levels") or {}
    cells += [{"key": f"level_{lv}", "label": LEVEL_LABELS[lv], "value": _value(levels.get(lv, 0), "")}
              for lv in LEVEL_ORDER]
    known = {key for key, _label, _unit in MEASURES} | {"resolution_levels", "key", "label"}
    cells += [{"key": key, "label": key, "value": _value(value, "")} for key, value in measure.items()
              if key not in known]  # a measure added later still shows
    return cells


@dispute_reader
def measures(request):
    form = MeasuresForm(request.GET)
    result, status = None, 200
    if form.is_valid():
        try:
            result = selectors.dispute_measures(user=request.user, start=form.cleaned_data["start"],
                                                end=form.cleaned_data["end"], group=form.cleaned_data["group"] or None)
        except InvalidInput as exc:
            placed = False
            for detail in exc.details if isinstance(exc.details, list) else []:
                if isinstance(detail, dict) and detail.get("field") in form.fields:
                    form.add_error(detail["field"], str(detail.get("message") or exc.message))
                    placed = True
            if not placed:
                form.add_error(None, exc.message)
            status = 422
    else:
        status = 422
    context = {"form": form, "result": result}
    if result is not None:
        total = result["total"]
        context.update({
            "tiles": _cells(total),
            "headers": [c["label"] for c in _cells(total)],
            "groups": [{"label": g["label"], "cells": _cells(g)} for g in result["groups"]],
            "chart": {"labels": [str(Level(lv).label) for lv in LEVEL_ORDER],
                      "values": [total["resolution_levels"].get(lv, 0) for lv in LEVEL_ORDER],
                      "title": str(_("Resolved disputes by level"))},
        })
    return render(request, "disputes/measures.html", context, status=status)


# --- the map ------------------------------------------------------------------------------------------------------

@dispute_reader
def map_page(request):
    area = map_area(request.user)
    legend = [{"label": Grade(g).label, "colour": GRADE_COLOURS[g]} for g in GRADE_ORDER]
    return render(request, "disputes/map.html", {
        "legend": legend, "grids_url": reverse("geo:area_map", args=[area.code]) if area else ""})


@dispute_reader
def map_data(request):
    data = selectors.dispute_map_features(user=request.user, open_only=request.GET.get("all") not in ("1", "true"))
    for feature in data["features"]:
        feature["properties"]["url"] = reverse("disputes:detail", args=[feature["properties"]["id"]])
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
