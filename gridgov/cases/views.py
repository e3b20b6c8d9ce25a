"""Case screens: the case page with its actions, photos, map and timeline; the attachment view.

Thin views: reads go through the selectors, every action through its service. A refused action re-renders
the page with the error next to its form (the service's 4xx status, nothing written); a done one redirects
back to the page with a message (plain POST + redirect: works without JavaScript).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.accounts.choices import Role
from gridgov.core import crypto
from gridgov.core.downloads import stored_file
from gridgov.core.errors import NotFound, ServiceError

from . import selectors, services
from .choices import FINAL_STATES, Action, ExtensionState, State, TaskState
from .forms import ACTION_FORMS, ActionForm, action_form
from .models import Attachment, Case

# Actions whose form is just a button (with an optional note folded away).
SIMPLE_ACTIONS = frozenset({Action.REGISTER, Action.ACCEPT, Action.RESUME, Action.CLOSE, Action.VERIFY_OK,
                            Action.APPROVE_EXTENSION})
# Actions that undo or refuse: drawn as secondary buttons.
NEGATIVE_ACTIONS = frozenset({Action.REJECT, Action.RETURN, Action.VERIFY_FAIL, Action.REJECT_EXTENSION,
                              Action.SUSPEND})
# Forms shown unfolded: the main step for whoever sees them.
OPEN_ACTIONS = frozenset({Action.DISPATCH, Action.REPORT_BACK, Action.RATE})
SUMMON_LEVELS = frozenset({"street", "district", "city"})


def _case_or_404(user, pk: int) -> Case:
    try:
        return selectors.case_get(user=user, case_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _perform(action: str, case: Case, user, data: dict):
    """Call the service of one action with the form's cleaned data."""
    common = {"case_id": case.pk, "by": user, "version": data["version"]}
    match action:
        case Action.REGISTER:
            return services.case_register(**common, note=data["note"])
        case Action.REJECT:
            return services.case_reject(**common, reason=data["reason"])
        case Action.MERGE:
            return services.case_merge(**common, into_id=data["into"], note=data["note"])
        case Action.DISPATCH:
            return services.case_dispatch(**common, lead=data["lead"], assist=list(data["assist"]),
                                          instructions=data["instructions"])
        case Action.ACCEPT:
            return services.case_accept(**common, note=data["note"])
        case Action.RETURN:
            return services.case_return(**common, reason=data["reason"])
        case Action.SUSPEND:
            return services.case_suspend(**common, reason=data["reason"])
        case Action.RESUME:
            return services.case_resume(**common, note=data["note"])
        case Action.REPORT_BACK:
            return services.case_report_back(**common, result=data["result"], photos=data["photos"])
        case Action.VERIFY_OK | Action.VERIFY_FAIL:
            return services.case_verify(**common, ok=action == Action.VERIFY_OK, note=data["note"],
                                        photos=data["photos"])
        case Action.CLOSE:
            return services.case_close(**common, note=data["note"])
        case Action.REOPEN:
            return services.case_reopen(**common, reason=data["reason"])
        case Action.REQUEST_EXTENSION:
            return services.case_request_extension(**common, amount=data["amount"], unit=data["unit"],
                                                   reason=data["reason"])
        case Action.APPROVE_EXTENSION | Action.REJECT_EXTENSION:
            return services.case_decide_extension(**common, approve=action == Action.APPROVE_EXTENSION,
                                                  note=data["note"])
        case Action.SUMMON:
            return services.case_summon(**common, departments=list(data["departments"]), amount=data["amount"],
                                        unit=data["unit"], instructions=data["instructions"])
        case Action.SUPERVISE:
            return services.case_supervise(**common, reason=data["reason"])
        case Action.RATE:  # once only; the service takes no version
            return services.case_rate(case_id=case.pk, by=user, satisfaction=data["satisfaction"],
                                      comment=data["comment"])
        case Action.COMMENT:
            return services.case_comment(**common, note=data["note"])
    raise Http404("Unknown action.")


def _pending_extension(case: Case):
    return next((e for e in case.extensions.all() if e.state == ExtensionState.PENDING), None)


def _shown_actions(case: Case, user, pending_extension) -> list[str]:
    """The allowed actions (services.case_allowed_actions) minus those that cannot succeed right now."""
    # merge is offered on each duplicate candidate; convert opens the dispute form (gridgov.disputes)
    hidden = {Action.MERGE, Action.CONVERT}
    if pending_extension is None:
        hidden |= {Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION}
    else:
        hidden.add(Action.REQUEST_EXTENSION)
    if case.rated_at is not None or case.reporter_id != user.pk:
        hidden.add(Action.RATE)  # only the reporter rates, once
    if user.role == Role.HANDLER:  # a department that has accepted (or finished) its part is not asked again
        mine = [t for t in case.tasks.all() if t.department_id == user.department_id
                and t.state not in (TaskState.RETURNED, TaskState.CANCELLED)]
        if mine and all(t.state != TaskState.PENDING for t in mine):
            hidden.add(Action.ACCEPT)
        if mine and all(t.state == TaskState.DONE for t in mine):
            hidden.add(Action.REPORT_BACK)
    if user.role == Role.DISPATCHER and (user.area is None or user.area.level not in SUMMON_LEVELS):
        hidden.add(Action.SUMMON)  # 吹哨报到 is for street command centres and above
    return [str(a) for a in services.case_allowed_actions(case=case, user=user) if a not in hidden]


def _masked_phone(case: Case) -> str:
    try:
        return crypto.mask_phone(crypto.decrypt(case.reporter_phone))
    except (ValueError, InvalidTag):
        return "***"  # written with another key: never shown, never a 500


