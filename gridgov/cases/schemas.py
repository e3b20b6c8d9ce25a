"""Schemas of the cases API: what goes in (one body per action) and what comes out (list rows, the detail,
categories). Resolvers only shape data; every read is done by the selectors."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.urls import NoReverseMatch, reverse
from ninja import Field, Schema
from pydantic import Json

from gridgov.core import crypto
from gridgov.geo.choices import CoordSys

from .choices import LimitUnit, State

# --- input ---------------------------------------------------------------------------------------------------

VERSION = Field(None, ge=1, description="The version you last saw; a stale one is a 409 stale_version "
                                        "(optimistic lock). Omit it to act on whatever is current.")


class CaseFilterQuery(Schema):
    """The list filters (gridgov.cases.filters.CaseFilter, shared with the web UI)."""

    state: list[str] | None = Field(None, description=f"one or more of {', '.join(State.values)}")
    open: bool | None = Field(None, description="true: open cases only; false: finished ones only")
    category: str | None = Field(None, description="category code (a main class includes its subclasses)")
    source: str | None = Field(None, description="grid_member, public, hotline, api or dispatcher")
    area: str | None = Field(None, description="area code: cases under that area")
    grid: str | None = Field(None, description="grid code")
    department: str | None = Field(None, description="department code: cases with a task for it")
    level: str | None = Field(None, description="grid, community, street, district or city")
    overdue: bool | None = Field(None, description="cases that were overdue at some step")
    reported_from: date | None = Field(None, description="reported on or after this day")
    reported_to: date | None = Field(None, description="reported on or before this day")
    q: str | None = Field(None, max_length=100, description="number prefix, or text in description/address")
    ordering: str | None = Field(None, description="reported_at, handle_due, number or updated_at; "
                                                   "prefix - for descending")


class CaseIn(Schema):
    category: str = Field(..., max_length=40, description="category code or Open311 service code (a subclass)")
    description: str = Field(..., max_length=4000)
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    coord_sys: CoordSys = Field(CoordSys.WGS84, description="coordinate system of lon/lat")
    address: str = Field("", max_length=200)
    extra: dict[str, Any] = Field(default_factory=dict, description="the category's extra fields by code")
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=30, description="stored encrypted, shown masked")
    self_handle: bool = Field(False, description="a grid member handled it on the spot (needs photos: use "
                                                 "POST /cases/upload)")
    handle_note: str = Field("", max_length=2000, description="what was done, for a self-handled case")


class CaseForm(CaseIn):
    """The multipart variant of CaseIn: the same fields as form fields; `extra` is a JSON object string."""

    extra: Json[dict[str, Any]] | None = Field(None, description='a JSON object, e.g. {"size": "small"}')


class CaseNoteIn(Schema):
    version: int | None = VERSION
    note: str = Field("", max_length=2000)


class CaseReasonIn(Schema):
    version: int | None = VERSION
    reason: str = Field(..., max_length=2000)


class CaseMergeIn(Schema):
    version: int | None = VERSION
    into: int = Field(..., description="id of the open case this one duplicates")
    note: str = Field("", max_length=2000)


class DispatchIn(Schema):
    version: int | None = VERSION
    lead: str = Field(..., max_length=32, description="code of the lead department")
    assist: list[str] = Field(default_factory=list, description="codes of assisting departments")
    instructions: str = Field("", max_length=2000)


class ReportBackIn(Schema):
    version: int | None = VERSION
    result: str = Field(..., max_length=4000, description="what was done")


class VerifyIn(Schema):
    version: int | None = VERSION
    ok: bool = Field(..., description="true: verified; false: rework (a note is required)")
    note: str = Field("", max_length=2000)


class ExtensionRequestIn(Schema):
    version: int | None = VERSION
    amount: int = Field(..., ge=1, le=365)
    unit: LimitUnit = Field(..., description="hours or days (working time)")
    reason: str = Field(..., max_length=2000)


class ExtensionDecisionIn(Schema):
    version: int | None = VERSION
    approve: bool
    note: str = Field("", max_length=2000, description="required when refusing")


class SummonIn(Schema):
    version: int | None = VERSION
    departments: list[str] = Field(..., min_length=1, description="department codes")
    amount: int = Field(..., ge=1, le=365, description="time each department gets")
    unit: LimitUnit = LimitUnit.DAYS
    instructions: str = Field("", max_length=2000)


class RateIn(Schema):
    satisfaction: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=300)


class CaseCommentIn(Schema):
    version: int | None = VERSION
    note: str = Field(..., max_length=2000)


# --- output --------------------------------------------------------------------------------------------------

class CategoryRef(Schema):
    code: str
    name: str
    parent: str | None = Field(None, description="code of the main class")

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None


class Ref(Schema):
    code: str
    name: str


class CaseRef(Schema):
    id: int
    number: str


class CaseOut(Schema):
    id: int
    number: str
    category: CategoryRef
    description: str
    address: str
    source: str
    state: str
    state_label: str
    level: str
    version: int
    lon: float
    lat: float
    grid: Ref
    lead_department: Ref | None
    reported_at: datetime
    handle_due: datetime | None
    closed_at: datetime | None
    overdue: bool

    @staticmethod
    def resolve_state_label(obj):
        return str(State(obj.state).label)


class DuplicateOut(CaseOut):
    distance_m: int = Field(..., description="metres from the case")


class TaskOut(Schema):
    department: Ref
    role: str
    state: str
    instructions: str
    due_at: datetime | None
    accepted_at: datetime | None
    done_at: datetime | None
    result: str


class AttachmentOut(Schema):
    id: int
    kind: str
    url: str = Field(..., description="the photo on the web UI (a signed-in session)")
    api_url: str = Field(..., description="the photo through the API (a bearer token)")
    content_type: str
    width: int
    height: int
    photo_lon: float | None
    photo_lat: float | None
    taken_at: datetime | None

    @staticmethod
    def resolve_url(obj):
        try:
            return reverse("cases:attachment", args=[obj.pk])
        except NoReverseMatch:
            return f"/cases/attachments/{obj.pk}/"

    @staticmethod
    def resolve_api_url(obj):
        return reverse("api:case_attachment", args=[obj.pk])


class TimelineStepOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    department: str | None = Field(None, description="department code")
    at: datetime
    note: str

    @staticmethod
    def resolve_actor(obj):
        return obj.actor_name

    @staticmethod
    def resolve_department(obj):
        return obj.department.code if obj.department_id else None


class ExtensionOut(Schema):
    id: int
    amount: int
    unit: str
    reason: str
    state: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str


class CaseDetailOut(CaseOut):
    tracking_code: str
    extra: dict[str, Any]
    reporter_name: str
    reporter_phone: str = Field(..., description="masked (139****5678)")
    self_handled: bool
    merged_into: CaseRef | None
    registered_at: datetime | None
    dispatched_at: datetime | None
    accepted_at: datetime | None
    handled_at: datetime | None
    verified_at: datetime | None
    rejected_at: datetime | None
    suspended_at: datetime | None
    escalated_at: datetime | None
    rated_at: datetime | None
    register_due: datetime | None
    dispatch_due: datetime | None
    closed_on_time: bool | None
    return_count: int
    rework_count: int
    extension_count: int
    reopen_count: int
    escalation_count: int
    supervision_count: int
    resolution_level: str
    verified_by_reporter: bool
    satisfaction: int | None
    satisfaction_comment: str
    tasks: list[TaskOut]
    attachments: list[AttachmentOut]
    extensions: list[ExtensionOut]
    timeline: list[TimelineStepOut]
    allowed_actions: list[str] = Field(..., description="what you may do now; verify_ok/verify_fail are "
                                                        "POST …/verify, approve_/reject_extension are "
                                                        "POST …/decide_extension")

    @staticmethod
    def resolve_reporter_phone(obj):
        return crypto.mask_phone(crypto.decrypt(obj.reporter_phone))

    @staticmethod
    def resolve_tasks(obj):
        return list(obj.tasks.all())

    @staticmethod
    def resolve_attachments(obj):
        return list(obj.attachments.all())

    @staticmethod
    def resolve_extensions(obj):
        return list(obj.extensions.all())

    @staticmethod
    def resolve_timeline(obj, context):
        from gridgov.accounts.choices import Role

        from .selectors import case_timeline

        user = context["request"].auth
        return list(case_timeline(case=obj, public_only=getattr(user, "role", None) == Role.RESIDENT))

    @staticmethod
    def resolve_allowed_actions(obj, context):
        from .services import case_allowed_actions

        return [str(a) for a in case_allowed_actions(case=obj, user=context["request"].auth)]


class CategoryOut(Schema):
    code: str
    name: str
    parent: str | None = Field(None, description="code of the main class; null for a main class")
    reportable: bool = Field(..., description="cases are filed under subclasses only")
    kind: str
    description: str
    keywords: str
    register_limit: int
    dispatch_limit: int
    handle_limit: int
    limit_unit: str = Field(..., description="unit of the register and dispatch limits")
    handle_unit: str
    default_department: str | None = Field(None, description="department code (routing)")
    duplicate_radius_m: int
    duplicate_window_days: int
    photo_required_report_back: bool
    photo_required_verify: bool
    extra_fields: list[dict[str, Any]]
    service_code: str
    is_dispute: bool

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_reportable(obj):
        return obj.parent_id is not None

    @staticmethod
    def resolve_default_department(obj):
        return obj.default_department.code if obj.default_department_id else None


# --- category import and the queue pages' counters -----------------------------------------------------------

class CategoryImportForm(Schema):
    dry_run: bool = Field(False, description="true: check the file and report what would change; write nothing")


class CategoryImportOut(Schema):
    """A file that was accepted (whole): how many rows, which codes it creates and which it updates."""

    dry_run: bool
    rows: int
    created: list[str] = Field(..., description="codes of the categories the file creates")
    updated: list[str] = Field(..., description="codes of the existing categories it updates")


class ConsoleCountsOut(Schema):
    open: int
    to_register: int
    to_dispatch: int
    returned: int = Field(..., description="registered again after a department returned them")
    extensions: int = Field(..., description="cases with an extension request to decide")
    handling: int = Field(..., description="dispatched, in progress or suspended")
    to_verify: int
    to_close: int
    overdue: int = Field(..., description="open and overdue")
    all: int


class DepartmentCountsOut(Schema):
    pending: int = Field(..., description="tasks of my department to accept")
    accepted: int = Field(..., description="tasks accepted, being handled")
    overdue: int = Field(..., description="tasks to accept or being handled, past their due time")


class TodayCountsOut(Schema):
    to_verify: int = Field(..., description="handled cases in my scope awaiting verification")
    overdue: int = Field(..., description="open overdue cases in my grids")
    my_reports: int = Field(..., description="cases I reported")


class QueueCountersOut(Schema):
    """The counters of each queue page you may open; null for a page your role does not have."""

    console: ConsoleCountsOut | None = Field(None, description="the dispatcher's console (dispatchers, admins)")
    department: DepartmentCountsOut | None = Field(
        None, description="the department queue (handlers, admins; all zero without a department)")
    today: TodayCountsOut | None = Field(None, description="the grid member's today page (grid members)")
