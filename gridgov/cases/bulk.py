"""Bulk demo cases for the analytics benchmarks: a million closed-loop cases in a few minutes.

`manage.py cases_bulk --count N` adds N cases to the city in the database (build it first with
`manage.py demo_city`). Unlike the demo year (`gridgov.cases.demo`, which lives each case's life step by step
on the working calendar and writes its timeline), these are drawn all at once with numpy and written with
executemany in batches inside one transaction. They are **bench data, made for the figures**:

- Every case is consistent for the KPIs (docs/kpis.md): its workflow timestamps follow one another
  (reported → registered or rejected → dispatched → accepted → handled → verified → closed → rated), its
  counters (overdue, extension, return, rework) and flags (closed_on_time, resolution_level, satisfaction)
  agree with them, its state is the last step reached, and everything after "now" has not happened (recent
  cases stay open in every state: reported, registered, dispatched, in progress, suspended, handled,
  verified). Some are rejected, merged into the previous report of the same grid, or handled on the spot by
  the grid member (小事不出网格).
- Deadlines are simple arithmetic, not the working calendar: a limit of N working hours is N × 4.8 calendar
  hours (35 working hours in a 168-hour week), N working days are N × 1.4 calendar days. A step is late when
  it happens after that deadline; "overdue" is any deadline passed before its step (or before now).
- Locations: a point near the centre of the grid (within a fifth of its bounding box), not checked with the
  locator; `grid` and `path` are the grid's.
- No timeline (Step rows), tasks, extensions, attachments or history: a bulk case's page shows no timeline.
- No DirtyCase marks either (no signals): run `manage.py analytics_rebuild` afterwards.
- Numbers are `<local report date><id, 7 digits>` like the services'; tracking codes are unique (an odd
  multiplier modulo 32¹⁰ of the id, checked against the codes already in the database).

Same seed, count, months, now and city: same cases.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gridgov.accounts.models import Department
from gridgov.core.dbstats import analyze
from gridgov.core.workcalendar import is_workday
from gridgov.geo.models import Grid

from .choices import LimitUnit, Source, State
from .demo import _HOURS, _OFF_DAY, PHRASES, SOURCE_WEIGHTS
from .models import Case, Category
from .services import TRACKING_ALPHABET

BATCH = 50_000
HOUR = 3600.0
DAY = 86400.0
WORK_HOUR = 4.8 * HOUR  # one working hour of a limit, in calendar seconds (168 / 35)
WORK_DAY = 1.4 * DAY  # one working day of a limit, in calendar seconds (7 / 5)
LEVELS = ["grid", "community", "street", "district", "city"]
LEVEL_P = [0.30, 0.42, 0.22, 0.05, 0.01]  # the level a registered case is handled at
RATED_P = {Source.PUBLIC: 0.85, Source.HOTLINE: 0.8, Source.API: 0.3, Source.GRID_MEMBER: 0.15,
           Source.DISPATCHER: 0.1}
SCORES = [5, 4, 3, 2, 1]
SCORE_P = [0.60, 0.26, 0.07, 0.04, 0.03]
SCORE_P_LATE = [0.20, 0.26, 0.26, 0.16, 0.12]  # late or reworked cases
_CODE_BITS = 50  # 32**10 == 2**50: ten characters of the tracking alphabet
_CODE_MULT = 0x2F0E_8D3B_A5C7  # odd: multiplying by it is a bijection modulo 2**50


def bulk_cases(*, count: int, seed: int = 1, months: int = 12, now: dt.datetime | None = None,
               batch: int = BATCH, progress=None) -> dict:
    """Add `count` cases reported over the `months` months ending `now` (default: the present). Returns
    {"cases", "seconds", "per_state": {...}}."""
    started = time.perf_counter()
    if count < 1:
        return {"cases": 0, "seconds": 0.0, "per_state": {}}
    now = (now or timezone.now()).replace(microsecond=0)
    ctx = _context(seed)
    rng = np.random.default_rng([seed, 20260606])
    cols = _draw(ctx, rng, count=count, months=months, now=now)
    with transaction.atomic():
        first_id = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        ids = np.arange(first_id, first_id + count, dtype=np.int64)
        cols["merged_into_id"] = np.where(cols["merge_prev"] >= 0, ids[np.maximum(cols["merge_prev"], 0)], -1)
        codes = _tracking_codes(ids, seed)
        _write(ctx, cols, ids, codes, now=now, batch=batch, progress=progress)
        _reset_sequence()
    analyze(Case)
    states, counts = np.unique(cols["state"], return_counts=True)
    return {"cases": count, "seconds": round(time.perf_counter() - started, 1),
            "per_state": {str(ctx["state_names"][s]): int(n) for s, n in zip(states, counts, strict=True)}}


# --- what the city holds ---------------------------------------------------------------------------------------

def _context(seed: int) -> dict:
    grids = list(Grid.objects.order_by("code").values_list("id", "path", "center_lon", "center_lat", "min_lon",
                                                             "min_lat", "max_lon", "max_lat"))
    categories = list(Category.objects.filter(is_active=True, parent__isnull=False).select_related("parent")
                      .order_by("code"))
    departments = dict(Department.objects.filter(is_active=True).values_list("code", "id"))
    if not grids or not categories:
        raise RuntimeError("Bulk cases need a city with grids and categories: run `manage.py demo_city` first.")
    fallback = departments.get("URBAN") or (min(departments.values()) if departments else None)
    members: dict[int, int] = {}
    for grid_id, user_id in Grid.members.through.objects.order_by("user_id").values_list("grid_id", "user_id"):
        members.setdefault(grid_id, user_id)
    g = np.array([row[2:] for row in grids], dtype=np.float64)
    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(categories))  # a Zipf-like popularity over a seeded order
    weights = np.empty(len(categories))
    weights[order] = 1.0 / np.arange(1, len(categories) + 1) ** 0.8
    weights *= np.array([0.5 if c.is_dispute else 1.0 for c in categories])

    def limit(amount: int, unit: str) -> float:
        return amount * (WORK_DAY if unit == LimitUnit.DAYS else WORK_HOUR)

    return {
        "grid_id": np.array([row[0] for row in grids], dtype=np.int64),
        "grid_path": [row[1] for row in grids],
        "centre": g[:, 0:2], "half": (g[:, 4:6] - g[:, 2:4]) / 2,
        "member": np.array([members.get(row[0], -1) for row in grids], dtype=np.int64),
        "grid_weight": rng.lognormal(0, 0.5, len(grids)),
        "cat_id": np.array([c.pk for c in categories], dtype=np.int64),
        "cat_name": [c.name for c in categories],
        "cat_kind": [c.kind for c in categories],
        "cat_weight": weights / weights.sum(),
        "cat_dispute": np.array([c.is_dispute for c in categories]),
        "cat_dept": np.array([c.default_department_id or c.parent.default_department_id or fallback or -1
                              for c in categories], dtype=np.int64),
        "register_limit": np.array([limit(c.register_limit, c.limit_unit) for c in categories]),
        "dispatch_limit": np.array([limit(c.dispatch_limit, c.limit_unit) for c in categories]),
        "handle_limit": np.array([limit(c.handle_limit, c.handle_unit) for c in categories]),
        "sources": [s for s, _w in SOURCE_WEIGHTS],
        "source_p": np.array([w for _s, w in SOURCE_WEIGHTS], dtype=np.float64) / sum(w for _s, w in SOURCE_WEIGHTS),
        "state_names": np.array([s.value for s in STATE_ORDER]),
    }


# the states in the order of the arrays' codes
STATE_ORDER = [State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS, State.SUSPENDED,
               State.HANDLED, State.VERIFIED, State.CLOSED, State.REJECTED, State.MERGED]
_S = {s: i for i, s in enumerate(STATE_ORDER)}


# --- drawing the cases ---------------------------------------------------------------------------------------

def _when(ctx: dict, rng: np.random.Generator, *, count: int, months: int, now: dt.datetime):
    """Report instants (epoch seconds, ascending) and their sources: more on working days, by hour per source,
    a little seasonal, a little busier lately."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(zone).date()
    n_days = max(1, round(months * 365.25 / 12))
    days = [today - dt.timedelta(days=k) for k in range(n_days)]
    midnight = np.array([dt.datetime.combine(d, dt.time.min, tzinfo=zone).timestamp() for d in days])
    workday = np.array([is_workday(d) for d in days])
    season = np.array([1 + 0.15 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365) for d in days])
    trend = 1.1 - 0.2 * np.arange(n_days) / n_days
    src = rng.choice(len(ctx["sources"]), size=count, p=ctx["source_p"])
    at = np.empty(count)
    for i, source in enumerate(ctx["sources"]):
        mask = src == i
        n = int(mask.sum())
        w = np.where(workday, 1.0, _OFF_DAY[source]) * season * trend
        day = rng.choice(n_days, size=n, p=w / w.sum())
        hw = np.array(_HOURS[source], dtype=np.float64)
        hour = rng.choice(24, size=n, p=hw / hw.sum())
        at[mask] = midnight[day] + hour * HOUR + rng.integers(0, 3600, n)
    limit = now.timestamp()
    late = at > limit  # later today than now: the day before
    at[late] -= DAY
    at = np.minimum(at, limit - 60)
    order = np.argsort(at, kind="stable")
    return at[order], src[order]


