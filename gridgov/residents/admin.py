"""Administration of the registry.

Residents, houses, households, units, key-population records and visits are read-only here: they change only
through the services, which validate, encrypt and audit. The admin shows their change history
(django-simple-history), never an encrypted column (ciphertexts and blind indexes are excluded from the lists,
the forms and the history diffs) and never a plaintext identifier: ID numbers and phones appear masked.
Key-population tags and their visit policies are configuration and are edited here; every edit is audited.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from gridgov.core.admin_mixins import AuditedAdminMixin

from . import selectors
from .models import House, Household, KeyTag, Resident, ResidentTag, Unit, Visit

ENCRYPTED = {"id_number", "id_index", "phone", "phone_index", "owner_phone", "contact_phone"}


class ReadOnlyHistoryAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """Viewable with its history; no add, change, delete or revert; encrypted fields never shown."""

    def get_exclude(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name in ENCRYPTED]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in ENCRYPTED] + list(self.readonly_fields)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":  # simple_history would save a reverted version without asking
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        previous = None
        for current in historical_records:
            if previous is not None:
                excluded = [f for f in ENCRYPTED if hasattr(current, f)]
                delta = previous.diff_against(current, excluded_fields=excluded,
                                              foreign_keys_are_objs=foreign_keys_are_objs)
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current


class ReadOnlyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Resident)
class ResidentAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "masked_id", "masked_phone", "gender", "birth_date", "grid", "residence_type",
                    "status", "completeness", "confirmed_at"]
    list_filter = ["status", "residence_type", "presence", "gender"]
    search_fields = ["name"]
    list_select_related = ["grid"]
    readonly_fields = ["masked_id", "masked_phone"]
    raw_id_fields = ["house", "household", "grid"]

    @admin.display(description=_("ID number"))
    def masked_id(self, obj):
        return selectors.masked_id(obj)

    @admin.display(description=_("phone"))
    def masked_phone(self, obj):
        return selectors.masked_phone(obj)


@admin.register(House)
class HouseAdmin(ReadOnlyHistoryAdmin):
    list_display = ["address", "grid", "use", "owner_name", "rented", "confirmed_at"]
    list_filter = ["use", "rented"]
    search_fields = ["address__full_text", "owner_name"]
    list_select_related = ["address", "grid"]


@admin.register(Household)
class HouseholdAdmin(ReadOnlyHistoryAdmin):
    list_display = ["number", "house", "grid"]
    search_fields = ["number"]
    list_select_related = ["house__address", "grid"]


@admin.register(Unit)
class UnitAdmin(ReadOnlyHistoryAdmin):
    list_display = ["name", "credit_code", "kind", "contact_name", "masked_contact_phone", "grid"]
    search_fields = ["name", "credit_code"]
    list_select_related = ["grid"]
    readonly_fields = ["masked_contact_phone"]

    @admin.display(description=_("contact phone"))
    def masked_contact_phone(self, obj):
        return f"{'*' * 7}{obj.contact_phone_last4}" if obj.contact_phone_last4 else ""


@admin.register(ResidentTag)
class ResidentTagAdmin(ReadOnlyHistoryAdmin):
    list_display = ["resident", "tag", "grade", "since", "active"]
    list_filter = ["tag", "active", "grade"]
    list_select_related = ["resident", "tag"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        from .services import may_see_sensitive

        return qs if may_see_sensitive(request.user) else qs.filter(tag__sensitive=False)


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["resident", "tag", "visitor", "visited_at", "form", "seen"]
    list_filter = ["form", "seen", "tag"]
    list_select_related = ["resident", "tag", "visitor"]
    date_hierarchy = "visited_at"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        from .services import may_see_sensitive

        return qs if may_see_sensitive(request.user) else qs.exclude(tag__sensitive=True)


@admin.register(KeyTag)
class KeyTagAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "sensitive", "default_frequency", "visit_policy", "sort"]
    list_editable = ["sort"]
    fields = ["code", "name", "sensitive", "default_frequency", "visit_policy", "sort"]

    def has_delete_permission(self, request, obj=None):
        return False  # tags are referenced by records and visits; retire one by renaming, never delete
