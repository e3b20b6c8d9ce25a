"""The residents' public pages, no account needed: report a problem, get a tracking code, follow the report,
confirm the result on site and rate it.

What a tracking code shows is deliberately little: the number, the category, the state in plain words, the
public timeline (action, time, department — never staff names, notes or internal comments), how many photos
are on file, and, for a merged report, only the state of the report it joined (never that one's code)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from gridgov.core.errors import NotFound, ServiceError
from gridgov.geo import selectors as geo_selectors
from gridgov.geo.coords import to_wgs84
from gridgov.geo.locator import locate

from . import selectors, services
from .choices import Source
from .forms_public import (
    OUTSIDE_AREA_MESSAGE,
    PublicReportForm,
    RateForm,
    TrackLookupForm,
    VerifyForm,
    service_message,
)
from .services import RateLimited

LOOKUP_MISSES_PER_HOUR = getattr(settings, "GRIDGOV_PUBLIC_TRACK_MISSES_PER_HOUR", 30)
MAP_MAX_GRIDS = 300


# --- helpers -----------------------------------------------------------------------------------------------

def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def _rate_limited(request, message: str):
    response = render(request, "cases/public_rate_limited.html", {"message": message}, status=429)
    response["Retry-After"] = "3600"
    return response


def _case_or_none(request, code: str):
    """(case, response): the case of a tracking code, or the response to send instead (404 or 429)."""
    try:
        return services.public_case_lookup(code=code, ip=_client_ip(request),
                                           misses_per_hour=LOOKUP_MISSES_PER_HOUR), None
    except RateLimited:
        return None, _rate_limited(request, gettext("Too many unknown tracking codes from your address. "
                                               "Please try again in an hour."))
    except NotFound:
        form = TrackLookupForm(initial={"code": code})
        return None, render(request, "cases/public_track_lookup.html", {"form": form, "not_found": True}, status=404)


def _service_bounds() -> list[float] | None:
    return geo_selectors.grids_extent()


def _report_context(form: PublicReportForm) -> dict:
    bounds = _service_bounds()
    return {"form": form, "bounds": ",".join(f"{v:.6f}" for v in bounds) if bounds else "",
            "outside_message": OUTSIDE_AREA_MESSAGE}


# --- report ------------------------------------------------------------------------------------------------

def report(request):
    tree = selectors.category_tree(active_only=True)
    if request.method != "POST":
        form = PublicReportForm(tree=tree, initial={"category": request.GET.get("category", "")})
        return render(request, "cases/public_report.html", _report_context(form))
    form = PublicReportForm(request.POST, request.FILES, tree=tree)
    if not form.is_valid():
        return render(request, "cases/public_report.html", _report_context(form), status=422)
    try:
        case, _created = services.case_report(by=None, source=Source.PUBLIC, ip=_client_ip(request),
                                              **form.service_kwargs())
    except RateLimited:
        return _rate_limited(request, gettext("You have sent several reports in the last hour. To protect the service "
                                         "from abuse, please wait a while before sending another one."))
    except ServiceError as exc:
        form.add_service_error(exc)
        return render(request, "cases/public_report.html", _report_context(form), status=422)
    return redirect("public:reported", code=case.tracking_code)


@require_GET
def report_fields(request):
    """htmx: the chosen category's extra fields."""
    form = PublicReportForm(tree=selectors.category_tree(active_only=True),
                            initial={"category": request.GET.get("category", "")})
    return render(request, "cases/public_report_extra.html", {"form": form})


@require_GET
def report_locate(request):
    """Whether a point lies in the area served, before the report is sent (the map's instant answer)."""
    try:
        lon, lat = to_wgs84(float(request.GET["lon"]), float(request.GET["lat"]),
                            request.GET.get("coord_sys") or "wgs84")
    except (KeyError, TypeError, ValueError) as exc:
        return JsonResponse({"code": "invalid", "message": "Give lon, lat and optionally coord_sys.",
                             "details": [{"field": "lon", "message": str(exc)}]}, status=422)
    hit = locate(lon, lat) if -180 <= lon <= 180 and -90 <= lat <= 90 else None
    if hit is None:
        return JsonResponse({"inside": False, "message": str(OUTSIDE_AREA_MESSAGE)})
    return JsonResponse({"inside": True, "grid": hit.name})


