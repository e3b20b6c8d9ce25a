"""GeoJSON import of the area tree and its grids: validate everything first, then write it all or nothing.

The accepted format is the export format (`gridgov.geo.export`): a FeatureCollection whose features carry

    properties.level   city | district | street | community | grid
    properties.code    unique code (no "/" and no spaces, at most 32 characters)
    properties.name    display name (at most 100 characters)
    properties.parent  code of the parent (the level above; for a grid, its community); absent for a city
    properties.kind    for a grid: one of GridKind (residential, commercial, …)
    geometry           Polygon or MultiPolygon in WGS84; required for a grid, optional for an area

Other properties (the export's `area_m2`, a feature `id`, …) are ignored. Features are upserted by code.
An area feature with a null geometry keeps the boundary it already has in the database (so a file of codes
and names does not wipe boundaries); a grid always gets the geometry of the file. Grids keep their members.

`geojson_validate` checks the whole file against itself and against the database and collects every
problem; `geojson_import` refuses the file when there is any (writing nothing), otherwise writes it in one
transaction with one audit entry.

Moving nodes: an existing area (or grid) whose parent in the file differs from its parent in the database
is MOVED. Levels are fixed (a street stays a street, under a district), so a move cannot create a cycle, and
a path always ends with the node's own unique code, so rewritten paths never collide. The move rewrites the
materialised path of the node and of everything under it, in one UPDATE per moved node and per table that
holds a copy of the path for scoping: Area, Grid, Building, Address, and any other installed model with a
`path` CharField (the scope convention of gridgov.core.scope), so that scoped rows follow their grid. The
standard addresses of a grid that moves to another community also move to that community; a move that would
make two addresses identical there is refused as a problem.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np
import shapely
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models, transaction
from django.db.models import Count, Max, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from shapely.errors import GEOSException
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from gridgov.core.audit import audit_log
from gridgov.core.errors import InvalidInput

from .choices import LEVEL_DEPTH, AreaLevel, GridKind
from .geometry import area_m2, describe_many, geom_to_geojson
from .locator import grids_changed
from .models import Address, Area, Building, GeoState, Grid

# Overlaps, gaps and overhangs at or below this area are digitising noise, not problems.
TOLERANCE_M2 = 1.0

GRID = "grid"
AREA_LEVELS = [AreaLevel.CITY.value, AreaLevel.DISTRICT.value, AreaLevel.STREET.value, AreaLevel.COMMUNITY.value]
LEVELS = [*AREA_LEVELS, GRID]
PARENT_LEVEL = {"district": "city", "street": "district", "community": "street", GRID: "community"}
POLYGON_TYPES = ("Polygon", "MultiPolygon")
CODE_MAX, NAME_MAX = 32, 100
_CHUNK = 500
_KINDS = tuple(GridKind.values)
_BAD_CODE = re.compile(r"[/\s]")
_VALIDITY = re.compile(r"^(?P<reason>.*?)\s*\[(?P<x>\S+)\s+(?P<y>\S+)\]$")


@dataclass(frozen=True)
class Problem:
    feature: int | None  # 1-based index in the features list; None for the file as a whole
    code: str | None  # the feature's code (or the community's, for a community not in the file)
    kind: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Item:
    """One feature of the file, with what could be read of it."""

    index: int
    level: str
    code: str
    name: str
    parent: str | None
    kind: str | None
    geometry: dict | None  # {"type", "coordinates"} when the feature had a Polygon/MultiPolygon
    geom: Any = None  # the shapely geometry, only when it is readable, in range and valid

    @property
    def who(self) -> str:
        label = " ".join(p for p in (self.level, self.code) if p)
        return f"feature {self.index} ({label})" if label else f"feature {self.index}"


class _AreaRow(NamedTuple):
    id: int
    code: str
    level: str
    parent_id: int | None
    path: str


class _GridRow(NamedTuple):
    id: int
    code: str
    community_id: int
    path: str


def _empty_counts() -> dict[str, int]:
    return {level: 0 for level in LEVELS}


@dataclass
class ImportPlan:
    problems: list[Problem] = field(default_factory=list)
    areas: list[Item] = field(default_factory=list)  # parents first (city … community)
    grids: list[Item] = field(default_factory=list)
    existing_areas: dict[str, _AreaRow] = field(default_factory=dict)  # every area in the database
    existing_grids: dict[str, _GridRow] = field(default_factory=dict)  # the grids of the file in the database
    snapshot: tuple = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def moved(self) -> list[str]:
        """Codes of the existing areas and grids the file puts under another parent."""
        code_of_id = {r.id: r.code for r in self.existing_areas.values()}
        codes = [i.code for i in self.areas if i.code in self.existing_areas
                 and code_of_id.get(self.existing_areas[i.code].parent_id) != i.parent]
        return codes + [i.code for i in self.grids if i.code in self.existing_grids
                        and code_of_id.get(self.existing_grids[i.code].community_id) != i.parent]

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        created, updated = _empty_counts(), _empty_counts()
        for item in self.areas:
            (updated if item.code in self.existing_areas else created)[item.level] += 1
        for item in self.grids:
            (updated if item.code in self.existing_grids else created)[GRID] += 1
        return created, updated


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=_empty_counts)
    updated: dict[str, int] = field(default_factory=_empty_counts)
    moved: list[str] = field(default_factory=list)  # codes of the areas and grids that changed parent
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "moved": self.moved, "dry_run": self.dry_run,
                "problems": [p.as_dict() for p in self.problems]}


# --- helpers ---------------------------------------------------------------------------------------------

def _text(value) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value.strip() if isinstance(value, str) else ""


def _m2(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _at(geom) -> str:
    point = geom.representative_point()
    return f"{point.x:.6f}, {point.y:.6f}"


def _polygons(geom):
    if geom is None or geom.is_empty:
        return
    if isinstance(geom, Polygon):
        yield geom
    elif hasattr(geom, "geoms"):
        for part in geom.geoms:
            yield from _polygons(part)


def _chunks(values: list, size: int = _CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _ring(coords):
    array = np.asarray(coords)
    if array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError("a ring must be a list of [longitude, latitude] number pairs")
    return shapely.linearrings(array)


def _polygon(rings):
    if not isinstance(rings, list) or not rings:
        raise ValueError("a polygon must be a non-empty list of rings")
    return shapely.polygons(_ring(rings[0]), holes=[_ring(r) for r in rings[1:]] or None)


def _build(geometry: dict):
    """A GeoJSON Polygon/MultiPolygon as shapely, through numpy (several times faster than shapely's `shape`)."""
    try:
        if geometry["type"] == "Polygon":
            return _polygon(geometry["coordinates"])
        polygons = geometry["coordinates"]
        if not isinstance(polygons, list):
            raise ValueError("a MultiPolygon must be a list of polygons")
        return shapely.multipolygons([_polygon(p) for p in polygons])
    except (ValueError, TypeError, KeyError, GEOSException) as exc:
        message = str(exc)
        if "inhomogeneous" in message or "sequence" in message:
            message = "a ring must be a list of [longitude, latitude] number pairs"
        raise ValueError(message) from exc


def _usable(geom):
    """A database geometry made safe for overlay operations."""
    return geom if geom.is_valid else shapely.make_valid(geom)


def _snapshot() -> tuple:
    version = GeoState.objects.filter(id=1).values_list("grids_version", flat=True).first() or 0
    areas = Area.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return (version, areas["n"], areas["at"], Grid.objects.count())


# --- validation ------------------------------------------------------------------------------------------

class _Validation:
    def __init__(self):
        self.plan = ImportPlan()
        self.items: list[Item] = []
        self.by_code: dict[str, Item] = {}  # first feature of each code
        self.overlapping: set[str] = set()  # codes of the grids found in an overlap

    def problem(self, feature: int | None, code: str | None, kind: str, message: str) -> None:
        self.plan.problems.append(Problem(feature, code or None, kind, message))

    # 1. the file itself
    def parse(self, raw) -> list | None:
        if isinstance(raw, bytes | bytearray | memoryview):
            try:
                raw = bytes(raw).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                self.problem(None, None, "encoding",
                             f"The file is not UTF-8 text (byte {exc.start} cannot be decoded: {exc.reason}).")
                return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                self.problem(None, None, "json",
                             f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
                return None
            except RecursionError:
                self.problem(None, None, "json", "The file is not usable JSON: it is nested too deeply.")
                return None
        if not isinstance(raw, dict) or raw.get("type") != "FeatureCollection":
            found = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
            self.problem(None, None, "not_feature_collection",
                         f'The file is not a GeoJSON FeatureCollection (its type is "{found}").')
            return None
        features = raw.get("features")
        if not isinstance(features, list):
            self.problem(None, None, "not_feature_collection", 'The FeatureCollection has no "features" list.')
            return None
        if not features:
            self.problem(None, None, "empty", "The FeatureCollection has no features: there is nothing to import.")
            return None
        return features

    # 2. each feature on its own
    def read_features(self, features: list) -> None:
        to_check: list[tuple[Item, Any]] = []
        for index, feature in enumerate(features, start=1):
            if not isinstance(feature, dict) or feature.get("type") != "Feature":
                self.problem(index, None, "not_feature", f"feature {index}: is not a GeoJSON Feature.")
                continue
            props = feature.get("properties")
            if props is None:
                props = {}
            if not isinstance(props, dict):
                self.problem(index, None, "not_feature", f"feature {index}: its properties are not an object.")
                continue
            level, code, name = _text(props.get("level")).lower(), _text(props.get("code")), _text(props.get("name"))
            parent = _text(props.get("parent")) or None
            who = f"feature {index} ({level} {code})" if level in LEVELS and code else (
                f"feature {index} ({code})" if code else f"feature {index}")
            missing = [p for p, v in (("level", level), ("code", code), ("name", name)) if not v]
            if missing:
                listed = ", ".join(missing)
                self.problem(index, code, "missing_property",
                             f"{who}: the required propert{'ies' if len(missing) > 1 else 'y'} {listed} "
                             f"{'are' if len(missing) > 1 else 'is'} missing or empty.")
            if level and level not in LEVELS:
                self.problem(index, code, "bad_level",
                             f'{who}: level "{level}" is not one of {", ".join(LEVELS)}.')
                level = ""
            if code and _BAD_CODE.search(code):
                self.problem(index, code, "bad_code", f'{who}: the code "{code}" contains "/" or a space.')
            if len(code) > CODE_MAX:
                self.problem(index, code, "too_long", f"{who}: the code is longer than {CODE_MAX} characters.")
            if len(name) > NAME_MAX:
                self.problem(index, code, "too_long", f"{who}: the name is longer than {NAME_MAX} characters.")
            kind = None
            if level == GRID:
                kind = _text(props.get("kind"))
                if kind not in _KINDS:
                    allowed = ", ".join(_KINDS)
                    self.problem(index, code, "bad_kind",
                                 f'{who}: the grid kind "{kind}" is not one of {allowed}.' if kind
                                 else f"{who}: the grid has no kind (one of {allowed}).")
            if level == AreaLevel.CITY and parent:
                self.problem(index, code, "bad_parent",
                             f"{who}: a city is the top of the tree and cannot have a parent ({parent}).")
                parent = None
            elif level and level != AreaLevel.CITY and not parent:
                self.problem(index, code, "missing_property",
                             f"{who}: the parent code is missing (a {level} needs its {PARENT_LEVEL[level]}).")

            item = Item(index=index, level=level, code=code, name=name, parent=parent, kind=kind, geometry=None)
            geom = self.read_geometry(item, who, feature.get("geometry"))
            if geom is not None:
                to_check.append((item, geom))
            if not (level and code):
                continue
            first = self.by_code.get(code)
            if first is not None:
                self.problem(index, code, "duplicate_code",
                             f"{who}: the code {code} is already used by feature {first.index}.")
                continue
            self.by_code[code] = item
            self.items.append(item)

        if to_check:
            self.check_geometries(to_check)

    def check_geometries(self, to_check: list[tuple[Item, Any]]) -> None:
        """Emptiness, coordinate range and validity, in vectorised passes; explain only the invalid ones."""
        geoms = np.array([g for _, g in to_check], dtype=object)
        empty = shapely.is_empty(geoms)
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        bad = ~np.isfinite(coords).all(axis=1) | (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
        bad_count = np.bincount(owner[bad], minlength=len(geoms))
        bad_owners, first = np.unique(owner[bad], return_index=True)
        first_bad = dict(zip(bad_owners.tolist(), coords[bad][first].tolist(), strict=True))
        readable = ~empty & (bad_count == 0)
        valid = np.zeros(len(geoms), dtype=bool)
        valid[readable] = shapely.is_valid(geoms[readable])
        for k, (item, geom) in enumerate(to_check):
            if valid[k]:
                item.geom = geom
                continue
            gtype = item.geometry["type"]
            if empty[k]:
                self.problem(item.index, item.code, "bad_geometry", f"{item.who}: the {gtype} is empty.")
            elif bad_count[k]:
                x, y = first_bad[k]
                n = int(bad_count[k])
                self.problem(item.index, item.code, "coordinates_out_of_range",
                             f"{item.who}: {n} coordinate{'s are' if n > 1 else ' is'} outside WGS84 (longitude "
                             f"-180…180, latitude -90…90); the first is [{x:g}, {y:g}].")
            else:
                reason = explain_validity(geom)
                match = _VALIDITY.match(reason)
                if match:
                    reason = f"{match['reason'].lower()} at {float(match['x']):.6f}, {float(match['y']):.6f}"
                self.problem(item.index, item.code, "invalid_geometry",
                             f"{item.who}: the {gtype} is not valid: {reason}.")

    def read_geometry(self, item: Item, who: str, geometry) -> Any:
        """Check the type and build the geometry; return it (to check further in bulk), or None."""
        if geometry is None:
            if item.level == GRID:
                self.problem(item.index, item.code, "missing_geometry",
                             f"{who}: a grid needs a Polygon or MultiPolygon geometry and this one has none.")
            return None
        gtype = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        if gtype not in POLYGON_TYPES:
            self.problem(item.index, item.code, "bad_geometry_type",
                         f"{who}: the geometry is a {gtype}; a {item.level or 'feature'} needs a Polygon or "
                         f"MultiPolygon.")
            return None
        item.geometry = {"type": gtype, "coordinates": geometry.get("coordinates")}
        try:
            geom = _build(item.geometry)
        except ValueError as exc:  # malformed coordinates
            self.problem(item.index, item.code, "bad_geometry", f"{who}: the {gtype} cannot be read ({exc}).")
            return None
        if geom is not None and not geom.is_empty:
            # store what was validated, as RFC 7946 GeoJSON: closed rings, two dimensions
            item.geometry = geom_to_geojson(shapely.force_2d(geom))
        return geom

    # 3. against the database: codes, levels and parents
    def check_tree(self) -> None:
        plan = self.plan
        plan.existing_areas = {
            r[1]: _AreaRow(*r) for r in Area.objects.values_list("id", "code", "level", "parent_id", "path")
        }
        area_items = [i for i in self.items if i.level != GRID]
        grid_items = [i for i in self.items if i.level == GRID]
        plan.areas = sorted(area_items, key=lambda i: (LEVEL_DEPTH[i.level], i.index))
        plan.grids = grid_items
        for codes in _chunks([i.code for i in grid_items]):
            for row in Grid.objects.filter(code__in=codes).values_list("id", "code", "community_id", "path"):
                plan.existing_grids[row[1]] = _GridRow(*row)
        grid_codes_taken: set[str] = set()
        for codes in _chunks([i.code for i in area_items]):
            grid_codes_taken.update(Grid.objects.filter(code__in=codes).values_list("code", flat=True))

        for item in area_items:
            row = plan.existing_areas.get(item.code)
            if item.code in grid_codes_taken:
                self.problem(item.index, item.code, "code_in_use",
                             f"{item.who}: the code {item.code} belongs to an existing grid.")
            elif row is not None and row.level != item.level:
                self.problem(item.index, item.code, "level_changed",
                             f"{item.who}: {item.code} is a {row.level} in the database; an import cannot "
                             f"turn it into a {item.level}.")
        for item in grid_items:
            if item.code in plan.existing_areas:
                row = plan.existing_areas[item.code]
                self.problem(item.index, item.code, "code_in_use",
                             f"{item.who}: the code {item.code} belongs to an existing {row.level}.")

        for item in self.items:
            if not item.parent or item.level == AreaLevel.CITY:
                continue
            in_file = self.by_code.get(item.parent)
            if in_file is not None:
                parent_level = in_file.level
            elif item.parent in plan.existing_areas:
                parent_level = plan.existing_areas[item.parent].level
            else:
                self.problem(item.index, item.code, "unknown_parent",
                             f"{item.who}: the parent {item.parent} is neither in the file nor in the database.")
                continue
            if parent_level != PARENT_LEVEL[item.level]:
                self.problem(item.index, item.code, "wrong_parent_level",
                             f"{item.who}: the parent {item.parent} is a {parent_level}, but the parent of a "
                             f"{item.level} must be a {PARENT_LEVEL[item.level]}.")

    # 4. geometry across features and against the database
    def check_space(self) -> None:
        plan = self.plan
        area_by_id = {r.id: r for r in plan.existing_areas.values()}
        file_grids = [i for i in plan.grids if i.geom is not None]
        file_grid_codes = {i.code for i in plan.grids}
        communities_in_file = {i.code: i for i in plan.areas if i.level == AreaLevel.COMMUNITY}

        # Communities whose coverage this file changes: parents of its grids, communities given a boundary,
        # and communities a grid moves out of.
        affected: set[str] = {i.parent for i in plan.grids if i.parent}
        affected |= {c for c, i in communities_in_file.items() if i.geometry is not None}
        for item in plan.grids:
            row = plan.existing_grids.get(item.code)
            if row is not None and row.community_id in area_by_id:
                affected.add(area_by_id[row.community_id].code)
        # Only real communities (a grid under a wrong or unknown parent is reported already).
        affected = {c for c in affected if c in communities_in_file
                    or getattr(plan.existing_areas.get(c), "level", None) == AreaLevel.COMMUNITY}
        affected_ids = [plan.existing_areas[c].id for c in affected if c in plan.existing_areas]

        # Boundaries: the file's, else the database's.
        db_boundary: dict[str, Any] = {}
        for ids in _chunks(affected_ids):
            for code, geometry in Area.objects.filter(id__in=ids).exclude(geometry=None).values_list(
                    "code", "geometry"):
                try:
                    db_boundary[code] = _usable(_build(geometry))
                except Exception:  # a broken stored boundary cannot bound anything
                    continue
        boundary: dict[str, Any] = {}
        unusable_boundary: set[str] = set()
        for code in affected:
            item = communities_in_file.get(code)
            if item is not None and item.geometry is not None:
                if item.geom is None:
                    unusable_boundary.add(code)
                else:
                    boundary[code] = item.geom
            elif code in db_boundary:
                boundary[code] = db_boundary[code]

        # The grids of the database the file does not replace, near the file or in the affected communities.
        extents = [g.bounds for g in [*(i.geom for i in file_grids), *boundary.values()]]
        for ids in _chunks(affected_ids):
            ext = Grid.objects.filter(community_id__in=ids).aggregate(
                a=models.Min("min_lon"), b=models.Min("min_lat"), c=models.Max("max_lon"), d=models.Max("max_lat"))
            if ext["a"] is not None:
                extents.append((ext["a"], ext["b"], ext["c"], ext["d"]))
        others: list[tuple[str, int, Any]] = []  # (code, community_id, geometry)
        if extents:
            ext = np.array(extents)
            min_x, min_y = ext[:, 0].min(), ext[:, 1].min()
            max_x, max_y = ext[:, 2].max(), ext[:, 3].max()
            near = Grid.objects.filter(min_lon__lte=max_x, max_lon__gte=min_x, min_lat__lte=max_y,
                                       max_lat__gte=min_y).values_list("id", "code")
            ids = [pk for pk, code in near if code not in file_grid_codes]
            for chunk in _chunks(ids):
                for code, community_id, geometry in Grid.objects.filter(id__in=chunk).values_list(
                        "code", "community_id", "geometry"):
                    try:
                        others.append((code, community_id, _usable(_build(geometry))))
                    except Exception:
                        continue

        self.check_overlaps(file_grids, others)
        self.check_communities(file_grids, others, affected, boundary, unusable_boundary, communities_in_file,
                               area_by_id)

    def check_overlaps(self, file_grids: list[Item], others: list) -> None:
        if not file_grids:
            return
        geoms = np.array([i.geom for i in file_grids], dtype=object)
        shapely.prepare(geoms)
        tree = shapely.STRtree(geoms)
        a, b = tree.query(geoms, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        if len(a):
            inner = ~shapely.touches(geoms[a], geoms[b])
            a, b = a[inner], b[inner]
        for i, j, overlap in zip(a, b, shapely.intersection(geoms[a], geoms[b]), strict=True):
            m2 = area_m2(overlap)
            if m2 > TOLERANCE_M2:
                first, second = file_grids[int(i)], file_grids[int(j)]
                self.overlapping |= {first.code, second.code}
                self.problem(first.index, first.code, "overlap",
                             f"{first.who}: overlaps grid {second.code} (feature {second.index}) by {_m2(m2)} m² "
                             f"around {_at(overlap)}.")
        if not others:
            return
        other_geoms = np.array([g for _, _, g in others], dtype=object)
        other_tree = shapely.STRtree(other_geoms)
        a, b = other_tree.query(geoms, predicate="intersects")  # a: file grid, b: database grid
        if len(a):
            inner = ~shapely.touches(geoms[a], other_geoms[b])
            a, b = a[inner], b[inner]
        for i, j, overlap in zip(a, b, shapely.intersection(geoms[a], other_geoms[b]), strict=True):
            m2 = area_m2(overlap)
            if m2 > TOLERANCE_M2:
                item = file_grids[int(i)]
                self.overlapping |= {item.code, others[int(j)][0]}
                self.problem(item.index, item.code, "overlap",
                             f"{item.who}: overlaps grid {others[int(j)][0]} (in the database, not in the file) "
                             f"by {_m2(m2)} m² around {_at(overlap)}.")

    def check_communities(self, file_grids, others, affected, boundary, unusable_boundary, communities_in_file,
                          area_by_id) -> None:
        # The grids each community will have: those of the file plus those of the database not in the file.
        members: dict[str, list[tuple[str, Any, Item | None]]] = defaultdict(list)
        for item in file_grids:
            members[item.parent].append((item.code, item.geom, item))
        for code, community_id, geom in others:
            row = area_by_id.get(community_id)
            if row is not None and row.code in affected:
                members[row.code].append((code, geom, None))
        # A community with a file grid whose geometry is unusable cannot be judged for gaps.
        incomplete = {i.parent for i in self.plan.grids if i.geom is None}
        all_geoms = np.array([i.geom for i in file_grids] + [g for _, _, g in others], dtype=object)
        all_tree = shapely.STRtree(all_geoms) if len(all_geoms) else None

        for code in sorted(affected):
            if code in unusable_boundary:
                continue
            feature = communities_in_file.get(code)
            who = feature.who if feature else f"community {code} (in the database)"
            index = feature.index if feature else None
            grids = members.get(code, [])
            bound = boundary.get(code)
            all_inside = self.check_outside(code, bound, grids, feature) if bound is not None else False
            if not grids or code in incomplete:
                continue  # a community without grids yet is not a gap
            geoms = np.array([g for _, g, _ in grids], dtype=object)
            clean = all_inside and not self.overlapping.intersection(c for c, _, _ in grids)
            if bound is not None:
                if clean:
                    # Grids inside the boundary and not overlapping: the uncovered area is the difference of
                    # the areas, no union needed (the common case, and the costly one at 10,000 grids).
                    bound_area = shapely.area(bound)
                    uncovered = (bound_area - shapely.area(geoms).sum()) * area_m2(bound) / bound_area
                    if uncovered <= TOLERANCE_M2:
                        continue
                union = shapely.union_all(geoms)
                pieces = [p for p in _polygons(bound.difference(union)) if area_m2(p) > TOLERANCE_M2]
                if pieces:
                    self.report_gap(index, code, who, pieces, "inside the community boundary")
                continue
            # Without a boundary: holes in the union of the grids that no grid leaves on purpose (its own hole)
            # and that no other community's grid fills. Non-overlapping grids form a coverage, whose union
            # is much faster; it falls back to the general union when the grids are not a clean coverage.
            union = None
            if not self.overlapping.intersection(c for c, _, _ in grids):
                try:
                    union = shapely.coverage_union_all(geoms)
                    union = union if union.is_valid else None
                except GEOSException:
                    union = None
            if union is None:
                union = shapely.union_all(geoms)
            grid_holes = [Polygon(ring) for _, g, _ in grids for p in _polygons(g) for ring in p.interiors]
            pieces = []
            for part in _polygons(union):
                for ring in part.interiors:
                    hole = Polygon(ring)
                    if area_m2(hole) <= TOLERANCE_M2:
                        continue
                    if all_tree is not None:
                        fill = all_geoms[all_tree.query(hole, predicate="intersects")]
                        if len(fill):
                            hole = hole.difference(shapely.union_all(fill))
                    for rest in _polygons(hole):
                        if area_m2(rest) <= TOLERANCE_M2:
                            continue
                        if any(area_m2(rest.difference(h)) <= TOLERANCE_M2 for h in grid_holes
                               if h.intersects(rest)):
                            continue
                        pieces.append(rest)
            if pieces:
                self.report_gap(index, code, who, pieces, "enclosed by its grids")

    def check_outside(self, code: str, bound, grids, feature: Item | None) -> bool:
        """Report the grids reaching out of the community; True when every grid lies inside its boundary."""
        shapely.prepare(bound)
        geoms = np.array([g for _, g, _ in grids], dtype=object)
        if not len(geoms):
            return True
        covered = shapely.covers(bound, geoms)
        for (grid_code, geom, item), inside in zip(grids, covered, strict=True):
            if inside:
                continue
            outside = geom.difference(bound)
            m2 = area_m2(outside)
            if m2 <= TOLERANCE_M2:
                continue
            if item is not None:
                self.problem(item.index, item.code, "outside_community",
                             f"{item.who}: {_m2(m2)} m² of the grid lie outside its community {code}, "
                             f"around {_at(outside)}.")
            else:
                who = feature.who if feature else f"community {code}"
                self.problem(feature.index if feature else None, code, "outside_community",
                             f"{who}: the grid {grid_code} (in the database, not in the file) would lie "
                             f"{_m2(m2)} m² outside the community boundary, around {_at(outside)}.")
        return bool(covered.all())

    def report_gap(self, index, code, who, pieces, where: str) -> None:
        areas = [area_m2(p) for p in pieces]
        largest = pieces[int(np.argmax(areas))]
        places = f"{len(pieces)} places, the largest of {_m2(max(areas))} m²" if len(pieces) > 1 else "1 place"
        self.problem(index, code, "gap",
                     f"{who}: {_m2(sum(areas))} m² {where} are not covered by any grid ({places}, around "
                     f"{_at(largest)}).")

    # 5. moves that would make two standard addresses the same
    def check_moves(self) -> None:
        plan = self.plan
        area_by_id = {r.id: r for r in plan.existing_areas.values()}
        moving = {}
        for item in plan.grids:
            row = plan.existing_grids.get(item.code)
            current = area_by_id.get(row.community_id) if row is not None else None
            if current is not None and item.parent and current.code != item.parent:
                moving[row.id] = item
        if not moving:
            return
        fields = ("road", "number", "building_no", "unit", "floor", "room")
        moved_keys: dict[tuple, Item] = {}
        for ids in _chunks(list(moving)):
            for grid_id, *key in Address.objects.filter(grid_id__in=ids).values_list("grid_id", *fields):
                item = moving[grid_id]
                full = (item.parent, *key)
                if full in moved_keys:
                    self.problem(item.index, item.code, "move_conflict",
                                 f"{item.who}: moving it to community {item.parent} would give two standard "
                                 f"addresses the same {' '.join(k for k in key if k)}.")
                moved_keys[full] = item
        targets = [plan.existing_areas[c].id for c in {k[0] for k in moved_keys} if c in plan.existing_areas]
        for ids in _chunks(targets):
            rows = Address.objects.filter(community_id__in=ids).exclude(grid_id__in=list(moving))
            for community_id, *key in rows.values_list("community_id", *fields):
                item = moved_keys.get((area_by_id[community_id].code, *key))
                if item is not None:
                    self.problem(item.index, item.code, "move_conflict",
                                 f"{item.who}: community {item.parent} already has the standard address "
                                 f"{' '.join(k for k in key if k)} that one of this grid's addresses would "
                                 f"duplicate.")

    def run(self, raw) -> ImportPlan:
        self.plan.snapshot = _snapshot()
        features = self.parse(raw)
        if features is not None:
            self.read_features(features)
            self.check_tree()
            self.check_space()
            self.check_moves()
        self.plan.problems.sort(key=lambda p: p.feature or 0)
        return self.plan


def geojson_validate(raw: bytes | str | dict) -> ImportPlan:
    """Check the whole file (and it against the database) without writing; the plan lists every problem."""
    return _Validation().run(raw)


# --- import ----------------------------------------------------------------------------------------------

def _refuse(plan: ImportPlan):
    n = len(plan.problems)
    return InvalidInput(f"The GeoJSON was refused: {n} problem{'s' if n != 1 else ''}", code="geojson_invalid",
                        details=[p.as_dict() for p in plan.problems])


def _path_columns() -> list[tuple[type[models.Model], str]]:
    """Every table holding a copy of a materialised path: the geo models, and any model with a `path` CharField."""
    columns = [(Area, "path"), (Grid, "path"), (Building, "path"), (Address, "path")]
    for model in apps.get_models():
        if model in (Area, Grid, Building, Address):
            continue
        try:
            path_field = model._meta.get_field("path")
        except FieldDoesNotExist:
            continue
        if isinstance(path_field, models.CharField) and not path_field.many_to_many:
            columns.append((model, "path"))
    return columns


def _rewrite_prefix(old: str, new: str, columns) -> None:
    for model, name in columns:
        model._base_manager.filter(**{f"{name}__startswith": old}).update(
            **{name: Concat(Value(new), Substr(name, len(old) + 1), output_field=models.CharField())})


def _write_rows(model: type[models.Model], fields: list[str], objs: list[models.Model], *, insert: bool) -> None:
    """INSERT or UPDATE (by primary key) many rows with one prepared statement (`executemany`).

    Django's bulk_update builds a CASE WHEN expression per field and row: over a minute for 10,000 grids.
    Values go through each field's `get_db_prep_save`, so JSON, foreign keys and datetimes are stored exactly
    as the ORM would store them, on SQLite and PostgreSQL alike.
    """
    if not objs:
        return
    meta, quote = model._meta, connection.ops.quote_name
    model_fields = [meta.get_field(name) for name in fields]
    columns = [quote(f.column) for f in model_fields]
    if insert:
        sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "
               f"VALUES ({', '.join(['%s'] * len(columns))})")
    else:
        sql = (f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{c} = %s' for c in columns)} "
               f"WHERE {quote(meta.pk.column)} = %s")
    with connection.cursor() as cursor:
        for chunk in _chunks(objs, 2000):
            params = []
            for obj in chunk:
                row = [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in model_fields]
                if not insert:
                    row.append(obj.pk)
                params.append(row)
            cursor.executemany(sql, params)


def _apply(plan: ImportPlan, by) -> ImportReport:
    created, updated = plan.counts()
    report = ImportReport(created=created, updated=updated)
    now = timezone.now()
    user = by if getattr(by, "pk", None) else None
    existing = plan.existing_areas
    code_of_id = {r.id: r.code for r in existing.values()}

    # Final parents and paths.
    parent_of = {r.code: code_of_id.get(r.parent_id) for r in existing.values()}
    parent_of.update({i.code: i.parent for i in plan.areas})
    paths: dict[str, str] = {}

    def path_of(code: str) -> str:
        if code not in paths:
            parent = parent_of.get(code)
            paths[code] = (path_of(parent) if parent else "") + code + "/"
        return paths[code]

    # Moves: rewrite the old prefix into the new one, deepest first (see the module docstring).
    moves: list[tuple[str, str]] = []
    for item in plan.areas:
        row = existing.get(item.code)
        if row is not None and code_of_id.get(row.parent_id) != item.parent:
            moves.append((row.path, path_of(item.code)))
            report.moved.append(item.code)
    moved_grids: dict[int, str] = {}
    for item in plan.grids:
        row = plan.existing_grids.get(item.code)
        if row is not None and code_of_id.get(row.community_id) != item.parent:
            moves.append((row.path, path_of(item.parent) + item.code + "/"))
            moved_grids[row.id] = item.parent
            report.moved.append(item.code)
    if moves:
        columns = _path_columns()
        for old, new in sorted(moves, key=lambda m: m[0].count("/"), reverse=True):
            _rewrite_prefix(old, new, columns)

    # Areas, parents first.
    ids = {r.code: r.id for r in existing.values()}
    for level in AREA_LEVELS:
        new, with_geometry, without_geometry = [], [], []
        for item in (i for i in plan.areas if i.level == level):
            values = dict(name=item.name, level=level, parent_id=ids[item.parent] if item.parent else None,
                          path=path_of(item.code), depth=LEVEL_DEPTH[level], updated_by=user, updated_at=now)
            if item.geometry is not None:
                center = item.geom.representative_point()
                values.update(geometry=item.geometry, center_lon=center.x, center_lat=center.y)
            if item.code in existing:
                obj = Area(pk=existing[item.code].id, code=item.code, **values)
                (with_geometry if item.geometry is not None else without_geometry).append(obj)
            else:
                new.append(Area(code=item.code, created_by=user, **values))
        Area.objects.bulk_create(new, batch_size=_CHUNK)
        for codes in _chunks([a.code for a in new]):
            ids.update(Area.objects.filter(code__in=codes).values_list("code", "id"))
        base = ["name", "parent", "path", "depth", "updated_by", "updated_at"]
        _write_rows(Area, base, without_geometry, insert=False)
        _write_rows(Area, [*base, "geometry", "center_lon", "center_lat"], with_geometry, insert=False)

    # Grids (members are a separate table: untouched).
    new, changed = [], []
    for item, derived in zip(plan.grids, describe_many([i.geom for i in plan.grids]), strict=True):
        values = dict(name=item.name, kind=item.kind, community_id=ids[item.parent],
                      path=path_of(item.parent) + item.code + "/", geometry=item.geometry,
                      updated_by=user, updated_at=now, **derived)
        row = plan.existing_grids.get(item.code)
        if row is not None:
            changed.append(Grid(pk=row.id, code=item.code, **values))
        else:
            new.append(Grid(code=item.code, created_by=user, created_at=now, **values))
    fields = ["name", "kind", "community", "path", "geometry", "min_lon", "min_lat", "max_lon", "max_lat",
              "center_lon", "center_lat", "area_m2", "updated_by", "updated_at"]
    _write_rows(Grid, ["code", "created_by", "created_at", *fields], new, insert=True)
    _write_rows(Grid, fields, changed, insert=False)
    for grid_id, community in moved_grids.items():
        Address.objects.filter(grid_id=grid_id).update(community_id=ids[community])
    if plan.grids or moves:
        grids_changed()
    return report


def geojson_import(*, raw: bytes | str | dict, by, dry_run: bool = False) -> ImportReport:
    """Validate the file; refuse it whole (InvalidInput "geojson_invalid") or write it whole, atomically."""
    plan = geojson_validate(raw)
    if not plan.ok:
        raise _refuse(plan)
    if dry_run:
        created, updated = plan.counts()
        return ImportReport(created=created, updated=updated, moved=plan.moved(), dry_run=True)
    with transaction.atomic():
        # One import at a time: lock the geography's state row (PostgreSQL; SQLite's write lock does it).
        GeoState.objects.get_or_create(id=1)
        GeoState.objects.select_for_update().get(id=1)
        # The heavy validation ran outside the transaction (not to hold the write lock for it); if the
        # geography changed meanwhile (grids version, area or grid counts, last area change), validate
        # again inside it.
        if _snapshot() != plan.snapshot:
            plan = geojson_validate(raw)
            if not plan.ok:
                raise _refuse(plan)
        report = _apply(plan, by)
        total = len(plan.areas) + len(plan.grids)
        audit_log(actor=by, action="geo.import", object_type="geo.import",
                  object_repr=f"GeoJSON import of {total} features",
                  after={"created": report.created, "updated": report.updated, "moved": report.moved})
    return report
