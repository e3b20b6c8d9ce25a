"""Point → grid through a shapely STRtree, built once per process and rebuilt when grids change.

Determinism on shared boundaries: a point covered by several grids (on a shared edge or vertex) goes to the
grid whose code sorts first. A point covered by no grid is reported as outside (None), never guessed.

Other processes learn of grid changes through GeoState.grids_version, read at most every
GRIDGOV_LOCATOR_CHECK_SECONDS; the process that changed the grids rebuilds at once (on commit).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.conf import settings
from django.db import transaction
from django.db.models import F
from shapely.geometry import shape


@dataclass(frozen=True)
class GridHit:
    id: int
    code: str
    name: str
    path: str


class Locator:
    """An immutable index over a set of grids (ids, codes, polygons)."""

    def __init__(self, rows: list[tuple[int, str, str, str, dict]], version: int = 0):
        # Sort by code so that "the first candidate" is the deterministic tie-break everywhere.
        rows = sorted(rows, key=lambda r: r[1])
        self.version = version
        self.hits = [GridHit(r[0], r[1], r[2], r[3]) for r in rows]
        self.geoms = np.array([shape(r[4]) for r in rows], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)

    def __len__(self) -> int:
        return len(self.hits)

    def locate(self, lon: float, lat: float) -> GridHit | None:
        """The grid covering the point, or None when it lies outside every grid."""
        candidates = self.tree.query(shapely.Point(lon, lat), predicate="covered_by")
        if len(candidates) == 0:
            return None
        return self.hits[int(candidates.min())]

    def locate_indices(self, lons, lats) -> np.ndarray:
        """Vectorised: for each point the index into `hits`, or -1 when outside every grid."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, grid_idx = self.tree.query(points, predicate="covered_by")
        result = np.full(len(points), -1, dtype=np.int64)
        if len(point_idx):
            # Several grids may cover one point: keep the lowest index (= lowest code) per point.
            order = np.lexsort((grid_idx, point_idx))
            point_idx, grid_idx = point_idx[order], grid_idx[order]
            first = np.ones(len(point_idx), dtype=bool)
            first[1:] = point_idx[1:] != point_idx[:-1]
            result[point_idx[first]] = grid_idx[first]
        return result

    def locate_many(self, lons, lats) -> list[GridHit | None]:
        return [self.hits[i] if i >= 0 else None for i in self.locate_indices(lons, lats)]


_lock = threading.Lock()
_current: Locator | None = None
_checked_at = 0.0


def _db_version() -> int:
    from .models import GeoState

    state = GeoState.objects.filter(id=1).values_list("grids_version", flat=True).first()
    return state or 0


def build_locator() -> Locator:
    from .models import Grid

    version = _db_version()
    rows = list(Grid.objects.values_list("id", "code", "name", "path", "geometry"))
    return Locator(rows, version=version)


def get_locator() -> Locator:
    """This process's locator, rebuilt if another process changed the grids since it was built."""
    global _current, _checked_at
    now = time.monotonic()
    current = _current
    if current is not None and now - _checked_at < settings.GRIDGOV_LOCATOR_CHECK_SECONDS:
        return current
    with _lock:
        if _current is None or _db_version() != _current.version:
            _current = build_locator()
        _checked_at = time.monotonic()
        return _current


def reset_locator() -> None:
    global _current
    with _lock:
        _current = None


def grids_changed() -> None:
    """Call inside any transaction that writes grids: bumps the version and rebuilds here on commit."""
    from .models import GeoState

    GeoState.objects.get_or_create(id=1)
    GeoState.objects.filter(id=1).update(grids_version=F("grids_version") + 1)
    # Reset now (this transaction sees its own grids) and again on commit (others' lookups meanwhile may
    # have rebuilt from the old rows). After a rollback the version differs again, so it rebuilds then.
    reset_locator()
    transaction.on_commit(reset_locator)


def locate(lon: float, lat: float) -> GridHit | None:
    return get_locator().locate(lon, lat)
