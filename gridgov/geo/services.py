"""Writes on geography outside the GeoJSON import: paths are derived here, and grid changes rebuild the
locator. (Boundaries change only through the validated import.)"""

from __future__ import annotations

from django.db import transaction

from gridgov.core.audit import audit_log
from gridgov.core.errors import Conflict, InvalidInput

from .choices import CHILD_LEVEL, LEVEL_DEPTH, AreaLevel
from .locator import grids_changed
from .models import Address, Area, Building, Grid


def area_path(*, parent: Area | None, code: str, level: str) -> tuple[str, int]:
    """The materialised path and depth of an area; refuses a parent at the wrong level."""
    if level == AreaLevel.CITY:
        if parent is not None:
            raise InvalidInput("A city has no parent.", details=[{"field": "parent"}])
        return f"{code}/", 0
    if parent is None or CHILD_LEVEL.get(parent.level) != level:
        raise InvalidInput(f"A {level} must sit under a {_level_above(level)}.", details=[{"field": "parent"}])
    return f"{parent.path}{code}/", LEVEL_DEPTH[level]


def _level_above(level: str) -> str:
    return next((p for p, c in CHILD_LEVEL.items() if c == level), "")


def grid_path_fields(obj: Building | Address) -> None:
    """Buildings and addresses copy their grid's path (and addresses its community) for scoping."""
    obj.path = obj.grid.path
    if isinstance(obj, Address):
        obj.community_id = obj.grid.community_id


@transaction.atomic
def grid_delete(*, grid: Grid, by) -> None:
    """Retire a grid that nothing refers to; the locator forgets it at once."""
    if grid.buildings.exists() or grid.addresses.exists() or _has_cases(grid):
        raise Conflict("This grid still has buildings, addresses or cases; move them first.")
    audit_log(actor=by, action="geo.grid_delete", obj=grid, before={"code": grid.code, "geometry": grid.geometry})
    grid.delete()
    grids_changed()


def _has_cases(grid: Grid) -> bool:
    return hasattr(grid, "cases") and grid.cases.exists()
