from django.contrib import admin

from .admin_mixins import AuditedAdminMixin, ReadOnlyAdmin
from .models import AuditEntry, CalendarDay, JobRun


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):  # the audit log is append-only: readable here, never editable
    list_display = ["seq", "at", "actor_name", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "object_repr", "actor_name"]


@admin.register(CalendarDay)
class CalendarDayAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["date", "kind", "name"]
    list_filter = ["kind"]
    date_hierarchy = "date"


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "last_started_at", "last_finished_at", "last_ok", "runs", "failures"]
    readonly_fields = [f.name for f in JobRun._meta.fields]