def _due_rows(case: Case, now) -> list[dict]:
    rows = [
        (_("Register by"), case.register_due, case.state == State.REPORTED),
        (_("Dispatch by"), case.dispatch_due, case.state == State.REGISTERED),
        (_("Handle by"), case.handle_due, case.state in (State.DISPATCHED, State.IN_PROGRESS)),
    ]
    return [{"label": label, "at": at, "current": current, "overdue": current and at < now}
            for label, at, current in rows if at is not None]


def _extra_rows(case: Case) -> list[tuple[str, str]]:
    specs = {spec["code"]: spec for spec in case.category.extra_fields or []}
    rows = []
    for code, value in (case.extra or {}).items():
        spec = specs.get(code, {})
        names = {str(v["key"]): v.get("name", v["key"]) for v in spec.get("values", [])}
        values = value if isinstance(value, list) else [value]
        rows.append((spec.get("label", code), ", ".join(str(names.get(str(v), v)) for v in values)))
    return rows


def _photo_groups(case: Case) -> list[tuple[str, list[Attachment]]]:
    attachments = list(case.attachments.all())
    return [(label, [a for a in attachments if a.kind == kind]) for kind, label in Attachment.Kind.choices
            if any(a.kind == kind for a in attachments)]


def _tasks(case: Case, now) -> list:
    tasks = list(case.tasks.all())
    for task in tasks:
        task.is_overdue = bool(task.due_at and task.due_at < now and case.state != State.SUSPENDED
                               and task.state in (TaskState.PENDING, TaskState.ACCEPTED))
    return tasks


def _error(action: str, exc: ServiceError, allowed: list[str]) -> dict:
    if exc.code == "stale_version":
        message = _("The case was changed meanwhile; reload the page to see the changes, then try again.")
    elif exc.code == "invalid_transition" and "allowed_actions" in (exc.details or {}):
        message = _("This cannot be done now: the case is %(state)s.") % {"state": State(
            (exc.details or {}).get("state", State.REPORTED)).label.lower()}
    else:
        message = exc.message
    return {"action": action, "message": message, "code": exc.code, "stale": exc.code == "stale_version",
            "allowed": [Action(a).label for a in allowed]}


def _render_page(request, case: Case, *, bound: ActionForm | None = None, error: dict | None = None,
                 status: int = 200):
    user = request.user
    now = timezone.now()
    pending = _pending_extension(case)
    shown = _shown_actions(case, user, pending)
    actions = []
    for action in shown:
        form = bound if bound is not None and bound.action == action else action_form(action, case=case)
        actions.append({"action": action, "label": Action(action).label, "form": form,
                        "simple": action in SIMPLE_ACTIONS, "open": action in OPEN_ACTIONS, "negative": action in NEGATIVE_ACTIONS,
                        "error": error if error and error["action"] == action and not error["stale"] else None})
    if error and not error["stale"] and error["action"] not in shown:
        error = {**error, "orphan": True}  # its form is not on the page: shown at the top of the panel
    duplicates = []
    if user.role == Role.DISPATCHER and case.state in (State.REPORTED, State.REGISTERED):
        duplicates = selectors.case_duplicates(case=case, user=user)
    allowed = services.case_allowed_actions(case=case, user=user)
    context = {
        "case": case,
        "actions": actions,
        "error": error,
        "dues": _due_rows(case, now),
        "reporter_phone": _masked_phone(case) if case.reporter_phone else "",
        "extra_rows": _extra_rows(case),
        "photo_groups": _photo_groups(case),
        "tasks": _tasks(case, now),
        "pending_extension": pending,
        "extensions": list(case.extensions.all()),
        "timeline": selectors.case_timeline(case=case),
        "duplicates": duplicates,
        "can_merge": Action.MERGE in allowed,
        "can_convert": Action.CONVERT in allowed,
        "merged_here": list(case.duplicates.only("id", "number")),
        "grid_geometry": case.grid.geometry,
        "is_final": case.state in FINAL_STATES,
    }
    return render(request, "cases/detail.html", context, status=status)


@login_required
def case_detail(request, pk: int):
    return _render_page(request, _case_or_404(request.user, pk))


@login_required
@require_POST
def case_act(request, pk: int, action: str):
    if action not in ACTION_FORMS:
        raise Http404("Unknown action.")
    case = _case_or_404(request.user, pk)
    form = action_form(action, case=case, data=request.POST, files=request.FILES)
    if not form.is_valid():
        error = {"action": action, "message": _("Please correct the errors below."), "code": "invalid",
                 "stale": False, "allowed": []}
        return _render_page(request, case, bound=form, error=error, status=422)
    try:
        _perform(action, case, request.user, form.cleaned_data)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ServiceError as exc:
        case = _case_or_404(request.user, pk)  # as it is now: the page shows the current state and version
        allowed = [str(a) for a in services.case_allowed_actions(case=case, user=request.user)]
        return _render_page(request, case, bound=form, error=_error(action, exc, allowed), status=exc.status)
    messages.success(request, _("%(action)s: done.") % {"action": Action(action).label})
    return redirect("cases:detail", pk=pk)


@login_required
def attachment(request, pk: int):
    """A case photo, served only to users who may see its case (404 for everyone else)."""
    att = Attachment.objects.filter(pk=pk).first()
    if att is None:
        raise Http404("No such attachment.")
    _case_or_404(request.user, att.case_id)
    return stored_file(att.file, content_type=att.content_type, missing=Http404, cache="private, max-age=3600")
