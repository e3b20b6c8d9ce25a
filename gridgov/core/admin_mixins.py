"""Admin edits are writes like any other: each also lands in the hash-chained audit log, with the values
of the changed fields before and after."""

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .audit import audit_log


def _plain(value):
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, (list, tuple, set, models.QuerySet)):
        return sorted(_plain(v) for v in value)
    try:
        DjangoJSONEncoder().encode(value)
        return value
    except TypeError:
        return str(value)


class AuditedAdminMixin:
    def save_form(self, request, form, change):
        # form.initial holds the values before the edit, cleaned_data those after (M2M fields included)
        fields = form.changed_data
        self._audit_before = {f: _plain(form.initial.get(f)) for f in fields} if change else None
        self._audit_after = {f: _plain(form.cleaned_data.get(f)) for f in fields}
        return super().save_form(request, form, change)

    def log_addition(self, request, obj, message):
        audit_log(actor=request.user, action="admin.add", obj=obj, after=getattr(self, "_audit_after", None))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_log(actor=request.user, action="admin.change", obj=obj, before=getattr(self, "_audit_before", None),
                  after=getattr(self, "_audit_after", None))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_log(actor=request.user, action="admin.delete", obj=obj, before={"repr": str(obj)})
        return super().log_deletions(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Readable in the admin, never added, changed or deleted there (logs: the audit chain, webhook deliveries;
    their writes go through services)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
