"""Administration of disputes.

A dispute moves only through the workflow services (checks, timeline, notifications, audit), so its workflow
fields, parties, sessions, agreement, follow-ups and timeline are read-only here; only its descriptive fields
(title, description, address, people involved, amount, the referring body's reference) can be corrected.
Parties' phones are never shown in clear: masked, like on the dispute page. The time and warning rules
(one row) are edited here. Every edit is audited (AuditedAdminMixin).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.core import crypto
from gridgov.core.admin_mixins import AuditedAdminMixin

from .models import Agreement, Dispute, FollowUp, Party, Rules, Session, Step
from .services import address_key

EDITABLE = ["title", "description", "address", "people_count", "amount", "source_reference"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PartyInline(ReadOnlyInline):
    model = Party
    fields = ["role", "kind", "name", "resident", "masked_phone", "credit_code", "note"]
    readonly_fields = fields

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        if not obj.phone:
            return ""
        try:
            return crypto.mask_phone(crypto.decrypt(obj.phone))
        except Exception:
            return f"***{obj.phone_last4}" if obj.phone_last4 else "***"


class SessionInline(ReadOnlyInline):
    model = Session
    fields = ["held_at", "place", "level", "mediator", "participants", "outcome", "record"]
    readonly_fields = fields


class AgreementInline(admin.StackedInline):
    model = Agreement
    extra = 0
    can_delete = False
    fields = ["number", "signed_at", "mediator", "committee", "facts", "terms", "fulfil_by", "fulfilment",
              "fulfilment_note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FollowUpInline(ReadOnlyInline):
    model = FollowUp
    fields = ["visited_at", "visitor", "form", "stable", "satisfied", "content"]
    readonly_fields = fields


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["at", "action", "from_state", "to_state", "actor_name", "note"]
    readonly_fields = fields


@admin.register(Dispute)
class DisputeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["number", "title", "grade", "state", "level", "type", "source", "grid", "registered_at",
                    "overdue"]
    list_filter = ["state", "grade", "level", "type", "source", "overdue", "auto_escalated", "outcome",
                   "resolution_level", "referral_channel"]
    search_fields = ["=number", "title"]
    list_select_related = ["grid"]
    date_hierarchy = "registered_at"
    show_full_result_count = False
    inlines = [PartyInline, SessionInline, AgreementInline, FollowUpInline, StepInline]
    fieldsets = [
        (None, {"fields": ["number", "type", "source", "source_reference", "case", "title", "description"]}),
        (_("Where"), {"fields": ["grid", "address", "lon", "lat"]}),
        (_("Scale and risk"), {"fields": ["people_count", "amount", "grade", "initial_grade", "risk_note",
                                          "auto_escalated"]}),
        (_("Workflow"), {"fields": ["state", "version", "level", "level_since", "mediator", "committee",
                                    "referral_channel", "referral_reference", "outcome", "resolution_level",
                                    "fulfilled", "due_at", "overdue"]}),
        (_("Times"), {"fields": ["registered_at", "assessed_at", "mediation_started_at", "agreed_at", "failed_at",
                                 "referred_at", "fulfilment_checked_at", "closed_at"]}),
        (_("Counters"), {"fields": ["session_count", "failed_sessions", "follow_up_count", "referral_count"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Dispute._meta.fields if f.name not in EDITABLE]

    def has_add_permission(self, request):
        return False  # disputes are registered through the services (or converted from a case)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.address_key = address_key(obj.address)
        obj.version += 1  # an open form elsewhere now gets a stale-version answer
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Rules)
class RulesAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "escalate_general_after_days", "refer_after_failed_sessions", "refer_after_days",
                    "deadline_general_days", "deadline_major_days", "deadline_serious_days", "updated_at"]
    fieldsets = [
        (_("Mediation deadlines (working days)"), {"fields": ["deadline_general_days", "deadline_major_days",
                                                              "deadline_serious_days", "due_soon_days"]}),
        (_("Time rules (working days)"), {"fields": ["escalate_general_after_days", "refer_after_failed_sessions",
                                                     "refer_after_days"]}),
        (_("Warnings and closing"), {"fields": ["repeat_window_days", "many_people", "min_follow_ups"]}),
    ]

    def has_add_permission(self, request):
        return not Rules.objects.exists()  # one row

    def has_delete_permission(self, request, obj=None):
        return False
