"""The residents' public API, no account needed (auth=None, so no session and no CSRF token either): report a
problem, follow it by its tracking code, confirm the result on site and rate it — what the public pages do
(gridgov/cases/views_public.py), through the same services and the same protections:

- reports without an account are limited per address and hour (GRIDGOV_PUBLIC_REPORTS_PER_HOUR) → 429;
- many unknown tracking codes from one address within an hour block lookups from it for that hour → 429;
- a place outside every grid is a 422 `outside_jurisdiction`.

The tracking answer shows what the tracking page shows, and nothing more: no personal data, no staff names.
"""

from datetime import datetime
from typing import Annotated, Any

from django import forms
from django.http import HttpResponse
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import Json

from gridgov.core.errors import InvalidInput
from gridgov.core.schemas import ErrorOut
from gridgov.geo.choices import CoordSys

from . import selectors, services
from .choices import Source
from .forms_public import PublicReportForm, VerifyForm
from .services import RateLimited

router = Router(auth=None, tags=["public"])

RETRY_AFTER = "3600"
CODE_DOC = "the tracking code on the receipt (spaces, dashes and case do not matter)"


# --- schemas --------------------------------------------------------------------------------------------------

class PublicReportIn(Schema):
    """The public report form's fields (JSON; with photos use the multipart variant)."""

    category: str = Field(..., max_length=40, description="category code or Open311 service code (a subclass)")
    description: str = Field(..., max_length=4000)
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    coord_sys: CoordSys = Field(CoordSys.WGS84, description="coordinate system of lon/lat")
    address: str = Field("", max_length=200, description="address or landmark")
    extra: dict[str, Any] = Field(default_factory=dict, description="the category's extra fields by code")
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=20, description="only for follow-up by the staff; never shown")


class PublicReportMultipart(PublicReportIn):
    """The multipart variant: the same fields as form fields; `extra` is a JSON object string."""

    extra: Json[dict[str, Any]] | None = Field(None, description='a JSON object, e.g. {"size": "small"}')


class PublicVerifyIn(Schema):
    ok: bool = Field(..., description="true: solved (→ verified); false: not solved (→ rework; a note is required)")
    note: str = Field("", max_length=1000, description="what is still wrong")
    version: int | None = Field(None, description="the `version` of the tracking answer: a stale one is a 409")


class PublicRateIn(Schema):
    satisfaction: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=300)


class PublicStepOut(Schema):
    action: str
    action_label: str
    at: datetime
    department: str = Field(description="the department that acted, if any; never a person")


class PublicTrackOut(Schema):
    tracking_code: str
    number: str
    category: str
    reported_at: datetime
    state: str
    state_label: str
    state_text: str = Field(description="the state in plain words, as on the tracking page")
    merged_state: str = Field(description="for a merged report: the state of the report it joined (else empty)")
    merged_state_label: str
    merged_state_text: str
    steps: list[PublicStepOut] = Field(description="the public timeline")
    photo_count: int
    rated: bool
    can_verify: bool = Field(description="the result may be confirmed now (`POST .../verify`)")
    can_rate: bool = Field(description="the report may be rated now (`POST .../rate`)")
    version: int


Photos = Annotated[list[UploadedFile] | None, File(
    None, description="JPEG, PNG or WebP photos, as many as the web form takes; location and time kept, other "
                      "metadata stripped")]

LOOKUP_ERRORS = {404: ErrorOut, 429: ErrorOut}
ACTION_ERRORS = {**LOOKUP_ERRORS, 409: ErrorOut, 422: ErrorOut}


# --- helpers --------------------------------------------------------------------------------------------------

def _ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def _too_many(response: HttpResponse, exc: RateLimited) -> Status:
    response["Retry-After"] = RETRY_AFTER
    return Status(429, {"code": exc.code, "message": exc.message, "details": exc.details})


def _photos(form_class, photos) -> list:
    """The web form's own photo field decides how many (the services check each file's size and type)."""
    try:
        return form_class.base_fields["photos"].clean(photos or [])
    except forms.ValidationError as exc:
        message = " ".join(str(m) for m in exc.messages)
        raise InvalidInput(message, code="invalid", details=[{"field": "photos", "message": message}]) from exc


