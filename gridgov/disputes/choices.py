"""Dispute types, sources, risk grades, states, actions and the transitions table of mediation (矛盾纠纷化解)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.accounts.choices import Role


class DisputeType(models.TextChoices):
    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood (邻里)")
    FAMILY = "family", _("Marriage and family (婚姻家庭)")
    HOUSING = "housing", _("Housing and property (房屋宅基地)")
    LAND = "land", _("Land (土地山林)")
    LABOUR = "labour", _("Labour and wages (劳动欠薪)")
    CONSUMER = "consumer", _("Consumer (消费)")
    TRAFFIC = "traffic", _("Traffic accident (交通事故)")
    PROPERTY_MGMT = "property_mgmt", _("Property management (物业)")
    CONSTRUCTION = "construction", _("Construction (工程建设)")
    OTHER = "other", _("Other")


class DisputeSource(models.TextChoices):
    SCREENING = "screening", _("Grid-member screening (排查)")
    APPLICATION = "application", _("A party's application")
    CASE = "case", _("Converted from a case")
    HOTLINE = "hotline", _("Hotline")
    POLICE = "police", _("Referred by the police")
    COURT = "court", _("Referred by a court")
    PETITIONS = "petitions", _("Referred by the petitions office (信访)")


# Found by the grid's own work, as against brought in by parties or other bodies (a measure of 排查).
FOUND_SOURCES = frozenset({DisputeSource.SCREENING})


class Grade(models.TextChoices):
    """Risk grade (风险等级); the order matters: a higher index is a higher risk."""

    GENERAL = "general", _("General (一般)")
    MAJOR = "major", _("Major (较大)")
    SERIOUS = "serious", _("Serious (重大)")


GRADE_ORDER = [Grade.GENERAL, Grade.MAJOR, Grade.SERIOUS]
# The colours of the grades on pages and the map (黄 / 橙 / 红).
GRADE_COLOURS = {Grade.GENERAL: "#e3b505", Grade.MAJOR: "#f07f13", Grade.SERIOUS: "#d62828"}


class Level(models.TextChoices):
    """Where a dispute is mediated (小事不出网格、大事不出社区)."""

    GRID = "grid", _("Grid")
    COMMUNITY = "community", _("Community")
    STREET = "street", _("Street")
    DISTRICT = "district", _("District")


LEVEL_ORDER = [Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT]
AREA_LEVEL = {"community": Level.COMMUNITY, "street": Level.STREET, "district": Level.DISTRICT,
              "city": Level.DISTRICT}


class Channel(models.TextChoices):
    """Where a dispute is referred: up a level of mediation, or out of it."""

    COMMUNITY = "community", _("Community mediation")
    STREET = "street", _("Street mediation")
    DISTRICT = "district", _("District mediation")
    JUDICIAL = "judicial", _("Judicial confirmation (司法确认)")
    ARBITRATION = "arbitration", _("Arbitration (仲裁)")
    LITIGATION = "litigation", _("Litigation (诉讼)")
    PETITIONS = "petitions", _("Petitions channel (信访)")


LEVEL_CHANNELS = {Channel.COMMUNITY: Level.COMMUNITY, Channel.STREET: Level.STREET,
                  Channel.DISTRICT: Level.DISTRICT}
EXTERNAL_CHANNELS = frozenset({Channel.JUDICIAL, Channel.ARBITRATION, Channel.LITIGATION, Channel.PETITIONS})


class PartyKind(models.TextChoices):
    PERSON = "person", _("Person")
    ORGANISATION = "organisation", _("Organisation")


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant (申请人)")
    RESPONDENT = "respondent", _("Respondent (被申请人)")
    THIRD = "third", _("Third party (第三人)")
    OTHER = "other", _("Other person involved")


class SessionOutcome(models.TextChoices):
    PROGRESS = "progress", _("Progress, to be continued")
    AGREED = "agreed", _("Agreement reached")
    FAILED = "failed", _("No agreement")


class FollowUpForm(models.TextChoices):
    HOME = "home", _("Home visit (入户)")
    PHONE = "phone", _("Phone call")
    OFFICE = "office", _("At the office")


class State(models.TextChoices):
    # "registered" is 登记 for a dispute, not the 立案 of a case: a context keeps the translations apart
    REGISTERED = "registered", pgettext_lazy("dispute", "Registered")
    ASSESSED = "assessed", _("Risk assessed")
    MEDIATING = "mediating", _("Mediating")
    AGREED = "agreed", _("Agreement reached")
    FAILED = "failed", _("Mediation failed")
    REFERRED = "referred", _("Referred")
    FULFILLED = "fulfilled", _("Fulfilment checked")
    CLOSED = "closed", pgettext_lazy("dispute", "Closed")


OPEN_STATES = frozenset(set(State) - {State.CLOSED})
# Not yet resolved: the states the time rules look at.
UNRESOLVED_STATES = frozenset({State.REGISTERED, State.ASSESSED, State.MEDIATING, State.FAILED})


class Outcome(models.TextChoices):
    """How a closed dispute ended."""

    RESOLVED = "resolved", _("Resolved by mediation")
    EXTERNAL = "external", _("Concluded through another channel")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Action(models.TextChoices):
    REGISTER = "register", pgettext_lazy("dispute", "Register")
    CONVERT = "convert", _("Convert from a case")
    ASSESS = "assess", _("Assess the risk")
    ASSIGN = "assign", _("Assign a mediator")
    SESSION = "session", _("Record a session")
    AGREE = "agree", _("Record the agreement")
    FAIL = "fail", _("Record failure")
    REFER = "refer", _("Refer")
    CHECK_FULFILMENT = "check_fulfilment", _("Check fulfilment")
    FOLLOW_UP = "follow_up", _("Record a follow-up visit")
    CLOSE = "close", pgettext_lazy("dispute", "Close")
    REGRADE = "regrade", _("Change the grade")
    COMMENT = "comment", _("Comment")
    # actions the periodic job takes (no user)
    AUTO_ESCALATE = "auto_escalate", _("Grade raised by the time rule")
    AUTO_REFER = "auto_refer", _("Referred up by the time rule")


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str | None  # None: the state does not change (or the service decides, see `agree`/`fulfilment`)
    roles: frozenset[str]
    reason_required: bool = False


def _t(sources, target, roles, reason=False) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles), reason)


S, R = State, Role
MEDIATING_ROLES = {R.MEDIATOR, R.GRID_MEMBER}  # a grid member mediates in their grid (小事不出网格)
# The mediation workflow. `roles` are who may act; scope is checked besides, and session/agree/fail
# also require the acting user to be the dispute's mediator unless they are a mediator of the area.
TRANSITIONS: dict[str, Transition] = {
    Action.ASSESS: _t({S.REGISTERED, S.ASSESSED}, S.ASSESSED, {R.MEDIATOR, R.DISPATCHER}),
    Action.ASSIGN: _t({S.ASSESSED, S.REFERRED, S.MEDIATING, S.FAILED}, S.MEDIATING, {R.MEDIATOR, R.DISPATCHER}),
    Action.SESSION: _t({S.MEDIATING}, None, MEDIATING_ROLES),
    Action.AGREE: _t({S.MEDIATING}, S.AGREED, MEDIATING_ROLES),
    Action.FAIL: _t({S.MEDIATING}, S.FAILED, MEDIATING_ROLES, reason=True),
    Action.REFER: _t({S.ASSESSED, S.MEDIATING, S.FAILED}, S.REFERRED, {R.MEDIATOR, R.DISPATCHER}, reason=True),
    # fulfilled → FULFILLED; not fulfilled → FAILED (to be mediated again or referred)
    Action.CHECK_FULFILMENT: _t({S.AGREED}, None, {R.MEDIATOR, R.GRID_MEMBER, R.DISPATCHER}),
    Action.FOLLOW_UP: _t({S.FULFILLED, S.REFERRED}, None, {R.MEDIATOR, R.GRID_MEMBER}),
    Action.CLOSE: _t({S.FULFILLED, S.REFERRED, S.REGISTERED, S.ASSESSED}, S.CLOSED, {R.MEDIATOR, R.DISPATCHER}),
    Action.REGRADE: _t(OPEN_STATES, None, {R.MEDIATOR, R.DISPATCHER, R.LEADER}, reason=True),
    Action.COMMENT: _t(set(State), None, {R.MEDIATOR, R.DISPATCHER, R.GRID_MEMBER, R.LEADER, R.PARTY_SECRETARY}),
}
