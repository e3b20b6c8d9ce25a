"""Schemas of the disputes API: what goes in (one body per action) and what comes out (list rows, the detail,
the warnings, the measures, the map layer, the queue). Resolvers only shape data; every read is done by the
selectors.

Enumerations (type, source, grade, channel, outcome, form, a party's kind and role) are plain strings here: the
services check them, so that an unknown value is a 422 with a stable code (`unknown_grade`, `unknown_type`,
`invalid_party`, …) naming the field. Every input body refuses unknown keys and strings holding a NUL
character (PostgreSQL text cannot store it), so that no input reaches the database unchecked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.urls import NoReverseMatch, reverse
from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from gridgov.core import crypto
from gridgov.geo.choices import CoordSys

from .choices import (
    Action,
    Channel,
    DisputeSource,
    DisputeType,
    FollowUpForm,
    Grade,
    Level,
    PartyKind,
    PartyRole,
    SessionOutcome,
    State,
)

MAX_ID = 2**63 - 1  # the database's integer range: a larger id is refused before any query
VERSION = Field(None, ge=1, le=MAX_ID, description="The version you last saw; a stale one is a 409 stale_version "
                                                   "(optimistic lock). Omit it to act on whatever is current.")


def _values(choices) -> str:
    return ", ".join(choices.values)


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class In(Schema):
    """An input body: unknown keys are refused (a typo is a 422, not silently ignored)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value):
        return _no_nul(value)


# --- input ---------------------------------------------------------------------------------------------------

class DisputeFilterQuery(Schema):
    """The list filters (gridgov.disputes.filters.DisputeFilter, shared with the web UI)."""

    state: list[str] | None = Field(None, description=f"one or more of {_values(State)}")
    open: bool | None = Field(None, description="true: open disputes only; false: closed ones only")
    type: str | None = Field(None, max_length=20, description=_values(DisputeType))
    source: str | None = Field(None, max_length=20, description=_values(DisputeSource))
    grade: list[str] | None = Field(None, description=f"one or more of {_values(Grade)}")
    level: str | None = Field(None, max_length=20, description=_values(Level))
    area: str | None = Field(None, max_length=40, description="area code: disputes under that area")
    grid: str | None = Field(None, max_length=40, description="grid code")
    mediator: int | None = Field(None, ge=1, le=MAX_ID, description="the mediator's user id")
    overdue: bool | None = Field(None, description="disputes that went past their mediation deadline")
    registered_from: dt.date | None = Field(None, description="registered on or after this day")
    registered_to: dt.date | None = Field(None, description="registered on or before this day")
    q: str | None = Field(None, max_length=100, description="number prefix, text in title/description, or a "
                                                            "party's exact name")
    ordering: str | None = Field(None, max_length=20, description="registered_at, due_at, number or updated_at; "
                                                                  "prefix - for descending")


class PartyIn(In):
    kind: str = Field(PartyKind.PERSON.value, max_length=20, description=_values(PartyKind))
    role: str = Field(..., max_length=20, description=_values(PartyRole))
    resident_id: int | None = Field(None, ge=1, le=MAX_ID,
                                    description="a resident of the registry in your area (name and phone come "
                                                "from the registry when not given)")
    name: str = Field("", max_length=100, description="required unless resident_id is given")
    phone: str = Field("", max_length=30, description="stored encrypted, only ever shown masked")
    credit_code: str = Field("", max_length=18, description="an organisation's unified social credit code")
    note: str = Field("", max_length=200)


PARTIES = Field(..., max_length=50, description="at least two parties, among them the applicant or the "
                                                "respondent (422 missing_party otherwise)")
AMOUNT = Field(None, ge=0, lt=Decimal("1e12"), description="amount involved in yuan")
PEOPLE = Field(None, ge=1, le=1_000_000, description="people involved (at least the persons among the parties); "
                                                     "omitted: the number of parties")


class DisputeIn(In):
    type: str = Field(..., max_length=20, description=_values(DisputeType))
    source: str = Field(..., max_length=20, description=", ".join(
        v for v in DisputeSource.values if v != DisputeSource.CASE) + " (a case converts through "
                                                                       "POST /disputes/from-case/{case_id})")
    source_reference: str = Field("", max_length=60, description="the referring body's reference")
    title: str = Field("", max_length=100, description="omitted: the names of the parties")
    description: str = Field(..., max_length=4000)
    grid: str | None = Field(None, max_length=40, description="grid code; or give lon/lat")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    coord_sys: CoordSys = Field(CoordSys.WGS84, description="coordinate system of lon/lat")
    address: str = Field("", max_length=200)
    people_count: int | None = PEOPLE
    amount: Decimal | None = AMOUNT
    grade: str = Field(Grade.GENERAL.value, max_length=20, description=_values(Grade))
    parties: list[PartyIn] = PARTIES


