"""Cases: categories with time limits, the case with its workflow timestamps, department tasks, the
timeline, attachments and extension requests."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.core.models import BaseModel

from .choices import (
    Action,
    CategoryKind,
    ExtensionState,
    Level,
    LimitUnit,
    Source,
    State,
    TaskRole,
    TaskState,
)


class Category(BaseModel):
    """A two-level taxonomy (大类 → 小类); cases are filed under a 小类 (a category with a parent)."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", verbose_name=_("main class"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(_("kind"), max_length=12, choices=CategoryKind.choices, default=CategoryKind.EVENT)
    description = models.TextField(_("description"), blank=True)
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    # time limits, each counted on the working calendar in `limit_unit`
    register_limit = models.PositiveIntegerField(_("register within"), default=2)
    dispatch_limit = models.PositiveIntegerField(_("dispatch within"), default=2)
    handle_limit = models.PositiveIntegerField(_("handle within"), default=3)
    limit_unit = models.CharField(_("unit of the limits"), max_length=8, choices=LimitUnit.choices,
                                  default=LimitUnit.HOURS)
    handle_unit = models.CharField(_("unit of the handling limit"), max_length=8, choices=LimitUnit.choices,
                                   default=LimitUnit.DAYS)
    default_department = models.ForeignKey("accounts.Department", verbose_name=_("default department"),
                                           null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    duplicate_radius_m = models.PositiveIntegerField(_("duplicate radius (m)"), default=50)
    duplicate_window_days = models.PositiveIntegerField(_("duplicate window (days)"), default=7)
    photo_required_report_back = models.BooleanField(_("photo required to report back"), default=True)
    photo_required_verify = models.BooleanField(_("photo required to verify"), default=False)
    # [{"code", "label", "datatype": string|number|text|datetime|singlevaluelist|multivaluelist,
    #   "required": bool, "values": [{"key", "name"}]}]
    extra_fields = models.JSONField(_("extra fields"), default=list, blank=True)
    service_code = models.CharField(_("service code (Open311)"), max_length=40, unique=True)
    is_dispute = models.BooleanField(_("dispute category"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    sort = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name


class Case(BaseModel):
    number = models.CharField(pgettext_lazy("record", "number"), max_length=20, unique=True)
    tracking_code = models.CharField(_("tracking code"), max_length=12, unique=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT,
                                 related_name="cases")
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=200, blank=True)
    extra = models.JSONField(_("extra fields"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, db_index=True)
    # where: WGS84, located to a grid; `path` is the grid's path (scope)
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="cases")
    path = models.CharField(max_length=255, db_index=True)
    # who reported
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reporter"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="reported_cases")
    reporter_name = models.CharField(_("reporter's name"), max_length=50, blank=True)
    reporter_phone = models.CharField(_("reporter's phone (encrypted)"), max_length=200, blank=True)
    reporter_phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    reporter_ip_hash = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    # the workflow
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.REPORTED,
                             db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.GRID)
    lead_department = models.ForeignKey("accounts.Department", verbose_name=_("lead department"), null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="lead_cases")
    self_handled = models.BooleanField(_("handled on the spot"), default=False)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="duplicates")
    # timestamps of each step (the KPIs are computed from these, never self-reported)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, db_index=True)
    rejected_at = models.DateTimeField(_("refused at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    # deadlines on the working calendar
    register_due = models.DateTimeField(_("register by"), null=True, blank=True)
    dispatch_due = models.DateTimeField(_("dispatch by"), null=True, blank=True)
    handle_due = models.DateTimeField(_("handle by"), null=True, blank=True, db_index=True)
    # counters and flags
    overdue = models.BooleanField(_("was overdue"), default=False, db_index=True)
    closed_on_time = models.BooleanField(_("closed on time"), null=True, blank=True)
    return_count = models.PositiveSmallIntegerField(_("returns"), default=0)
    rework_count = models.PositiveSmallIntegerField(_("reworks"), default=0)
    extension_count = models.PositiveSmallIntegerField(_("extensions"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("reopenings"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("escalations"), default=0)
    supervision_count = models.PositiveSmallIntegerField(_("supervisions"), default=0)
    escalated_at = models.DateTimeField(_("last escalated at"), null=True, blank=True)
    resolution_level = models.CharField(_("resolved at level"), max_length=10, choices=Level.choices, blank=True)
    verified_by_reporter = models.BooleanField(default=False)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    satisfaction_comment = models.CharField(_("comment"), max_length=300, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    class Meta:
        ordering = ["-reported_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        constraints = [
            # a retried report (same reporter, same key) is the same case
            models.UniqueConstraint(fields=["reporter", "idempotency_key"], name="cases_case_idempotency",
                                    condition=~models.Q(idempotency_key="")),
        ]
        indexes = [
            models.Index(fields=["state", "path"]),
            models.Index(fields=["category", "state", "reported_at"]),
            # the rollups recompute a day from each workflow timestamp (gridgov.analytics.rollups)
            models.Index(fields=["registered_at"], name="cases_case_registered_at"),
            models.Index(fields=["rejected_at"], name="cases_case_rejected_at"),
            models.Index(fields=["dispatched_at"], name="cases_case_dispatched_at"),
            models.Index(fields=["rated_at"], name="cases_case_rated_at"),
            # the case lists' order (newest first): an unrestricted list (admins; PostgreSQL's planner also for a
            # city-wide scope) reads its first page off this index instead of sorting every case
            models.Index(fields=["reported_at"], name="cases_case_reported_at"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.category.name}"


class Task(BaseModel):
    """One department's part of a case: the lead, assisting and summoned departments each get one."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="tasks")
    department = models.ForeignKey("accounts.Department", verbose_name=_("department"),
                                   on_delete=models.PROTECT, related_name="tasks")
    role = models.CharField(_("role"), max_length=10, choices=TaskRole.choices)
    state = models.CharField(_("state"), max_length=10, choices=TaskState.choices, default=TaskState.PENDING,
                             db_index=True)
    instructions = models.TextField(_("instructions"), blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)

    class Meta:
        ordering = ["case", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")

    def __str__(self) -> str:
        return f"{self.case.number} → {self.department}"


class Step(models.Model):
    """The timeline: one row per action on a case, written by the service that performs it."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    from_state = models.CharField(max_length=12, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=12, choices=State.choices, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=100, blank=True)
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    at = models.DateTimeField(_("time"), db_index=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    public = models.BooleanField(default=True)  # shown on the resident's tracking page

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline step")
        verbose_name_plural = _("timeline")

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        REPORT = "report", _("Report photo")
        EVIDENCE = "evidence", _("Evidence of handling")
        VERIFY = "verify", _("Verification photo")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(upload_to="cases/%Y/%m/")
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # the photo's own location and time, kept as data (the file itself is stripped of metadata)
    photo_lon = models.FloatField(null=True, blank=True)
    photo_lat = models.FloatField(null=True, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]


class Extension(models.Model):
    """An extension request (延期): asked by the handling department, decided by a dispatcher."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions")
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="extensions")
    amount = models.PositiveIntegerField(_("extra time"))
    unit = models.CharField(max_length=8, choices=LimitUnit.choices)
    reason = models.TextField(_("reason"))
    state = models.CharField(max_length=10, choices=ExtensionState.choices, default=ExtensionState.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