def _report(request, response: HttpResponse, data: dict, photos=None):
    data["extra"] = data.get("extra") or {}
    try:
        case, _created = services.case_report(by=None, source=Source.PUBLIC, ip=_ip(request),
                                              photos=_photos(PublicReportForm, photos), **data)
    except RateLimited as exc:
        return _too_many(response, exc)
    return Status(201, _shown(case))


def _verify(request, response: HttpResponse, tracking_code: str, payload, photos=None):
    try:
        case = services.public_case_lookup(code=tracking_code, ip=_ip(request))
    except RateLimited as exc:
        return _too_many(response, exc)
    services.case_verify(case_id=case.pk, by=None, ok=payload.ok, note=payload.note, version=payload.version,
                         photos=_photos(VerifyForm, photos), tracking_code=case.tracking_code)
    return _shown(case)


def _shown(case) -> dict:
    return selectors.public_tracking(case=selectors.case_by_tracking_code(code=case.tracking_code))


# --- operations -----------------------------------------------------------------------------------------------

@router.post("/reports", response={201: PublicTrackOut, 422: ErrorOut, 429: ErrorOut},
             summary="Report a problem without an account",
             description="201 with the report as its tracking code shows it (keep `tracking_code`). A place "
                         "outside the area served is a 422 `outside_jurisdiction`; an unknown category a 422 "
                         "`unknown_category`; too many reports from one address within an hour a 429 "
                         "`rate_limited` (with `Retry-After`). With photos: `POST /public/reports/upload`.")
def public_report(request, payload: PublicReportIn, response: HttpResponse):
    return _report(request, response, payload.dict())


@router.post("/reports/upload", response={201: PublicTrackOut, 422: ErrorOut, 429: ErrorOut},
             summary="Report a problem without an account, with photos (multipart/form-data)",
             description="The fields of `POST /public/reports` as form fields (`extra` as a JSON object string) "
                         "plus up to 6 `photos` (JPEG, PNG or WebP, as the web form). Same answers.")
def public_report_upload(request, payload: Form[PublicReportMultipart], response: HttpResponse, photos: Photos = None):
    return _report(request, response, payload.dict(), photos)


@router.get("/reports/{tracking_code}", response={200: PublicTrackOut, **LOOKUP_ERRORS},
            summary="Follow a report by its tracking code",
            description="What the public tracking page shows: state in plain words, the public timeline "
                        "(departments, never people), photo count, whether it may be confirmed or rated now. An "
                        "unknown code is a 404; many unknown codes from one address within an hour a 429.")
def public_track(request, tracking_code: str, response: HttpResponse):
    try:
        case = services.public_case_lookup(code=tracking_code, ip=_ip(request))
    except RateLimited as exc:
        return _too_many(response, exc)
    return selectors.public_tracking(case=case)


@router.post("/reports/{tracking_code}/verify", response={200: PublicTrackOut, **ACTION_ERRORS},
             summary="Confirm the result on site: solved, or not solved (with what is still wrong)",
             description="Only while the report is handled (`can_verify`), else a 409 `invalid_transition`; a "
                         "stale `version` is a 409 `stale_version`; not solved without a note a 422 "
                         "`reason_required`.")
def public_verify(request, tracking_code: str, payload: PublicVerifyIn, response: HttpResponse):
    return _verify(request, response, tracking_code, payload)


@router.post("/reports/{tracking_code}/verify/upload", response={200: PublicTrackOut, **ACTION_ERRORS},
             summary="Confirm the result on site, with photos (multipart/form-data)",
             description="The fields of `POST .../verify` as form fields plus up to 3 `photos`. Same answers.")
def public_verify_upload(request, tracking_code: str, payload: Form[PublicVerifyIn], response: HttpResponse,
                         photos: Photos = None):
    return _verify(request, response, tracking_code, payload, photos)


@router.post("/reports/{tracking_code}/rate", response={200: PublicTrackOut, **ACTION_ERRORS},
             summary="Rate the handling (1–5), once",
             description="Only once the report is verified or closed (`can_rate`), else a 409 "
                         "`invalid_transition`; a second rating is a 409 `already_rated`.")
def public_rate(request, tracking_code: str, payload: PublicRateIn, response: HttpResponse):
    try:
        case = services.public_case_lookup(code=tracking_code, ip=_ip(request))
    except RateLimited as exc:
        return _too_many(response, exc)
    services.case_rate(case_id=case.pk, by=None, satisfaction=payload.satisfaction, comment=payload.comment,
                       tracking_code=case.tracking_code)
    return _shown(case)

