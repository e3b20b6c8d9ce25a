"""The demo city's cases: a deterministic year of cases ending now, across every state of the closed loop.

Each case lives its life step by step as the services would have written it (`_Life` mirrors
services.py: the same fields, counters, task states and timeline steps), on the working calendar
(`add_working_time`) from its category's limits, cut at "now": what has not happened yet has not happened.
Most cases close on time; some are late at a step, and then the escalation job's rules apply (overdue,
escalated one level when noticed and again every GRIDGOV_ESCALATION_INTERVAL_HOURS working hours). Some are
rejected, merged into an earlier open case nearby, returned and re-dispatched, extended, suspended,
reworked, reopened, handled on the spot by their grid member, supervised or summoned (吹哨报到), and rated.
Recent cases stay open in every queue, and a few hand-placed ones give each demo login work to do.

Everything comes from the seed (and the end instant): same seed and `now`, same cases. Speed matters (the
browser tests build the city, the analytics want a million cases): rows are plain objects written with
executemany in chunks of CHUNK cases, and working time comes from a precomputed index of the calendar
(`_Clock`, checked against add_working_time by the tests). The size of the year is `CASES[size]` or the
`count` argument (`manage.py cases_demo --count N` adds N to an existing city).

Audit: the demo writes one audit entry for the whole step (demo data, not anyone's action), not one per case.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import json
import math
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.accounts.models import Department, User
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.workcalendar import add_working_time, is_workday, work_periods, working_time_between
from gridgov.geo.locator import get_locator
from gridgov.geo.models import Area, Building, Grid

from .categories import categories_upsert, link_default_departments, seed_rows
from .choices import LEVEL_ORDER, Action, ExtensionState, Level, LimitUnit, Source, State, TaskRole, TaskState
from .models import Case, Category, Extension, Step, Task
from .services import TRACKING_ALPHABET

# Cases in the demo year. About 3,000 for the small city (144 grids); the large city (10,368 grids) gets
# 20,000 by default; `build_cases(count=...)` / `manage.py cases_demo --count` take any number.
CASES = {"small": 3000, "large": 20_000}
CHUNK = 20_000  # cases simulated and written at a time
DAYS = 365

SOURCE_WEIGHTS = [(Source.GRID_MEMBER, 58), (Source.HOTLINE, 22), (Source.PUBLIC, 12), (Source.API, 8)]
# hour-of-day weights (local time), per source
_HOURS = {
    Source.GRID_MEMBER: [0, 0, 0, 0, 0, 0, 0, 1, 6, 9, 9, 7, 3, 3, 8, 9, 8, 5, 1, .5, .2, 0, 0, 0],
    Source.HOTLINE: [.1, .1, 0, 0, 0, 0, .3, 2, 6, 9, 9, 7, 4, 5, 7, 8, 7, 6, 5, 5, 4, 3, 1, .3],
    Source.PUBLIC: [.2, .1, 0, 0, 0, .1, .5, 3, 5, 6, 6, 5, 5, 5, 5, 5, 5, 5, 6, 7, 7, 5, 2, .5],
    Source.API: [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 2, 2, 1, 1],
}
# weight of a non-working day (weekend, holiday) against a working day, per source
_OFF_DAY = {Source.GRID_MEMBER: 0.25, Source.HOTLINE: 0.8, Source.PUBLIC: 1.0, Source.API: 0.9}
API_SYSTEMS = ["12345政务服务便民热线", "城市视频智能识别平台", "数字城管物联感知平台"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
PHRASES = {
    "component": ["破损", "缺失", "松动移位", "存在安全隐患", "被遮挡", "倾斜"],
    "event": ["影响居民出行", "居民多次反映", "情况较严重", "持续时间较长", "周边居民意见较大", "需尽快处理"],
    "social": ["居民来电反映", "需要协调处理", "涉及多户居民", "请社区跟进", "当事人情绪激动", "需上门了解情况"],
}
AT = ["附近", "门口", "旁", "路段", "对面"]
REJECT_REASONS = ["不属于受理范围", "信息不全，无法核实", "现场核实问题不存在", "已由其他渠道办结"]
RETURN_REASONS = ["非我单位职责，请改派", "权属不清，建议改派相关单位", "该区域不在我单位养护范围"]
SUSPEND_REASONS = ["需纳入年度改造计划", "资金尚未落实", "涉及多部门协调，待统一部署"]
EXTENSION_REASONS = ["需采购材料", "天气原因无法施工", "需协调产权单位", "工程量较大"]
RESULTS = ["已处理完毕", "已清理完毕", "已修复", "已现场劝导并整改", "已协调解决", "已更换"]
VERIFY_OK = ["现场核实已整改", "核查通过", "已复核，问题解决"]
VERIFY_FAIL = ["现场核查未整改到位", "问题仍然存在", "整改不彻底"]
REOPEN_REASONS = ["居民反映问题复发", "回访不满意，重新处置"]
SELF_NOTES = ["现场劝导，已整改", "已现场处置完毕", "已联系物业当场处理"]
SUPERVISE_REASONS = ["超期未办结，请加快办理", "群众反映强烈，限期办结"]
GOOD_COMMENTS = ["处理及时，谢谢", "满意", "", "", "速度很快"]
BAD_COMMENTS = ["处理太慢", "问题没有彻底解决", "态度一般"]
OPEN_FOR_ESCALATION = (State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS)


# --- the context: everything the simulation reads, loaded once -----------------------------------------------

@dataclass
class _GridInfo:
    id: int
    code: str
    path: str
    community_id: int
    bbox: tuple[float, float, float, float]
    centre: tuple[float, float]
    member_id: int | None = None
    roads: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Ctx:
    now: dt.datetime
    zone: ZoneInfo
    categories: list[Category]
    category_cum: list[float]
    department_of: dict[int, int]  # category id → default department id (with fallbacks)
    departments: dict[int, Department]
    handler_of: dict[int, User]  # department id → a handler user
    grids: dict[int, _GridInfo]
    grid_ids: list[int]
    grid_cum: list[float]
    areas: dict[int, Area]
    centre_user: dict[int, User]  # area id → a dispatcher of that area
    users: dict[int, User]
    leader: User | None
    resident: User | None
    interval: int


def _load(now: dt.datetime, rng: random.Random) -> _Ctx:
    zone = ZoneInfo(settings.TIME_ZONE)
    departments = {d.pk: d for d in Department.objects.filter(is_active=True)}
    by_code = {d.code: d.pk for d in departments.values()}
    fallback = by_code.get("URBAN") or (min(departments) if departments else None)
    categories = list(Category.objects.filter(is_active=True, parent__isnull=False)
                      .select_related("parent").order_by("code"))
    if not categories or fallback is None:
        raise RuntimeError("The cases demo needs categories and departments (run the geography and people steps).")
    department_of = {c.pk: c.default_department_id or c.parent.default_department_id or fallback for c in categories}
    # a Zipf-like popularity over a seeded order: a few categories make most of the cases
    order = list(range(len(categories)))
    rng.shuffle(order)
    weights = [0.0] * len(categories)
    for rank, index in enumerate(order, start=1):
        weights[index] = (0.5 if categories[index].is_dispute else 1.0) / rank ** 0.8
    users = {u.pk: u for u in User.objects.filter(role__in=[Role.GRID_MEMBER, Role.DISPATCHER, Role.HANDLER,
                                                              Role.LEADER, Role.RESIDENT]).order_by("pk")}
    handler_of: dict[int, User] = {}
    centre_user: dict[int, User] = {}
    for user in users.values():
        if user.role == Role.HANDLER and user.department_id:
            handler_of.setdefault(user.department_id, user)
        if user.role == Role.DISPATCHER and user.area_id:
            centre_user.setdefault(user.area_id, user)
    areas = {a.pk: a for a in Area.objects.only("id", "name", "level", "parent", "path")}
    grids: dict[int, _GridInfo] = {}
    for row in Grid.objects.order_by("code").values_list("id", "code", "path", "community_id", "min_lon", "min_lat",
                                                          "max_lon", "max_lat", "center_lon", "center_lat"):
        grids[row[0]] = _GridInfo(row[0], row[1], row[2], row[3], row[4:8], row[8:10])
    for grid_id, user_id in Grid.members.through.objects.order_by("user_id").values_list("grid_id", "user_id"):
        if grids[grid_id].member_id is None and user_id in users:
            grids[grid_id].member_id = user_id
    for grid_id, road, number in Building.objects.order_by("code").values_list("grid_id", "road", "number"):
        if road:
            grids[grid_id].roads.append((road, number))
    grid_ids = list(grids)
    # busier and quieter grids; the demo grid member's own grid (the first) is a busy one
    gridmember = User.objects.filter(username="gridmember").first()
    first = gridmember.grids.order_by("code").values_list("id", flat=True).first() if gridmember else None
    grid_weights = [3.0 if g == first else rng.lognormvariate(0, 0.5) for g in grid_ids]
    leader = User.objects.filter(username="leader", role=Role.LEADER).first() or next(
        (u for u in users.values() if u.role == Role.LEADER), None)
    resident = User.objects.filter(username="resident", role=Role.RESIDENT).first()
    return _Ctx(now=now, zone=zone, categories=categories, category_cum=_cum(weights), department_of=department_of,
                departments=departments, handler_of=handler_of, grids=grids, grid_ids=grid_ids,
                grid_cum=_cum(grid_weights), areas=areas, centre_user=centre_user, users=users, leader=leader,
                resident=resident, interval=settings.GRIDGOV_ESCALATION_INTERVAL_HOURS)


def _cum(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


# --- working time, cached where the answer depends only on the day ------------------------------------------

class _Clock:
    """Working-time arithmetic for the demo, fast: the working periods of every day from a year back to a year
    ahead, from the calendar (`is_workday`, `work_periods`), as epoch seconds with the working seconds before
    each, so that "h working hours after t" and "working hours between a and b" are two binary searches. It
    gives what add_working_time / working_time_between give (the tests compare them); outside its range, and
    for working days (cached per start date), it asks them."""

    def __init__(self, zone: ZoneInfo, first: dt.date, last: dt.date):
        self.zone = zone
        self._days: dict[tuple[dt.date, int], dt.datetime] = {}
        periods = work_periods()
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.before: list[float] = []  # working seconds before each period
        self.upto: list[float] = []  # working seconds up to each period's end
        total = 0.0
        day = first
        while day <= last:
            if is_workday(day):
                for p_start, p_end in periods:
                    a = dt.datetime.combine(day, p_start, tzinfo=zone).timestamp()
                    b = dt.datetime.combine(day, p_end, tzinfo=zone).timestamp()
                    self.starts.append(a)
                    self.ends.append(b)
                    self.before.append(total)
                    total += b - a
                    self.upto.append(total)
            day += dt.timedelta(days=1)
        self.lo = dt.datetime.combine(first, dt.time.min, tzinfo=zone).timestamp()
        self.hi = self.starts[-1] if self.starts else self.lo

    def _worked(self, x: float) -> float:
        """Working seconds from the start of the index to the instant x."""
        i = bisect.bisect_right(self.starts, x) - 1
        if i < 0:
            return 0.0
        return self.before[i] + max(0.0, min(x, self.ends[i]) - self.starts[i])

    def due(self, start: dt.datetime, amount: int, unit: str) -> dt.datetime:
        if unit == LimitUnit.DAYS:
            key = (start.astimezone(self.zone).date(), amount)
            hit = self._days.get(key)
            if hit is None:
                hit = self._days[key] = add_working_time(start, amount, unit)
            return hit
        return self._after(start, amount * 3600) or add_working_time(start, amount, unit)

    def after(self, start: dt.datetime, hours: float) -> dt.datetime:
        """`hours` (rounded to whole minutes, at least one) working hours after start, to the second."""
        minutes = max(1, round(hours * 60))
        found = self._after(start, minutes * 60)
        if found is None:
            found = add_working_time(start, minutes / 60, LimitUnit.HOURS)
        return found.replace(microsecond=0)

    def _after(self, start: dt.datetime, seconds: float) -> dt.datetime | None:
        x = start.timestamp()
        if not self.lo <= x < self.hi:
            return None
        goal = self._worked(x) + seconds
        j = bisect.bisect_left(self.upto, goal)
        if j >= len(self.upto):
            return None
        return dt.datetime.fromtimestamp(self.starts[j] + (goal - self.before[j]), tz=self.zone)

    def between(self, start: dt.datetime, end: dt.datetime) -> float:
        a, b = start.timestamp(), end.timestamp()
        if b <= a:
            return 0.0
        if not (self.lo <= a and b < self.hi):
            return working_time_between(start, end)
        return (self._worked(b) - self._worked(a)) / 3600


# --- a plan: what will happen to a case (decided up front, cut by "now") -------------------------------------

@dataclass
class _Plan:
    kind: str = "normal"  # normal | reject | merge | self
    self_fail: bool = False  # handled on the spot, but the spot check fails
    stop: str | None = None  # stay open in this state (the queues' recent cases)
    returns: int = 0
    return_after_accept: bool = False
    assist: bool = False
    extension: str | None = None  # approved | rejected | pending
    suspend: str | None = None  # stay | resume
    rework: int = 0
    reopen: bool = False
    late_register: bool = False
    late_dispatch: bool = False
    late_handle: bool = False
    rate: bool = False
    supervise: bool = False
    summon: bool = False
    verify_by_reporter: bool = False
    merge_registered: bool = False
    lead: int | None = None  # force the lead department (the demo logins' work)


class _Stop(Exception):  # noqa: N818 - control flow: the case's life is cut here
    pass


class _NoMerge(Exception):  # noqa: N818 - the duplicate's target had moved on: no merge after all
    pass


ACTIVE = (State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS, State.HANDLED, State.VERIFIED)


class _Row:
    """A row to insert: a plain object holding the model's defaults and the given values (a model instance
    costs tens of microseconds to build, which a million cases would feel)."""

    _defaults: dict = {}

    def __init__(self, model, **values):
        defaults = _Row._defaults.get(model)
        if defaults is None:
            defaults = _Row._defaults[model] = {
                **{f.name: None for f in model._meta.concrete_fields if f.is_relation},
                **{f.attname: f.get_default() for f in model._meta.concrete_fields}}
        self.__dict__.update(defaults)
        self.__dict__.update(values)

    @property
    def pk(self):
        return self.id


class _StepRow:
    """A timeline step to write (a Step without the cost of a model instance)."""

    __slots__ = ("case", "action", "from_state", "to_state", "actor", "actor_name", "department_id", "at", "note",
                 "data", "public")

    def __init__(self, case, action, from_state, to_state, actor, actor_name, department_id, at, note, data,
                 public):
        self.case, self.action, self.from_state, self.to_state = case, action, from_state, to_state
        self.actor, self.actor_name, self.department_id, self.at = actor, actor_name, department_id, at
        self.note, self.data, self.public = note, data, public


def _adapt_datetime():
    if connection.vendor == "sqlite" and settings.USE_TZ:
        # what the SQLite backend stores: naive UTC text, as str() writes it (its own adapter is much slower)
        return lambda v: (v.replace(tzinfo=None) - v.utcoffset()).isoformat(" ")
    if connection.vendor == "postgresql":
        return None  # psycopg adapts aware datetimes itself
    return connection.ops.adapt_datetimefield_value


def _insert(model, rows, *, with_pk: bool) -> None:
    """INSERT rows (model instances or _StepRow) with executemany: bulk_create's per-value preparation would
    take most of the demo's time. Values are adapted like Django does for dates and JSON; foreign keys are
    read from their id attribute or the related object's id."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    adapters = []
    for f in fields:
        if f.get_internal_type() == "DateTimeField":
            adapters.append(_adapt_datetime())
        elif f.get_internal_type() == "JSONField":
            if connection.vendor == "sqlite" and f.encoder is None:
                adapters.append(lambda v: json.dumps(v) if v else "{}" if isinstance(v, dict) else json.dumps(v))
            else:
                adapters.append(lambda v, f=f: f.get_db_prep_save(v, connection))
        else:
            adapters.append(None)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    specs = [(f.attname, f.name if f.is_relation else None, adapt) for f, adapt in zip(fields, adapters, strict=True)]
    params = []
    for row in rows:
        values = []
        for attname, name, adapt in specs:
            value = getattr(row, attname, None)
            if value is None and name is not None:
                related = getattr(row, name, None)
                value = related.pk if related is not None else None
            if adapt is not None and value is not None:
                value = adapt(value)
            values.append(value)
        params.append(values)
    with connection.cursor() as cursor:
        for start in range(0, len(params), 5000):
            cursor.executemany(sql, params[start:start + 5000])


