"""Administration: categories are edited here (audited); cases and their parts are read-only here, because a
case changes only through the workflow services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.core.admin_mixins import AuditedAdminMixin, _plain
from gridgov.core.audit import audit_log

from .models import Attachment, Case, Category, Extension, Step, Task

EXTRA_DATATYPES = {"string", "number", "text", "datetime", "singlevaluelist", "multivaluelist"}


def _extra_fields_problems(value) -> list[str]:
    """What is wrong with a category's extra-field definitions (the intake forms and services read them)."""
    if not isinstance(value, list):
        return [_("Give a list of fields.")]
    problems, codes = [], set()
    for i, spec in enumerate(value, start=1):
        if not isinstance(spec, dict) or not isinstance(spec.get("code"), str) or not spec["code"].strip():
            problems.append(_("Field %(n)d needs a code.") % {"n": i})
            continue
        if spec["code"] in codes:
            problems.append(_("Field code %(code)s appears twice.") % {"code": spec["code"]})
        codes.add(spec["code"])
        datatype = spec.get("datatype", "string")
        if datatype not in EXTRA_DATATYPES:
            problems.append(_("Field %(code)s: unknown datatype %(type)s.") % {"code": spec["code"], "type": datatype})
        elif datatype.endswith("valuelist"):
            values = spec.get("values")
            if not isinstance(values, list) or not values or not all(
                    isinstance(v, dict) and "key" in v and "name" in v for v in values):
                problems.append(_("Field %(code)s: a list needs values, each with a key and a name.")
                                % {"code": spec["code"]})
    return problems


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["code", "name", "parent", "kind", "description", "keywords", "register_limit", "dispatch_limit",
                  "handle_limit", "limit_unit", "handle_unit", "default_department", "duplicate_radius_m",
                  "duplicate_window_days", "photo_required_report_back", "photo_required_verify", "extra_fields",
                  "service_code", "is_dispute", "is_active", "sort"]

    def clean(self):
        cleaned = super().clean()
        parent = cleaned.get("parent")
        if parent is not None:
            if self.instance.pk and parent.pk == self.instance.pk:
                self.add_error("parent", _("A category cannot be its own main class."))
            elif parent.parent_id is not None:
                self.add_error("parent", _("Choose a main class: categories have two levels."))
            elif self.instance.pk and self.instance.children.exists():
                self.add_error("parent", _("This category has sub-classes, so it must stay a main class."))
        if "extra_fields" in cleaned:
            for problem in _extra_fields_problems(cleaned["extra_fields"]):
                self.add_error("extra_fields", problem)
        for name in ("register_limit", "dispatch_limit", "handle_limit"):
            if cleaned.get(name) == 0:
                self.add_error(name, _("A time limit is at least 1."))
        return cleaned


class CategoryChildInline(admin.TabularInline):
    model = Category
    fk_name = "parent"
    form = CategoryForm
    extra = 0
    show_change_link = True
    fields = ["code", "name", "kind", "register_limit", "dispatch_limit", "handle_limit", "limit_unit",
              "handle_unit", "default_department", "service_code", "is_active", "sort"]
    verbose_name = _("sub-class")
    verbose_name_plural = _("sub-classes")


