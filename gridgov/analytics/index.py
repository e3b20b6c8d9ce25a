"""The governance effectiveness index (网格化治理效能指数) of a grid, community, street or any area over a period:
four aspects — concept, subjects, methods, effectiveness — each the mean of its indicators' scores (0–100), and
the index the weighted mean of the aspects that have a value. Definitions, weights and targets: docs/kpis.md
"Governance effectiveness index"; settings GRIDGOV_INDEX_WEIGHTS and GRIDGOV_INDEX_TARGETS.

Reads: the period indicators come from the rollups (`selectors.rollup_sums`, one read per dimension prefix for all
the nodes at once); the snapshot indicators (residents' data quality, key-population visit coverage) come from
`IndexSnapshot`, refreshed by the periodic job `analytics.index_snapshot` (jobs.py), which aggregates the
residents with one grouped query per indicator (`snapshot_counts`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core.scope import ancestor_paths, prefix_q

from .kpis import BY_CODE, values_of
from .models import COUNTERS, IndexSnapshot
from .selectors import Node, Period, children_of, resolve_node, rollup_sums

ASPECTS = ("concept", "subjects", "methods", "effectiveness")
DEFAULT_WEIGHTS = {"concept": 0.15, "subjects": 0.25, "methods": 0.25, "effectiveness": 0.35}
# the share (percent) that scores 100; below it the score is linear (share / target × 100)
DEFAULT_TARGETS = {"service_share": 30.0, "resident_share": 20.0, "digital_share": 100.0}

SERVICE_KINDS = ("social",)                            # category kinds counted as service work ("k:" dims)
RESIDENT_SOURCES = ("public", "hotline")               # reports by residents ("s:" dims)
DIGITAL_SOURCES = ("grid_member", "public", "api")     # reports made through a digital channel
EFFECTIVENESS_KPIS = ("resolution_rate", "on_time_closure_rate", "satisfaction_rate", "community_level_rate")


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    aspect: str
    snapshot: bool = False  # measured now (IndexSnapshot), not over the period


INDICATORS: list[Indicator] = [
    Indicator("service_share", _("Share of social-governance and service cases"), "concept"),
    Indicator("resident_share", _("Residents' share of reports (public page and hotline)"), "subjects"),
    Indicator("response_rate", BY_CODE["response_rate"].label, "subjects"),
    Indicator("digital_share", _("Digital reporting share (grid members, public page, other systems)"), "methods"),
    Indicator("data_quality", _("Residents' data completeness"), "methods", snapshot=True),
    Indicator("visit_coverage", _("Key-population visit coverage"), "methods", snapshot=True),
    *[Indicator(code, BY_CODE[code].label, "effectiveness") for code in EFFECTIVENESS_KPIS],
]
ASPECT_LABELS = {"concept": _("Governance concept (治理理念)"), "subjects": _("Diverse participants (多元主体)"),
                 "methods": _("Digital methods and data quality (数字化手段)"),
                 "effectiveness": _("Governance results (治理成效)")}


# --- settings ----------------------------------------------------------------------------------------------------

def _checked(name: str, value, defaults: dict[str, float]) -> dict[str, float]:
    """The setting as {key: number} over the defaults; an unknown key, a value that is not a number or a
    negative one is a configuration error (the same rules as config/settings.py applies to the environment)."""
    if value is None:
        return dict(defaults)
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a dict such as {defaults!r}")
    out = dict(defaults)
    for key, number in value.items():
        if key not in defaults:
            raise ImproperlyConfigured(f"{name}: unknown key {key!r}; the keys are {', '.join(defaults)}")
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise ImproperlyConfigured(f"{name}: {key} must be a number, not {number!r}")
        if number < 0:
            raise ImproperlyConfigured(f"{name}: {key} must not be negative ({number})")
        out[key] = float(number)
    return out


def index_weights() -> dict[str, float]:
    """The aspects' weights from settings.GRIDGOV_INDEX_WEIGHTS, scaled to sum to 1."""
    raw = _checked("GRIDGOV_INDEX_WEIGHTS", getattr(settings, "GRIDGOV_INDEX_WEIGHTS", None), DEFAULT_WEIGHTS)
    total = sum(raw.values())
    if total <= 0:
        raise ImproperlyConfigured("GRIDGOV_INDEX_WEIGHTS: at least one weight must be above 0")
    return {aspect: raw[aspect] / total for aspect in ASPECTS}