def _draw(ctx: dict, rng: np.random.Generator, *, count: int, months: int, now: dt.datetime) -> dict:
    n = count
    now_s = now.timestamp()
    rep, src = _when(ctx, rng, count=n, months=months, now=now)
    u = rng.random  # uniform [0, 1) arrays

    grid = rng.choice(len(ctx["grid_id"]), size=n, p=ctx["grid_weight"] / ctx["grid_weight"].sum())
    gm = ctx["sources"].index(Source.GRID_MEMBER)
    public = ctx["sources"].index(Source.PUBLIC)
    member = ctx["member"][grid]
    src = np.where((src == gm) & (member < 0), public, src)  # a grid without a member: a resident reports
    reporter = np.where(src == gm, member, -1)
    jitter = (rng.random((n, 2)) - 0.5) * 0.4 * ctx["half"][grid] * 2
    lonlat = np.round(ctx["centre"][grid] + jitter, 7)
    cat = rng.choice(len(ctx["cat_id"]), size=n, p=ctx["cat_weight"])

    # what becomes of each case
    fate = u(n)
    self_h = (src == gm) & ~ctx["cat_dispute"][cat] & (u(n) < 0.16)
    reject = ~self_h & (fate < 0.035)
    merge = ~self_h & (fate >= 0.035) & (fate < 0.085)
    # merged into the previous report of the same grid (none: refused instead)
    order = np.lexsort((np.arange(n), grid))
    prev = np.full(n, -1, dtype=np.int64)
    same = grid[order][1:] == grid[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    merge_prev = np.where(merge, prev, -1)
    reject |= merge & (prev < 0)
    merge &= prev >= 0
    normal = ~(self_h | reject | merge)

    reg_lim, disp_lim, hand_lim = (ctx["register_limit"][cat], ctx["dispatch_limit"][cat],
                                   ctx["handle_limit"][cat])

    def step(limit_s, late_share):
        late = u(n) < late_share
        return np.where(late, limit_s * (1.05 + u(n)), limit_s * (0.05 + 0.8 * u(n))), late

    # registration (or refusal)
    reg_delay, _late = step(reg_lim, 0.03)
    register_due = np.where(self_h, np.nan, rep + reg_lim)
    registered = np.where(normal, rep + reg_delay, np.nan)
    rejected = np.where(reject, rep + reg_delay, np.nan)
    merged_at = np.where(merge, rep + reg_delay, np.nan)
    # dispatch, returns (each re-dispatched within a day), acceptance
    disp_delay, _late = step(disp_lim, 0.03)
    dispatched = registered + disp_delay
    returns = np.where(u(n) < 0.07, np.where(u(n) < 0.15, 2, 1), 0)
    redispatch = dispatched + returns * (2 + 22 * u(n)) * HOUR
    dispatch_due = np.where(returns > 0, redispatch - HOUR + disp_lim, registered + disp_lim)
    accepted = redispatch + (0.2 + 7.8 * u(n)) * HOUR
    # handling, with extensions, suspensions that stay, rework
    extensions = (u(n) < 0.12).astype(np.int64)
    handle_due = redispatch + hand_lim * (1 + 0.5 * extensions)
    late_hand = u(n) < 0.08
    window = np.maximum(handle_due - accepted, 0.5 * HOUR)
    handled = np.where(late_hand, handle_due + (0.05 + u(n)) * hand_lim, accepted + (0.1 + 0.8 * u(n)) * window)
    suspended = np.where(u(n) < 0.015, accepted + (1 + 47 * u(n)) * HOUR, np.nan)
    reworks = np.where(u(n) < 0.055, np.where(u(n) < 0.12, 2, 1), 0)
    rework_time = reworks * (0.5 + 2.5 * u(n)) * DAY
    handled = handled + rework_time
    handle_due = handle_due + rework_time  # each rework sets a new handling deadline
    handled = np.where(np.isnan(suspended), handled, np.nan)
    # the grid member's own cases: handled on the spot, verified, closed
    handled = np.where(self_h, rep, handled)
    verified = handled + (0.5 + 23.5 * u(n)) * HOUR
    closed = verified + (0.1 + 3.9 * u(n)) * HOUR
    rated = closed + (0.5 + 71.5 * u(n)) * HOUR
    wants_rating = u(n) < np.array([RATED_P.get(s, 0.2) for s in ctx["sources"]])[src]

    # cut at now: what has not happened yet has not happened
    def cut(x, before=None):
        x = np.where(x <= now_s, x, np.nan)
        return x if before is None else np.where(np.isnan(before), np.nan, x)

    registered, rejected, merged_at = cut(registered), cut(rejected), cut(merged_at)
    dispatched = cut(dispatched, registered)
    redispatch = cut(redispatch, dispatched)
    accepted = cut(accepted, redispatch)
    suspended = cut(suspended, accepted)
    handled = np.where(self_h, handled, cut(handled, accepted))
    verified = cut(verified, handled)
    closed = cut(closed, verified)
    rated = np.where(wants_rating, cut(rated, closed), np.nan)
    dispatch_due = np.where(np.isnan(registered), np.nan, dispatch_due)
    dispatch_due = np.where(np.isnan(redispatch) & (returns > 0) & ~np.isnan(dispatched),
                            registered + disp_lim, dispatch_due)
    returns = np.where(np.isnan(redispatch), 0, returns)
    handle_due = np.where(np.isnan(redispatch) | self_h, np.nan, handle_due)
    extensions = np.where(np.isnan(accepted), 0, extensions)
    reworks = np.where(np.isnan(verified) | self_h, 0, reworks)

    # overdue: a deadline passed before its step happened (or before now)
    def passed(due, done):
        return ~np.isnan(due) & (due < np.where(np.isnan(done), now_s, done))

    reg_done = np.fmin(np.fmin(registered, rejected), merged_at)
    overdue = (passed(register_due, reg_done) | passed(dispatch_due, dispatched)
               | (np.isnan(suspended) & passed(handle_due, handled)))
    on_time = np.where(np.isnan(closed), np.nan, (self_h | (handled <= handle_due)).astype(np.float64))

    # level: where the case was handled (escalated one level when overdue)
    level = rng.choice(len(LEVELS), size=n, p=LEVEL_P)
    level = np.minimum(level + overdue, len(LEVELS) - 1)
    level = np.where(self_h | np.isnan(registered), 0, level)
    resolution = np.where(np.isnan(closed), -1, level)
    bad = late_hand | (reworks > 0) | overdue
    score = np.where(bad, rng.choice(SCORES, size=n, p=SCORE_P_LATE), rng.choice(SCORES, size=n, p=SCORE_P))
    score = np.where(np.isnan(rated), 0, score)

    state = np.full(n, _S[State.REPORTED])
    for at, s in ((registered, State.REGISTERED), (dispatched, State.DISPATCHED), (accepted, State.IN_PROGRESS),
                  (suspended, State.SUSPENDED), (handled, State.HANDLED), (verified, State.VERIFIED),
                  (closed, State.CLOSED), (rejected, State.REJECTED), (merged_at, State.MERGED)):
        state = np.where(np.isnan(at), state, _S[s])
    lead = np.where(np.isnan(dispatched), -1, ctx["cat_dept"][cat])
    last = np.fmax.reduce([rep, registered, rejected, merged_at, redispatch, accepted, suspended, handled,
                           verified, closed, rated])
    # the escalation job notices a passed deadline within minutes (the first one is kept)
    escalated_at = np.fmin(np.fmin(np.where(passed(register_due, reg_done), register_due, np.nan),
                                   np.where(passed(dispatch_due, dispatched), dispatch_due, np.nan)),
                           np.where(np.isnan(suspended) & passed(handle_due, handled), handle_due, np.nan))
    escalated_at = np.where(np.isnan(escalated_at), np.nan, np.minimum(escalated_at + 600, now_s))
    escalated = ~np.isnan(escalated_at)
    return {
        "rep": rep, "src": src, "grid": grid, "lon": lonlat[:, 0], "lat": lonlat[:, 1], "cat": cat,
        "reporter": reporter, "self": self_h, "state": state, "level": level, "resolution": resolution,
        "registered": registered, "rejected": rejected, "dispatched": dispatched, "accepted": accepted,
        "handled": handled, "verified": verified, "closed": closed, "suspended": suspended, "rated": rated,
        "register_due": register_due, "escalated_at": escalated_at,
        "dispatch_due": dispatch_due, "handle_due": handle_due, "overdue": overdue, "on_time": on_time,
        "returns": returns, "reworks": reworks, "extensions": extensions, "score": score, "lead": lead,
        "updated": last, "escalations": escalated.astype(np.int64),
        "supervisions": (overdue & (u(n) < 0.3)).astype(np.int64), "merge_prev": merge_prev,
        "phrase": rng.integers(0, 6, n),
    }


# --- writing ---------------------------------------------------------------------------------------------------

def _tracking_codes(ids: np.ndarray, seed: int) -> list[str]:
    """Ten characters of the tracking alphabet per id, distinct for distinct ids and from the codes already
    stored."""
    mask = (1 << _CODE_BITS) - 1
    offset = (seed * 0x9E37_79B9_7F4A) & mask
    x = (ids.astype(np.uint64) * np.uint64(_CODE_MULT) + np.uint64(offset)) & np.uint64(mask)
    alphabet = np.array(list(TRACKING_ALPHABET))
    digits = np.empty((len(ids), 10), dtype="<U1")
    y = x.copy()
    for i in range(9, -1, -1):
        digits[:, i] = alphabet[(y & np.uint64(31)).astype(np.int64)]
        y >>= np.uint64(5)
    codes = digits.view("<U10").ravel().tolist()
    taken = set(Case.objects.values_list("tracking_code", flat=True))
    clashes = [i for i, c in enumerate(codes) if c in taken]
    if clashes:  # a random code of an earlier case: take a code above every bulk one (high bit set twice)
        fresh = set(codes)
        for i in clashes:
            k = 0
            while True:
                k += 1
                value = (int(x[i]) ^ (k << 45)) & mask
                code = "".join(TRACKING_ALPHABET[(value >> (5 * j)) & 31] for j in range(9, -1, -1))
                if code not in taken and code not in fresh:
                    codes[i] = code
                    fresh.add(code)
                    break
    return codes


def _texts(seconds: np.ndarray, suffix: str) -> list:
    """Epoch seconds (NaN: none) as the database's datetime text: naive UTC 'YYYY-MM-DD HH:MM:SS' on SQLite (what
    Django stores), with '+00:00' elsewhere."""
    missing = np.isnan(seconds)
    text = np.datetime_as_string(np.where(missing, 0, np.floor(seconds)).astype("int64").astype("datetime64[s]"),
                                 unit="s").astype("<U19")
    text.view("<U1").reshape(-1, 19)[:, 10] = " "
    if suffix:
        text = np.char.add(text, suffix)
    out = text.astype(object)
    out[missing] = None
    return out.tolist()


def _ints(values: np.ndarray, none_below: int | None = None) -> list:
    out = values.astype(object)
    if none_below is not None:
        out[values < none_below] = None
    return out.tolist()


def _write(ctx: dict, c: dict, ids: np.ndarray, codes: list[str], *, now: dt.datetime, batch: int,
           progress) -> None:
    sqlite = connection.vendor == "sqlite"
    suffix = "" if sqlite else "+00:00"
    zone = ZoneInfo(settings.TIME_ZONE)
    offset = now.astimezone(zone).utcoffset().total_seconds()  # local dates for the numbers (a fixed-offset zone)
    n = len(ids)
    names = ctx["cat_name"]
    kinds = ctx["cat_kind"]
    paths = ctx["grid_path"]
    sources = ctx["sources"]
    fields = {  # column → per-row value (constant) or a function of the batch's slice
        "id": lambda s: ids[s].tolist(),
        "created_at": lambda s: _texts(c["rep"][s], suffix),
        "updated_at": lambda s: _texts(c["updated"][s], suffix),
        "created_by_id": lambda s: _ints(c["reporter"][s], 0),
        "updated_by_id": lambda s: _ints(c["reporter"][s], 0),
        "number": lambda s: [f"{d.replace('-', '')}{i:07d}" for d, i in zip(
            np.datetime_as_string((np.floor(c["rep"][s]) + offset).astype("int64").astype("datetime64[s]"),
                                  unit="D").tolist(), ids[s].tolist(), strict=True)],
        "tracking_code": lambda s: codes[s],
        "category_id": lambda s: ctx["cat_id"][c["cat"][s]].tolist(),
        "description": lambda s: [f"{names[k]}，{PHRASES.get(kinds[k], PHRASES['event'])[p]}"
                                  for k, p in zip(c["cat"][s].tolist(), c["phrase"][s].tolist(), strict=True)],
        "address": "", "extra": "{}",
        "source": lambda s: [sources[i] for i in c["src"][s].tolist()],
        "lon": lambda s: c["lon"][s].tolist(), "lat": lambda s: c["lat"][s].tolist(),
        "grid_id": lambda s: ctx["grid_id"][c["grid"][s]].tolist(),
        "path": lambda s: [paths[i] for i in c["grid"][s].tolist()],
        "reporter_id": lambda s: _ints(c["reporter"][s], 0),
        "reporter_name": "", "reporter_phone": "", "reporter_phone_index": "", "reporter_ip_hash": "",
        "idempotency_key": "",
        "state": lambda s: ctx["state_names"][c["state"][s]].tolist(),
        "version": lambda s: (1 + (c["state"][s] > 0) * 3).tolist(),
        "level": lambda s: [LEVELS[i] for i in c["level"][s].tolist()],
        "lead_department_id": lambda s: _ints(c["lead"][s], 0),
        "self_handled": lambda s: c["self"][s].tolist(),
        "merged_into_id": lambda s: _ints(c["merged_into_id"][s], 0),
        "reported_at": lambda s: _texts(c["rep"][s], suffix),
        "registered_at": lambda s: _texts(c["registered"][s], suffix),
        "dispatched_at": lambda s: _texts(c["dispatched"][s], suffix),
        "accepted_at": lambda s: _texts(c["accepted"][s], suffix),
        "handled_at": lambda s: _texts(c["handled"][s], suffix),
        "verified_at": lambda s: _texts(c["verified"][s], suffix),
        "closed_at": lambda s: _texts(c["closed"][s], suffix),
        "rejected_at": lambda s: _texts(c["rejected"][s], suffix),
        "suspended_at": lambda s: _texts(c["suspended"][s], suffix),
        "register_due": lambda s: _texts(c["register_due"][s], suffix),
        "dispatch_due": lambda s: _texts(c["dispatch_due"][s], suffix),
        "handle_due": lambda s: _texts(c["handle_due"][s], suffix),
        "overdue": lambda s: c["overdue"][s].tolist(),
        "closed_on_time": lambda s: [None if v != v else bool(v) for v in c["on_time"][s].tolist()],
        "return_count": lambda s: c["returns"][s].tolist(),
        "rework_count": lambda s: c["reworks"][s].tolist(),
        "extension_count": lambda s: c["extensions"][s].tolist(),
        "reopen_count": 0,
        "escalation_count": lambda s: c["escalations"][s].tolist(),
        "supervision_count": lambda s: c["supervisions"][s].tolist(),
        "escalated_at": lambda s: _texts(c["escalated_at"][s], suffix),
        "resolution_level": lambda s: [LEVELS[i] if i >= 0 else "" for i in c["resolution"][s].tolist()],
        "verified_by_reporter": False,
        "satisfaction": lambda s: _ints(c["score"][s], 1),
        "satisfaction_comment": "",
        "rated_at": lambda s: _texts(c["rated"][s], suffix),
    }
    columns = [f.column for f in Case._meta.concrete_fields]
    missing = set(columns) - set(fields)
    if missing:
        raise RuntimeError(f"bulk cases: no value for the columns {sorted(missing)}")
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(Case._meta.db_table)} ({', '.join(quote(col) for col in columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute("PRAGMA cache_size = -1000000")  # up to 1 GB of page cache for the index updates
        for start in range(0, n, batch):
            s = slice(start, min(n, start + batch))
            size = s.stop - s.start
            values = [f(s) if callable(f) else [f] * size for f in (fields[col] for col in columns)]
            cursor.executemany(sql, list(zip(*values, strict=True)))
            if progress:
                progress(s.stop)
        if sqlite:
            cursor.execute("PRAGMA cache_size = -2000")


def _reset_sequence() -> None:
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), [Case])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
