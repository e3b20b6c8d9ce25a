from django.contrib import admin

from gridgov.core.admin_mixins import AuditedAdminMixin

from .models import Address, Area, Building, Grid


@admin.register(Area)
class AreaAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "level", "path"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    readonly_fields = ["path", "depth"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a node changes the paths below it: that goes through the GeoJSON import.
        return self.readonly_fields + (["parent", "code", "level"] if obj else [])


@admin.register(Grid)
class GridAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "community"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    readonly_fields = ["path", "min_lon", "min_lat", "max_lon", "max_lat", "center_lon", "center_lat", "area_m2"]
    filter_horizontal = ["members"]
    # Boundaries are changed through the GeoJSON import, which validates them and rebuilds the locator.
    exclude = ["geometry"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["community", "code"] if obj else [])


@admin.register(Building)
class BuildingAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "grid", "floors"]
    search_fields = ["code", "name"]
    raw_id_fields = ["grid"]


@admin.register(Address)
class AddressAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["full_text", "grid"]
    search_fields = ["full_text"]
    raw_id_fields = ["grid", "community", "building"]