class FromCaseIn(In):
    type: str = Field(..., max_length=20, description=_values(DisputeType))
    parties: list[PartyIn] = PARTIES
    grade: str = Field(Grade.GENERAL.value, max_length=20, description=_values(Grade))
    people_count: int | None = PEOPLE
    amount: Decimal | None = AMOUNT
    title: str = Field("", max_length=100, description="omitted: the start of the case's description")
    version: int | None = Field(None, ge=1, le=MAX_ID, description="the CASE's version you last saw (409 "
                                                                   "stale_version if it changed)")
    note: str = Field("", max_length=2000)


class AssessIn(In):
    version: int | None = VERSION
    grade: str = Field(..., max_length=20, description=_values(Grade))
    risk_note: str = Field(..., max_length=4000, description="the risk assessment (风险研判)")


class AssignIn(In):
    version: int | None = VERSION
    mediator_id: int = Field(..., ge=1, le=MAX_ID, description="user id of a mediator or grid member working "
                                                               "where the dispute is, at its level or above")
    committee: str = Field("", max_length=100, description="the mediation committee")
    note: str = Field("", max_length=2000)


class SessionIn(In):
    version: int | None = VERSION
    held_at: dt.datetime = Field(..., description="ISO 8601; not before the registration, not in the future "
                                                  "(a time without offset is local time)")
    place: str = Field(..., max_length=100)
    participants: str = Field(..., max_length=2000)
    record: str = Field(..., max_length=20000, description="the record (调解笔录)")
    outcome: str = Field(SessionOutcome.PROGRESS.value, max_length=20, description=_values(SessionOutcome))


class AgreementIn(In):
    version: int | None = VERSION
    facts: str = Field(..., max_length=8000, description="facts and disputed matters")
    terms: list[str] = Field(..., min_length=1, max_length=50, description="one string per term")
    fulfil_by: dt.date | None = Field(None, description="not in the past")
    fulfilment: str = Field("", max_length=200, description="how it is fulfilled")

    @field_validator("terms")
    @classmethod
    def _term_length(cls, terms: list[str]) -> list[str]:
        if any(len(t) > 2000 for t in terms):
            raise ValueError("a term has at most 2000 characters")
        return terms


class ReasonIn(In):
    version: int | None = VERSION
    reason: str = Field(..., max_length=2000)


class ReferIn(In):
    version: int | None = VERSION
    channel: str = Field(..., max_length=20, description=_values(Channel) + " (community/street/district: up a "
                                                                            "level of mediation; the others out)")
    reason: str = Field(..., max_length=2000)
    reference: str = Field("", max_length=60, description="the receiving body's reference; required for "
                                                          "judicial, arbitration, litigation and petitions")


class FulfilmentIn(In):
    version: int | None = VERSION
    fulfilled: bool = Field(..., description="false puts the dispute back to failed (a note is required)")
    note: str = Field("", max_length=4000)


class FollowUpIn(In):
    version: int | None = VERSION
    visited_at: dt.datetime = Field(..., description="ISO 8601; not before the registration, not in the future")
    content: str = Field(..., max_length=4000, description="what was found")
    form: str = Field(FollowUpForm.HOME.value, max_length=20, description=_values(FollowUpForm))
    stable: bool = Field(True, description="false: the dispute is not settled (an early warning)")
    satisfied: bool | None = Field(None, description="are the parties satisfied?")


class NoteIn(In):
    version: int | None = VERSION
    note: str = Field("", max_length=4000, description="required when closing a registered or assessed dispute "
                                                       "(withdrawn) or a referred one (how it concluded)")


class RegradeIn(In):
    version: int | None = VERSION
    grade: str = Field(..., max_length=20, description=_values(Grade))
    reason: str = Field(..., max_length=2000)


class CommentIn(In):
    version: int | None = VERSION
    note: str = Field(..., max_length=4000)


# Dates the measures take (a day near the ends of the calendar would overflow the range arithmetic).
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


class MeasuresQuery(Schema):
    start: dt.date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY,
                                  description="first day (registration date); default a year before end")
    end: dt.date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY, description="last day, inclusive; default today")
    group: str | None = Field(None, max_length=20, description="mediator, grid, community or street")


class MapQuery(Schema):
    all: bool = Field(False, description="true: closed disputes too")


# --- output --------------------------------------------------------------------------------------------------

def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


