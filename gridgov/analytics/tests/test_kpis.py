"""Each KPI from a set of counters and close times worked out by hand (docs/kpis.md's definitions)."""

from gridgov.analytics.kpis import KPIS, percentiles_of, values_of
from gridgov.analytics.models import COUNTERS

# 40 reported, 4 of them ever overdue; 30 registered (24 of them closed by now), 10 rejected; 20 dispatched, 18 by
# the deadline, 15 accepted, 2 extended, 3 returned; 25 closed, 20 on time, 5 reworked, 10 in the grid, 8 in the
# community; 8 rated, 6 satisfied.
COUNTS = {"reported": 40, "overdue": 4, "registered": 30, "registered_closed": 24, "rejected": 10, "dispatched": 20,
          "dispatched_on_time": 18, "accepted": 15, "extended": 2, "returned": 3, "closed": 25, "closed_on_time": 20,
          "reworked": 5, "closed_grid": 10, "closed_community": 8, "rated": 8, "satisfied": 6}
# the hours from report to closure of the 25 closed cases: 10 × 2 h, 8 × 5 h, 4 × 30 h, 3 × 100 h
HOURS = {"2": 10, "30": 4, "5": 8, "100": 3}

BY_HAND = {
    "reported": 40,
    "registration_rate": 75.0,        # 30 / (30 + 10)
    "on_time_dispatch_rate": 90.0,    # 18 / 20
    "response_rate": 75.0,            # 15 / 20
    "resolution_rate": 80.0,          # 24 / 30
    "satisfaction_rate": 75.0,        # 6 / 8
    "closed": 25,
    "on_time_closure_rate": 80.0,     # 20 / 25
    "overdue": 4,
    "overdue_rate": 10.0,             # 4 / 40
    "extension_rate": 10.0,           # 2 / 20
    "return_rate": 15.0,              # 3 / 20
    "rework_rate": 20.0,              # 5 / 25
    "grid_level_rate": 40.0,          # 10 / 25
    "community_level_rate": 72.0,     # (10 + 8) / 25
    "median_hours_to_close": 5.0,     # the 13th of 25 sorted: 10 × 2 h, then 5 h
    "p90_hours_to_close": 100.0,      # the 23rd (ceil(22.5)) of 25: past 2 + 5 + 30 h (22 cases), so 100 h
}


def test_every_kpi_by_hand():
    assert set(COUNTS) == set(COUNTERS)
    assert set(BY_HAND) == {k.code for k in KPIS}
    assert values_of(COUNTS, HOURS) == BY_HAND


def test_an_empty_denominator_is_no_value_not_zero():
    values = values_of(dict.fromkeys(COUNTERS, 0), {})
    assert values["resolution_rate"] is None and values["median_hours_to_close"] is None
    assert values["reported"] == 0 and values["closed"] == 0


def test_percentiles_by_nearest_rank():
    assert percentiles_of({"5": 2, "7": 2}, [0.5, 0.9]) == [5.0, 7.0]  # rank 2 of 4 is 5 h; rank 4 is 7 h
    assert percentiles_of({"1": 1, "2": 1, "3": 2, "10": 1}, [0.9, 0.5]) == [10.0, 3.0]  # any order asked
    assert percentiles_of({"0": 1}, [0.5, 0.9]) == [0.0, 0.0]
    assert percentiles_of({}, [0.5]) == [None]
    assert percentiles_of({"3": 0}, [0.5]) == [None]  # no cases
    assert percentiles_of({"2": 3, "1": -1}, [0.5]) == [None]  # an inconsistent histogram gives no figure


def test_percentiles_equal_the_nearest_rank_of_the_durations_listed_out():
    import math
    import random

    rng = random.Random(8)
    for _ in range(300):
        hours = {str(rng.randrange(0, 3000)): rng.randrange(1, 6) for _ in range(rng.randrange(1, 60))}
        durations = sorted(int(h) for h, n in hours.items() for _ in range(n))
        ps = [0.5, 0.9, rng.random()]
        expected = [float(durations[max(1, math.ceil(round(p * len(durations), 9))) - 1]) for p in ps]
        assert percentiles_of(hours, ps) == expected


def test_a_subset_of_kpis():
    assert values_of(COUNTS, HOURS, ["p90_hours_to_close", "closed"]) == {"p90_hours_to_close": 100.0, "closed": 25}
