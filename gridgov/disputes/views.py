"""Dispute screens: registration (with parties from the registry or free text), conversion from a case, the
dispute page with one form per allowed action, and the agreement downloads. The boards (queue, list,
warnings, measures, map) are in views_boards.py.

Thin views: reads go through the selectors, every write through its service. A refused action re-renders the
page with the error next to its form (the service's 4xx status, nothing written); a done one redirects back
with a message (plain POST + redirect: works without JavaScript). Out of scope is a 404.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.accounts.choices import Role
from gridgov.cases import selectors as case_selectors
from gridgov.cases import services as case_services
from gridgov.cases.choices import Action as CaseAction
from gridgov.cases.views_queues import map_area, role_required
from gridgov.core import crypto
from gridgov.core.downloads import attachment
from gridgov.core.errors import InvalidInput, NotFound, ServiceError
from gridgov.geo.choices import CoordSys
from gridgov.residents import selectors as resident_selectors
from gridgov.residents.views import READERS as RESIDENT_READERS

from . import selectors, services
from .choices import Action as DisputeAction
from .choices import State
from .forms import (
    ACTION_FORMS,
    PARTY_INITIAL,
    ActionForm,
    FromCaseForm,
    RegisterForm,
    action_form,
    filled_parties,
    party_formset,
    resident_label,
    resident_matches,
)
from .models import Dispute
from .views_boards import dispute_list, map_data, map_page, measures, queue, warnings_board  # noqa: F401

REGISTER_ROLES = (Role.GRID_MEMBER, Role.MEDIATOR, Role.DISPATCHER)
CONVERT_ROLES = (Role.DISPATCHER, Role.MEDIATOR)
# The main step of each state (the first of these the user may take): its form is shown unfolded. Per state,
# since an action allowed in several states (a new assessment, a change of mediator) is the next step in one only.
PRIMARY = {
    State.REGISTERED: (DisputeAction.ASSESS,),
    State.ASSESSED: (DisputeAction.ASSIGN,),
    State.MEDIATING: (DisputeAction.SESSION,),
    State.FAILED: (DisputeAction.ASSIGN,),
    State.REFERRED: (DisputeAction.ASSIGN, DisputeAction.CLOSE, DisputeAction.FOLLOW_UP),
    State.AGREED: (DisputeAction.CHECK_FULFILMENT,),
    # closing is offered once the follow-up visits are recorded: then it is the next step
    State.FULFILLED: (DisputeAction.CLOSE, DisputeAction.FOLLOW_UP),
}
NEGATIVE = frozenset({DisputeAction.FAIL})
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _dispute_or_404(user, pk: int) -> Dispute:
    try:
        return selectors.dispute_get(user=user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _is_htmx(request) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-Boosted")


# --- registration and conversion ----------------------------------------------------------------------------

def _resident_search(request):
    """The htmx search of a party row: <option>s of the matching residents in the user's scope."""
    key = next((k for k in request.GET if k.endswith("resident_q")), None)
    if request.method != "GET" or key is None or not _is_htmx(request):
        return None
    matches = resident_matches(user=request.user, q=request.GET.get(key, ""))
    return render(request, "disputes/_resident_options.html", {
        "options": [(r.pk, resident_label(r)) for r in matches], "q": request.GET.get(key, "").strip()})


def _grown(request) -> dict:
    """A "refresh" of the form without JavaScript: one more party row, or the registry search results."""
    data = request.POST.copy()
    if "add_party" in data:
        key = "parties-TOTAL_FORMS"
        total = int(data.get(key, "0")) if str(data.get(key, "0")).isdigit() else 0
        data[key] = str(min(total + 1, 50))
    return data


def _form_page(request, template: str, form, formset, *, status: int = 200, quiet: bool = False, **extra):
    area = map_area(request.user)
    context = {"form": form, "formset": formset, "quiet": quiet,
               "grids_url": reverse("geo:area_map", args=[area.code]) if area else "", **extra}
    return render(request, template, context, status=status)


def _submit(request, form, formset, call):
    """Validate the form and the parties, call the service; a refusal goes back on the form."""
    if not (form.is_valid() & formset.is_valid()):
        return None, 422
    try:
        return call(parties=filled_parties(formset), **form.service_kwargs()), 200
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        form.place_errors(exc, formset)
        return None, exc.status


@role_required(*REGISTER_ROLES)
def register(request):
    """登记: the grid member's screening on a phone, a party's application, a referral from another body."""
    partial = _resident_search(request)
    if partial is not None:
        return partial
    user = request.user
    if request.method != "POST":
        form = RegisterForm(user=user, initial={"coord_sys": CoordSys.WGS84})
        return _form_page(request, "disputes/register.html", form, party_formset(user=user))
    if "add_party" in request.POST or "find" in request.POST:
        data = _grown(request)
        return _form_page(request, "disputes/register.html", RegisterForm(data, user=user),
                          party_formset(user=user, data=data), quiet=True)
    form = RegisterForm(request.POST, user=user)
    formset = party_formset(user=user, data=request.POST)
    dispute, status = _submit(request, form, formset,
                              lambda **kw: services.dispute_register(by=user, **kw))
    if dispute is None:
        return _form_page(request, "disputes/register.html", form, formset, status=status)
    messages.success(request, _("Dispute %(number)s registered.") % {"number": dispute.number})
    return redirect("disputes:detail", pk=dispute.pk)


