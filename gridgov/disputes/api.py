"""The disputes API (矛盾纠纷): list, detail, register, convert a case, one POST per workflow action, the agreement
documents, the early warnings, the measures, the map layer and the mediator's queue. Thin: the selectors read,
the services write and refuse; the ServiceErrors they raise become the JSON 4xx answers of config/api.py.

Registering and converting answer 201 with the new dispute; every action answers 200 with the updated dispute
detail. A wrong state is a 409 `invalid_transition` whose details.allowed_actions lists what may be done now;
a stale `version` is a 409 `stale_version`; a wrong role is a 403; a dispute outside your scope is a 404, as
if it did not exist. Parties' phones are only ever shown masked.

The literal paths (warnings, measures, map, queue, from-case) are registered before `/disputes/{id}`.
"""

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from gridgov.core.errors import Forbidden, NotFound
from gridgov.core.pagination import Pagination
from gridgov.core.schemas import ErrorOut

from . import selectors, services
from .schemas import (
    AgreementIn,
    AssessIn,
    AssignIn,
    CommentIn,
    DisputeDetailOut,
    DisputeFilterQuery,
    DisputeIn,
    DisputeOut,
    FollowUpIn,
    FromCaseIn,
    FulfilmentIn,
    MapOut,
    MapQuery,
    MeasuresOut,
    MeasuresQuery,
    NoteIn,
    QueueOut,
    ReasonIn,
    ReferIn,
    RegradeIn,
    SessionIn,
    WarningOut,
)

router = Router(tags=["disputes"])