# --- one case's life --------------------------------------------------------------------------------------

class _Life:
    """Writes a case's fields, tasks, extensions and timeline as the services would have, step by step."""

    def __init__(self, ctx: _Ctx, clock: _Clock, rng: random.Random, case: _Row, grid: _GridInfo, plan: _Plan):
        self.ctx, self.clock, self.rng, self.c, self.grid, self.p = ctx, clock, rng, case, grid, plan
        self.steps: list[_StepRow] = []
        self.tasks: list[_Row] = []
        self.extensions: list[_Row] = []
        self.history: list[tuple[dt.datetime, str]] = []  # (since, state)
        self.t = case.reported_at
        self.state = ""
        self.cut = False  # the life was cut by "now"
        self.category = case.category
        self.lead_task: _Row | None = None
        self.summoned = False
        self.supervised = False
        self.merge_target: _Life | None = None
        self.comment: _StepRow | None = None  # the note on the merge target

    # -- helpers
    def _u(self, a: float, b: float) -> float:
        return self.rng.uniform(a, b)

    def _ancestor(self, level: str) -> Area | None:
        area = self.ctx.areas.get(self.grid.community_id)
        while area is not None and area.level != level:
            area = self.ctx.areas.get(area.parent_id)
        return area

    def _centre(self, level: str) -> tuple[User | None, str]:
        """The command centre acting at `level` for this case: its dispatcher login if the demo has one."""
        level = Level.COMMUNITY if level == Level.GRID else level
        area = self._ancestor(level)
        if area is None:
            return None, ""
        user = self.ctx.centre_user.get(area.pk)
        if user is not None:
            return user, str(user)
        suffix = {"community": "工作站", "city": "城市运行管理中心"}.get(level, "综合指挥中心")
        return None, f"{area.name}{suffix}"

    def _handler(self, department_id: int) -> tuple[User | None, str]:
        user = self.ctx.handler_of.get(department_id)
        return (user, str(user)) if user is not None else (None, self.ctx.departments[department_id].name)

    def _member(self, user_id: int | None) -> tuple[User | None, str]:
        user = self.ctx.users.get(user_id) if user_id else None
        return (user, str(user)) if user is not None else (None, "")

    def _step(self, action: str, at: dt.datetime, actor: tuple[User | None, str], *, to: str | None = None,
              note: str = "", data: dict | None = None, department_id: int | None = None, bump: bool = True):
        to = to or self.state
        self.steps.append(_StepRow(self.c, action, self.state, to, actor[0], actor[1][:100], department_id, at,
                                   note, data or {}, action != Action.COMMENT))
        if to != self.state:
            self.history.append((at, to))
        self.state = to
        self.c.state = to
        if bump:
            self.c.version += 1
        self.c.updated_at = at
        self.c.updated_by = actor[0]
        self.t = at

    def state_at(self, at: dt.datetime) -> str:
        index = bisect.bisect_right([h[0] for h in self.history], at) - 1
        return self.history[index][1] if index >= 0 else ""

    def _due_now(self) -> dt.datetime | None:
        c = self.c
        return {State.REPORTED: c.register_due, State.REGISTERED: c.dispatch_due,
                State.DISPATCHED: c.handle_due, State.IN_PROGRESS: c.handle_due}.get(self.state)

    def _wait(self, until: dt.datetime) -> None:
        """Time passes until `until`: the escalation job sees what is overdue meanwhile. Past now: cut."""
        end = min(until, self.ctx.now)
        self._overdue_until(end)
        if until > self.ctx.now:
            self.cut = True
            raise _Stop
        self.t = until

    def _overdue_until(self, end: dt.datetime) -> None:
        due = self._due_now()
        if due is None or self.state not in OPEN_FOR_ESCALATION:
            return
        lag = dt.timedelta(minutes=self.rng.randint(1, 9), seconds=self.rng.randint(0, 59))
        noticed = max(due, self.t) + lag
        if end <= noticed:
            return
        self.c.overdue = True
        at = noticed
        if self.c.escalated_at is not None:
            at = max(at, self.clock.after(self.c.escalated_at, self.ctx.interval) + lag)
        first = None
        while at < end:
            index = LEVEL_ORDER.index(self.c.level)
            if index + 1 >= len(LEVEL_ORDER) or self._ancestor(str(LEVEL_ORDER[index + 1])) is None:
                break
            level = LEVEL_ORDER[index + 1]
            self.c.level = level
            self.c.escalation_count += 1
            self.c.escalated_at = at
            self._step(Action.ESCALATE, at, (None, ""), note=f"Overdue: escalated to {Level(level).label}",
                       data={"level": str(level)})
            first = first or at
            at = self.clock.after(at, self.ctx.interval) + lag
        if first is not None and self.p.supervise and not self.supervised and self.ctx.leader is not None:
            at = first + dt.timedelta(hours=self._u(0.5, 20))
            if at < end:
                self.supervised = True
                self.c.supervision_count += 1
                self._step(Action.SUPERVISE, at, (self.ctx.leader, str(self.ctx.leader)),
                           note=self.rng.choice(SUPERVISE_REASONS))

    def _stage(self, due: dt.datetime, late: bool, *, lo: float = 0.08, hi: float = 0.85,
               late_hours: tuple[float, float] = (0.5, 6)) -> dt.datetime:
        """When the next step happens: a share of the working time left before `due`, or after it if late."""
        available = self.clock.between(self.t, due)
        if late:
            r = self.rng.random()
            extra = self._u(*late_hours) if r < 0.75 else self._u(late_hours[1], late_hours[1] * 3.5)
            hours = available + extra
        else:
            hours = available * self._u(lo, hi)
        return self.clock.after(self.t, max(hours, 0.05))

    def _stop_here(self) -> None:
        if self.p.stop == self.state and not (self.state == State.REGISTERED and self.c.return_count < self.p.returns):
            raise _Stop

    # -- the life
    def run(self) -> _Life:
        try:
            self._run()
        except _Stop:
            pass
        self._finish()
        return self

    def _finish(self) -> None:
        if not self.cut:
            # stalled in an open state (or closed): time passes until now
            try:
                self._overdue_until(self.ctx.now)
            except _Stop:  # pragma: no cover - _overdue_until never cuts
                pass
        self.steps.sort(key=lambda s: s.at)
        last = self.steps[-1]
        self.c.updated_at, self.c.updated_by = last.at, last.actor

    def _reporter(self) -> tuple[User | None, str]:
        return (self.c.reporter, str(self.c.reporter)) if self.c.reporter else (None, self.c.reporter_name)

    def _run(self) -> None:
        c, p, rng = self.c, self.p, self.rng
        cat = self.category
        c.register_due = self.clock.due(c.reported_at, cat.register_limit, cat.limit_unit)
        if p.kind == "self":
            c.self_handled, c.handled_at, c.register_due = True, c.reported_at, None
            self._step(Action.SELF_HANDLE, c.reported_at, self._reporter(), to=State.HANDLED, bump=False,
                       note=rng.choice(SELF_NOTES), data={"source": c.source, "channel": c.source})
            self._stop_here()
            # someone else checks it on site: the community's dispatcher (spot check 抽查; each demo grid has
            # one member)
            self._wait(self.clock.after(self.t, self._u(0.3, 10)))
            if not p.self_fail:
                self._verify(ok=True, actor=self._centre(Level.COMMUNITY))
                self._stop_here()
                self._wait(self.clock.after(self.t, self._u(0.2, 6)))
                self._close()
                return
            # not solved on the spot: the case enters the loop, to be dispatched to a department
            c.self_handled, c.handled_at = False, None
            c.rework_count += 1
            c.registered_at = self.t
            c.dispatch_due = self.clock.due(self.t, cat.dispatch_limit, cat.limit_unit)
            self._step(Action.VERIFY_FAIL, self.t, self._centre(Level.COMMUNITY), to=State.REGISTERED,
                       note=rng.choice(VERIFY_FAIL), data={"by_reporter": False})
            self._stop_here()
            self._from_registered()
            return
        self._step(Action.REPORT, c.reported_at, self._reporter(), to=State.REPORTED, bump=False,
                   data={"source": c.source, "channel": c.source})
        self._stop_here()
        register_level = Level.STREET if c.source == Source.HOTLINE else Level.COMMUNITY
        at = self._stage(c.register_due, p.late_register, lo=0.05, hi=0.8)
        if p.kind == "reject":
            self._wait(at)
            c.rejected_at = at
            self._step(Action.REJECT, at, self._centre(register_level), to=State.REJECTED,
                       note=rng.choice(REJECT_REASONS))
            return
        if p.kind == "merge" and not p.merge_registered:
            self._merge()
            return
        self._wait(at)
        c.registered_at = at
        c.dispatch_due = self.clock.due(at, cat.dispatch_limit, cat.limit_unit)
        c.level = _higher(c.level, register_level)
        self._step(Action.REGISTER, at, self._centre(c.level), to=State.REGISTERED)
        if p.kind == "merge":
            self._merge()
            return
        self._stop_here()
        self._from_registered()

    def _from_registered(self) -> None:
        c, p, rng = self.c, self.p, self.rng
        wrong = [d for d in self.ctx.departments if d != self._right_lead()]
        for attempt in range(p.returns + 1):
            final = attempt == p.returns
            lead = self._right_lead() if final or not wrong else rng.choice(wrong)
            self._dispatch(lead, late=p.late_dispatch and attempt == 0)
            self._stop_here()
            if final:
                break
            if p.return_after_accept:
                self._wait(self.clock.after(self.t, self._u(0.1, 2)))
                self._accept()
            self._wait(self.clock.after(self.t, self._u(0.3, 5)))
            self._return()
            self._stop_here()
        self._handle(first=True)
        for _ in range(p.rework):
            self._wait(self.clock.after(self.t, self._u(0.5, 9)))
            self._verify(ok=False, actor=self._member(self.grid.member_id))
            self._handle(first=False)
        self._wait(self.clock.after(self.t, self._u(0.5, 9)))
        self._verify(ok=True, actor=self._reporter() if p.verify_by_reporter else self._member(self.grid.member_id),
                     by_reporter=p.verify_by_reporter)
        self._stop_here()
        self._wait(self.clock.after(self.t, self._u(0.2, 6)))
        self._close()
        if p.reopen:
            if p.rate:
                self._rate(low=True)
            reopen_at = self.t + dt.timedelta(days=self._u(1, min(12, settings.GRIDGOV_REOPEN_DAYS - 1)))
            self._wait(reopen_at)
            self._reopen()
            self._handle(first=False)
            self._wait(self.clock.after(self.t, self._u(0.5, 9)))
            self._verify(ok=True, actor=self._member(self.grid.member_id))
            self._wait(self.clock.after(self.t, self._u(0.2, 6)))
            self._close()
        elif p.rate:
            self._rate(low=c.overdue or c.rework_count > 0)

    def _merge(self) -> None:
        """The dispatcher sees the duplicate and merges it into the first report, if that one is still open."""
        at = self.clock.after(self.t, self._u(0.1, 1.5))
        self._wait(at)
        target = self.merge_target
        target_state = target.state_at(at)
        if target_state not in ACTIVE:
            raise _NoMerge
        register_level = Level.STREET if self.c.source == Source.HOTLINE else Level.COMMUNITY
        actor = self._centre(_higher(self.c.level, register_level))
        self.c.merged_into = target.c
        self._step(Action.MERGE, at, actor, to=State.MERGED, data={"into": target.c})
        self.comment = _StepRow(target.c, Action.COMMENT, target_state, target_state, actor[0], actor[1],
                                None, at, "Duplicate {number} merged into this case.", {"merged": self.c}, False)

    def _right_lead(self) -> int:
        return self.p.lead or self.ctx.department_of[self.category.pk]

    def _dispatch(self, lead: int, *, late: bool) -> None:
        c, cat = self.c, self.category
        at = self._stage(c.dispatch_due, late, lo=0.05, hi=0.8)
        self._wait(at)
        due = self.clock.due(at, cat.handle_limit, cat.handle_unit)
        actor = self._centre(c.level)
        task = _Row(Task, case=c, department_id=lead, role=TaskRole.LEAD, due_at=due, created_by=actor[0],
                    created_at=at, updated_at=at)
        self.tasks.append(task)
        self.lead_task = task
        assists = []
        if self.p.assist:
            others = [d for d in self.ctx.departments if d != lead]
            if others:
                assists = [self.rng.choice(others)]
        for dep in assists:
            self.tasks.append(_Row(Task, case=c, department_id=dep, role=TaskRole.ASSIST, due_at=due, created_by=actor[0],
                                   created_at=at, updated_at=at))
        c.dispatched_at = c.dispatched_at or at
        c.lead_department_id = lead
        c.handle_due = due
        deps = self.ctx.departments
        self._step(Action.DISPATCH, at, actor, to=State.DISPATCHED, department_id=lead,
                   data={"lead": deps[lead].code, "assist": [deps[d].code for d in assists]})

    def _open_tasks(self, roles=(TaskRole.LEAD, TaskRole.ASSIST, TaskRole.SUMMONED)):
        return [t for t in self.tasks if t.role in roles and t.state in (TaskState.PENDING, TaskState.ACCEPTED)]

    def _accept(self) -> None:
        c = self.c
        # assisting departments accept while the case is still dispatched, just before the lead
        for task in self._open_tasks((TaskRole.ASSIST,)):
            if task.state == TaskState.PENDING:
                at = self.t + dt.timedelta(minutes=self.rng.randint(1, 30))
                task.state, task.accepted_at, task.updated_at = TaskState.ACCEPTED, at, at
                self._step(Action.ACCEPT, at, self._handler(task.department_id), department_id=task.department_id,
                           data={"task": str(task.role)})
        at = self.t + dt.timedelta(minutes=self.rng.randint(1, 30))
        task = self.lead_task
        task.state, task.accepted_at, task.updated_at = TaskState.ACCEPTED, task.accepted_at or at, at
        c.accepted_at = c.accepted_at or at
        self._step(Action.ACCEPT, at, self._handler(task.department_id), to=State.IN_PROGRESS,
                   department_id=task.department_id, data={"task": str(task.role)})

    def _return(self) -> None:
        c, cat = self.c, self.category
        at = self.t
        department = c.lead_department_id
        for task in self._open_tasks((TaskRole.LEAD, TaskRole.ASSIST)):
            task.state, task.updated_at = TaskState.RETURNED, at
        c.lead_department_id = None
        c.return_count += 1
        c.handle_due = None
        c.dispatch_due = self.clock.due(at, cat.dispatch_limit, cat.limit_unit)
        self._step(Action.RETURN, at, self._handler(department), to=State.REGISTERED, department_id=department,
                   note=self.rng.choice(RETURN_REASONS))

    def _handle(self, *, first: bool) -> None:
        """From dispatched (first) or in progress to handled: accept, extension, suspension, summons, report back."""
        c, p, rng = self.c, self.p, self.rng
        if first:
            self._wait(self.clock.after(self.t, self._u(0.1, 3)))
            self._accept()
            self._stop_here_open()
            if p.extension:
                self._wait(self.clock.after(self.t, max(0.2, self.clock.between(self.t, c.handle_due) * self._u(.2, .6))))
                self._extension()
            if p.suspend:
                self._wait(self.clock.after(self.t, self._u(1, 10)))
                c.suspended_at = self.t
                self._step(Action.SUSPEND, self.t, self._centre(c.level), to=State.SUSPENDED,
                           note=rng.choice(SUSPEND_REASONS))
                if p.suspend == "stay":
                    raise _Stop
                self._wait(self.clock.after(self.t, self._u(5, 40) * 7))
                paused = self.clock.between(c.suspended_at, self.t)
                if c.handle_due and paused:
                    c.handle_due = add_working_time(c.handle_due, paused, LimitUnit.HOURS)
                    for task in self._open_tasks():
                        task.due_at, task.updated_at = c.handle_due, self.t
                c.suspended_at = None
                self._step(Action.RESUME, self.t, self._centre(c.level), to=State.IN_PROGRESS,
                           data={"paused_working_hours": round(paused, 2)})
        late = p.late_handle and first
        at = self._stage(c.handle_due, late, lo=0.15, hi=0.95, late_hours=(0.5, 6))
        if p.summon and not self.summoned:
            # 吹哨报到: a late case escalated to street level or above summons departments on the way
            self._wait((self.t + (at - self.t) * self._u(0.6, 0.8)).replace(microsecond=0))
            if LEVEL_ORDER.index(c.level) >= LEVEL_ORDER.index(Level.STREET):
                self._summon()
        # assisting and summoned departments report their part first
        for task in self._open_tasks((TaskRole.ASSIST, TaskRole.SUMMONED)):
            part = self.t + (at - self.t) * self._u(0.3, 0.9)
            self._wait(part.replace(microsecond=0))
            task.state, task.done_at, task.result, task.updated_at = TaskState.DONE, self.t, rng.choice(RESULTS), self.t
            task.accepted_at = task.accepted_at or self.t
            self._step(Action.REPORT_BACK, self.t, self._handler(task.department_id),
                       department_id=task.department_id, note=task.result, data={"task": str(task.role)})
        self._wait(max(at, self.t + dt.timedelta(minutes=5)))
        task = self.lead_task
        task.state, task.done_at, task.result, task.updated_at = TaskState.DONE, self.t, rng.choice(RESULTS), self.t
        task.accepted_at = task.accepted_at or self.t
        c.handled_at = self.t
        self._step(Action.REPORT_BACK, self.t, self._handler(task.department_id), to=State.HANDLED,
                   department_id=task.department_id, note=task.result, data={"task": str(task.role)})
        self._stop_here()

    def _stop_here_open(self) -> None:
        if self.p.stop == State.IN_PROGRESS and self.p.extension != "pending":
            raise _Stop

    def _extension(self) -> None:
        c, p, rng, cat = self.c, self.p, self.rng, self.category
        requester = self.ctx.handler_of.get(c.lead_department_id)
        if requester is None:
            return
        unit = cat.handle_unit
        amount = rng.randint(1, 3) if unit == LimitUnit.DAYS else rng.randint(4, 16)
        ext = _Row(Extension, case=c, task=self.lead_task, amount=amount, unit=unit, reason=rng.choice(EXTENSION_REASONS),
                        requested_by=requester, requested_at=self.t, state=ExtensionState.PENDING)
        self.extensions.append(ext)
        ext_ref = {"amount": amount, "unit": str(unit)}
        self._step(Action.REQUEST_EXTENSION, self.t, (requester, str(requester)), note=ext.reason,
                   data={"extension": ext, **ext_ref}, department_id=c.lead_department_id)
        if p.extension == "pending":
            raise _Stop
        self._wait(self.clock.after(self.t, self._u(0.3, 5)))
        actor = self._centre(c.level)
        approve = p.extension == "approved"
        ext.state = ExtensionState.APPROVED if approve else ExtensionState.REJECTED
        ext.decided_by, ext.decided_at = actor[0], self.t
        ext.decision_note = "" if approve else "理由不充分，请按期办结"
        if approve:
            c.extension_count += 1
            c.handle_due = add_working_time(c.handle_due or self.t, amount, unit)
            for task in self._open_tasks((TaskRole.LEAD,)):
                task.due_at, task.updated_at = c.handle_due, self.t
        self._step(Action.APPROVE_EXTENSION if approve else Action.REJECT_EXTENSION, self.t, actor,
                   note=ext.decision_note, data={"extension": ext})

    def _summon(self) -> None:
        c, rng = self.c, self.rng
        others = [d for d in self.ctx.departments if d != c.lead_department_id]
        chosen = rng.sample(others, min(2, len(others)))
        due = self.clock.due(self.t, 2, LimitUnit.DAYS)
        actor = self._centre(c.level)
        for dep in chosen:
            self.tasks.append(_Row(Task, case=c, department_id=dep, role=TaskRole.SUMMONED, due_at=due, created_by=actor[0],
                                   instructions="请相关部门到场协同处置", created_at=self.t, updated_at=self.t))
        self.summoned = True
        self._step(Action.SUMMON, self.t, actor, note="请相关部门到场协同处置",
                   data={"departments": [self.ctx.departments[d].code for d in chosen], "due": due.isoformat()})

    def _verify(self, *, ok: bool, actor: tuple[User | None, str], by_reporter: bool = False) -> None:
        c, rng = self.c, self.rng
        if ok:
            c.verified_at = self.t
            c.verified_by_reporter = by_reporter
            self._step(Action.VERIFY_OK, self.t, actor, to=State.VERIFIED, note=rng.choice(VERIFY_OK),
                       data={"by_reporter": by_reporter})
            return
        c.rework_count += 1
        c.handled_at = None
        c.handle_due = self.clock.due(self.t, self.category.handle_limit, self.category.handle_unit)
        task = self.lead_task
        task.state, task.done_at, task.due_at, task.updated_at = TaskState.ACCEPTED, None, c.handle_due, self.t
        self._step(Action.VERIFY_FAIL, self.t, actor, to=State.IN_PROGRESS, note=rng.choice(VERIFY_FAIL),
                   data={"by_reporter": False})

    def _close(self) -> None:
        c = self.c
        c.closed_at = self.t
        c.closed_on_time = c.self_handled or c.handle_due is None or (
            c.handled_at is not None and c.handled_at <= c.handle_due)
        c.resolution_level = c.level
        self._step(Action.CLOSE, self.t, self._centre(c.level), to=State.CLOSED,
                   data={"resolution_level": str(c.level), "on_time": c.closed_on_time})

    def _reopen(self) -> None:
        c, cat = self.c, self.category
        c.reopen_count += 1
        c.closed_at = c.closed_on_time = c.verified_at = c.handled_at = None
        c.resolution_level = ""
        c.handle_due = self.clock.due(self.t, cat.handle_limit, cat.handle_unit)
        task = self.lead_task
        task.state, task.done_at, task.due_at, task.updated_at = TaskState.ACCEPTED, None, c.handle_due, self.t
        self._step(Action.REOPEN, self.t, self._centre(c.level), to=State.IN_PROGRESS,
                   note=self.rng.choice(REOPEN_REASONS))

    def _rate(self, *, low: bool) -> None:
        c, rng = self.c, self.rng
        at = self.t + dt.timedelta(hours=self._u(1, 72))
        if at > self.ctx.now:
            return
        if low:
            score = rng.choices([1, 2, 3, 4, 5], [15, 25, 30, 20, 10])[0]
        else:
            score = rng.choices([1, 2, 3, 4, 5], [2, 3, 7, 26, 62])[0]
        c.satisfaction, c.rated_at = score, at
        c.satisfaction_comment = rng.choice(BAD_COMMENTS if score <= 2 else GOOD_COMMENTS)
        self._step(Action.RATE, at, self._reporter(), note=c.satisfaction_comment, data={"satisfaction": score})