class Ref(Schema):
    code: str
    name: str


class UserRef(Schema):
    id: int
    name: str

    @staticmethod
    def resolve_name(obj):
        return str(obj)


class CaseRef(Schema):
    id: int
    number: str


class DisputeOut(Schema):
    id: int
    number: str
    title: str
    type: str
    type_label: str
    source: str
    source_label: str
    state: str
    state_label: str
    grade: str
    grade_label: str
    grade_colour: str = Field(..., description="#rrggbb of the grade (yellow, orange, red)")
    level: str
    level_label: str
    version: int
    grid: Ref
    address: str
    lon: float | None = Field(None, description="WGS 84; null when only the grid is known")
    lat: float | None
    people_count: int
    amount: Decimal | None = Field(None, description="yuan, as a decimal string")
    mediator: UserRef | None
    registered_at: dt.datetime
    due_at: dt.datetime | None = Field(None, description="mediation deadline (set by the grade)")
    closed_at: dt.datetime | None
    overdue: bool

    @staticmethod
    def resolve_type_label(obj):
        return _label(DisputeType, obj.type)

    @staticmethod
    def resolve_source_label(obj):
        return _label(DisputeSource, obj.source)

    @staticmethod
    def resolve_state_label(obj):
        return _label(State, obj.state)

    @staticmethod
    def resolve_grade_label(obj):
        return _label(Grade, obj.grade)

    @staticmethod
    def resolve_level_label(obj):
        return _label(Level, obj.level)


class PartyOut(Schema):
    id: int
    kind: str
    kind_label: str
    role: str
    role_label: str
    name: str
    resident_id: int | None = Field(None, description="the resident of the registry, when the party is one")
    phone: str = Field(..., description="masked (139****5678); never the number itself")
    credit_code: str
    note: str

    @staticmethod
    def resolve_kind_label(obj):
        return _label(PartyKind, obj.kind)

    @staticmethod
    def resolve_role_label(obj):
        return _label(PartyRole, obj.role)

    @staticmethod
    def resolve_phone(obj):
        try:
            return crypto.mask_phone(crypto.decrypt(obj.phone))
        except Exception:  # a ciphertext under a lost key, or garbage: never show it
            return "***"


class SessionOut(Schema):
    id: int
    held_at: dt.datetime
    place: str
    participants: str
    record: str
    outcome: str
    outcome_label: str
    level: str
    mediator: UserRef

    @staticmethod
    def resolve_outcome_label(obj):
        return _label(SessionOutcome, obj.outcome)


class AgreementOut(Schema):
    number: str
    facts: str
    terms: list[str]
    fulfil_by: dt.date | None
    fulfilment: str
    signed_at: dt.datetime
    mediator: UserRef
    committee: str
    fulfilment_note: str
    docx_url: str = Field(..., description="GET: the agreement as a Word document")
    pdf_url: str = Field(..., description="GET: the agreement as PDF")

    @staticmethod
    def resolve_terms(obj):
        return [str(t) for t in (obj.terms or [])]

    @staticmethod
    def resolve_docx_url(obj):
        return _api_url("dispute_agreement_docx", obj.dispute_id, "docx")

    @staticmethod
    def resolve_pdf_url(obj):
        return _api_url("dispute_agreement_pdf", obj.dispute_id, "pdf")


def _api_url(name: str, pk: int, ext: str) -> str:
    try:
        return reverse(f"api:{name}", kwargs={"dispute_id": pk})
    except NoReverseMatch:
        return f"/api/v1/disputes/{pk}/agreement.{ext}"


class FollowUpOut(Schema):
    id: int
    visited_at: dt.datetime
    visitor: UserRef
    form: str
    form_label: str
    content: str
    stable: bool
    satisfied: bool | None

    @staticmethod
    def resolve_form_label(obj):
        return _label(FollowUpForm, obj.form)


class StepOut(Schema):
    action: str
    action_label: str
    from_state: str
    to_state: str
    actor: str = Field(..., description="who acted; empty for the time rules")
    at: dt.datetime
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_action_label(obj):
        return _label(Action, obj.action)

    @staticmethod
    def resolve_actor(obj):
        return obj.actor_name


class CaseStepOut(Schema):
    action: str
    from_state: str
    to_state: str
    actor: str
    at: dt.datetime
    note: str

    @staticmethod
    def resolve_actor(obj):
        return obj.actor_name


