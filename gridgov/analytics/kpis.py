"""The KPIs: each a numerator and a denominator over the rollup counters (definitions in docs/kpis.md).

A KPI with a denominator is a percentage with one decimal (None when the denominator is 0); one without is
a count; the time-to-close KPIs are percentiles of the hours histogram.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str
    numerator: tuple[str, ...]  # counters summed
    denominator: tuple[str, ...] = ()  # counters summed; () = a count
    unit: str = "%"  # "%", "count" or "hours"
    higher_is_better: bool | None = True  # None: neither (more reports is not better nor worse governance)


KPIS: list[Kpi] = [
    Kpi("reported", pgettext_lazy("kpi", "Reported"), ("reported",), unit="count", higher_is_better=None),
    Kpi("registration_rate", _("Registration rate"), ("registered",), ("registered", "rejected")),
    Kpi("on_time_dispatch_rate", _("On-time dispatch rate"), ("dispatched_on_time",), ("dispatched",)),
    Kpi("response_rate", _("Response rate (响应率)"), ("accepted",), ("dispatched",)),
    Kpi("resolution_rate", _("Resolution rate (解决率)"), ("registered_closed",), ("registered",)),
    Kpi("satisfaction_rate", _("Satisfaction rate (满意率)"), ("satisfied",), ("rated",)),
    Kpi("closed", pgettext_lazy("kpi", "Closed"), ("closed",), unit="count"),
    Kpi("on_time_closure_rate", _("On-time closure rate (按期结案率)"), ("closed_on_time",), ("closed",)),
    Kpi("overdue", pgettext_lazy("kpi", "Overdue"), ("overdue",), unit="count", higher_is_better=False),
    Kpi("overdue_rate", _("Overdue rate"), ("overdue",), ("reported",), higher_is_better=False),
    Kpi("extension_rate", _("Extension rate"), ("extended",), ("dispatched",), higher_is_better=False),
    Kpi("return_rate", _("Return rate"), ("returned",), ("dispatched",), higher_is_better=False),
    Kpi("rework_rate", _("Rework rate"), ("reworked",), ("closed",), higher_is_better=False),
    Kpi("grid_level_rate", _("Resolved in the grid (小事不出网格)"), ("closed_grid",), ("closed",)),
    Kpi("community_level_rate", _("Resolved in the community (大事不出社区)"), ("closed_grid", "closed_community"),
        ("closed",)),
    Kpi("median_hours_to_close", _("Time to close, median (hours)"), (), unit="hours", higher_is_better=False),
    Kpi("p90_hours_to_close", _("Time to close, 90th percentile (hours)"), (), unit="hours", higher_is_better=False),
]
BY_CODE = {k.code: k for k in KPIS}
PERCENTILES = {"median_hours_to_close": 0.5, "p90_hours_to_close": 0.9}


def percentiles_of(hours: dict[str, int], ps: list[float]) -> list[float | None]:
    """The p-quantiles of the whole-hour durations (nearest rank: the smallest value with at least p of the
    cases at or below it), the same rule as the direct computation; one sort and one running sum (both in C:
    a ranking computes this for every row and period) for all of them."""
    if not hours:
        return [None] * len(ps)
    keys = sorted(hours, key=int)
    running = list(accumulate(map(hours.__getitem__, keys)))
    total = running[-1]
    if total <= 0 or any(n < 0 for n in hours.values()):  # no cases, or an inconsistent row: no figure
        return [None] * len(ps)
    return [float(keys[bisect_left(running, max(1, math.ceil(round(p * total, 9))))]) for p in ps]


def values_of(counts: dict[str, int], hours: dict[str, int], codes: list[str] | None = None) -> dict:
    """Each KPI's value from summed counters and the hours histogram."""
    out = {}
    kpis = KPIS if codes is None else [BY_CODE[c] for c in codes]
    wanted = [kpi.code for kpi in kpis if kpi.code in PERCENTILES]
    quantiles = dict(zip(wanted, percentiles_of(hours, [PERCENTILES[c] for c in wanted]), strict=True))
    for kpi in kpis:
        if kpi.code in PERCENTILES:
            out[kpi.code] = quantiles[kpi.code]
        elif not kpi.denominator:
            out[kpi.code] = sum(counts[n] for n in kpi.numerator)
        else:
            den = sum(counts[n] for n in kpi.denominator)
            out[kpi.code] = round(100.0 * sum(counts[n] for n in kpi.numerator) / den, 1) if den else None
    return out