def _higher(a: str, b: str) -> str:
    return a if LEVEL_ORDER.index(a) >= LEVEL_ORDER.index(b) else b


# --- the builder ------------------------------------------------------------------------------------------

@dataclass
class _Slot:
    at: dt.datetime
    source: str
    grid_id: int
    category_index: int
    lon: float = 0.0
    lat: float = 0.0
    placed: bool = False  # the locator put (lon, lat) in grid_id


class _Builder:
    def __init__(self, ctx: _Ctx, rng: random.Random):
        self.ctx, self.rng = ctx, rng
        today = ctx.now.astimezone(ctx.zone).date()
        self.clock = _Clock(ctx.zone, today - dt.timedelta(days=DAYS + 7), today + dt.timedelta(days=DAYS))
        self.locator = get_locator()
        self.lives: list[_Life] = []
        self.recent: dict[int, list[_Life]] = {}  # community → recent lives (merge targets)
        self.codes = set(Case.objects.values_list("tracking_code", flat=True))
        self.next_case = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        self.next_task = (Task.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        self.next_ext = (Extension.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        self.totals = {"cases": 0, "steps": 0, "tasks": 0, "extensions": 0}

    # -- when, where, what
    def slots(self, count: int) -> list[_Slot]:
        ctx, rng = self.ctx, self.rng
        today = ctx.now.astimezone(ctx.zone).date()
        days = [today - dt.timedelta(days=k) for k in range(DAYS)]
        workday = [is_workday(d) for d in days]
        season = [1 + 0.15 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 100) / 365) for d in days]
        trend = [1.1 - 0.2 * k / DAYS for k in range(DAYS)]  # a little busier lately
        day_cum = {s: _cum([(1.0 if workday[k] else _OFF_DAY[s]) * season[k] * trend[k] for k in range(DAYS)])
                   for s, _ in SOURCE_WEIGHTS}
        hour_cum = {s: _cum(w) for s, w in _HOURS.items()}
        source_cum = _cum([w for _, w in SOURCE_WEIGHTS])
        sources = [s for s, _ in SOURCE_WEIGHTS]
        out = []
        for _ in range(count):
            source = rng.choices(sources, cum_weights=source_cum)[0]
            for _attempt in range(50):
                day = rng.choices(days, cum_weights=day_cum[source])[0]
                hour = rng.choices(range(24), cum_weights=hour_cum[source])[0]
                at = dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60),
                                 tzinfo=ctx.zone)
                if at <= ctx.now:
                    break
            else:
                at = ctx.now - dt.timedelta(days=1)
            grid_id = rng.choices(ctx.grid_ids, cum_weights=ctx.grid_cum)[0]
            category = rng.choices(range(len(ctx.categories)), cum_weights=ctx.category_cum)[0]
            out.append(_Slot(at, source, grid_id, category))
        out.sort(key=lambda s: s.at)
        self._place(out)
        return out

    def _place(self, slots: list[_Slot]) -> None:
        """A random point inside each slot's grid: sampled in the bounding box, kept where the locator agrees."""
        grids, rng = self.ctx.grids, self.rng
        pending = list(range(len(slots)))
        for _round in range(40):
            if not pending:
                break
            lons, lats = [], []
            for i in pending:
                x0, y0, x1, y1 = grids[slots[i].grid_id].bbox
                lons.append(round(rng.uniform(x0, x1), 7))
                lats.append(round(rng.uniform(y0, y1), 7))
            found = self.locator.locate_indices(np.array(lons), np.array(lats))
            still = []
            for i, lon, lat, hit in zip(pending, lons, lats, found, strict=True):
                if hit >= 0 and self.locator.hits[hit].id == slots[i].grid_id:
                    slots[i].lon, slots[i].lat, slots[i].placed = lon, lat, True
                else:
                    still.append(i)
            pending = still
        for i in pending:  # pathological shapes: the centre (located below like every point)
            slots[i].lon, slots[i].lat = grids[slots[i].grid_id].centre

    def locate(self, lon: float, lat: float) -> _GridInfo | None:
        hit = self.locator.locate(lon, lat)
        return self.ctx.grids.get(hit.id) if hit is not None else None

    # -- a case
    def new_case(self, slot: _Slot, *, reporter: User | None = None) -> tuple[_Row, _GridInfo]:
        ctx, rng = self.ctx, self.rng
        grid = ctx.grids[slot.grid_id] if slot.placed else self.locate(slot.lon, slot.lat)
        if grid is None:  # a point outside every grid: the intended grid's centre
            grid = ctx.grids[slot.grid_id]
            slot.lon, slot.lat = grid.centre
        cat = ctx.categories[slot.category_index]
        source = slot.source
        name, phone, user = "", "", reporter
        if source == Source.GRID_MEMBER and user is None:
            user = ctx.users.get(grid.member_id) if grid.member_id else None
            if user is None:
                source = Source.PUBLIC
        if source in (Source.PUBLIC, Source.HOTLINE):
            surname = rng.choice(SURNAMES)
            if user is not None:
                name = str(user)
            elif source == Source.HOTLINE or rng.random() < 0.6:
                name = surname + rng.choice(["先生", "女士"])
            if source == Source.HOTLINE or rng.random() < 0.8:
                phone = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
        elif source == Source.API:
            name = rng.choice(API_SYSTEMS)
        elif user is not None:
            name = str(user)
        road, number = rng.choice(grid.roads) if grid.roads else ("", "")
        address = f"{road}{number}号{rng.choice(AT)}" if road else ""
        phrase = rng.choice(PHRASES.get(cat.kind, PHRASES["event"]))
        case = _Row(
            Case,
            tracking_code=self._tracking_code(), category=cat, description=f"{address}{cat.name}，{phrase}"[:4000],
            address=address[:200], extra=self._extra(cat), source=source, lon=slot.lon, lat=slot.lat,
            grid_id=grid.id, path=grid.path, reporter=user, reporter_name=name[:50],
            reporter_phone=crypto.encrypt(phone), reporter_phone_index=crypto.blind_index(phone),
            idempotency_key=f"{rng.getrandbits(64):016x}" if source == Source.GRID_MEMBER else "",
            reported_at=slot.at, created_at=slot.at, updated_at=slot.at, created_by=user, updated_by=user,
            state=State.REPORTED, version=1, level=Level.GRID,
        )
        return case, grid

    def _tracking_code(self) -> str:
        while True:
            code = "".join(self.rng.choice(TRACKING_ALPHABET) for _ in range(10))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def _extra(self, cat: Category) -> dict:
        extra = {}
        for spec in cat.extra_fields or []:
            if not spec.get("required") and self.rng.random() < 0.6:
                continue
            keys = [str(v["key"]) for v in spec.get("values", [])]
            datatype = spec.get("datatype", "string")
            if datatype == "singlevaluelist" and keys:
                extra[spec["code"]] = self.rng.choice(keys)
            elif datatype == "multivaluelist" and keys:
                extra[spec["code"]] = [self.rng.choice(keys)]
            elif datatype == "number":
                extra[spec["code"]] = float(self.rng.randint(2, 6))
            elif spec.get("required"):
                extra[spec["code"]] = "—"
        return extra

    def plan(self, case: _Row, cat: Category) -> _Plan:
        rng, ctx = self.rng, self.ctx
        p = _Plan()
        r = rng.random()
        if case.source == Source.GRID_MEMBER and not cat.is_dispute and rng.random() < 0.16:
            p.kind = "self"  # 小事不出网格: handled on the spot by the grid member
            p.self_fail = rng.random() < 0.06
        elif r < 0.035:
            p.kind = "reject"
        elif r < 0.085:
            p.kind = "merge"
            p.merge_registered = rng.random() < 0.3
        p.late_register = rng.random() < 0.03
        p.late_dispatch = rng.random() < 0.03
        p.late_handle = rng.random() < 0.08
        if rng.random() < 0.07:
            p.returns = 2 if rng.random() < 0.15 else 1
            p.return_after_accept = rng.random() < 0.4
        p.assist = rng.random() < 0.1
        lead = ctx.department_of[cat.pk]
        if lead in ctx.handler_of and rng.random() < 0.14:
            p.extension = "approved" if rng.random() < 0.75 else "rejected"
        if rng.random() < 0.025:
            p.suspend = "stay" if rng.random() < 0.6 else "resume"
        if rng.random() < 0.055:
            p.rework = 2 if rng.random() < 0.12 else 1
        p.reopen = rng.random() < 0.02
        p.supervise = rng.random() < 0.3
        p.summon = p.late_handle and rng.random() < 0.4
        rated = {Source.PUBLIC: 0.85, Source.HOTLINE: 0.8, Source.API: 0.3, Source.GRID_MEMBER: 0.15}[case.source]
        p.rate = rng.random() < rated
        p.verify_by_reporter = case.source == Source.PUBLIC and rng.random() < 0.2
        # recent cases: some stay open in their queue
        age = (ctx.now - case.reported_at).total_seconds() / 86400
        s = rng.random()
        for state, max_age, share in [(State.REPORTED, 2, 0.15), (State.REGISTERED, 3, 0.12),
                                      (State.DISPATCHED, 5, 0.14), (State.IN_PROGRESS, 10, 0.16),
                                      (State.HANDLED, 6, 0.14), (State.VERIFIED, 5, 0.12)]:
            if age <= max_age:
                if s < share:
                    p.stop = state
                    break
                s -= share
        return p

    def merge(self, case: _Row, plan: _Plan) -> _Life | None:
        """A second report of an earlier case nearby that is still open: moved next to it and merged into it."""
        candidates = self.recent.get(self.ctx.grids[case.grid_id].community_id, [])
        for target in reversed(candidates):
            tc = target.c
            if target.p.kind == "merge" or tc.reported_at >= case.reported_at:
                continue
            if (case.reported_at - tc.reported_at).days >= tc.category.duplicate_window_days:
                break
            if target.state_at(case.reported_at) not in ACTIVE:
                continue
            return self._merge_into(copy.copy(case), plan, target)
        return None

    def _merge_into(self, c: _Row, plan: _Plan, target: _Life) -> _Life | None:
        tc, rng = target.c, self.rng
        radius = max(5, tc.category.duplicate_radius_m * 0.6)
        dlat = radius / 111_320.0
        dlon = radius / (111_320.0 * math.cos(math.radians(tc.lat)))
        lon, lat = round(tc.lon + rng.uniform(-dlon, dlon), 7), round(tc.lat + rng.uniform(-dlat, dlat), 7)
        grid = self.locate(lon, lat)
        if grid is None:
            lon, lat, grid = tc.lon, tc.lat, self.ctx.grids[tc.grid_id]
        # the same problem, reported again: same category, next to the first report
        c.category, c.lon, c.lat, c.grid_id, c.path = tc.category, lon, lat, grid.id, grid.path
        c.extra = dict(tc.extra)
        life = _Life(self.ctx, self.clock, rng, c, grid, plan)
        life.merge_target = target
        try:
            life.run()
        except _NoMerge:
            return None
        if life.state != State.MERGED:
            return None  # cut by now before the dispatcher got to it
        return life

    def add(self, life: _Life) -> None:
        self.lives.append(life)
        recent = self.recent.setdefault(life.grid.community_id, [])
        recent.append(life)
        if len(recent) > 200:
            del recent[:100]

    # -- writing
    def flush(self) -> None:
        lives = sorted(self.lives, key=lambda life: life.c.reported_at)
        if not lives:
            return
        zone = self.ctx.zone
        cases, tasks, steps, extensions = [], [], [], []
        for life in lives:
            c = life.c
            c.id = self.next_case
            self.next_case += 1
            c.number = f"{c.reported_at.astimezone(zone):%Y%m%d}{c.id:07d}"
            cases.append(c)
        for life in lives:
            for task in life.tasks:
                task.id = self.next_task
                self.next_task += 1
                tasks.append(task)
            for ext in life.extensions:
                ext.id = self.next_ext
                self.next_ext += 1
                extensions.append(ext)
            steps.extend(life.steps)
        steps.extend(life.comment for life in lives if life.comment is not None and life.state == State.MERGED)
        for step in steps:  # references resolved now that ids exist
            data = step.data
            if isinstance(data.get("extension"), _Row):
                step.data = {**data, "extension": data["extension"].id}
            elif isinstance(data.get("into"), _Row):
                step.data = {**data, "into": data["into"].number}
            elif isinstance(data.get("merged"), _Row):
                step.data = {"merged": data["merged"].number}
                step.note = step.note.format(number=data["merged"].number)
        _insert(Case, cases, with_pk=True)
        _insert(Task, tasks, with_pk=True)
        _insert(Extension, extensions, with_pk=True)
        _insert(Step, steps, with_pk=False)
        self.totals["cases"] += len(cases)
        self.totals["steps"] += len(steps)
        self.totals["tasks"] += len(tasks)
        self.totals["extensions"] += len(extensions)
        self.lives = []