READ_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
BOARD_ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}
CREATE = {201: DisputeDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ACTION = {200: DisputeDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"



def _detail(request, dispute_id: int):
    return selectors.dispute_get(user=request.auth, pk=dispute_id)


def _created(request, dispute):
    try:
        body = _detail(request, dispute.pk)
    except NotFound:
        body = dispute  # registered outside the caller's own scope (a hotline call): they still see what they made
    return Status(201, body)


def _board(request) -> None:
    """The boards (warnings, measures, map, queue) are for those who work on disputes."""
    if not selectors.may_see_disputes(request.auth):
        raise Forbidden("Only mediators, dispatchers, grid members and leaders see disputes.")


def _binary(description: str, content_type: str) -> dict:
    return {"responses": {200: {"description": description,
                                "content": {content_type: {"schema": {"type": "string", "format": "binary"}}}}}}


# --- boards (literal paths first) ---------------------------------------------------------------------------

@router.get("/disputes/warnings", response={200: list[WarningOut], **BOARD_ERRORS},
            summary="Early warnings: open disputes in my scope matching a warning rule, with who should act",
            description="One row per dispute and rule, the most serious first. 403 for roles that do not "
                        "work on disputes.")
def dispute_warnings(request):
    _board(request)
    return [{"dispute_id": w.dispute.pk, "number": w.dispute.number, "title": w.dispute.title,
             "grade": w.dispute.grade, "grade_label": str(w.dispute.get_grade_display()),
             "grade_colour": w.dispute.grade_colour, "state": w.dispute.state, "due_at": w.dispute.due_at,
             "rule": w.rule, "rule_label": gettext(selectors.WARNING_RULES.get(w.rule, w.rule)),
             "reason": str(w.reason), "act_by": [str(a) for a in w.act_by]}
            for w in selectors.dispute_warnings(user=request.auth)]


@router.get("/disputes/measures", response={200: MeasuresOut, **BOARD_ERRORS},
            summary="Measures of the disputes registered in a period, in total and per mediator, grid or area",
            description="`start`/`end` are registration dates (inclusive; default the last 365 days). A range "
                        "ending before it starts or longer than ten years is a 422 `invalid_range` naming `end`; "
                        "an unknown `group` a 422 `invalid_group`. Definitions in docs/disputes.md.")
def dispute_measures(request, params: Query[MeasuresQuery]):
    _board(request)
    return selectors.dispute_measures(user=request.auth, start=params.start, end=params.end, group=params.group)


@router.get("/disputes/map", response={200: MapOut, **BOARD_ERRORS},
            summary="The disputes in my scope as GeoJSON points coloured by grade (open ones unless all=true)")
def dispute_map(request, params: Query[MapQuery]):
    _board(request)
    return selectors.dispute_map_features(user=request.auth, open_only=not params.all)


@router.get("/disputes/queue", response={200: QueueOut, **BOARD_ERRORS},
            summary="The mediator's queue: mine, waiting for a mediator, and to follow up")
def dispute_queue(request):
    _board(request)
    return selectors.dispute_queue(user=request.auth)


# --- list, detail, intake -----------------------------------------------------------------------------------

@router.get("/disputes", response={200: list[DisputeOut], **READ_ERRORS}, summary="Disputes in my scope")
@paginate(Pagination)
def dispute_list(request, filters: Query[DisputeFilterQuery]):
    return selectors.dispute_list(user=request.auth, filters=filters.dict(exclude_none=True))


@router.post("/disputes", response=CREATE, summary="Register (登记) a dispute",
             description="201 with the new dispute. Where: a `grid` code, or `lon`/`lat` (a point outside every "
                         "grid is a 422 `outside_jurisdiction`). Fewer than two parties, or none of them the "
                         "applicant or the respondent: 422 `missing_party`; a bad party: 422 `invalid_party` "
                         "naming `parties[i].<field>`; unknown type/source/grade: 422 `unknown_type`/"
                         "`unknown_source`/`unknown_grade`. Grid members, mediators and dispatchers register.")
def dispute_create(request, payload: DisputeIn):
    data = payload.dict()
    data["parties"] = [p.dict() for p in payload.parties]
    data["coord_sys"] = str(payload.coord_sys)
    return _created(request, services.dispute_register(by=request.auth, **data))


@router.post("/disputes/from-case/{int:case_id}", response=CREATE,
             summary="Convert a case in a dispute category into a dispute",
             description="The case ends as `converted`; the dispute keeps its place, description and history "
                         "(`case_history` of the detail). `version` is the case's. A case outside your scope is a "
                         "404; one not in a dispute category a 409 `not_a_dispute`; converted already a 409 "
                         "`already_converted`.")
def dispute_from_case(request, case_id: int, payload: FromCaseIn):
    data = payload.dict()
    data["parties"] = [p.dict() for p in payload.parties]
    return _created(request, services.dispute_from_case(case_id=case_id, by=request.auth, **data))


@router.get("/disputes/{int:dispute_id}", response={200: DisputeDetailOut, **READ_ERRORS},
            summary="One dispute with its parties (phones masked), sessions, agreement, follow-ups, timeline and "
                    "the actions allowed to me")
def dispute_detail(request, dispute_id: int):
    return _detail(request, dispute_id)


# --- the workflow: one path per action ------------------------------------------------------------------------

@router.post("/disputes/{int:dispute_id}/assess", response=ACTION, summary="Assess the risk (风险研判)")
def dispute_assess(request, dispute_id: int, payload: AssessIn):
    services.dispute_assess(dispute_id=dispute_id, by=request.auth, grade=payload.grade,
                            risk_note=payload.risk_note, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/assign", response=ACTION,
             summary="Assign a mediator (or a grid member for a matter of the grid), or change the mediator")
def dispute_assign(request, dispute_id: int, payload: AssignIn):
    services.dispute_assign(dispute_id=dispute_id, by=request.auth, mediator_id=payload.mediator_id,
                            committee=payload.committee, version=payload.version, note=payload.note)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/sessions", response=ACTION, summary="Record a mediation session (调解会)",
             description="`held_at` before the registration is a 422 `before_registration`, in the future a 422 "
                         "`in_future` (both naming `held_at`).")
def dispute_session(request, dispute_id: int, payload: SessionIn):
    services.dispute_record_session(dispute_id=dispute_id, by=request.auth, held_at=payload.held_at,
                                    place=payload.place, participants=payload.participants, record=payload.record,
                                    outcome=payload.outcome, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/agreement", response=ACTION, summary="Record the agreement (调解协议)",
             description="Needs a recorded session (422 `no_session`). The documents are then at "
                         "`GET /disputes/{id}/agreement.docx` and `.pdf`.")
def dispute_agree(request, dispute_id: int, payload: AgreementIn):
    services.dispute_agree(dispute_id=dispute_id, by=request.auth, facts=payload.facts, terms=payload.terms,
                           fulfil_by=payload.fulfil_by, fulfilment=payload.fulfilment, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/fail", response=ACTION, summary="Record that mediation failed")
def dispute_fail(request, dispute_id: int, payload: ReasonIn):
    services.dispute_fail(dispute_id=dispute_id, by=request.auth, reason=payload.reason, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/refer", response=ACTION,
             summary="Refer up a level of mediation, or out (judicial confirmation, arbitration, litigation, "
                     "petitions)",
             description="An external channel needs the receiving body's `reference` (422 `reference_required`); "
                         "a level at or below the current one is a 422 `level_too_low`.")
def dispute_refer(request, dispute_id: int, payload: ReferIn):
    services.dispute_refer(dispute_id=dispute_id, by=request.auth, channel=payload.channel, reason=payload.reason,
                           reference=payload.reference, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/fulfilment", response=ACTION,
             summary="Check the fulfilment of the agreement (履行回查)")
def dispute_fulfilment(request, dispute_id: int, payload: FulfilmentIn):
    services.dispute_check_fulfilment(dispute_id=dispute_id, by=request.auth, fulfilled=payload.fulfilled,
                                      note=payload.note, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/follow-ups", response=ACTION, summary="Record a follow-up visit (回访)")
def dispute_follow_up(request, dispute_id: int, payload: FollowUpIn):
    services.dispute_follow_up(dispute_id=dispute_id, by=request.auth, visited_at=payload.visited_at,
                               content=payload.content, form=payload.form, stable=payload.stable,
                               satisfied=payload.satisfied, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/close", response=ACTION, summary="Close the dispute",
             description="After the follow-up visits the rules ask for (409 `follow_up_required`) and a settled "
                         "last visit (409 `not_settled`); a registered or assessed dispute closes as withdrawn "
                         "with a `note`.")
def dispute_close(request, dispute_id: int, payload: NoteIn):
    services.dispute_close(dispute_id=dispute_id, by=request.auth, note=payload.note, version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/regrade", response=ACTION,
             summary="Change the risk grade (the deadline follows)")
def dispute_regrade(request, dispute_id: int, payload: RegradeIn):
    services.dispute_regrade(dispute_id=dispute_id, by=request.auth, grade=payload.grade, reason=payload.reason,
                             version=payload.version)
    return _detail(request, dispute_id)


@router.post("/disputes/{int:dispute_id}/comments", response=ACTION, summary="Add a comment to the timeline")
def dispute_comment(request, dispute_id: int, payload: CommentIn):
    services.dispute_comment(dispute_id=dispute_id, by=request.auth, note=payload.note, version=payload.version)
    return _detail(request, dispute_id)


# --- the agreement documents ----------------------------------------------------------------------------------

def _document(request, dispute_id: int, ext: str, content_type: str) -> HttpResponse:
    from . import documents

    dispute = _detail(request, dispute_id)
    render = documents.agreement_docx if ext == "docx" else documents.agreement_pdf
    content = render(dispute=dispute, by=request.auth)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        True, documents.agreement_filename(dispute=dispute, ext=ext))
    response["Cache-Control"] = "private, no-store"
    return response


@router.get("/disputes/{int:dispute_id}/agreement.docx", response=READ_ERRORS, url_name="dispute_agreement_docx",
            summary="The agreement (调解协议书) as a Word document",
            description=f"`{DOCX}`, as an attachment. 404 when the dispute has no agreement. Each download is "
                        "audited.", openapi_extra=_binary("The agreement document", DOCX))
def dispute_agreement_docx(request, dispute_id: int):
    return _document(request, dispute_id, "docx", DOCX)


@router.get("/disputes/{int:dispute_id}/agreement.pdf", response=READ_ERRORS, url_name="dispute_agreement_pdf",
            summary="The agreement (调解协议书) as PDF",
            description=f"`{PDF}`, as an attachment. 404 when the dispute has no agreement. Each download is "
                        "audited.", openapi_extra=_binary("The agreement document", PDF))
def dispute_agreement_pdf(request, dispute_id: int):
    return _document(request, dispute_id, "pdf", PDF)