def _case_or_404(user, pk: int):
    try:
        return case_selectors.case_get(user=user, case_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@role_required(*CONVERT_ROLES)
def from_case(request, case_pk: int):
    """A case in a dispute category goes to mediation: the dispute takes its place and description."""
    partial = _resident_search(request)
    if partial is not None:
        return partial
    user = request.user
    case = _case_or_404(user, case_pk)
    existing = Dispute.objects.filter(case=case).first()
    page = {"case": case, "existing": existing}
    if CaseAction.CONVERT not in case_services.case_allowed_actions(case=case, user=user):
        return render(request, "disputes/from_case.html", {**page, "blocked": True}, status=409)
    if request.method != "POST":
        initial = [dict(row) for row in PARTY_INITIAL]
        if case.reporter_name:
            initial[0]["name"] = case.reporter_name
        formset = party_formset(user=user, initial=initial)
        form = FromCaseForm(initial={"version": case.version})
        return _form_page(request, "disputes/from_case.html", form, formset, **page)
    if "add_party" in request.POST or "find" in request.POST:
        data = _grown(request)
        return _form_page(request, "disputes/from_case.html", FromCaseForm(data),
                          party_formset(user=user, data=data), quiet=True, **page)
    form = FromCaseForm(request.POST)
    formset = party_formset(user=user, data=request.POST)
    dispute, status = _submit(request, form, formset, lambda **kw: services.dispute_from_case(
        case_id=case.pk, by=user, **kw))
    if dispute is None:
        case = _case_or_404(user, case_pk)  # as it is now (its version)
        return _form_page(request, "disputes/from_case.html", form, formset, status=status,
                          **{**page, "case": case})
    messages.success(request, _("Case %(case)s converted to dispute %(number)s.")
                     % {"case": case.number, "number": dispute.number})
    return redirect("disputes:detail", pk=dispute.pk)


# --- the dispute page -----------------------------------------------------------------------------------------

def _perform(action: str, d: Dispute, user, data: dict):
    """Call the service of one action with the form's cleaned data."""
    common = {"dispute_id": d.pk, "by": user, "version": data["version"]}
    match action:
        case DisputeAction.ASSESS:
            return services.dispute_assess(**common, grade=data["grade"], risk_note=data["risk_note"])
        case DisputeAction.ASSIGN:
            return services.dispute_assign(**common, mediator_id=data["mediator"], committee=data["committee"],
                                           note=data["note"])
        case DisputeAction.SESSION:
            return services.dispute_record_session(**common, held_at=data["held_at"], place=data["place"],
                                                   participants=data["participants"], record=data["record"],
                                                   outcome=data["outcome"])
        case DisputeAction.AGREE:
            return services.dispute_agree(**common, facts=data["facts"], terms=data["terms"],
                                          fulfil_by=data["fulfil_by"], fulfilment=data["fulfilment"])
        case DisputeAction.FAIL:
            return services.dispute_fail(**common, reason=data["reason"])
        case DisputeAction.REFER:
            return services.dispute_refer(**common, channel=data["channel"], reference=data["reference"],
                                          reason=data["reason"])
        case DisputeAction.CHECK_FULFILMENT:
            return services.dispute_check_fulfilment(**common, fulfilled=data["fulfilled"], note=data["note"])
        case DisputeAction.FOLLOW_UP:
            return services.dispute_follow_up(**common, visited_at=data["visited_at"], content=data["content"],
                                              form=data["form"], stable=data["stable"],
                                              satisfied=data["satisfied"])
        case DisputeAction.CLOSE:
            return services.dispute_close(**common, note=data["note"])
        case DisputeAction.REGRADE:
            return services.dispute_regrade(**common, grade=data["grade"], reason=data["reason"])
        case DisputeAction.COMMENT:
            return services.dispute_comment(**common, note=data["note"])
    raise Http404("Unknown action.")


def _masked(ciphertext: str) -> str:
    try:
        return crypto.mask_phone(crypto.decrypt(ciphertext)) if ciphertext else ""
    except (ValueError, InvalidTag):
        return "***"  # written with another key: never shown, never a 500


def _parties(d: Dispute, user) -> list:
    parties = list(d.parties.all())
    resident_ids = {p.resident_id for p in parties if p.resident_id}
    linkable = set()
    if resident_ids and (user.role in RESIDENT_READERS or user.is_admin_role):
        linkable = set(resident_selectors.resident_list(user=user, status=None).filter(pk__in=resident_ids)
                       .values_list("pk", flat=True))
    for p in parties:
        p.phone_masked = _masked(p.phone) if p.phone else (
            resident_selectors.masked_phone(p.resident) if p.resident_id else "")
        p.linkable = p.resident_id in linkable
    return parties


def _error(action: str, exc: ServiceError, allowed: list[str]) -> dict:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "stale_version":
        message = _("The dispute was changed meanwhile; reload the page to see the changes, then try again.")
    elif exc.code == "invalid_transition" and "allowed_actions" in details:
        message = _("This cannot be done now: the dispute is %(state)s.") % {
            "state": State(details.get("state", State.REGISTERED)).label.lower()}
    else:
        message = exc.message
    return {"action": action, "message": message, "code": exc.code, "stale": exc.code == "stale_version",
            "allowed": [DisputeAction(a).label for a in allowed]}


def _place_on_form(form: ActionForm, exc: ServiceError) -> bool:
    """An invalid input naming a field of the form is shown at that field."""
    placed = False
    if isinstance(exc, InvalidInput) and isinstance(exc.details, list):
        for detail in exc.details:
            field = str(detail.get("field", "")) if isinstance(detail, dict) else ""
            if field in form.fields and field != "version":
                form.add_error(field, str(detail.get("message") or exc.message))
                placed = True
    return placed


def _render_page(request, d: Dispute, *, bound: ActionForm | None = None, error: dict | None = None,
                 status: int = 200):
    user = request.user
    now = timezone.now()
    allowed = services.dispute_allowed_actions(dispute=d, user=user)
    primary = next((a for a in PRIMARY.get(d.state, ()) if a in allowed), None)
    actions = []
    for action in allowed:
        if action not in ACTION_FORMS:
            continue
        form = bound if bound is not None and bound.action == action else action_form(action, dispute=d)
        actions.append({"action": action, "label": DisputeAction(action).label, "form": form,
                        "open": action == primary, "negative": action in NEGATIVE,
                        "error": error if error and error["action"] == action and not error["stale"] else None})
    if error and not error["stale"] and error["action"] not in allowed:
        error = {**error, "orphan": True}  # its form is not on the page: shown at the top of the panel
    agreement = getattr(d, "agreement", None)
    context = {
        "dispute": d,
        "actions": actions,
        "error": error,
        "late": bool(d.due_at and d.due_at < now and services.is_unresolved(d)),
        "warnings": selectors.dispute_warnings(user=user, dispute_ids=[d.pk]),
        "parties": _parties(d, user),
        "sessions": list(d.sessions.all()),
        "agreement": agreement,
        "follow_ups": list(d.follow_ups.all()),
        "timeline": selectors.dispute_timeline(dispute=d),
        "case_history": selectors.case_history(dispute=d),
        "is_final": d.state == State.CLOSED,
    }
    return render(request, "disputes/detail.html", context, status=status)


@login_required
def detail(request, pk: int):
    return _render_page(request, _dispute_or_404(request.user, pk))


@login_required
@require_POST
def act(request, pk: int, action: str):
    if action not in ACTION_FORMS:
        raise Http404("Unknown action.")
    d = _dispute_or_404(request.user, pk)
    form = action_form(action, dispute=d, data=request.POST)
    if not form.is_valid():
        error = {"action": action, "message": _("Please correct the errors below."), "code": "invalid",
                 "stale": False, "allowed": []}
        return _render_page(request, d, bound=form, error=error, status=422)
    try:
        _perform(action, d, request.user, form.cleaned_data)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        d = _dispute_or_404(request.user, pk)  # as it is now: the page shows the current state and version
        allowed = services.dispute_allowed_actions(dispute=d, user=request.user)
        error = _error(action, exc, allowed)
        if _place_on_form(form, exc):
            error["message"] = _("Please correct the errors below.")
        return _render_page(request, d, bound=form, error=error, status=exc.status)
    messages.success(request, _("%(action)s: done.") % {"action": DisputeAction(action).label})
    return redirect("disputes:detail", pk=pk)


# --- the agreement documents ----------------------------------------------------------------------------------

def _download(request, pk: int, ext: str, content_type: str):
    from . import documents

    d = _dispute_or_404(request.user, pk)
    if getattr(d, "agreement", None) is None:
        raise Http404("This dispute has no agreement.")
    make = documents.agreement_docx if ext == "docx" else documents.agreement_pdf
    try:
        data = make(dispute=d, by=request.user)
        filename = documents.agreement_filename(dispute=d, ext=ext)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return attachment(data, filename=filename, ascii_name=f"{d.number}-agreement.{ext}", content_type=content_type)


@login_required
def agreement_docx(request, pk: int):
    return _download(request, pk, "docx", DOCX)


@login_required
def agreement_pdf(request, pk: int):
    return _download(request, pk, "pdf", "application/pdf")