def build_cases(*, size: str, seed: int, count: int | None = None, now: dt.datetime | None = None,
                showcase: bool = True) -> dict:
    """The demo step (settings.GRIDGOV_DEMO_STEPS): link the categories to the departments, then a year of
    `count` cases (default CASES[size]) ending `now` (default: the present), plus, with `showcase`, the recent
    cases that give each demo login work to do. Runs inside demo_city's transaction."""
    if not Category.objects.exists():  # a flushed database (the browser tests' one) lacks the seeded taxonomy
        categories_upsert(rows=seed_rows())
    link_default_departments()
    now = (now or timezone.now()).replace(microsecond=0)
    count = CASES[size] if count is None else count
    rng = random.Random(f"gridgov-cases-{seed}")
    ctx = _load(now, rng)
    builder = _Builder(ctx, rng)
    slots = builder.slots(count)
    for slot in slots:
        reporter = None
        if slot.source == Source.PUBLIC and ctx.resident is not None and rng.random() < 0.04:
            reporter = ctx.resident
        case, grid = builder.new_case(slot, reporter=reporter)
        plan = builder.plan(case, case.category)
        life = builder.merge(case, plan) if plan.kind == "merge" else None
        if life is None:
            if plan.kind == "merge":
                plan.kind = "normal"  # nothing open nearby to merge into: an ordinary case
            life = _Life(ctx, builder.clock, rng, case, grid, plan).run()
        builder.add(life)
        if len(builder.lives) >= CHUNK:
            builder.flush()
    if showcase:
        _showcase(builder, random.Random(f"gridgov-cases-showcase-{seed}"))
    builder.flush()
    _reset_sequences()
    # Demo data, not user actions: one audit entry for the whole step rather than one per case and step.
    audit_log(actor=None, action="demo.cases", object_type="cases.case",
              object_repr=f"{builder.totals['cases']} demo cases",
              after={"seed": seed, "size": size, **builder.totals, "now": now.isoformat()})
    return dict(builder.totals)


