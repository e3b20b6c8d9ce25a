from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaLevel(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")


# The level below each level; grids hang under communities.
CHILD_LEVEL = {
    AreaLevel.CITY: AreaLevel.DISTRICT,
    AreaLevel.DISTRICT: AreaLevel.STREET,
    AreaLevel.STREET: AreaLevel.COMMUNITY,
}
LEVEL_DEPTH = {AreaLevel.CITY: 0, AreaLevel.DISTRICT: 1, AreaLevel.STREET: 2, AreaLevel.COMMUNITY: 3}


class GridKind(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    COMMERCIAL = "commercial", _("Commercial")
    SCHOOL = "school", _("School")
    INDUSTRIAL = "industrial", _("Industrial park")
    VILLAGE = "village", _("Village")
    SPECIAL = "special", _("Special")


# Map colours per grid kind (the legend of the grid map).
GRID_KIND_COLORS = {
    GridKind.RESIDENTIAL: "#3b82f6",
    GridKind.COMMERCIAL: "#f59e0b",
    GridKind.SCHOOL: "#10b981",
    GridKind.INDUSTRIAL: "#8b5cf6",
    GridKind.VILLAGE: "#84cc16",
    GridKind.SPECIAL: "#ef4444",
}


class CoordSys(models.TextChoices):
    WGS84 = "wgs84", "WGS84"
    GCJ02 = "gcj02", "GCJ-02"
    BD09 = "bd09", "BD-09"
