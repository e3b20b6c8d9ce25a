from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from gridgov.core.admin_mixins import AuditedAdminMixin
from gridgov.core.errors import ServiceError

from . import services
from .models import Address, Area, Building, Grid


@admin.register(Area)
class AreaAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "level", "path"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    # Boundaries change only through the GeoJSON import, which validates them.
    readonly_fields = ["path", "depth", "geometry", "center_lon", "center_lat"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a node changes the paths below it: that goes through the GeoJSON import.
        return self.readonly_fields + (["parent", "code", "level"] if obj else [])

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AreaAddForm
        return super().get_form(request, obj, **kwargs)


class AreaAddForm(forms.ModelForm):
    """A new area gets its materialised path from its parent; a parent at the wrong level is refused."""

    class Meta:
        model = Area
        fields = ["code", "name", "level", "parent"]

    def clean(self):
        data = super().clean()
        try:
            self.instance.path, self.instance.depth = services.area_path(
                parent=data.get("parent"), code=data.get("code") or "", level=data.get("level") or "")
        except ServiceError as exc:
            raise ValidationError(exc.message) from exc
        return data


@admin.register(Grid)
class GridAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "community"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    readonly_fields = ["community", "code", "path", "min_lon", "min_lat", "max_lon", "max_lat", "center_lon",
                       "center_lat", "area_m2"]
    filter_horizontal = ["members"]
    exclude = ["geometry"]

    # Grids are created and reshaped by the validated GeoJSON import; here: name, type and members.
    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        try:
            services.grid_delete(grid=obj, by=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)

    def delete_queryset(self, request, queryset):
        for grid in queryset:
            self.delete_model(request, grid)


class _GridChildAdmin(AuditedAdminMixin, admin.ModelAdmin):
    raw_id_fields = ["grid"]
    readonly_fields = ["path"]

    def save_model(self, request, obj, form, change):
        services.grid_path_fields(obj)
        super().save_model(request, obj, form, change)


@admin.register(Building)
class BuildingAdmin(_GridChildAdmin):
    list_display = ["code", "name", "grid", "floors"]
    search_fields = ["code", "name"]


@admin.register(Address)
class AddressAdmin(_GridChildAdmin):
    list_display = ["full_text", "grid"]
    search_fields = ["full_text"]
    raw_id_fields = ["grid", "building"]
    readonly_fields = ["path", "community"]