def _reset_sequences() -> None:
    """Rows were written with explicit ids: move PostgreSQL's sequences past them (SQLite does it itself)."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Case, Task, Extension])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# --- hand-placed recent cases: work waiting for each demo login ---------------------------------------------

def _showcase(builder: _Builder, rng: random.Random) -> None:
    ctx = builder.ctx
    builder_rng, builder.rng = builder.rng, rng
    try:
        gridmember = User.objects.filter(username="gridmember").first()
        first_grid = (ctx.grids.get(gridmember.grids.order_by("code").values_list("id", flat=True).first())
                      if gridmember else None)
        dispatcher = User.objects.filter(username="dispatcher").select_related("area").first()
        street_path = dispatcher.area.path if dispatcher and dispatcher.area_id else ""
        street_grids = [g for g in ctx.grids.values() if street_path and g.path.startswith(street_path)]
        urban = next((d for d in ctx.departments.values() if d.code == "URBAN"), None)
        urban_cats = [i for i, c in enumerate(ctx.categories)
                      if urban is not None and ctx.department_of[c.pk] == urban.pk and not c.extra_fields]
        any_cats = [i for i, c in enumerate(ctx.categories) if not c.is_dispute]
        grid_pool = street_grids or list(ctx.grids.values())

        def one(stop, *, grid=None, source=Source.GRID_MEMBER, cats=None, hours=(2, 60), reporter=None, **plan):
            grid = grid or rng.choice(grid_pool)
            cat_index = rng.choice(cats or urban_cats or any_cats)
            for attempt in range(12):
                back = dt.timedelta(hours=rng.uniform(*hours)) + dt.timedelta(days=attempt * 1.5)
                slot = _Slot(ctx.now - back, source, grid.id, cat_index)
                builder._place([slot])
                case, located = builder.new_case(slot, reporter=reporter)
                life = _Life(ctx, builder.clock, rng, case, located, _Plan(stop=stop, **plan)).run()
                if not life.cut and life.state == (stop or State.CLOSED):
                    builder.add(life)
                    return life
                builder.codes.discard(case.tracking_code)
            return None

        lead = {"lead": urban.pk} if urban else {}
        if first_grid is not None:
            for _ in range(3):  # the grid member verifies these on site
                one(State.HANDLED, grid=first_grid, hours=(3, 40), **lead)
            one(State.HANDLED, grid=first_grid, kind="self", hours=(1, 20))
            for stop in (State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS, None, None):
                one(stop, grid=first_grid, hours=(0.5, 30) if stop else (24, 120), **lead)
        for _ in range(4):  # the URBAN handler accepts these
            one(State.DISPATCHED, hours=(1, 20), **lead)
        for _ in range(3):  # … and reports these back
            one(State.IN_PROGRESS, hours=(6, 60), **lead)
        one(State.IN_PROGRESS, extension="pending", hours=(10, 60), **lead)  # the dispatcher decides it
        for source in (Source.HOTLINE, Source.PUBLIC, Source.GRID_MEMBER):  # the dispatcher registers these
            one(State.REPORTED, source=source, hours=(0.2, 6))
        for _ in range(3):  # … closes these
            one(State.VERIFIED, hours=(10, 60))
        for _ in range(2):  # … and re-dispatches these returned ones
            one(State.REGISTERED, returns=1, hours=(6, 40))
        for _ in range(2):
            one(State.SUSPENDED, suspend="stay", hours=(30, 200))
        target = one(State.IN_PROGRESS, hours=(20, 60), **lead)
        if target is not None:  # a fresh report of the same problem: the duplicate panel shows the first one
            slot = _Slot(ctx.now - dt.timedelta(minutes=rng.randint(20, 90)), Source.HOTLINE, target.grid.id,
                         ctx.categories.index(target.c.category))
            radius = target.c.category.duplicate_radius_m * 0.4
            slot.lon = target.c.lon + radius / (111_320.0 * math.cos(math.radians(target.c.lat)))
            slot.lat = target.c.lat
            case, located = builder.new_case(slot)
            builder.add(_Life(ctx, builder.clock, rng, case, located, _Plan(stop=State.REPORTED)).run())
        if ctx.resident is not None:  # the resident follows their own reports
            for stop, hours in ((State.VERIFIED, (20, 80)), (None, (60, 200)), (State.IN_PROGRESS, (10, 50))):
                one(stop, source=Source.PUBLIC, reporter=ctx.resident, hours=hours, cats=any_cats)
    finally:
        builder.rng = builder_rng
