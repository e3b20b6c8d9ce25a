"""The grid member's resident screens (phone-first): drill-down grid → building → house → resident, search,
the resident page with audited unmasking, edit, household, visits due with the one-screen visit record, and
the per-grid data-quality page with the merge tool.

Thin: reads go through selectors (scoped; identifiers masked), writes through services. An object outside the
user's scope is a 404, as if it did not exist. Plain ID numbers and phones appear only in the answer of the
unmask endpoint, which services.resident_unmask audits.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from gridgov.accounts.choices import Role
from gridgov.cases.views_queues import role_required
from gridgov.core.downloads import stored_file
from gridgov.core.errors import Forbidden, NotFound, ServiceError
from gridgov.core.scope import scope_q
from gridgov.disputes import selectors as dispute_selectors
from gridgov.geo.models import Grid

from . import selectors, services
from .choices import PersonStatus, Relation
from .forms import ResidentForm, VisitRecordForm
from .models import House, Resident

READERS = (Role.GRID_MEMBER, Role.DISPATCHER, Role.LEADER)
EDITORS = (Role.GRID_MEMBER, Role.DISPATCHER)
PAGE_SIZE = 30
# fields of the change history never shown with their values (ciphertexts, blind indexes, their fragments)
SECRET_FIELDS = {"id_number": _("ID number"), "id_index": _("ID number"), "id_last4": _("ID number"),
                 "id_region": _("ID number"), "phone": _("Phone"), "phone_index": _("Phone"),
                 "phone_last4": _("Phone")}
HISTORY_SKIP = {"updated_at", "created_at", "updated_by", "created_by", "path", "confirmed_at", "completeness"}


def _get(fn, **kwargs):
    try:
        return fn(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _grid(user, code: str) -> Grid:
    grid = Grid.objects.filter(scope_q(user), code=code).select_related("community").first()
    if grid is None:
        raise Http404("No such grid in your area.")
    return grid


def _house(user, pk: int) -> House:
    house = House.objects.filter(scope_q(user), pk=pk).select_related("address__building", "grid").first()
    if house is None:
        raise Http404("No such house.")
    return house


def _may_edit(user) -> bool:
    return user.role in EDITORS or user.is_admin_role


def _page(request, items):
    if not getattr(items, "ordered", True):  # the exact-ID search: at most one row, left unordered by the selector
        items = items.order_by("pk")
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _masked(residents):
    rows = list(residents)
    for r in rows:
        r.id_masked, r.phone_masked = selectors.masked_id(r), selectors.masked_phone(r)
    return rows


# --- drill-down -----------------------------------------------------------------------------------------------

@role_required(*READERS)
def index(request):
    """My grids (a grid member) or the grids of my area, with their resident counts."""
    user = request.user
    grids = Grid.objects.filter(scope_q(user)).select_related("community").annotate(
        n_residents=Count("residents", filter=Q(residents__status=PersonStatus.ACTIVE), distinct=True),
        n_houses=Count("houses", distinct=True))
    if user.role == Role.GRID_MEMBER:
        grids = grids.filter(members=user)
    q = request.GET.get("grid", "").strip()
    if q:
        grids = grids.filter(Q(name__icontains=q) | Q(code__startswith=q))
    return render(request, "residents/index.html", {"page": _page(request, grids.order_by("path")), "q": q,
                                                    "may_edit": _may_edit(user)})


@role_required(*READERS)
def grid_detail(request, code: str):
    grid = _grid(request.user, code)
    buildings = selectors.grid_buildings(user=request.user, grid_code=grid.code)
    houses = selectors.house_list(user=request.user, grid=grid.code).annotate(
        n_residents=Count("residents", filter=Q(residents__status=PersonStatus.ACTIVE))).order_by("address__full_text")
    building = None
    if request.GET.get("building", "").isdigit():
        building = buildings.filter(pk=int(request.GET["building"])).first()
        if building is not None:
            houses = houses.filter(address__building=building)
    return render(request, "residents/grid.html", {
        "grid": grid, "buildings": buildings, "building": building, "page": _page(request, houses),
        "n_residents": Resident.objects.filter(grid=grid, status=PersonStatus.ACTIVE).count()})


@role_required(*READERS)
def house_detail(request, pk: int):
    house = _house(request.user, pk)
    residents = _masked(selectors.resident_list(user=request.user, status=None).filter(house=house)
                        .order_by("status", "household__number", "name"))
    return render(request, "residents/house.html", {"house": house, "residents": residents,
                                                    "may_edit": _may_edit(request.user)})


# --- search ---------------------------------------------------------------------------------------------------

@role_required(*READERS)
def visit_photo(request, pk: int):
    """A visit photo, for users who may see the resident visited."""
    photo = _get(selectors.visit_photo_get, user=request.user, pk=pk)  # the API's checks too
    return stored_file(photo.file, content_type=photo.content_type, missing=Http404)


@role_required(*READERS)
def search(request):
    # Searched by POST, so an ID or phone number typed in never lands in a URL, the history or access logs;
    # a name search may also come by GET (its pagination links).
    q = (request.POST.get("q") or request.GET.get("q") or "").strip()[:100]
    page = None
    if q:
        page = _page(request, selectors.resident_list(user=request.user, q=q, status=None))
        page.object_list = _masked(page.object_list)
    echo = "" if re.search(r"\d{6,}", q) else q  # never write an identifier back into the page
    template = "residents/_search_results.html" if request.headers.get("HX-Request") else "residents/search.html"
    return render(request, template, {"q": echo, "page": page})


# --- the resident ---------------------------------------------------------------------------------------------

def _history(resident: Resident) -> list[dict]:
    """Who changed what and when; identifiers only as "changed", never their values."""
    records = list(resident.history.all().select_related("history_user").order_by("-history_date", "-history_id"))
    rows = []
    for i, record in enumerate(records):
        previous = records[i + 1] if i + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            secret_seen = set()
            for change in delta.changes:
                if change.field in HISTORY_SKIP:
                    continue
                if change.field in SECRET_FIELDS:
                    label = SECRET_FIELDS[change.field]
                    if str(label) not in secret_seen:
                        secret_seen.add(str(label))
                        changes.append({"field": label, "secret": True})
                    continue
                field = Resident._meta.get_field(change.field)
                changes.append({"field": field.verbose_name, "old": _display(field, change.old),
                                "new": _display(field, change.new)})
        rows.append({"when": record.history_date, "who": record.history_user, "type": record.history_type,
                     "changes": changes})
    return rows


def _display(field, value) -> str:
    if value in (None, ""):
        return "—"
    if field.is_relation:
        return gettext("changed")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


@role_required(*READERS)
def resident_detail(request, pk: int):
    resident = _get(selectors.resident_get, user=request.user, pk=pk)
    user = request.user
    household_members = []
    if resident.household_id:
        household_members = _masked(resident.household.members.exclude(pk=resident.pk).order_by("name"))
    visits = selectors.resident_visits(user=user, resident=resident)  # without sensitive tags' visits
    return render(request, "residents/resident.html", {
        "resident": resident, "id_masked": selectors.masked_id(resident),
        "phone_masked": selectors.masked_phone(resident), "may_unmask": services.may_unmask(user),
        "may_edit": _may_edit(user), "tags": selectors.resident_tags(user=user, resident=resident),
        "visits": visits[:20],
        "household_members": household_members, "history": _history(resident),
        "ethnicity": _ethnicity(resident.ethnicity),
        "may_see_disputes": dispute_selectors.may_see_disputes(user),
        "disputes": dispute_selectors.disputes_for_resident(user=user, resident=resident)})


def _ethnicity(code: str) -> str:
    from .validators import ETHNICITIES

    return ETHNICITIES.get(code, code)


@role_required(*READERS)
@require_POST
def unmask(request, pk: int, field: str):
    """The plain value for an htmx swap; every call is audited by services.resident_unmask."""
    resident = _get(selectors.resident_get, user=request.user, pk=pk)
    try:
        value = services.resident_unmask(resident=resident, field=field, by=request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        return HttpResponse(escape(exc.message), status=exc.status)
    response = HttpResponse(f'<span data-testid="unmasked-{escape(field)}">{escape(value) or "—"}</span>')
    response["Cache-Control"] = "no-store"
    return response


def _resident_form(request, *, grid: Grid, resident: Resident | None, house: House | None):
    user = request.user
    houses = selectors.house_list(user=user, grid=grid.code)
    masked = {"masked_id": selectors.masked_id(resident) if resident else "",
              "masked_phone": selectors.masked_phone(resident) if resident else ""}
    if request.method == "POST":
        form = ResidentForm(request.POST, houses=houses, **masked)
        if form.is_valid():
            data = form.service_data()
            if house is not None and resident is None:
                data["house"] = data["house"] or house
            try:
                saved, created = services.resident_save(by=user, grid=grid, data=data, resident=resident)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, gettext("Resident added.") if created else gettext("Changes saved."))
                return redirect("residents:detail", pk=saved.pk)
    else:
        initial = (ResidentForm.initial_for(resident, **masked) if resident
                   else {"house": house.pk if house else None})
        form = ResidentForm(initial=initial, houses=houses, **masked)
    return render(request, "residents/edit.html", {"form": form, "resident": resident, "house": house,
                                                   "grid": grid})


@role_required(*EDITORS)
def resident_edit(request, pk: int):
    resident = _get(selectors.resident_get, user=request.user, pk=pk)
    return _resident_form(request, grid=resident.grid, resident=resident, house=None)


@role_required(*EDITORS)
def resident_new(request, house_pk: int):
    house = _house(request.user, house_pk)
    return _resident_form(request, grid=house.grid, resident=None, house=house)


@role_required(*EDITORS)
@require_POST
def resident_confirm(request, pk: int):
    resident = _get(selectors.resident_get, user=request.user, pk=pk)
    _get(services.resident_confirm, resident=resident, by=request.user)
    messages.success(request, gettext("Confirmed as still correct."))
    return redirect("residents:detail", pk=resident.pk)


# --- household ------------------------------------------------------------------------------------------------

@role_required(*READERS)
def household_detail(request, pk: int):
    household = _get(selectors.household_get, user=request.user, pk=pk)
    order = {value: i for i, value in enumerate(Relation.values)}
    members = sorted(_masked(household.members.filter(scope_q(request.user))),
                     key=lambda m: (order.get(m.relation, len(order)), m.name))
    return render(request, "residents/household.html", {"household": household, "members": members})


# --- visits ---------------------------------------------------------------------------------------------------

@role_required(*READERS)
def visits_due(request):
    rows = selectors.visits_due(user=request.user)  # scoped: a grid member's own grids
    return render(request, "residents/visits_due.html", {"rows": rows})


@role_required(*EDITORS)
def visit_new(request, pk: int):
    resident = _get(selectors.resident_get, user=request.user, pk=pk)
    tag_ids = [t.tag_id for t in selectors.resident_tags(user=request.user, resident=resident)]
    tags = selectors.visible_tags(user=request.user).filter(pk__in=tag_ids)
    if request.method == "POST":
        form = VisitRecordForm(request.POST, request.FILES, tags=tags)
        if form.is_valid():
            try:
                services.visit_record(resident=resident, by=request.user, **form.cleaned_data)
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from exc
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, gettext("Visit recorded."))
                return redirect("residents:detail", pk=resident.pk)
    else:
        form = VisitRecordForm(tags=tags)
    return render(request, "residents/visit.html", {"form": form, "resident": resident})


# --- data quality and merge -----------------------------------------------------------------------------------

@role_required(*READERS)
def grid_quality(request, code: str):
    grid = _grid(request.user, code)
    quality = selectors.grid_quality(user=request.user, grid_code=grid.code)
    incomplete = [{"resident": r, "missing": missing_facts(r)} for r in quality.incomplete]
    return render(request, "residents/quality.html", {"grid": grid, "q": quality, "incomplete": incomplete,
                                                      "may_edit": _may_edit(request.user)})


def missing_facts(resident: Resident) -> list[str]:
    """What keeps a record below 100 % (the checks of services.completeness)."""
    checks = [(resident.name, _("name")), (resident.id_index, _("ID number")), (resident.ethnicity, _("ethnicity")),
              (resident.phone_index, _("phone")), (resident.house_id, _("actual address")),
              (resident.registered_address, _("registered residence")), (resident.household_id, _("household"))]
    return [str(label) for present, label in checks if not present]


@role_required(*EDITORS)
def merge(request, keep: int, duplicate: int):
    """Confirm, then fold the newer record into the older one (services.resident_merge)."""
    a = _get(selectors.resident_get, user=request.user, pk=keep)
    b = _get(selectors.resident_get, user=request.user, pk=duplicate)
    keep_r, dup_r = (a, b) if (a.created_at, a.pk) <= (b.created_at, b.pk) else (b, a)
    if request.method == "POST":
        try:
            services.resident_merge(keep=keep_r, duplicate=dup_r, by=request.user)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("residents:quality", code=keep_r.grid.code)
        messages.success(request, gettext("Records merged."))
        return redirect("residents:detail", pk=keep_r.pk)
    return render(request, "residents/merge.html", {"keep": _masked([keep_r])[0], "duplicate": _masked([dup_r])[0]})
