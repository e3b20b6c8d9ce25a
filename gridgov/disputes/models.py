"""Disputes (矛盾纠纷): the dispute with its workflow timestamps, its parties, mediation sessions, the agreement,
follow-up visits, the timeline, and the configurable time rules."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.core.models import BaseModel

from .choices import (
    GRADE_COLOURS,
    Action,
    Channel,
    DisputeSource,
    DisputeType,
    FollowUpForm,
    Grade,
    Level,
    Outcome,
    PartyKind,
    PartyRole,
    SessionOutcome,
    State,
)


class Dispute(BaseModel):
    number = models.CharField(pgettext_lazy("record", "number"), max_length=20, unique=True)
    type = models.CharField(_("type"), max_length=14, choices=DisputeType.choices, db_index=True)
    source = models.CharField(_("source"), max_length=12, choices=DisputeSource.choices, db_index=True)
    source_reference = models.CharField(_("reference of the referring body"), max_length=60, blank=True)
    case = models.OneToOneField("cases.Case", verbose_name=_("converted from case"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="dispute")
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    # where: the grid (scope) and, when known, the point and address
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="disputes")
    path = models.CharField(max_length=255, db_index=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # normalised address for the "same address" early warning (spaces and punctuation removed)
    address_key = models.CharField(max_length=200, blank=True, db_index=True)
    people_count = models.PositiveIntegerField(_("people involved"), default=2)
    amount = models.DecimalField(_("amount involved (yuan)"), max_digits=14, decimal_places=2, null=True,
                                 blank=True)
    # risk
    grade = models.CharField(_("risk grade"), max_length=8, choices=Grade.choices, default=Grade.GENERAL,
                             db_index=True)
    initial_grade = models.CharField(_("grade at registration"), max_length=8, choices=Grade.choices,
                                     default=Grade.GENERAL)
    risk_note = models.TextField(_("risk assessment (风险研判)"), blank=True)
    # the workflow
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.REGISTERED,
                             db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.GRID)
    level_since = models.DateTimeField(_("at this level since"))
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("mediator"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="mediated_disputes")
    committee = models.CharField(_("mediation committee"), max_length=100, blank=True)
    referral_channel = models.CharField(_("referred to"), max_length=12, choices=Channel.choices, blank=True)
    referral_reference = models.CharField(_("referral reference"), max_length=60, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    resolution_level = models.CharField(_("resolved at level"), max_length=10, choices=Level.choices, blank=True)
    fulfilled = models.BooleanField(_("agreement fulfilled"), null=True, blank=True)
    # timestamps of each step (the measures are computed from these)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    assessed_at = models.DateTimeField(_("assessed at"), null=True, blank=True)
    mediation_started_at = models.DateTimeField(_("mediation started at"), null=True, blank=True)
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    referred_at = models.DateTimeField(_("referred at"), null=True, blank=True)
    fulfilment_checked_at = models.DateTimeField(_("fulfilment checked at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, db_index=True)
    due_at = models.DateTimeField(_("mediate by"), null=True, blank=True, db_index=True)
    # counters and flags the time rules and the measures use
    failed_sessions = models.PositiveSmallIntegerField(_("failed sessions at this level"), default=0)
    session_count = models.PositiveSmallIntegerField(_("sessions"), default=0)
    follow_up_count = models.PositiveSmallIntegerField(_("follow-up visits"), default=0)
    referral_count = models.PositiveSmallIntegerField(_("referrals"), default=0)
    auto_escalated = models.BooleanField(_("grade raised by the time rule"), default=False)
    overdue = models.BooleanField(_("was overdue"), default=False)

    class Meta:
        ordering = ["-registered_at", "-id"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        indexes = [models.Index(fields=["state", "path"]), models.Index(fields=["grade", "state"])]
        permissions = [("view_dispute_parties", _("Can see dispute parties' contact details unmasked"))]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def grade_colour(self) -> str:
        return GRADE_COLOURS[Grade(self.grade)]


class Party(models.Model):
    """A party to a dispute: a resident of the registry, or a free-text person or organisation."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    kind = models.CharField(_("kind"), max_length=12, choices=PartyKind.choices, default=PartyKind.PERSON)
    role = models.CharField(_("role"), max_length=10, choices=PartyRole.choices)
    resident = models.ForeignKey("residents.Resident", verbose_name=_("resident"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="dispute_parties")
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone (encrypted)"), max_length=200, blank=True)
    phone_last4 = models.CharField(max_length=4, blank=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    # who this party is, across disputes: r:<resident>, o:<credit code>, p:<phone index> or n:<name>
    identity = models.CharField(max_length=80, db_index=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["dispute", "id"]
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


class Session(models.Model):
    """A mediation session (调解会): when, where, who, what was said and how it ended."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=100)
    participants = models.TextField(_("participants"))
    record = models.TextField(_("record (调解笔录)"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=SessionOutcome.choices,
                               default=SessionOutcome.PROGRESS)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("mediator"), on_delete=models.PROTECT,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["held_at", "id"]
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")


class Agreement(models.Model):
    """The mediation agreement (调解协议书); its documents are generated from a template on request."""

    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="agreement")
    number = models.CharField(pgettext_lazy("record", "number"), max_length=30, unique=True)
    facts = models.TextField(_("facts and disputed matters"))
    terms = models.JSONField(_("terms"), default=list)  # a list of strings, one term each
    fulfil_by = models.DateField(_("fulfil by"), null=True, blank=True)
    fulfilment = models.CharField(_("how it is fulfilled"), max_length=200, blank=True)
    signed_at = models.DateTimeField(_("signed at"))
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("mediator"), on_delete=models.PROTECT,
                                 related_name="+")
    committee = models.CharField(_("mediation committee"), max_length=100, blank=True)
    fulfilment_note = models.TextField(_("fulfilment check"), blank=True)

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self) -> str:
        return self.number


class FollowUp(models.Model):
    """A follow-up visit (回访) after the agreement or the referral: is it holding, are the parties content?"""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    visited_at = models.DateTimeField(_("time of the visit"))
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("visitor"), on_delete=models.PROTECT,
                                related_name="+")
    form = models.CharField(_("form"), max_length=10, choices=FollowUpForm.choices, default=FollowUpForm.HOME)
    content = models.TextField(_("what was found"))
    stable = models.BooleanField(_("the dispute is settled (no recurrence)"), default=True)
    satisfied = models.BooleanField(_("the parties are satisfied"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["visited_at", "id"]
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")


class Step(models.Model):
    """The timeline: one row per action on a dispute, written by the service that performs it."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    from_state = models.CharField(max_length=10, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=10, choices=State.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField(_("time"), db_index=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline step")
        verbose_name_plural = _("timeline")


class Rules(models.Model):
    """The configurable time and warning rules (one row; edited in the admin). Days are working days."""

    escalate_general_after_days = models.PositiveSmallIntegerField(
        _("a general dispute unresolved after … days becomes major"), default=5)
    refer_after_failed_sessions = models.PositiveSmallIntegerField(
        _("refer up a level after … failed sessions"), default=3)
    refer_after_days = models.PositiveSmallIntegerField(_("refer up a level after … days at a level"), default=15)
    deadline_general_days = models.PositiveSmallIntegerField(_("mediation deadline, general (days)"), default=10)
    deadline_major_days = models.PositiveSmallIntegerField(_("mediation deadline, major (days)"), default=7)
    deadline_serious_days = models.PositiveSmallIntegerField(_("mediation deadline, serious (days)"), default=3)
    repeat_window_days = models.PositiveSmallIntegerField(
        _("repeated disputes: look back … calendar days"), default=365)
    many_people = models.PositiveSmallIntegerField(_("many people involved: at least"), default=5)
    due_soon_days = models.PositiveSmallIntegerField(_("warn … working days before the deadline"), default=1)
    min_follow_ups = models.PositiveSmallIntegerField(_("follow-up visits before closing"), default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dispute rules")
        verbose_name_plural = _("dispute rules")

    def __str__(self) -> str:
        return str(_("Dispute rules"))

    @classmethod
    def current(cls) -> Rules:
        rules, _created = cls.objects.get_or_create(pk=1)
        return rules

    def deadline_days(self, grade: str) -> int:
        return {Grade.GENERAL: self.deadline_general_days, Grade.MAJOR: self.deadline_major_days,
                Grade.SERIOUS: self.deadline_serious_days}[Grade(grade)]
