"""The cases API: list, detail, create (JSON, or multipart with photos), one POST per workflow action,
duplicate candidates and categories. Thin: the selectors read, the services write and refuse; the
ServiceErrors they raise become the JSON 4xx answers of config/api.py.

Every action answers with the updated case detail. A wrong state is a 409 `invalid_transition` whose
details.allowed_actions lists what may be done now; a stale `version` is a 409 `stale_version`; a wrong role
is a 403; a case outside your scope is a 404, as if it did not exist.
"""

from typing import Annotated

from django.http import HttpResponse
from ninja import File, Form, Header, Query, Router
from ninja.files import UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department
from gridgov.core.downloads import stored_file
from gridgov.core.errors import Forbidden, InvalidInput, NotFound
from gridgov.core.pagination import Pagination
from gridgov.core.schemas import ErrorOut

from . import selectors, services
from .category_import import category_import_file, category_workbook
from .models import Attachment
from .schemas import (
    CaseCommentIn,
    CaseDetailOut,
    CaseFilterQuery,
    CaseForm,
    CaseIn,
    CaseMergeIn,
    CaseNoteIn,
    CaseOut,
    CaseReasonIn,
    CategoryImportForm,
    CategoryImportOut,
    CategoryOut,
    DispatchIn,
    DuplicateOut,
    ExtensionDecisionIn,
    ExtensionRequestIn,
    QueueCountersOut,
    RateIn,
    ReportBackIn,
    SummonIn,
    VerifyIn,
)
from .views_admin import CategoryUploadForm

router = Router(tags=["cases"])

