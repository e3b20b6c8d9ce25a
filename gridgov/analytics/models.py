"""Rollups of the cases: counters per day, per month and per year, per node of the area tree (and per grid), per
dimension. Dashboards read these, never the raw cases; `rollups.py` writes them (see docs/kpis.md)."""

from __future__ import annotations

from django.db import models

# The counters a rollup row holds; each is attributed to the date of one workflow timestamp (docs/kpis.md).
COUNTERS = (
    "reported",            # reported_at
    "overdue",             # reported_at: cases reported that day that were ever overdue
    "registered",          # registered_at
    "registered_closed",   # registered_at: cases registered that day that are closed now
    "rejected",            # rejected_at
    "dispatched",          # dispatched_at
    "dispatched_on_time",  # dispatched_at: dispatched by the dispatch deadline
    "accepted",            # dispatched_at: cases dispatched that day whose lead department accepted
    "extended",            # dispatched_at: … that were granted an extension
    "returned",            # dispatched_at: … that were returned at least once
    "closed",              # closed_at
    "closed_on_time",      # closed_at
    "reworked",            # closed_at: closed cases that needed rework
    "closed_grid",         # closed_at: resolved at the grid level
    "closed_community",    # closed_at: resolved at the community level
    "rated",               # rated_at
    "satisfied",           # rated_at: satisfaction 4 or 5
)


class Grain(models.TextChoices):
    DAY = "d", "day"
    MONTH = "m", "month"
    YEAR = "y", "year"


class Rollup(models.Model):
    """One row per (grain, start, node, dim). `node` is an area's or a grid's materialised path; `dim` is ""
    (everything), "c:<main category code>", "s:<source>", "d:<department code>" or "h:<H3 cell>"."""

    grain = models.CharField(max_length=1, choices=Grain.choices)
    start = models.DateField()
    node = models.CharField(max_length=255)
    dim = models.CharField(max_length=40, default="", blank=True)
    reported = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)
    registered = models.IntegerField(default=0)
    registered_closed = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    dispatched = models.IntegerField(default=0)
    dispatched_on_time = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    extended = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)
    closed_on_time = models.IntegerField(default=0)
    reworked = models.IntegerField(default=0)
    closed_grid = models.IntegerField(default=0)
    closed_community = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    # hours from report to closure of the cases closed: {"<whole hours>": count}
    close_hours = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grain", "start", "node", "dim"], name="analytics_rollup_key")]
        indexes = [models.Index(fields=["grain", "node", "dim", "start"], name="analytics_rollup_read")]

    def __str__(self) -> str:
        return f"{self.grain}{self.start} {self.node} {self.dim}"


class DirtyCase(models.Model):
    """A case changed since the rollups were last brought up to date (written by a post_save signal)."""

    case_id = models.BigIntegerField(unique=True)


class RollupState(models.Model):
    """One row: when the rollups were last rebuilt from scratch and last brought up to date."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)


class IndexSnapshot(models.Model):
    """The residents' figures of the governance effectiveness index (docs/kpis.md) per node (every area and
    grid), as of `taken_at`: refreshed whole by the periodic job `analytics.index_snapshot`, so an index read
    is one query over these rows instead of an aggregate over the residents."""

    node = models.CharField(max_length=255, unique=True)
    residents = models.IntegerField(default=0)      # active residents
    completeness = models.BigIntegerField(default=0)  # the sum of their completeness (%)
    records = models.IntegerField(default=0)        # active key-population records of active residents
    covered = models.IntegerField(default=0)        # … visited within their frequency at `taken_at`
    taken_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.node} {self.taken_at:%Y-%m-%d %H:%M}"
