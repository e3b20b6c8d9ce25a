"""Case states, actions and the transitions table: the single source of truth of the closed loop."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.accounts.choices import Role


class State(models.TextChoices):
    REPORTED = "reported", _("Reported")
    REGISTERED = "registered", _("Registered")
    DISPATCHED = "dispatched", _("Dispatched")
    IN_PROGRESS = "in_progress", _("In progress")
    SUSPENDED = "suspended", _("Suspended")
    HANDLED = "handled", _("Handled")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Not registered")
    MERGED = "merged", _("Merged")
    CONVERTED = "converted", _("Converted to a dispute")


OPEN_STATES = frozenset({State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS,
                         State.SUSPENDED, State.HANDLED, State.VERIFIED})
FINAL_STATES = frozenset({State.CLOSED, State.REJECTED, State.MERGED, State.CONVERTED})


class Source(models.TextChoices):
    GRID_MEMBER = "grid_member", _("Grid member")
    PUBLIC = "public", _("Resident (public page)")
    HOTLINE = "hotline", _("Hotline")
    API = "api", _("Other system (API)")
    DISPATCHER = "dispatcher", _("Command centre")


class Level(models.TextChoices):
    """Where a case is handled or resolved (小事不出网格、大事不出社区)."""

    GRID = "grid", _("Grid")
    COMMUNITY = "community", _("Community")
    STREET = "street", _("Street")
    DISTRICT = "district", _("District")
    CITY = "city", _("City")


LEVEL_ORDER = [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY]
# The area level of the tree whose command centre handles a case escalated to a level.
LEVEL_AREA = {Level.COMMUNITY: "community", Level.STREET: "street", Level.DISTRICT: "district", Level.CITY: "city"}


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("working hours")
    DAYS = "days", _("working days")


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("Component (部件)")
    EVENT = "event", _("Event (事件)")
    SOCIAL = "social", _("Social governance")


class TaskRole(models.TextChoices):
    LEAD = "lead", _("Lead department")
    ASSIST = "assist", _("Assisting department")
    SUMMONED = "summoned", _("Summoned department (吹哨报到)")


class TaskState(models.TextChoices):
    PENDING = "pending", _("Waiting for acceptance")
    ACCEPTED = "accepted", _("Accepted")
    DONE = "done", _("Done")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


class ExtensionState(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Action(models.TextChoices):
    REPORT = "report", _("Report")
    SELF_HANDLE = "self_handle", _("Handle on the spot")
    REGISTER = "register", _("Register")
    REJECT = "reject", _("Refuse to register")
    MERGE = "merge", _("Merge as duplicate")
    DISPATCH = "dispatch", _("Dispatch")
    ACCEPT = "accept", _("Accept")
    RETURN = "return", _("Return (not ours)")
    SUSPEND = "suspend", _("Suspend")
    RESUME = "resume", _("Resume")
    REPORT_BACK = "report_back", _("Report back")
    VERIFY_OK = "verify_ok", _("Verification passed")
    VERIFY_FAIL = "verify_fail", _("Verification failed (rework)")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")
    CONVERT = "convert", _("Convert to a dispute (矛盾纠纷)")
    # actions that do not change the state
    REQUEST_EXTENSION = "request_extension", _("Request an extension")
    APPROVE_EXTENSION = "approve_extension", _("Approve the extension")
    REJECT_EXTENSION = "reject_extension", _("Refuse the extension")
    ESCALATE = "escalate", _("Escalate")
    SUMMON = "summon", _("Summon departments (吹哨报到)")
    SUPERVISE = "supervise", _("Supervise (督办)")
    RATE = "rate", _("Rate")
    COMMENT = "comment", _("Comment")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str | None  # None: the state does not change
    roles: frozenset[str]
    reason_required: bool = False


def _t(sources, target, roles, reason=False) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles), reason)


S, R = State, Role
# The closed loop (DESIGN.md "The case workflow"). `roles` are who may act; scope is checked besides.
# "reporter" is not a role: verify_ok / verify_fail / rate also accept the case's own reporter.
TRANSITIONS: dict[str, Transition] = {
    Action.REGISTER: _t({S.REPORTED}, S.REGISTERED, {R.DISPATCHER}),
    Action.REJECT: _t({S.REPORTED}, S.REJECTED, {R.DISPATCHER}, reason=True),
    Action.MERGE: _t({S.REPORTED, S.REGISTERED}, S.MERGED, {R.DISPATCHER}),
    Action.DISPATCH: _t({S.REGISTERED}, S.DISPATCHED, {R.DISPATCHER}),
    Action.ACCEPT: _t({S.DISPATCHED}, S.IN_PROGRESS, {R.HANDLER}),
    Action.RETURN: _t({S.DISPATCHED, S.IN_PROGRESS}, S.REGISTERED, {R.HANDLER}, reason=True),
    Action.SUSPEND: _t({S.IN_PROGRESS}, S.SUSPENDED, {R.DISPATCHER}, reason=True),
    Action.RESUME: _t({S.SUSPENDED}, S.IN_PROGRESS, {R.DISPATCHER}),
    Action.REPORT_BACK: _t({S.IN_PROGRESS}, S.HANDLED, {R.HANDLER}),
    Action.VERIFY_OK: _t({S.HANDLED}, S.VERIFIED, {R.GRID_MEMBER}),
    Action.VERIFY_FAIL: _t({S.HANDLED}, S.IN_PROGRESS, {R.GRID_MEMBER}, reason=True),
    Action.CLOSE: _t({S.VERIFIED}, S.CLOSED, {R.DISPATCHER}),
    Action.REOPEN: _t({S.CLOSED}, S.IN_PROGRESS, {R.DISPATCHER}, reason=True),
    # a case in a dispute category goes to mediation (gridgov.disputes.services.dispute_from_case)
    Action.CONVERT: _t({S.REPORTED, S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}, S.CONVERTED,
                       {R.DISPATCHER, R.MEDIATOR}),
    Action.REQUEST_EXTENSION: _t({S.DISPATCHED, S.IN_PROGRESS}, None, {R.HANDLER}, reason=True),
    Action.APPROVE_EXTENSION: _t({S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}, None, {R.DISPATCHER}),
    Action.REJECT_EXTENSION: _t({S.DISPATCHED, S.IN_PROGRESS, S.SUSPENDED}, None, {R.DISPATCHER}, reason=True),
    Action.SUMMON: _t({S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS}, None, {R.DISPATCHER}),
    Action.SUPERVISE: _t(OPEN_STATES, None, {R.LEADER}, reason=True),
    Action.RATE: _t({S.VERIFIED, S.CLOSED}, None, {R.RESIDENT, R.GRID_MEMBER}),
    Action.COMMENT: _t(OPEN_STATES, None, {R.DISPATCHER, R.HANDLER, R.GRID_MEMBER, R.LEADER}),
}
REPORTER_ACTIONS = frozenset({Action.VERIFY_OK, Action.VERIFY_FAIL, Action.RATE})
# Reports and the transitions that system jobs make are not in the table: they have no source state / no user.


# Each state in plain words for the reporter (the public tracking page, Open311's status_notes for the public).
STATE_EXPLAINED = {
    State.REPORTED: _("Your report has been received. The command centre will check it and register it."),
    State.REGISTERED: _("Your report has been registered. It will be sent to the department responsible."),
    State.DISPATCHED: _("It has been sent to the department responsible, who will take it on shortly."),
    State.IN_PROGRESS: _("The department responsible is working on it."),
    State.SUSPENDED: _("It is on hold: it cannot be solved right now (for example because of funds, season or "
                       "planning). It will be taken up again."),
    State.HANDLED: _("The department reports that the problem is solved. Please check on the spot and tell us "
                     "whether it really is."),
    State.VERIFIED: _("The solution has been confirmed on the spot. The report will be closed."),
    State.CLOSED: _("The report is closed: the problem was solved."),
    State.REJECTED: _("This report could not be taken on (for example it is not a matter for this service, or "
                      "there was not enough information to find the problem)."),
    State.MERGED: _("Someone had already reported the same problem: your report was joined to that report, "
                    "which is followed up instead."),
    State.CONVERTED: _("This is a dispute between people: it has been passed to the mediators (人民调解), who will "
                       "contact the parties."),
}