def index_targets() -> dict[str, float]:
    raw = _checked("GRIDGOV_INDEX_TARGETS", getattr(settings, "GRIDGOV_INDEX_TARGETS", None), DEFAULT_TARGETS)
    for key, number in raw.items():
        if not 0 < number <= 100:
            raise ImproperlyConfigured(f"GRIDGOV_INDEX_TARGETS: {key} must be a share above 0 and at most 100 "
                                       f"({number})")
    return raw


# --- the indicators of the period (rollups) ---------------------------------------------------------------------

def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def period_measures(paths: list[str], period: Period) -> dict[str, dict[str, float | None]]:
    """{path: {indicator code: measured value}} of the period indicators, from two rollup reads for all the
    nodes: the "s:" rows (per source; their sum is the node's total, every case having one source) and the
    "k:" rows (per category kind)."""
    by_source = rollup_sums(paths, period, dim_prefix="s:")
    by_kind = rollup_sums(paths, period, dim_prefix="k:")
    totals: dict[str, dict[str, int]] = {p: dict.fromkeys(COUNTERS, 0) for p in paths}
    reported: dict[str, dict[str, int]] = {p: defaultdict(int) for p in paths}
    for (node, dim), (counts, _hours) in by_source.items():
        for name in COUNTERS:
            totals[node][name] += counts[name]
        reported[node][dim] += counts["reported"]
    service: dict[str, int] = defaultdict(int)
    for (node, dim), (counts, _hours) in by_kind.items():
        if dim[2:] in SERVICE_KINDS:
            service[node] += counts["reported"]
    out = {}
    for path in paths:
        whole = totals[path]["reported"]
        kpis = values_of(totals[path], {}, ["response_rate", *EFFECTIVENESS_KPIS])
        out[path] = {
            "service_share": _share(service[path], whole),
            "resident_share": _share(sum(reported[path][f"s:{s}"] for s in RESIDENT_SOURCES), whole),
            "digital_share": _share(sum(reported[path][f"s:{s}"] for s in DIGITAL_SOURCES), whole),
            **kpis,
        }
    return out


# --- the snapshot indicators (residents) -------------------------------------------------------------------------

def visit_frequency_days(tag, grade: int) -> int:
    """Days between visits of a key-population record: the tag's policy for the grade, else its default
    frequency — the rule of `gridgov.residents.selectors.visits_due`, which has it inline (no helper to call)."""
    from gridgov.residents.choices import FREQUENCY_DAYS

    frequency = (tag.visit_policy or {}).get(str(grade), tag.default_frequency)
    return FREQUENCY_DAYS.get(frequency, 30)


def _first_covered_day(cutoff: dt.datetime) -> dt.date:
    """The first day d whose 09:00 (local) is after `cutoff`: visits_due starts a never-visited record's clock
    at 09:00 of its `since` day (else of its creation day)."""
    day = timezone.localtime(cutoff).date()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    return day if start > cutoff else day + dt.timedelta(days=1)


def _covered_expression(now: dt.datetime):
    """1 when a key-population record is visited within its frequency now, else 0 — `visits_due` with
    within_days=0 lists exactly the records with 0: next visit due (last visit, else 09:00 of `since`, else of
    the creation date, plus the frequency) at or before now. Returns the expression and the annotations it
    needs (each record's cutoff: covered when visited after it)."""
    from gridgov.residents.models import KeyTag, Visit

    by_grade: dict[tuple[int, int], list[int]] = defaultdict(list)  # (grade, days) -> tags
    by_default: dict[int, list[int]] = defaultdict(list)  # days -> tags (a grade not in the tag's policy)
    for tag in KeyTag.objects.only("id", "visit_policy", "default_frequency"):
        policy = tag.visit_policy if isinstance(tag.visit_policy, dict) else {}
        for grade in sorted({int(g) for g in policy if str(g).isdigit() and str(int(g)) == str(g)}):
            by_grade[(grade, visit_frequency_days(tag, grade))].append(tag.pk)
        by_default[visit_frequency_days(tag, -1)].append(tag.pk)
    if not by_default:
        return Value(0), {}
    # the grade rules first: Case takes the first match
    rules = [(Q(grade=grade, tag_id__in=tags), days) for (grade, days), tags in sorted(by_grade.items())]
    rules += [(Q(tag_id__in=tags), days) for days, tags in sorted(by_default.items())]
    cutoff = {days: now - dt.timedelta(days=days) for _q, days in rules}
    annotations = {
        "_cutoff": Case(*[When(q, then=Value(cutoff[days])) for q, days in rules]),
        "_first_day": Case(*[When(q, then=Value(_first_covered_day(cutoff[days]))) for q, days in rules]),
        "_since": Coalesce("since", TruncDate("created_at", tzinfo=dt.UTC)),
    }
    visits = Visit.objects.filter(resident_id=OuterRef("resident_id"))
    visited = Exists(visits.filter(visited_at__gt=OuterRef("_cutoff")))
    never = ~Exists(visits)
    covered = Case(When(visited, then=Value(1)), When(Q(never, _since__gte=F("_first_day")), then=Value(1)),
                   default=Value(0), output_field=IntegerField())
    return covered, annotations


