"""Admin edits are writes like any other: each also lands in the hash-chained audit log."""

from .audit import audit_log


class AuditedAdminMixin:
    def log_addition(self, request, obj, message):
        audit_log(actor=request.user, action="admin.add", obj=obj, after={"message": str(message)})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_log(actor=request.user, action="admin.change", obj=obj, after={"message": str(message)})
        return super().log_change(request, obj, message)

    def log_deletion(self, request, obj, object_repr):
        audit_log(actor=request.user, action="admin.delete", obj=obj, before={"repr": object_repr})
        return super().log_deletion(request, obj, object_repr)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_log(actor=request.user, action="admin.delete", obj=obj, before={"repr": str(obj)})
        return super().log_deletions(request, queryset)
