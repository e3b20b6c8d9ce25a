"""Geography: the area tree (materialised path), grids with polygons, buildings and standard addresses.

Paths are codes joined by "/" with a trailing "/" (e.g. "320500/320508/320508001/"), so "everything under
a node" is a prefix filter on an indexed column, fast on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.core.models import BaseModel

from .choices import AreaLevel, GridKind


class Area(BaseModel):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=12, choices=AreaLevel.choices, db_index=True)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    path = models.CharField(_("path"), max_length=255, unique=True)
    depth = models.PositiveSmallIntegerField(_("depth"), default=0)
    # Optional boundary (GeoJSON Polygon/MultiPolygon, WGS84); a community's boundary bounds its grids.
    geometry = models.JSONField(_("boundary"), null=True, blank=True)
    center_lon = models.FloatField(_("centre longitude"), null=True, blank=True)
    center_lat = models.FloatField(_("centre latitude"), null=True, blank=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        constraints = [models.CheckConstraint(condition=models.Q(path__endswith="/"), name="geo_area_path_ends")]

    def __str__(self) -> str:
        return self.name


class Grid(BaseModel):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("type"), max_length=20, choices=GridKind.choices, default=GridKind.RESIDENTIAL,
                            db_index=True)
    community = models.ForeignKey(Area, verbose_name=_("community"), on_delete=models.PROTECT,
                                  related_name="grids")
    path = models.CharField(_("path"), max_length=255, unique=True)
    geometry = models.JSONField(_("boundary"))  # GeoJSON Polygon or MultiPolygon, WGS84
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    center_lon = models.FloatField(_("centre longitude"))
    center_lat = models.FloatField(_("centre latitude"))
    area_m2 = models.FloatField(_("area (m²)"), default=0)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("grid members"), blank=True,
                                     related_name="grids")

    class Meta:
        ordering = ["path"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        constraints = [models.CheckConstraint(condition=models.Q(path__endswith="/"), name="geo_grid_path_ends")]
        indexes = [models.Index(fields=["min_lon", "max_lon", "min_lat", "max_lat"])]

    def __str__(self) -> str:
        return self.name


class GeoState(models.Model):
    """A single row whose `grids_version` changes whenever grids do, so every process rebuilds its locator."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    grids_version = models.BigIntegerField(default=0)


class Building(BaseModel):
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="buildings")
    path = models.CharField(_("path"), max_length=255, db_index=True)  # the grid's path, for scope
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    road = models.CharField(_("road"), max_length=100, blank=True)
    number = models.CharField(_("number"), max_length=20, blank=True)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("stairwells"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("building")
        verbose_name_plural = _("buildings")

    def __str__(self) -> str:
        return self.name


class Address(BaseModel):
    """A standard address (标准地址): area + road + number + building + unit + floor + room."""

    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="addresses")
    path = models.CharField(_("path"), max_length=255, db_index=True)  # the grid's path, for scope
    community = models.ForeignKey(Area, verbose_name=_("community"), on_delete=models.PROTECT,
                                  related_name="addresses")
    building = models.ForeignKey(Building, verbose_name=_("building"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="addresses")
    road = models.CharField(_("road"), max_length=100)
    number = models.CharField(_("number"), max_length=20)
    building_no = models.CharField(_("building no."), max_length=20, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    floor = models.CharField(_("floor"), max_length=10, blank=True)
    room = models.CharField(_("room"), max_length=20, blank=True)
    full_text = models.CharField(_("full address"), max_length=300, db_index=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        ordering = ["full_text"]
        verbose_name = _("standard address")
        verbose_name_plural = _("standard addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["community", "road", "number", "building_no", "unit", "floor", "room"],
                name="geo_address_unique",
            )
        ]

    def __str__(self) -> str:
        return self.full_text