READ_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
CREATE = {200: CaseDetailOut, 201: CaseDetailOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut}
ACTION = {200: CaseDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
IdempotencyKey = Annotated[str | None, Header(
    None, alias="Idempotency-Key", max_length=100,
    description="A retry with the same key (same user) returns the first case with 200 and creates nothing")]
Photos = Annotated[list[UploadedFile] | None, File(
    None, description="JPEG, PNG or WebP photos; their location and time are kept, other metadata stripped")]


def _detail(request, case_id: int):
    return selectors.case_get(user=request.auth, case_id=case_id)


def _department_ids(codes: list[str], field: str) -> list[int]:
    found = dict(Department.objects.filter(code__in=codes, is_active=True).values_list("code", "id"))
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidInput(f"Unknown department {', '.join(missing)}.", code="unknown_department",
                           details=[{"field": field, "message": f"unknown department {', '.join(missing)}"}])
    return [found[c] for c in codes]


def _report(request, payload: CaseIn, idempotency_key: str | None, photos=None):
    data = payload.dict()
    data["extra"] = data["extra"] or {}
    case, created = services.case_report(by=request.auth, idempotency_key=idempotency_key or "",
                                         photos=photos or [], **data)
    if created:  # answered from the case as written: its rows are all in memory (a third of the time was re-reading)
        return Status(201, case)
    try:
        body = _detail(request, case.pk)
    except NotFound:
        body = case  # reported outside the reporter's own scope (a hotline call): they still see what they made
    return Status(200, body)


# --- reads ----------------------------------------------------------------------------------------------------

@router.get("/cases", response={200: list[CaseOut], **READ_ERRORS}, summary="Cases in my scope")
@paginate(Pagination)
def case_list(request, filters: Query[CaseFilterQuery]):
    return selectors.case_list(user=request.auth, filters=filters.dict(exclude_none=True))


@router.get("/cases/counters", response={200: QueueCountersOut, 401: ErrorOut},
            summary="The counters of the queue pages (console, department queue, today) for me",
            description="In one call, the numbers the web UI's queue pages show, over your whole scope: each "
                        "console queue (dispatchers, admins), your department's tasks to accept, in progress and "
                        "overdue (handlers, admins), and the grid member's today (to verify, overdue in my grids, "
                        "my reports). A page your role does not have is null. Each console queue is also a "
                        "filtered `GET /cases` whose `count` is the same number.")
def case_counters(request):
    return selectors.queue_page_counters(user=request.auth)


@router.get("/cases/{int:case_id}", response={200: CaseDetailOut, **READ_ERRORS},
            summary="One case with its tasks, photos, timeline and the actions allowed to me")
def case_detail(request, case_id: int):
    return _detail(request, case_id)


@router.get("/cases/{int:case_id}/duplicates", response={200: list[DuplicateOut], 403: ErrorOut, **READ_ERRORS},
            summary="Duplicate candidates: open cases of the same category nearby (dispatchers)")
def case_duplicates(request, case_id: int):
    case = _detail(request, case_id)
    if request.auth.role != Role.DISPATCHER and not request.auth.is_admin_role:
        raise Forbidden("Only dispatchers look for duplicates.")
    return selectors.case_duplicates(case=case, user=request.auth)


PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


@router.get("/cases/attachments/{int:attachment_id}", response={200: None, **READ_ERRORS},
            summary="A case photo (the `api_url` of an attachment)",
            description="The image as stored (JPEG, PNG or WebP; location and time kept, other metadata stripped), "
                        "for whoever may see its case; 404 otherwise.",
            openapi_extra={"responses": {200: {"description": "The photo", "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in PHOTO_TYPES}}}})
def case_attachment(request, attachment_id: int):
    att = Attachment.objects.filter(pk=attachment_id).first()
    if att is None:
        raise NotFound("No such attachment.")
    selectors.case_get(user=request.auth, case_id=att.case_id)  # a case out of scope: 404, as for the case
    return stored_file(att.file, content_type=att.content_type, missing=NotFound, cache="private, max-age=3600")


# --- intake ---------------------------------------------------------------------------------------------------

@router.post("/cases", response=CREATE, summary="Report a case (JSON)",
             description="201 with the new case; a retry with the same `Idempotency-Key` returns the same case "
                         "with 200 and creates nothing. A point outside every grid is a 422 "
                         "`outside_jurisdiction`. To attach photos use `POST /cases/upload` (multipart).")
def case_create(request, payload: CaseIn, idempotency_key: IdempotencyKey = None):
    return _report(request, payload, idempotency_key)


@router.post("/cases/upload", response=CREATE, summary="Report a case with photos (multipart/form-data)",
             description="The fields of `POST /cases` as form fields (`extra` as a JSON object string) plus "
                         "`photos` files. A case handled on the spot (`self_handle`) needs a photo.")
def case_create_upload(request, payload: Form[CaseForm], photos: Photos = None,
                       idempotency_key: IdempotencyKey = None):
    return _report(request, payload, idempotency_key, photos)


# --- the workflow: one path per action ------------------------------------------------------------------------

@router.post("/cases/{int:case_id}/register", response=ACTION, summary="Register (立案) a reported case")
def case_register(request, case_id: int, payload: CaseNoteIn):
    services.case_register(case_id=case_id, by=request.auth, version=payload.version, note=payload.note)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/reject", response=ACTION, summary="Refuse to register (不予立案)")
def case_reject(request, case_id: int, payload: CaseReasonIn):
    services.case_reject(case_id=case_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/merge", response=ACTION, summary="Merge into another case as a duplicate")
def case_merge(request, case_id: int, payload: CaseMergeIn):
    services.case_merge(case_id=case_id, into_id=payload.into, by=request.auth, version=payload.version,
                        note=payload.note)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/dispatch", response=ACTION,
             summary="Dispatch (派遣) to a lead department and assisting ones")
def case_dispatch(request, case_id: int, payload: DispatchIn):
    [lead] = _department_ids([payload.lead], "lead")
    assist = _department_ids(payload.assist, "assist")
    services.case_dispatch(case_id=case_id, by=request.auth, lead=lead, assist=assist,
                           instructions=payload.instructions, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/accept", response=ACTION, summary="Accept (签收) as a department handler")
def case_accept(request, case_id: int, payload: CaseNoteIn):
    services.case_accept(case_id=case_id, by=request.auth, version=payload.version, note=payload.note)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/return", response=ACTION, summary="Return (回退): not our department")
def case_return(request, case_id: int, payload: CaseReasonIn):
    services.case_return(case_id=case_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/suspend", response=ACTION, summary="Suspend (挂账): the clock stops")
def case_suspend(request, case_id: int, payload: CaseReasonIn):
    services.case_suspend(case_id=case_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/resume", response=ACTION, summary="Resume a suspended case")
def case_resume(request, case_id: int, payload: CaseNoteIn):
    services.case_resume(case_id=case_id, by=request.auth, version=payload.version, note=payload.note)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/report_back", response=ACTION, summary="Report back (处置反馈)",
             description="Categories that need a photo of the result take "
                         "`POST /cases/{case_id}/report_back/upload` (multipart).")
def case_report_back(request, case_id: int, payload: ReportBackIn):
    services.case_report_back(case_id=case_id, by=request.auth, result=payload.result, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/report_back/upload", response=ACTION,
             summary="Report back with photos (multipart/form-data)")
def case_report_back_upload(request, case_id: int, payload: Form[ReportBackIn],
                            photos: Photos = None):
    services.case_report_back(case_id=case_id, by=request.auth, result=payload.result, photos=photos or [],
                              version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/verify", response=ACTION,
             summary="Verify on site (核查): ok → verified, not ok → rework (返工)")
def case_verify(request, case_id: int, payload: VerifyIn):
    services.case_verify(case_id=case_id, by=request.auth, ok=payload.ok, note=payload.note,
                         version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/verify/upload", response=ACTION,
             summary="Verify on site with photos (multipart/form-data)")
def case_verify_upload(request, case_id: int, payload: Form[VerifyIn], photos: Photos = None):
    services.case_verify(case_id=case_id, by=request.auth, ok=payload.ok, note=payload.note, photos=photos or [],
                         version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/close", response=ACTION, summary="Close (结案) a verified case")
def case_close(request, case_id: int, payload: CaseNoteIn):
    services.case_close(case_id=case_id, by=request.auth, version=payload.version, note=payload.note)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/reopen", response=ACTION, summary="Reopen a closed case (within the period)")
def case_reopen(request, case_id: int, payload: CaseReasonIn):
    services.case_reopen(case_id=case_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/request_extension", response=ACTION,
             summary="Ask for more time (延期) as the lead department")
def case_request_extension(request, case_id: int, payload: ExtensionRequestIn):
    services.case_request_extension(case_id=case_id, by=request.auth, amount=payload.amount, unit=payload.unit,
                                    reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/decide_extension", response=ACTION,
             summary="Approve or refuse the pending extension request")
def case_decide_extension(request, case_id: int, payload: ExtensionDecisionIn):
    services.case_decide_extension(case_id=case_id, by=request.auth, approve=payload.approve, note=payload.note,
                                   version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/summon", response=ACTION,
             summary="Summon departments (吹哨报到): street, district or city command centres")
def case_summon(request, case_id: int, payload: SummonIn):
    departments = _department_ids(payload.departments, "departments")
    services.case_summon(case_id=case_id, by=request.auth, departments=departments, amount=payload.amount,
                         unit=payload.unit, instructions=payload.instructions, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/supervise", response=ACTION, summary="Supervise (督办) as a leader")
def case_supervise(request, case_id: int, payload: CaseReasonIn):
    services.case_supervise(case_id=case_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/rate", response=ACTION, summary="Rate the result (1–5) as the reporter",
             description="Once per case; a second rating is a 409 `already_rated`.")
def case_rate(request, case_id: int, payload: RateIn):
    services.case_rate(case_id=case_id, by=request.auth, satisfaction=payload.satisfaction,
                       comment=payload.comment)
    return _detail(request, case_id)


@router.post("/cases/{int:case_id}/comment", response=ACTION, summary="Add an internal comment to the timeline")
def case_comment(request, case_id: int, payload: CaseCommentIn):
    services.case_comment(case_id=case_id, by=request.auth, note=payload.note, version=payload.version)
    return _detail(request, case_id)


# --- categories -----------------------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Spreadsheet = Annotated[UploadedFile, File(
    ..., description="The categories as .xlsx or .csv (UTF-8 or GBK), at most 5 MB: the columns of the template")]


def _admin_only(user) -> None:
    if not user.is_admin_role:
        raise Forbidden("Only administrators import categories.")


@router.post("/categories/import", response={200: CategoryImportOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Import categories from a spreadsheet (administrators; multipart/form-data)",
             description="All or nothing, as the web UI's import page: every row is checked first; any problem "
                         "refuses the whole file with a 422 `invalid_file` whose `details` list every problem as "
                         "`{line, column, reason, code}` (line 0: the file as a whole), and nothing is written. "
                         "An accepted file creates categories by code or updates them (one audited transaction); "
                         "with `dry_run=true` it is only checked. Too large (over 5 MB) or not .xlsx/.csv: 422 "
                         "`invalid_file` naming `spreadsheet`.")
def category_import(request, spreadsheet: Spreadsheet, payload: Form[CategoryImportForm]):
    _admin_only(request.auth)
    # The web UI's upload form holds the limits (size, file type): the API applies the very same.
    form = CategoryUploadForm(data={"dry_run": payload.dry_run}, files={"file": spreadsheet})
    if not form.is_valid():
        message = " ".join(str(m) for m in form.errors.get("file", form.errors.get("__all__", [])))
        raise InvalidInput(f"spreadsheet: {message}", code="invalid_file",
                           details=[{"field": "spreadsheet", "message": message}])
    return category_import_file(file=spreadsheet, filename=spreadsheet.name, by=request.auth,
                                dry_run=payload.dry_run)


@router.get("/categories/import/template.xlsx", response={200: None, 401: ErrorOut, 403: ErrorOut},
            summary="The category import template (.xlsx; administrators)",
            description="The headers, a sheet explaining each column, and the department codes. With "
                        "`current=true`, the current categories filled in: edit them and import the file back.",
            openapi_extra={"responses": {200: {"description": "The workbook, as an attachment", "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}})
def category_template(request, current: bool = False):
    _admin_only(request.auth)
    response = HttpResponse(category_workbook(with_categories=current), content_type=XLSX)
    name = "categories.xlsx" if current else "categories-template.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/categories", response={200: list[CategoryOut], 401: ErrorOut},
            summary="Active categories, each main class followed by its subclasses")
def category_list(request):
    return [c for node in selectors.category_tree() for c in (node["category"], *node["children"])]


@router.get("/categories/{code}", response={200: CategoryOut, 401: ErrorOut, 404: ErrorOut},
            summary="One category with its time limits and extra fields")
def category_detail(request, code: str):
    category = selectors.category_list().filter(code=code).first()
    if category is None:
        raise NotFound("No such category.")
    return category
