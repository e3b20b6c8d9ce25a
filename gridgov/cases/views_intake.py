"""The intake screens: the grid member's phone report and the hotline operator's entry. Both call
services.case_report, which locates the case, checks everything and is idempotent on the hidden key the
form carries (a double submit creates one case)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext

from gridgov.accounts.choices import Role
from gridgov.core.errors import ServiceError
from gridgov.geo.choices import CoordSys

from . import selectors, services
from .choices import Source
from .forms_intake import HotlineForm, IntakeForm, ReportForm
from .views_queues import map_area, role_required


def _intake(request, form_class: type[IntakeForm], template: str, *, source: str):
    if request.method == "GET" and request.GET.get("partial") == "extra":
        form = form_class(initial={"category": request.GET.get("category", "")})
        return render(request, "cases/_q_extra_fields.html", {"form": form})
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, request.FILES)
        if form.is_valid():
            try:
                case, created = services.case_report(by=request.user, source=source, **form.service_kwargs())
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                if created:
                    messages.success(request, gettext("Case %(number)s reported.") % {"number": case.number})
                else:
                    messages.info(request, gettext("This report was already received as case %(number)s.")
                                  % {"number": case.number})
                return redirect("cases:detail", pk=case.pk)
        status = 422
    else:
        form = form_class(initial={"coord_sys": CoordSys.WGS84})
    area = map_area(request.user)
    context = {
        "form": form,
        "new_key": uuid.uuid4().hex,
        "category_tree": selectors.category_tree(),
        "grids_url": reverse("geo:area_map", args=[area.code]) if area else "",
    }
    return render(request, template, context, status=status)


@role_required(Role.GRID_MEMBER, admin=False)
def report(request):
    """The grid member's phone form: category, description, the phone's location, photos, on-the-spot."""
    return _intake(request, ReportForm, "cases/report.html", source=Source.GRID_MEMBER)


@role_required(Role.DISPATCHER)
def hotline(request):
    """The hotline operator's entry: the caller, the problem and the place (any coordinate system)."""
    return _intake(request, HotlineForm, "cases/hotline.html", source=Source.HOTLINE)