@admin.register(Category)
class CategoryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = CategoryForm
    list_display = ["code", "name", "parent", "kind", "register_limit", "dispatch_limit", "handle_limit",
                    "handle_unit", "default_department", "is_dispute", "is_active"]
    list_filter = ["kind", ("parent", admin.RelatedOnlyFieldListFilter), "handle_unit", "limit_unit",
                   ("default_department", admin.RelatedOnlyFieldListFilter), "is_dispute", "is_active",
                   "photo_required_report_back", "photo_required_verify"]
    search_fields = ["code", "name", "keywords", "service_code"]
    list_select_related = ["parent", "default_department"]
    autocomplete_fields = ["default_department"]
    ordering = ["parent__code", "sort", "code"]
    fieldsets = [
        (None, {"fields": ["code", "name", "parent", "kind", "description", "keywords", "sort", "is_active"]}),
        (_("Time limits (working time)"), {"fields": ["register_limit", "dispatch_limit", "limit_unit",
                                                       "handle_limit", "handle_unit"]}),
        (_("Routing and duplicates"), {"fields": ["default_department", "duplicate_radius_m",
                                                  "duplicate_window_days"]}),
        (_("Evidence"), {"fields": ["photo_required_report_back", "photo_required_verify"]}),
        (_("Extra fields and integration"), {"fields": ["extra_fields", "service_code", "is_dispute"]}),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = Category.objects.filter(parent__isnull=True).order_by("sort", "code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_inlines(self, request, obj):
        # sub-classes hang off main classes only
        return [CategoryChildInline] if obj is None or obj.parent_id is None else []

    def save_formset(self, request, form, formset, change):
        """Sub-classes edited inline are audited one by one, like the main form."""
        edits = [(f, f.instance.pk is None, {k: _plain(f.initial.get(k)) for k in f.changed_data},
                  {k: _plain(f.cleaned_data.get(k)) for k in f.changed_data})
                 for f in formset.forms if f.has_changed() and f not in formset.deleted_forms]
        super().save_formset(request, form, formset, change)
        for f, is_new, before, after in edits:
            audit_log(actor=request.user, action="admin.add" if is_new else "admin.change", obj=f.instance,
                      before=None if is_new else before, after=after)
        for obj in getattr(formset, "deleted_objects", []):
            audit_log(actor=request.user, action="admin.delete", obj=obj, before={"repr": str(obj)})


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never changed here: cases move only through the workflow services (with their checks, timeline
    and audit)."""

    show_full_result_count = False  # counting a million cases on every page is slow

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TaskInline(ReadOnlyInline):
    model = Task
    fields = ["department", "role", "state", "due_at", "accepted_at", "done_at", "result"]


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["at", "action", "from_state", "to_state", "actor_name", "department", "note"]


class ExtensionInline(ReadOnlyInline):
    model = Extension
    fields = ["amount", "unit", "reason", "state", "requested_by", "requested_at", "decided_by", "decided_at"]


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "category", "state", "source", "grid", "level", "overdue", "reported_at", "closed_at"]
    list_filter = ["state", "source", "overdue", "level", "self_handled", "resolution_level",
                   ("category__parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=number", "=tracking_code", "description", "address"]
    list_select_related = ["category", "category__parent", "grid"]
    date_hierarchy = "reported_at"
    # personal data stays out of the admin: the phone is encrypted and shown masked on the case page
    exclude = ["reporter_phone", "reporter_phone_index", "reporter_ip_hash", "idempotency_key"]
    inlines = [TaskInline, ExtensionInline, StepInline]


@admin.register(Step)
class StepAdmin(ReadOnlyAdmin):
    list_display = ["at", "case", "action", "from_state", "to_state", "actor_name", "department"]
    list_filter = ["action"]
    search_fields = ["=case__number"]
    list_select_related = ["case", "case__category", "department"]
    raw_id_fields = ["case"]


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["case", "department", "role", "state", "due_at", "accepted_at", "done_at"]
    list_filter = ["role", "state", ("department", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=case__number"]
    list_select_related = ["case", "case__category", "department"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "content_type", "size", "width", "height", "uploaded_at"]
    list_filter = ["kind"]
    search_fields = ["=case__number", "sha256"]
    list_select_related = ["case", "case__category"]


@admin.register(Extension)
class ExtensionAdmin(ReadOnlyAdmin):
    list_display = ["case", "amount", "unit", "state", "requested_by", "requested_at", "decided_at"]
    list_filter = ["state", "unit"]
    search_fields = ["=case__number"]
    list_select_related = ["case", "case__category", "requested_by"]