def snapshot_counts(path: str = "", *, now: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """{grid path: {"residents", "completeness", "records", "covered"}} now, for the grids under `path` (all
    when ""): one grouped query over the active residents, one over the active key-population records."""
    from gridgov.residents.choices import PersonStatus
    from gridgov.residents.models import Resident, ResidentTag

    now = now or timezone.now()
    out: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("residents", "completeness", "records",
                                                                        "covered"), 0))
    # The status is a condition of the aggregates, not of the WHERE clause: SQLite would otherwise pick the
    # status index (every resident) over the path range.
    active = Q(status=PersonStatus.ACTIVE)
    residents = Resident.objects.filter(prefix_q("path", path)) if path else Resident.objects.all()
    for row in (residents.order_by().values("path")
                .annotate(n=Count("id", filter=active), s=Sum("completeness", filter=active))):
        if row["n"]:
            out[row["path"]]["residents"] = row["n"]
            out[row["path"]]["completeness"] = row["s"] or 0
    covered, annotations = _covered_expression(now)
    records = ResidentTag.objects.filter(prefix_q("resident__path", path)) if path else ResidentTag.objects.all()
    records = records.filter(active=True).annotate(**annotations).annotate(_covered=covered)
    active = Q(resident__status=PersonStatus.ACTIVE)
    for row in (records.order_by().values("resident__path")
                .annotate(n=Count("id", filter=active), c=Sum("_covered", filter=active))):
        if row["n"]:
            out[row["resident__path"]]["records"] = row["n"]
            out[row["resident__path"]]["covered"] = row["c"] or 0
    return dict(out)


def _fold(counts: dict[str, dict[str, int]], paths: list[str]) -> dict[str, dict[str, int]]:
    """Grid counts summed into the given nodes (each grid into the nodes that contain it)."""
    wanted = set(paths)
    out = {p: dict.fromkeys(("residents", "completeness", "records", "covered"), 0) for p in paths}
    for grid_path, values in counts.items():
        for node in ancestor_paths(grid_path):
            if node in wanted:
                for key, n in values.items():
                    out[node][key] += n
    return out


def _snapshot_values(folded: dict[str, int]) -> dict[str, float | None]:
    residents, records = folded["residents"], folded["records"]
    return {"data_quality": round(folded["completeness"] / residents, 1) if residents else None,
            "visit_coverage": _share(folded["covered"], records)}


def snapshot_measures(paths: list[str], *, within: str) -> tuple[dict[str, dict[str, float | None]], str | None]:
    """({path: {"data_quality", "visit_coverage"}}, when taken) from the snapshot: one read for all the nodes.
    Before the job has ever run (no snapshot at all) they are computed now from the residents under `within`."""
    rows = {r["node"]: r for r in IndexSnapshot.objects.filter(node__in=paths)
            .values("node", "residents", "completeness", "records", "covered", "taken_at")}
    if rows:
        taken = max(r["taken_at"] for r in rows.values())
    elif IndexSnapshot.objects.exists():
        taken = IndexSnapshot.objects.order_by("-taken_at").values_list("taken_at", flat=True).first()
    else:
        taken = timezone.now()
        rows = _fold(snapshot_counts(within, now=taken), paths)
    empty = dict.fromkeys(("residents", "completeness", "records", "covered"), 0)
    return {p: _snapshot_values(rows.get(p, empty)) for p in paths}, taken.isoformat()