class DisputeDetailOut(DisputeOut):
    url: str = Field(..., description="the dispute's page in the web UI")
    description: str
    source_reference: str
    case: CaseRef | None = Field(None, description="the case it was converted from")
    initial_grade: str
    risk_note: str
    level_since: dt.datetime
    committee: str
    referral_channel: str
    referral_reference: str
    outcome: str
    resolution_level: str
    fulfilled: bool | None
    assessed_at: dt.datetime | None
    mediation_started_at: dt.datetime | None
    agreed_at: dt.datetime | None
    failed_at: dt.datetime | None
    referred_at: dt.datetime | None
    fulfilment_checked_at: dt.datetime | None
    failed_sessions: int
    session_count: int
    follow_up_count: int
    referral_count: int
    auto_escalated: bool
    parties: list[PartyOut]
    sessions: list[SessionOut]
    agreement: AgreementOut | None
    follow_ups: list[FollowUpOut]
    timeline: list[StepOut]
    case_history: list[CaseStepOut] = Field(..., description="the timeline of the case it was converted from")
    allowed_actions: list[str] = Field(..., description="what you may do now: assess, assign, session, agree, "
                                                        "fail, refer, check_fulfilment, follow_up, close, "
                                                        "regrade, comment")

    @staticmethod
    def resolve_url(obj):
        try:
            return reverse("disputes:detail", args=[obj.pk])
        except NoReverseMatch:
            return f"/disputes/{obj.pk}/"

    @staticmethod
    def resolve_case(obj):
        return obj.case if obj.case_id else None

    @staticmethod
    def resolve_parties(obj):
        return list(obj.parties.all())

    @staticmethod
    def resolve_sessions(obj):
        return list(obj.sessions.all())

    @staticmethod
    def resolve_agreement(obj):
        from .models import Agreement

        try:
            return obj.agreement
        except Agreement.DoesNotExist:
            return None

    @staticmethod
    def resolve_follow_ups(obj):
        return list(obj.follow_ups.all())

    @staticmethod
    def resolve_timeline(obj):
        from .selectors import dispute_timeline

        return dispute_timeline(dispute=obj)

    @staticmethod
    def resolve_case_history(obj):
        from .selectors import case_history

        return case_history(dispute=obj)

    @staticmethod
    def resolve_allowed_actions(obj, context):
        from .services import dispute_allowed_actions

        return [str(a) for a in dispute_allowed_actions(dispute=obj, user=context["request"].auth)]


class WarningOut(Schema):
    dispute_id: int
    number: str
    title: str
    grade: str
    grade_label: str
    grade_colour: str
    state: str
    due_at: dt.datetime | None
    rule: str = Field(..., description="repeated_parties, repeated_address, many_people, rising_grade, "
                                       "key_population, due or unsettled")
    rule_label: str
    reason: str
    act_by: list[str] = Field(..., description="who should act")


class MeasureOut(Schema):
    total: int
    found_by_screening: int
    brought_in: int
    screening_share: float | None = Field(None, description="per cent; null when there is nothing to count")
    resolved: int
    resolution_rate: float | None
    fulfilment_checked: int
    fulfilled: int
    fulfilment_rate: float | None
    days_to_resolve_median: float | None
    days_to_resolve_p90: float | None
    resolution_levels: dict[str, int] = Field(..., description="agreements per level (grid, community, …)")
    resolved_in_grid_rate: float | None
    resolved_in_community_rate: float | None
    to_follow_up: int
    followed_up: int
    follow_up_rate: float | None
    open: int
    serious: int


class MeasureGroupOut(MeasureOut):
    key: str = Field(..., description="mediator id, grid code or area path")
    label: str


class MeasuresOut(Schema):
    start: dt.date
    end: dt.date
    group: str
    total: MeasureOut
    groups: list[MeasureGroupOut]


class DisputePointOut(Schema):
    type: Literal["Point"]
    coordinates: list[float] = Field(..., description="[lon, lat], WGS 84")


class MapPropertiesOut(Schema):
    id: int
    number: str
    title: str
    type: str
    type_label: str
    grade: str
    grade_label: str
    colour: str
    state: str
    state_label: str
    grid: str
    exact: bool = Field(..., description="false: the grid's centre stands in for an unknown point")


class MapFeatureOut(Schema):
    type: Literal["Feature"]
    geometry: DisputePointOut
    properties: MapPropertiesOut


class MapOut(Schema):
    type: Literal["FeatureCollection"]
    features: list[MapFeatureOut]


class QueueOut(Schema):
    mine: list[DisputeOut] = Field(..., description="open disputes I mediate, by deadline")
    waiting: list[DisputeOut] = Field(..., description="waiting for a mediator (registered, assessed, failed, "
                                                       "referred up)")
    follow_up: list[DisputeOut] = Field(..., description="to check fulfilment or follow up")