@require_GET
def report_area(request):
    """The grids inside the map's view, as GeoJSON (outlines and names only), for the report map."""
    try:
        west, south, east, north = (float(v) for v in request.GET.get("bbox", "").split(","))
    except ValueError:
        bounds = _service_bounds()
        return JsonResponse({"type": "FeatureCollection", "features": [], "bounds": bounds})
    rows = geo_selectors.grid_outlines_in_bbox(west=west, south=south, east=east, north=north, limit=MAP_MAX_GRIDS)
    if len(rows) > MAP_MAX_GRIDS:
        return JsonResponse({"type": "FeatureCollection", "features": [], "too_many": True})
    features = [{"type": "Feature", "geometry": r["geometry"], "properties": {"name": r["name"]}} for r in rows]
    return JsonResponse({"type": "FeatureCollection", "features": features, "too_many": False},
                        json_dumps_params={"ensure_ascii": False})


def reported(request, code: str):
    case, response = _case_or_none(request, code)
    if response is not None:
        return response
    return render(request, "cases/public_reported.html", {"case": case})


# --- track -------------------------------------------------------------------------------------------------

@require_GET
def track_lookup(request):
    if "code" not in request.GET:
        return render(request, "cases/public_track_lookup.html", {"form": TrackLookupForm()})
    form = TrackLookupForm(request.GET)
    if not form.is_valid():
        return render(request, "cases/public_track_lookup.html", {"form": form}, status=422)
    return redirect("public:track", code=form.cleaned_data["code"])


def _track_context(case, *, verify_form: VerifyForm | None = None, rate_form: RateForm | None = None) -> dict:
    shown = selectors.public_tracking(case=case)
    steps = [{"action": s["action_label"], "at": s["at"], "department": s["department"]} for s in shown["steps"]]
    return {
        "case": case,
        **{k: shown[k] for k in ("state_label", "state_text", "merged_state_label", "merged_state_text",
                                  "photo_count", "can_verify", "can_rate")},
        "steps": steps,
        "verify_form": verify_form or (VerifyForm(initial={"version": case.version}) if shown["can_verify"] else None),
        "rate_form": rate_form or (RateForm() if shown["can_rate"] else None),
    }


@require_GET
def track(request, code: str):
    case, response = _case_or_none(request, code)
    if response is not None:
        return response
    return render(request, "cases/public_track.html", _track_context(case))


def _refresh(case):
    return selectors.case_by_tracking_code(code=case.tracking_code)


@require_POST
def track_verify(request, code: str):
    """The reporter confirms on the spot: solved (→ verified) or not solved, with what is still wrong (→ rework)."""
    case, response = _case_or_none(request, code)
    if response is not None:
        return response
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "cases/public_track.html", _track_context(case, verify_form=form), status=422)
    data = form.cleaned_data
    try:
        services.case_verify(case_id=case.pk, by=None, ok=data["ok"], note=data.get("note", ""),
                             photos=data.get("photos") or [], version=data.get("version"),
                             tracking_code=case.tracking_code)
    except ServiceError as exc:
        case = _refresh(case)
        context = _track_context(case)
        if context["verify_form"] is not None and exc.status == 422:
            form.add_service_error(exc)
            context["verify_form"] = form
        else:
            context["error"] = service_message(exc)
        return render(request, "cases/public_track.html", context, status=exc.status)
    if data["ok"]:
        messages.success(request, _("Thank you for confirming. The report will now be closed."))
    else:
        messages.success(request, _("Thank you. The department responsible will work on it again."))
    return redirect("public:track", code=case.tracking_code)


@require_POST
def track_rate(request, code: str):
    """The reporter's satisfaction, once."""
    case, response = _case_or_none(request, code)
    if response is not None:
        return response
    form = RateForm(request.POST)
    if not form.is_valid():
        status = 422 if case.rated_at is None else 409
        context = _track_context(case, rate_form=form if case.rated_at is None else None)
        if case.rated_at is not None:
            context["error"] = gettext("You have already rated this report. Thank you!")
        return render(request, "cases/public_track.html", context, status=status)
    try:
        services.case_rate(case_id=case.pk, by=None, satisfaction=form.cleaned_data["satisfaction"],
                           comment=form.cleaned_data.get("comment", ""), tracking_code=case.tracking_code)
    except ServiceError as exc:
        context = _track_context(_refresh(case))
        context["error"] = service_message(exc)
        return render(request, "cases/public_track.html", context, status=exc.status)
    messages.success(request, _("Thank you for your rating."))
    return redirect("public:track", code=case.tracking_code)