def snapshot_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute the snapshot of every grid and area from the residents (the periodic job); returns the rows."""
    from gridgov.geo.models import Area, Grid

    now = now or timezone.now()
    counts = snapshot_counts(now=now)
    paths = list(Area.objects.values_list("path", flat=True)) + list(Grid.objects.values_list("path", flat=True))
    folded = _fold(counts, paths)
    rows = [IndexSnapshot(node=p, taken_at=now, **values) for p, values in folded.items()]
    with transaction.atomic():
        IndexSnapshot.objects.all().delete()
        IndexSnapshot.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- scores, aspects, index --------------------------------------------------------------------------------------

def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def evaluate(measures: dict[str, float | None], *, weights: dict[str, float], targets: dict[str, float],
             detail: bool = False) -> dict:
    """Scores, aspects and the index from the measured indicator values (rounded at the end only); with
    `detail`, each indicator's score, measured value, target and share of the index as well."""
    scores = {}
    for ind in INDICATORS:
        value = measures.get(ind.code)
        if value is None:
            scores[ind.code] = None
        elif ind.code in targets:
            scores[ind.code] = min(100.0, 100.0 * value / targets[ind.code])
        else:
            scores[ind.code] = min(100.0, max(0.0, float(value)))
    aspects: dict[str, float | None] = {}
    present: dict[str, int] = {}
    for aspect in ASPECTS:
        values = [scores[i.code] for i in INDICATORS if i.aspect == aspect and scores[i.code] is not None]
        aspects[aspect] = sum(values) / len(values) if values else None
        present[aspect] = len(values)
    weighed = [a for a in ASPECTS if aspects[a] is not None]
    total = sum(weights[a] for a in weighed)
    index = sum(weights[a] * aspects[a] for a in weighed) / total if total > 0 else None
    result = {"index": _round(index), "aspects": {a: _round(v) for a, v in aspects.items()}}
    if not detail:
        return result
    indicators = []
    for ind in INDICATORS:
        score = scores[ind.code]
        weight = (weights[ind.aspect] / total / present[ind.aspect]
                  if score is not None and total > 0 else None)
        indicators.append({"code": ind.code, "label": str(ind.label), "aspect": ind.aspect,
                           "value": _round(score), "measured": measures.get(ind.code),
                           "target": targets.get(ind.code), "snapshot": ind.snapshot,
                           "weight": None if weight is None else round(weight, 4)})
    return {**result, "indicators": indicators}


def _measures(paths: list[str], period: Period, snapshot: dict) -> dict[str, dict]:
    periodic = period_measures(paths, period)
    return {p: {**periodic[p], **snapshot[p]} for p in paths}


def index_of(*, user, area: str | None = None, grid: str | None = None, period: Period) -> dict:
    """The index of one node (the user's own when no area or grid is given) with its aspects, its indicators
    and the previous period's index (the snapshot indicators enter both periods with their current value)."""
    node = resolve_node(user=user, area=area, grid=grid)
    weights, targets = index_weights(), index_targets()
    previous = period.previous()
    snapshot, taken = snapshot_measures([node.path], within=node.path)
    now = evaluate(_measures([node.path], period, snapshot)[node.path], weights=weights, targets=targets,
                   detail=True)
    before = evaluate(_measures([node.path], previous, snapshot)[node.path], weights=weights, targets=targets)
    return {"node": node.as_dict(), "period": period.as_dict(), "previous_period": previous.as_dict(),
            "weights": weights, "index": now["index"], "aspects": now["aspects"], "indicators": now["indicators"],
            "previous_index": before["index"], "previous_aspects": before["aspects"], "snapshot_at": taken}


def _ranks(values: dict[str, float | None]) -> dict[str, int]:
    """1 for the highest index, … (ties by code); none for a node without an index."""
    order = sorted((value is None, -(value or 0), code) for code, value in values.items())
    return {code: i + 1 for i, (missing, _value, code) in enumerate(order) if not missing}


def index_ranking(*, user, area: str | None = None, grid: str | None = None, period: Period) -> dict:
    """The children of the node (districts of a city, streets of a district, communities of a street, grids of
    a community) by index, best first (those without an index last), with the previous period's index and
    rank. Reads: two rollup reads per period and one snapshot read, for all the children at once."""
    node: Node = resolve_node(user=user, area=area, grid=grid)
    weights, targets = index_weights(), index_targets()
    previous = period.previous()
    children = children_of(node)
    paths = [c.path for c in children]
    rows, taken = [], None
    if paths:
        snapshot, taken = snapshot_measures(paths, within=node.path)
        now, before = _measures(paths, period, snapshot), _measures(paths, previous, snapshot)
        for child in children:
            current = evaluate(now[child.path], weights=weights, targets=targets)
            earlier = evaluate(before[child.path], weights=weights, targets=targets)
            rows.append({**child.as_dict(), "index": current["index"], "aspects": current["aspects"],
                         "previous_index": earlier["index"], "previous_aspects": earlier["aspects"]})
    rank = _ranks({r["code"]: r["index"] for r in rows})
    previous_rank = _ranks({r["code"]: r["previous_index"] for r in rows})
    for row in rows:
        row["rank"], row["previous_rank"] = rank.get(row["code"]), previous_rank.get(row["code"])
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))
    return {"node": node.as_dict(), "period": period.as_dict(), "previous_period": previous.as_dict(),
            "weights": weights, "rows": rows, "snapshot_at": taken}
