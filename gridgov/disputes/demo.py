"""The demo city's disputes (矛盾纠纷): a deterministic year of them ending now, in every state.

Each dispute lives its life as the services would have written it (`_Life` mirrors services.py: the same
fields, counters, agreement, sessions, follow-up visits and timeline steps, in order), on the working
calendar, cut at "now": what has not happened yet has not happened. The periodic job's time rules apply
throughout (Rules: a general dispute unresolved after N working days becomes major, an unresolved one is
referred up a level after M failed sessions or D working days at a level, one past its deadline is marked
overdue), so what the job would have done is in the timeline too.

What the year holds, for every community (PER_COMMUNITY a year by default):

- every type; sources: grid members' screening (most), parties' applications, the hotline, referrals from
  the police (110 联动), the courts (诉前调解) and the petitions office (信访), each referral with the
  referring body's reference; and a few converted from the demo's open cases in dispute categories (the case
  ends "converted" with its own timeline step, as `dispute_from_case` leaves it);
- outcomes: resolved at the grid (小事不出网格), the community, the street and the district, after failed
  sessions and referrals up; referred out to judicial confirmation, arbitration, litigation or petitions with
  the receiving body's reference and followed up; agreements found unfulfilled (mediated again or taken to
  court); withdrawn ones; general ones raised to major by the time rule, regraded and serious ones;
- parties: residents of the registry (key populations among them), free-text persons with (encrypted)
  phones and organisations, written by the services' own `_party_rows`; repeated disputes between the same
  parties at the same address within the year;
- open ones in every state (recent ones, cut by now, and a few placed in the `mediator` login's community) so
  that the mediator's queue and the warnings board have work; some are overdue.

Extra mediators: the accounts demo has one `mediator` login (a community's); every other community, street and
district gets one, `med<area code>`, with the demo password (one hash for all, like the accounts demo).

Rows are written directly (not through the per-row services) to stay fast; one audit entry records the step.
Same seed and `now`, same disputes.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.accounts.models import User
from gridgov.core.audit import audit_log
from gridgov.geo.models import Address, Area, Grid

from .choices import (
    LEVEL_CHANNELS,
    LEVEL_ORDER,
    Action,
    Channel,
    DisputeSource,
    DisputeType,
    FollowUpForm,
    Grade,
    Level,
    Outcome,
    PartyKind,
    PartyRole,
    SessionOutcome,
    State,
)
from .models import Agreement, Dispute, FollowUp, Party, Rules, Session, Step
from .services import _party_rows, _user_level, address_key

PER_COMMUNITY = 16  # disputes a year in each community (≈ 260 for the small city, ≈ 4,600 for the large)
DAYS = 365

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志文斌慧琳晨宇浩然欣怡海燕春生秋菊德福金凤"

TYPE_WEIGHTS = [(DisputeType.NEIGHBOURHOOD, 25), (DisputeType.FAMILY, 14), (DisputeType.HOUSING, 9),
                (DisputeType.LAND, 3), (DisputeType.LABOUR, 12), (DisputeType.CONSUMER, 6), (DisputeType.TRAFFIC, 6),
                (DisputeType.PROPERTY_MGMT, 12), (DisputeType.CONSTRUCTION, 6), (DisputeType.OTHER, 7)]
SOURCE_WEIGHTS = [(DisputeSource.SCREENING, 45), (DisputeSource.APPLICATION, 20), (DisputeSource.HOTLINE, 11),
                  (DisputeSource.POLICE, 12), (DisputeSource.COURT, 7), (DisputeSource.PETITIONS, 5)]
# the case categories of the disputes class (G01xx) and the dispute type each converts to
CASE_TYPES = {"G0101": DisputeType.NEIGHBOURHOOD, "G0102": DisputeType.FAMILY, "G0103": DisputeType.PROPERTY_MGMT,
              "G0104": DisputeType.LABOUR, "G0105": DisputeType.HOUSING}
CONVERTIBLE = ("reported", "registered", "dispatched", "in_progress", "suspended")

# type → (title phrase, descriptions, terms, facts)
TEXTS = {
    DisputeType.NEIGHBOURHOOD: ("邻里纠纷", [
        "楼上卫生间漏水渗入楼下住户家中，双方就维修和赔偿发生争执。",
        "一方在楼道堆放杂物、占用公共部位，邻居多次劝说未果，双方发生口角。",
        "夜间装修和宠物噪音扰民，双方多次争吵，情绪激动。",
        "空调外机和油烟机排风正对邻居窗户，双方协商不成。"], [
        "{r}于{d}前请专业人员修复漏水部位，维修费用由{r}承担。",
        "{r}一次性补偿{a}因漏水造成的损失人民币{m}元。",
        "{r}于三日内清理楼道堆放的杂物，今后不再占用公共部位。",
        "双方今后互谅互让，夜间22时至次日7时不进行产生噪音的活动。",
        "{r}将空调外机移至不影响邻居的位置，费用自理。"],
        "双方系上下楼（左右邻）关系。{a}反映{r}家中问题影响其正常生活，双方多次协商未果，引发纠纷。"),
    DisputeType.FAMILY: ("婚姻家庭纠纷", [
        "夫妻因家庭琐事长期争吵，一方提出离婚，双方就子女抚养发生争执。",
        "兄弟姐妹之间就老人赡养费用分担发生纠纷。",
        "子女与老人就房屋居住和赡养问题发生矛盾。"], [
        "{r}每月向{a}支付赡养费人民币{m}元，于每月10日前支付。",
        "双方同意共同照顾老人日常生活，轮流陪护。",
        "双方冷静处理家庭矛盾，不再发生争吵和过激行为。",
        "子女抚养费每月人民币{m}元，由{r}按月支付。"],
        "双方系家庭成员。因家庭琐事及赡养、抚养问题产生矛盾，经多次沟通未能解决。"),
    DisputeType.HOUSING: ("房屋租赁纠纷", [
        "房东提前收回出租房屋，租客要求退还押金并赔偿损失。",
        "租客拖欠房租三个月，房东要求其搬离并补交租金。",
        "房屋买卖过户后，双方就附属设施归属发生争议。"], [
        "{r}于{d}前退还{a}房屋押金人民币{m}元。",
        "{a}于本月底前搬离出租房屋，并结清水电费用。",
        "双方解除租赁合同，互不再追究其他责任。"],
        "双方签订房屋租赁（买卖）合同后，就合同履行发生争议，协商未果。"),
    DisputeType.LAND: ("土地权属纠纷", [
        "两户村民就宅基地边界发生争执，一方砌墙占用通道。",
        "承包地流转费用支付发生纠纷。"], [
        "双方以村委会存档的宅基地图纸为准确定边界，{r}于{d}前拆除越界围墙。",
        "{r}于{d}前支付土地流转费用人民币{m}元。"],
        "双方就土地（宅基地）使用权边界及费用发生争议，经村（居）委会多次协调未果。"),
    DisputeType.LABOUR: ("劳动报酬纠纷", [
        "{n}名工人反映被拖欠工资，多次讨要未果，情绪激动。",
        "员工离职后单位未结清工资和经济补偿。",
        "工人在工作中受伤，与用工单位就医疗费用和误工费协商不成。"], [
        "{r}于{d}前一次性支付{a}拖欠工资共计人民币{m}元。",
        "{r}承担{a}医疗费用并支付误工费人民币{m}元。",
        "双方劳动关系于本协议签订之日解除，{a}不再就此事向{r}主张其他权利。"],
        "{a}在{r}处务工，因工资（补偿）支付问题发生争议，多次讨要未果。"),
    DisputeType.CONSUMER: ("消费纠纷", [
        "预付卡商家停业，消费者要求退还余额。",
        "购买的家电存在质量问题，商家拒绝退换。",
        "装修公司未按合同施工，业主要求退款。"], [
        "{r}于{d}前退还{a}预付款余额人民币{m}元。",
        "{r}为{a}免费更换同型号商品。",
        "双方就本次消费纠纷再无其他争议。"],
        "{a}在{r}处消费后，因商品（服务）质量和退款问题发生争议。"),
    DisputeType.TRAFFIC: ("交通事故赔偿纠纷", [
        "电动自行车与行人相撞致行人受伤，双方就赔偿金额争执不下。",
        "小区内车辆剐蹭，双方就维修费用发生争议。"], [
        "{r}一次性赔偿{a}医疗费、误工费等各项损失共计人民币{m}元。",
        "{r}承担车辆维修费用人民币{m}元，于{d}前付清。",
        "赔偿款付清后，双方就本次事故再无其他纠纷。"],
        "双方发生交通事故，经交警部门认定责任后，就赔偿数额协商不成。"),
    DisputeType.PROPERTY_MGMT: ("物业服务纠纷", [
        "业主以电梯长期故障、保洁不到位为由拒交物业费，物业公司催缴。",
        "小区停车位收费标准调整引发业主与物业公司争执。",
        "楼顶渗水，业主要求物业公司维修并赔偿损失。"], [
        "{r}于{d}前完成电梯维修和公共区域保洁整改。",
        "{a}于整改完成后补交物业费人民币{m}元。",
        "{r}承担楼顶防水维修费用，并补偿{a}损失人民币{m}元。"],
        "{a}与{r}就物业服务质量及物业费缴纳问题发生争议。"),
    DisputeType.CONSTRUCTION: ("工程建设纠纷", [
        "附近工地夜间施工噪音扰民，居民多次投诉。",
        "施工导致相邻房屋墙体开裂，房主要求赔偿。",
        "工程款结算发生争议，施工队与发包方协商不成。"], [
        "{r}夜间22时后停止高噪音作业，并对受影响住户给予补偿人民币{m}元。",
        "{r}于{d}前对开裂墙体进行加固修复，费用自理。",
        "{r}于{d}前结清工程款人民币{m}元。"],
        "{a}与{r}因工程施工及费用问题发生争议。"),
    DisputeType.OTHER: ("民间纠纷", [
        "借款到期后借款人未按约定还款，双方发生争执。",
        "因宠物伤人，双方就赔偿问题发生纠纷。"], [
        "{r}于{d}前归还{a}借款人民币{m}元。",
        "{r}赔偿{a}医疗费用人民币{m}元。",
        "双方就此事再无其他争议。"],
        "双方因民间借贷（人身损害）等问题发生争议，协商未果。"),
}
AMOUNTS = {DisputeType.LABOUR: (3000, 120000), DisputeType.CONSUMER: (500, 30000), DisputeType.TRAFFIC: (800, 50000),
           DisputeType.HOUSING: (1000, 40000), DisputeType.CONSTRUCTION: (2000, 200000),
           DisputeType.PROPERTY_MGMT: (600, 12000), DisputeType.OTHER: (1000, 50000),
           DisputeType.NEIGHBOURHOOD: (300, 8000), DisputeType.FAMILY: (500, 3000), DisputeType.LAND: (2000, 30000)}
COMPANIES = {DisputeType.LABOUR: ["建筑劳务有限公司", "服装加工厂", "餐饮管理有限公司", "装饰工程有限公司"],
             DisputeType.PROPERTY_MGMT: ["物业服务有限公司", "物业管理有限公司"],
             DisputeType.CONSUMER: ["健身俱乐部", "家电商行", "装饰设计有限公司", "美容美发店"],
             DisputeType.CONSTRUCTION: ["建设工程有限公司", "市政工程有限公司"]}
RISK_NOTES = {
    Grade.GENERAL: ["双方情绪基本稳定，矛盾较小，可在网格（社区）层面化解。", "事实清楚，争议不大，预计调解难度较低。"],
    Grade.MAJOR: ["双方情绪较激动，存在矛盾激化可能，需社区重点跟进。", "涉及金额较大，双方分歧明显，需加强调解力量。"],
    Grade.SERIOUS: ["涉及人数多，当事人有过激言行，存在群体性事件和越级上访风险，已报告街道。",
                    "当事人扬言采取极端行为，存在民转刑风险，需立即稳控并报告领导。"],
}
PLACES = {Level.GRID: ["网格服务站", "当事人家中", "小区议事亭"], Level.COMMUNITY: ["社区人民调解室", "社区党群服务中心"],
          Level.STREET: ["街道矛盾纠纷调处中心", "街道综治中心调解室"],
          Level.DISTRICT: ["区矛盾纠纷调处化解中心", "区社会治理综合服务中心"]}
SESSION_RECORDS = {
    SessionOutcome.PROGRESS: ["听取双方陈述，了解争议焦点，双方同意继续协商。", "分别做双方思想工作，初步缩小分歧。"],
    SessionOutcome.AGREED: ["经释法说理、背对背调解，双方就争议事项达成一致意见。", "双方互谅互让，当场达成调解协议。"],
    SessionOutcome.FAILED: ["双方各执己见，分歧较大，本次调解未能达成一致。", "一方情绪激动中途离场，调解未成。"],
}
FAIL_REASONS = ["双方分歧较大，多次调解未果。", "一方拒绝继续调解。", "争议涉及专业鉴定，社区层面难以化解。"]
REFER_UP_REASONS = ["涉及金额较大，提请上级调解组织调处。", "社区调解未果，申请街道联合调处。", "涉及多个部门职责，需上级协调。"]
REASSESS_UP = ["矛盾有激化迹象，提高风险等级。", "当事人扬言上访，提高风险等级加强稳控。"]
FULFIL_HOW = ["当场履行", "分期履行", "银行转账支付", "由社区见证履行"]
UNFULFILLED = ["约定期限届满，{r}未按协议支付款项。", "{r}未按协议完成维修，{a}再次反映。"]
FOLLOW_OK = ["回访双方，协议已履行，关系缓和，无反复。", "电话回访，当事人表示满意，纠纷已平息。",
             "入户回访，双方相处正常，未再发生矛盾。"]
FOLLOW_BAD = ["回访发现双方再次发生口角，矛盾有反复迹象。", "当事人反映对方未完全按约定执行，情绪不满。"]
FOLLOW_EXTERNAL = ["跟踪了解，案件已进入相应程序，当事人情绪稳定。", "回访当事人，已按程序处理，无过激行为。"]
CLOSE_EXTERNAL = {Channel.JUDICIAL: "人民法院已作出确认调解协议有效的裁定。",
                  Channel.ARBITRATION: "劳动人事争议仲裁委员会已作出裁决，款项已支付。",
                  Channel.LITIGATION: "人民法院已判决，双方已按判决履行。",
                  Channel.PETITIONS: "信访部门已答复办结，当事人表示接受。"}
REFER_OUT_REASONS = {Channel.JUDICIAL: "双方申请司法确认。", Channel.ARBITRATION: "属于劳动争议，引导当事人申请劳动仲裁。",
                     Channel.LITIGATION: "调解不成，引导当事人依法提起诉讼。", Channel.PETITIONS: "当事人坚持信访，转信访部门依法处理。"}
WITHDRAW_NOTES = ["双方已自行和解，申请人撤回调解申请。", "当事人不同意调解，已告知其他救济途径。"]


# --- the context -----------------------------------------------------------------------------------------

@dataclass
class _Place:
    grid: Grid
    community: Area
    street: Area | None
    district: Area | None


@dataclass
class _Ctx:
    now: dt.datetime
    zone: ZoneInfo
    clock: object  # gridgov.cases.demo._Clock
    rules: Rules
    communities: list[Area]
    grids: dict[int, list[Grid]]  # community id → its grids
    places: dict[int, _Place]  # grid id → where it is
    member: dict[int, User]  # grid id → its grid member
    mediator: dict[int, User]  # area id → a mediator of that area
    dispatcher: dict[int, User]  # area id → a dispatcher of that area
    residents: dict[int, list[tuple]]  # grid id → (id, household id, address, lon, lat)
    tagged: dict[int, list[int]]  # grid id → residents in a key population
    addresses: dict[int, list[tuple]]  # grid id → (full text, lon, lat)
    units: dict[int, list[tuple]]  # grid id → (name, credit code)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))


def _ensure_mediators(seed: int) -> int:
    """A mediator for every community, street and district that has none (`med<area code>`)."""
    have = set(User.objects.filter(role=Role.MEDIATOR, is_active=True, area__isnull=False)
               .values_list("area_id", flat=True))
    missing = list(Area.objects.filter(level__in=["community", "street", "district"]).exclude(pk__in=have)
                   .order_by("code"))
    taken = set(User.objects.filter(username__in=[f"med{a.code}" for a in missing]).values_list("username", flat=True))
    missing = [a for a in missing if f"med{a.code}" not in taken]
    if not missing:
        return 0
    password = make_password(settings.GRIDGOV_DEMO_PASSWORD)  # one hash for all (see accounts.demo)
    rng = random.Random(f"gridgov-disputes-mediators-{seed}")
    users = [User(username=f"med{a.code}", role=Role.MEDIATOR, password=password, area=a,
                  display_name=_name(rng), phone=f"137{rng.randrange(10 ** 8):08d}") for a in missing]
    User.objects.bulk_create(users, batch_size=1000)
    return len(users)


def _load(now: dt.datetime) -> _Ctx:
    from gridgov.cases.demo import _Clock
    from gridgov.residents.models import Resident, ResidentTag, Unit

    zone = ZoneInfo(settings.TIME_ZONE)
    clock = _Clock(zone, (now - dt.timedelta(days=DAYS + 30)).astimezone(zone).date(),
                   (now + dt.timedelta(days=90)).astimezone(zone).date())
    areas = {a.pk: a for a in Area.objects.all()}
    communities = sorted((a for a in areas.values() if a.level == "community"), key=lambda a: a.code)
    grids: dict[int, list[Grid]] = defaultdict(list)
    places = {}
    for g in Grid.objects.order_by("code"):
        grids[g.community_id].append(g)
        community = areas[g.community_id]
        street = areas.get(community.parent_id)
        district = areas.get(street.parent_id) if street else None
        places[g.pk] = _Place(g, community, street, district)
    users = {u.pk: u for u in User.objects.filter(is_active=True, role__in=[Role.GRID_MEMBER, Role.MEDIATOR,
                                                                          Role.DISPATCHER])
             .select_related("area").order_by("pk")}
    member = {}
    for grid_id, user_id in Grid.members.through.objects.order_by("user_id").values_list("grid_id", "user_id"):
        if user_id in users:
            member.setdefault(grid_id, users[user_id])
    mediator, dispatcher = {}, {}
    demo_mediator = User.objects.filter(username="mediator", role=Role.MEDIATOR, is_active=True).select_related(
        "area").first()
    if demo_mediator is not None and demo_mediator.area_id:
        mediator[demo_mediator.area_id] = demo_mediator
    for u in users.values():
        if u.area_id and u.role == Role.MEDIATOR:
            mediator.setdefault(u.area_id, u)
        elif u.area_id and u.role == Role.DISPATCHER:
            dispatcher.setdefault(u.area_id, u)
    residents = defaultdict(list)
    adult = now.astimezone(zone).date() - dt.timedelta(days=18 * 366)
    for row in (Resident.objects.filter(status="active", birth_date__lte=adult).order_by("pk")
                .values_list("pk", "grid_id", "household_id", "house__address__full_text", "house__address__lon",
                             "house__address__lat")):
        residents[row[1]].append((row[0], row[2], row[3] or "", row[4], row[5]))
    tagged = defaultdict(list)
    for resident_id, grid_id in (ResidentTag.objects.filter(active=True, resident__status="active",
                                                            resident__birth_date__lte=adult)
                                 .order_by("resident_id").values_list("resident_id", "resident__grid_id").distinct()):
        if resident_id not in tagged[grid_id]:
            tagged[grid_id].append(resident_id)
    addresses = defaultdict(list)
    for grid_id, text, lon, lat in Address.objects.order_by("pk").values_list("grid_id", "full_text", "lon", "lat"):
        addresses[grid_id].append((text, lon, lat))
    units = defaultdict(list)
    for grid_id, name, code in Unit.objects.exclude(credit_code="").order_by("pk").values_list(
            "grid_id", "name", "credit_code"):
        units[grid_id].append((name, code))
    return _Ctx(now=now, zone=zone, clock=clock, rules=Rules.current(), communities=communities, grids=grids,
                places=places, member=member, mediator=mediator, dispatcher=dispatcher, residents=residents,
                tagged=tagged, addresses=addresses, units=units)


# --- a plan: what will happen to a dispute (decided up front, cut by "now") -----------------------------------

@dataclass
class _Plan:
    target: str = Level.COMMUNITY  # the level it is resolved at, or "external" / "withdrawn"
    external: str = ""  # the channel out of mediation
    out_from: str = Level.COMMUNITY  # the level it leaves mediation from
    unfulfilled: str = ""  # "" | "again" (mediated again) | "court"
    unsettled: bool = False  # the first follow-up finds it unsettled
    regrade: bool = False
    raise_at_assessment: bool = False
    slow: bool = False  # slower than the deadline
    stop: str | None = None  # stay open in this state


class _Stop(Exception):  # noqa: N818 - control flow: the life ends here (cut by now, or left open)
    pass


class _Referred(Exception):  # noqa: N818 - the time rule referred the dispute up a level
    pass


@dataclass
class _Ref:
    """A reference resolved when the rows get their ids (a session's or visit's id, the agreement number)."""

    kind: str
    obj: object = None
    count: int = 0


@dataclass
class _Life:
    ctx: _Ctx
    rng: random.Random
    d: Dispute
    place: _Place
    plan: _Plan
    parties: list[Party]
    raw_parties: list[dict]
    names: tuple[str, str]  # applicant's, respondent's
    registrant: User
    case: object = None  # the converted case
    steps: list[Step] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    agreement: Agreement | None = None
    t: dt.datetime | None = None
    cut: bool = False

    # -- helpers
    def _u(self, a: float, b: float) -> float:
        return self.rng.uniform(a, b)

    def _after(self, hours: float) -> dt.datetime:
        return self.ctx.clock.after(self.t, hours * (2.5 if self.plan.slow else 1.0))

    def _due(self, start: dt.datetime, days: int) -> dt.datetime:
        return self.ctx.clock.due(start, days, "days")

    def _deadline(self, start: dt.datetime) -> dt.datetime:
        return self._due(start, self.ctx.rules.deadline_days(self.d.grade))

    def _area(self, level: str) -> Area | None:
        return {Level.GRID: self.place.community, Level.COMMUNITY: self.place.community,
                Level.STREET: self.place.street, Level.DISTRICT: self.place.district}[level]

    def _mediator(self, level: str) -> User:
        if level == Level.GRID:
            return self.ctx.member.get(self.place.grid.pk) or self._mediator(Level.COMMUNITY)
        area = self._area(level)
        return self.ctx.mediator[area.pk]

    def _committee(self, level: str) -> str:
        area = self._area(level)
        return f"{area.name}{'矛盾纠纷调处化解中心' if level == Level.DISTRICT else '人民调解委员会'}"

    def unresolved(self) -> bool:
        d = self.d
        return d.state in (State.REGISTERED, State.ASSESSED, State.MEDIATING, State.FAILED) or (
            d.state == State.REFERRED and d.referral_channel in LEVEL_CHANNELS)

    def _step(self, action: str, at: dt.datetime, by: User | None, *, to: str | None = None, note: str = "",
              data: dict | None = None) -> None:
        d = self.d
        before = d.state
        d.state = to or d.state
        d.version += 1
        d.updated_at, d.updated_by = at, by
        self.steps.append(Step(action=action, from_state=before, to_state=d.state, actor=by,
                               actor_name=str(by) if by is not None else "", at=at, note=note, data=data or {}))
        self.t = at

    def _stop_here(self) -> None:
        if self.plan.stop == self.d.state:
            raise _Stop

    # -- time passes: the periodic job's rules, then the next action (or "now")
    def _lag(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.rng.randint(20, 300))

    def _rules(self, end: dt.datetime) -> None:
        d, rules = self.d, self.ctx.rules
        while self.unresolved():
            events = []
            if d.grade == Grade.GENERAL and not d.auto_escalated:
                events.append((max(self._due(d.registered_at, rules.escalate_general_after_days), self.t) + self._lag(),
                               "escalate"))
            if d.level != Level.DISTRICT:
                at = self.t if d.failed_sessions >= rules.refer_after_failed_sessions else max(
                    self._due(d.level_since, rules.refer_after_days), self.t)
                events.append((at + self._lag(), "refer"))
            at, event = min(events) if events else (None, None)
            horizon = min(at, end) if at is not None else end
            if not d.overdue and d.due_at is not None and d.due_at + self._lag() < horizon:
                d.overdue = True  # the job marks it (no step, no new version)
            if at is None or at >= end:
                return
            if event == "escalate":
                d.grade, d.auto_escalated = Grade.MAJOR, True
                d.due_at = self._deadline(d.level_since)
                self._step(Action.AUTO_ESCALATE, at, None, data={"from": Grade.GENERAL, "to": Grade.MAJOR},
                           note=f"Unresolved after {rules.escalate_general_after_days} working days.")
            else:
                too_many = d.failed_sessions >= rules.refer_after_failed_sessions
                why = (f"{d.failed_sessions} failed sessions" if too_many
                       else f"unresolved after {rules.refer_after_days} working days")
                channel = {Level.GRID: Channel.COMMUNITY, Level.COMMUNITY: Channel.STREET,
                           Level.STREET: Channel.DISTRICT}[d.level]
                self._refer(at, None, channel, "", f"Referred up by the time rule: {why}.", Action.AUTO_REFER)
                raise _Referred

    def _wait(self, until: dt.datetime) -> None:
        end = min(until, self.ctx.now)
        self._rules(end)
        if until > self.ctx.now:
            self.cut = True
            raise _Stop
        self.t = until

    def _sleep(self, hours: float) -> None:
        self._wait(self._after(hours))

    # -- the actions, as the services write them
    def _set_grade(self, grade: str) -> None:
        self.d.grade = grade
        self.d.due_at = self._deadline(self.d.level_since)

    def _assess(self, by: User, grade: str) -> None:
        d = self.d
        self._set_grade(grade)
        d.risk_note = self.rng.choice(RISK_NOTES[Grade(grade)])
        d.assessed_at = self.t
        self._step(Action.ASSESS, self.t, by, to=State.ASSESSED, note=d.risk_note, data={"grade": grade})

    def _assign(self, by: User, mediator: User, level: str) -> None:
        d = self.d
        if level != d.level:
            d.level, d.level_since, d.failed_sessions = level, self.t, 0
            d.due_at = self._deadline(self.t)
        d.mediator = mediator
        d.committee = self._committee(level)
        d.mediation_started_at = d.mediation_started_at or self.t
        self._step(Action.ASSIGN, self.t, by, to=State.MEDIATING, data={"mediator": str(mediator), "level": level})

    def _session(self, outcome: str) -> None:
        d = self.d
        held = self.t
        self._wait(held + dt.timedelta(minutes=self.rng.randint(40, 150)))  # recorded after the session
        place = self.rng.choice(PLACES[Level(d.level)])
        names = "、".join(p.name for p in self.parties[:4])
        session = Session(held_at=held, place=place, participants=f"{names}；调解员{d.mediator}",
                          record=self.rng.choice(SESSION_RECORDS[SessionOutcome(outcome)]), outcome=outcome,
                          level=d.level, mediator=d.mediator, created_at=self.t)
        self.sessions.append(session)
        d.session_count += 1
        if outcome == SessionOutcome.FAILED:
            d.failed_sessions += 1
        self._step(Action.SESSION, self.t, d.mediator, note=f"{place}: {SessionOutcome(outcome).label}",
                   data={"session": _Ref("session", session), "outcome": outcome, "held_at": held.isoformat()})

    def _agree(self) -> None:
        d, rng = self.d, self.rng
        kind = d.type
        _phrase, _descriptions, terms, facts = TEXTS[DisputeType(kind)]
        a, r = self.names
        lo, hi = AMOUNTS[DisputeType(kind)]
        money = d.amount or Decimal(rng.randrange(lo, hi, 100))
        signed_on = self.t.astimezone(self.ctx.zone).date()
        fulfil_by = signed_on + dt.timedelta(days=rng.choice([3, 7, 10, 15, 30])) if rng.random() < 0.75 else None
        chosen = rng.sample(terms, k=min(len(terms), rng.choice([1, 2, 2, 3])))
        text = [t.format(a=a, r=r, m=f"{money:,.0f}", d=f"{fulfil_by or signed_on:%Y年%m月%d日}") for t in chosen]
        if self.agreement is None:
            self.agreement = Agreement()
        ag = self.agreement
        ag.facts = facts.format(a=a, r=r) + d.description
        ag.terms, ag.fulfil_by = text, fulfil_by
        ag.fulfilment = rng.choice(FULFIL_HOW) if fulfil_by else "当场履行"
        ag.signed_at, ag.mediator, ag.committee, ag.fulfilment_note = self.t, d.mediator, d.committee, ""
        count = d.referral_count + d.session_count
        ag.number = _Ref("agreement", count=count)
        d.fulfilled, d.fulfilment_checked_at = None, None
        d.agreed_at = self.t
        d.resolution_level = d.level
        self._step(Action.AGREE, self.t, d.mediator, to=State.AGREED,
                   data={"agreement": _Ref("agreement", count=count), "terms": text})

    def _fail(self) -> None:
        self.d.failed_at = self.t
        self._step(Action.FAIL, self.t, self.d.mediator, to=State.FAILED, note=self.rng.choice(FAIL_REASONS))

    def _refer(self, at: dt.datetime, by: User | None, channel: str, reference: str, reason: str,
               action: str = Action.REFER) -> None:
        d = self.d
        if channel in LEVEL_CHANNELS:
            d.level, d.level_since, d.failed_sessions, d.mediator = LEVEL_CHANNELS[Channel(channel)], at, 0, None
            d.due_at = self._due(at, self.ctx.rules.deadline_days(d.grade))
        d.referred_at = at
        d.referral_channel = channel
        d.referral_reference = reference[:60]
        d.referral_count += 1
        self._step(action, at, by, to=State.REFERRED, note=reason, data={"channel": channel, "reference": reference})

    def _check(self, by: User, fulfilled: bool) -> None:
        d = self.d
        note = "" if fulfilled else self.rng.choice(UNFULFILLED).format(a=self.names[0], r=self.names[1])
        d.fulfilled, d.fulfilment_checked_at = fulfilled, self.t
        if fulfilled:
            to = State.FULFILLED
        else:
            to, d.failed_at, d.resolution_level = State.FAILED, self.t, ""
            # as services.dispute_check_fulfilment: mediation starts again at this level from now
            d.level_since, d.failed_sessions = self.t, 0
            d.due_at = self._deadline(self.t)
        self.agreement.fulfilment_note = note
        self._step(Action.CHECK_FULFILMENT, self.t, by, to=to, note=note, data={"fulfilled": fulfilled})

    def _follow_up(self, by: User, *, stable: bool, content: str) -> None:
        d = self.d
        visited = self.t
        self._wait(visited + dt.timedelta(minutes=self.rng.randint(10, 90)))  # recorded after the visit
        satisfied = (self.rng.random() < 0.9) if stable else False
        visit = FollowUp(visited_at=visited, visitor=by, form=self.rng.choice(list(FollowUpForm)), content=content,
                         stable=stable, satisfied=satisfied, created_at=self.t)
        self.follow_ups.append(visit)
        d.follow_up_count += 1
        self._step(Action.FOLLOW_UP, self.t, by, note=content[:200],
                   data={"follow_up": _Ref("follow_up", visit), "stable": stable, "satisfied": satisfied})

    def _close(self, by: User, note: str = "") -> None:
        d = self.d
        if d.state in (State.REGISTERED, State.ASSESSED):
            d.outcome = Outcome.WITHDRAWN
        else:
            d.outcome = Outcome.RESOLVED if d.state == State.FULFILLED else Outcome.EXTERNAL
        d.closed_at = self.t
        self._step(Action.CLOSE, self.t, by, to=State.CLOSED, note=note, data={"outcome": d.outcome})

    # -- the life
    def run(self) -> _Life:
        try:
            try:
                self._run()
            except _Referred:  # referred up by the time rule before mediation began
                if self.plan.target == "withdrawn":
                    self.plan.target = Level.COMMUNITY
                while True:
                    try:
                        self._mediate()
                        break
                    except _Referred:
                        continue
        except _Stop:
            pass
        if not self.cut:  # left open (or closed): the job's rules go on until now
            while True:
                try:
                    self._rules(self.ctx.now)
                    break
                except _Referred:
                    continue
        return self

    def _boss(self) -> User:
        """Who assesses, assigns, refers and closes at the dispute's level (a mediator of that level)."""
        level = Level.COMMUNITY if self.d.level == Level.GRID else self.d.level
        return self._mediator(level)

    def _run(self) -> None:
        d, p, rng = self.d, self.plan, self.rng
        self._stop_here()
        if p.target == "withdrawn":
            self._sleep(self._u(1, 20))
            if rng.random() < 0.5:
                self._assess(self._boss(), d.grade)
                self._stop_here()
                self._sleep(self._u(2, 30))
            self._close(self._boss(), rng.choice(WITHDRAW_NOTES))
            return
        self._sleep(self._u(0.2, 1) if d.grade == Grade.SERIOUS else self._u(0.3, 6))
        grade = d.grade
        if p.raise_at_assessment and grade != Grade.SERIOUS:
            grade = Grade.MAJOR if grade == Grade.GENERAL else Grade.SERIOUS
        self._assess(self._boss(), grade)
        self._stop_here()
        while True:
            try:
                self._mediate()
                return
            except _Referred:
                continue

    def _mediate(self) -> None:
        """Mediation at the dispute's current level (from being assessed, referred to it or failed at it)."""
        d, p, rng = self.d, self.plan, self.rng
        if d.state == State.REFERRED:
            self._stop_here()
        self._sleep(self._u(0.5, 10))
        target = p.out_from if p.target == "external" else p.target
        # at the grid, the grid member mediates (小事不出网格) unless it is meant for the community
        mediator = self._mediator(Level.COMMUNITY if d.level == Level.GRID and target != Level.GRID else d.level)
        self._assign(self._boss(), mediator, _user_level(mediator))
        self._stop_here()
        here = LEVEL_ORDER.index(Level(d.level)) >= LEVEL_ORDER.index(Level(target)) or d.level == Level.DISTRICT
        if p.regrade and d.grade != Grade.SERIOUS:
            self._sleep(self._u(1, 8))
            new = Grade.MAJOR if d.grade == Grade.GENERAL else Grade.SERIOUS
            old = d.grade
            self._set_grade(new)
            self._step(Action.REGRADE, self.t, self._boss(), note=rng.choice(REASSESS_UP), data={"from": old, "to": new})
            p.regrade = False
        if here and p.target != "external":
            if rng.random() < 0.35 or d.level in (Level.STREET, Level.DISTRICT):
                self._sleep(self._u(1, 12) if d.level == Level.GRID else self._u(2, 20))
                self._session(SessionOutcome.PROGRESS)
            self._sleep(self._u(0.5, 6) if d.level == Level.GRID else self._u(2, 16))
            self._session(SessionOutcome.AGREED)
            self._wait(self.t + dt.timedelta(minutes=rng.randint(3, 40)))  # signed at the end of the session
            self._agree()
            self._stop_here()
            self._fulfilment()
            return
        for _ in range(rng.choice([1, 1, 2, 2, 3])):
            self._sleep(self._u(2, 20))
            self._session(SessionOutcome.FAILED)
        self._sleep(self._u(0.3, 6))
        self._fail()
        self._stop_here()
        self._sleep(self._u(0.5, 12))
        if here:  # out of mediation
            self._refer_out(p.external)
            return
        channel = {Level.GRID: Channel.COMMUNITY, Level.COMMUNITY: Channel.STREET,
                   Level.STREET: Channel.DISTRICT}[Level(d.level)]
        self._refer(self.t, self._boss(), channel, "", rng.choice(REFER_UP_REASONS))
        raise _Referred

    def _reference(self, channel: str) -> str:
        rng, year = self.rng, self.t.astimezone(self.ctx.zone).year
        court = self.place.grid.code[2:6]
        return {Channel.JUDICIAL: f"({year})苏{court}民特{rng.randint(10, 999)}号",
                Channel.ARBITRATION: f"苏劳人仲案字〔{year}〕第{rng.randint(100, 2999)}号",
                Channel.LITIGATION: f"({year})苏{court}民初{rng.randint(1000, 19999)}号",
                Channel.PETITIONS: f"XF{self.place.grid.code[:6]}{year}{rng.randint(1, 99999):05d}"}[channel]

    def _refer_out(self, channel: str) -> None:
        self._refer(self.t, self._boss(), channel, self._reference(channel), REFER_OUT_REASONS[channel])
        self._stop_here()
        self._sleep(self._u(40, 200))
        self._follow_up(self._visitor(), stable=True, content=self.rng.choice(FOLLOW_EXTERNAL))
        while self.rng.random() < 0.3 or self.d.follow_up_count < self.ctx.rules.min_follow_ups:
            self._sleep(self._u(40, 160))
            self._follow_up(self._visitor(), stable=True, content=self.rng.choice(FOLLOW_EXTERNAL))
        self._sleep(self._u(1, 24))
        self._close(self._boss(), CLOSE_EXTERNAL[Channel(channel)])

    def _visitor(self) -> User:
        return self.ctx.member.get(self.place.grid.pk) if self.rng.random() < 0.6 and \
            self.place.grid.pk in self.ctx.member else self._boss()

    def _fulfilment(self) -> None:
        d, p, rng, ag = self.d, self.plan, self.rng, self.agreement
        if ag.fulfil_by is not None:
            due = dt.datetime.combine(ag.fulfil_by, dt.time(9), tzinfo=self.ctx.zone)
            self._wait(max(self.t, self.ctx.clock.after(due, self._u(0, 24))))
        else:
            self._sleep(self._u(4, 40))
        checker = d.mediator if d.mediator.role == Role.MEDIATOR else self._visitor()
        if p.unfulfilled:
            self._check(checker, False)
            self._stop_here()
            if p.unfulfilled == "court":  # taken to court at once (before the time rule refers it up)
                self._sleep(self._u(0.01, 0.05))
                p.unfulfilled = ""
                self._refer_out(Channel.LITIGATION)
                return
            p.unfulfilled = ""
            p.target = d.level  # mediated again where it was agreed (unless the time rule refers it up)
            self._mediate()
            return
        self._check(checker, True)
        if p.stop == State.FULFILLED and not p.unsettled:
            raise _Stop
        self._sleep(self._u(16, 120))
        if p.unsettled:
            self._follow_up(self._visitor(), stable=False, content=rng.choice(FOLLOW_BAD))
            self._stop_here()
            self._sleep(self._u(8, 60))
        self._follow_up(self._visitor(), stable=True, content=rng.choice(FOLLOW_OK))
        while d.follow_up_count < self.ctx.rules.min_follow_ups:
            self._sleep(self._u(8, 60))
            self._follow_up(self._visitor(), stable=True, content=rng.choice(FOLLOW_OK))
        self._sleep(self._u(0.5, 16))
        self._close(self._boss())


# --- building the year -------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, ctx: _Ctx, rng: random.Random):
        self.ctx, self.rng = ctx, rng
        self.lives: list[_Life] = []
        self.history: dict[int, list[_Life]] = defaultdict(list)  # community id → its earlier disputes
        self.phones: set[str] = set()
        self.codes: set[str] = set()

    # -- parties
    def _phone(self) -> str:
        while True:
            phone = f"1{self.rng.choice('3589')}{self.rng.randrange(10)}{self.rng.randrange(10 ** 8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def _uscc(self, region: str) -> str:
        from gridgov.residents.validators import USCC_ALPHABET, uscc_check_char

        while True:
            body = "".join(self.rng.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
            first17 = f"91{region}{body}"
            code = first17 + uscc_check_char(first17)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def _person(self, grid_id: int, *, resident_share: float, exclude=()) -> tuple[dict, tuple | None]:
        pool = [r for r in self.ctx.residents.get(grid_id, []) if r[0] not in exclude]
        if pool and self.rng.random() < resident_share:
            r = self.rng.choice(pool)
            return {"kind": PartyKind.PERSON, "resident_id": r[0]}, r
        return {"kind": PartyKind.PERSON, "name": _name(self.rng), "phone": self._phone()}, None

    def _organisation(self, grid: Grid, kind: str) -> dict:
        units = self.ctx.units.get(grid.pk, [])
        if units and kind in (DisputeType.CONSUMER, DisputeType.LABOUR) and self.rng.random() < 0.6:
            name, code = self.rng.choice(units)
            return {"kind": PartyKind.ORGANISATION, "name": name, "credit_code": code, "phone": self._phone()}
        name = f"S市{self.rng.choice(SURNAMES)}{self.rng.choice(GIVEN)}{self.rng.choice(COMPANIES[kind])}"
        org = {"kind": PartyKind.ORGANISATION, "name": name, "phone": self._phone()}
        if self.rng.random() < 0.7:
            org["credit_code"] = self._uscc(grid.code[:6])
        return org

    def _parties(self, grid: Grid, kind: str, *, key_person: int | None = None) -> tuple[list[dict], tuple | None]:
        """The parties' input (as the services take it) and the applicant's resident row if any."""
        rng = self.rng
        share = {DisputeType.TRAFFIC: 0.3, DisputeType.LABOUR: 0.4}.get(kind, 0.75)
        if key_person is not None:
            row = next((r for r in self.ctx.residents.get(grid.pk, []) if r[0] == key_person), None)
            applicant, home = {"kind": PartyKind.PERSON, "resident_id": key_person}, row
        else:
            applicant, home = self._person(grid.pk, resident_share=share)
        applicant["role"] = PartyRole.APPLICANT
        if kind in COMPANIES and rng.random() < 0.8:
            respondent = self._organisation(grid, kind)
        elif kind == DisputeType.FAMILY and home is not None:
            family = [r for r in self.ctx.residents.get(grid.pk, []) if r[1] == home[1] and r[0] != home[0]]
            respondent = ({"kind": PartyKind.PERSON, "resident_id": rng.choice(family)[0]} if family
                          else self._person(grid.pk, resident_share=0.5, exclude={home[0]})[0])
        else:
            respondent = self._person(grid.pk, resident_share=share, exclude={home[0]} if home else ())[0]
        respondent["role"] = PartyRole.RESPONDENT
        parties = [applicant, respondent]
        if rng.random() < 0.12:
            third = self._person(grid.pk, resident_share=0.5,
                                 exclude={p.get("resident_id") for p in parties if p.get("resident_id")})[0]
            third["role"] = rng.choice([PartyRole.THIRD, PartyRole.OTHER])
            parties.append(third)
        return parties, home

    # -- one dispute
    def new(self, *, at: dt.datetime, grid: Grid, kind: str | None = None, source: str | None = None,
            grade: str | None = None, plan: _Plan | None = None, key_person: int | None = None,
            repeat_of: _Life | None = None, case=None, converter: User | None = None) -> _Life | None:
        ctx, rng = self.ctx, self.rng
        place = ctx.places[grid.pk]
        kind = kind or (repeat_of.d.type if repeat_of else _pick(rng, TYPE_WEIGHTS))
        source = DisputeSource.CASE if case is not None else source or _pick(rng, SOURCE_WEIGHTS)
        # who registers it, at which level
        community_mediator = ctx.mediator.get(place.community.pk)
        member = ctx.member.get(grid.pk)
        if case is not None:
            by = converter
        elif source == DisputeSource.SCREENING or (source == DisputeSource.APPLICATION and rng.random() < 0.5):
            by = member or community_mediator
        elif source == DisputeSource.HOTLINE:
            by = ctx.dispatcher.get(place.community.pk) or community_mediator
        elif source in (DisputeSource.COURT, DisputeSource.PETITIONS) and rng.random() < 0.5 and place.street:
            by = ctx.mediator.get(place.street.pk) or community_mediator
        else:
            by = community_mediator
        if by is None:
            return None
        # who and where
        if repeat_of is not None:
            raw = [dict(p) for p in repeat_of.raw_parties]
            if rng.random() < 0.3:  # this time the other side comes first
                raw[0]["role"], raw[1]["role"] = raw[1]["role"], raw[0]["role"]
            address, lon, lat = repeat_of.d.address, repeat_of.d.lon, repeat_of.d.lat
        else:
            raw, home = self._parties(grid, kind, key_person=key_person)
            if home is not None and home[2] and kind not in (DisputeType.TRAFFIC, DisputeType.LABOUR):
                address, lon, lat = home[2], home[3], home[4]
            else:
                address, lon, lat = rng.choice(ctx.addresses.get(grid.pk) or [("", None, None)])
            if case is not None:
                address, lon, lat = case.address or address, case.lon, case.lat
            elif rng.random() < 0.15:
                lon = lat = None  # the place is known only to the grid (shown at its centre)
        try:
            parties = _party_rows(raw, by)
        except Exception:  # a resident out of the registrant's scope (should not happen): skip this one
            return None
        names = (parties[0].name, parties[1].name)
        if grade is None:
            grade = rng.choices([Grade.GENERAL, Grade.MAJOR, Grade.SERIOUS], [74, 20, 6])[0]
        people = 2
        if kind == DisputeType.LABOUR and rng.random() < 0.35:
            people = rng.randint(6, 40)
        elif kind in (DisputeType.PROPERTY_MGMT, DisputeType.CONSTRUCTION) and rng.random() < 0.3:
            people = rng.randint(5, 60)
        elif rng.random() < 0.2:
            people = rng.randint(3, 4)
        people = max(people, sum(1 for p in parties if p.kind == PartyKind.PERSON))
        if people >= 20 and grade == Grade.GENERAL:
            grade = Grade.MAJOR
        lo, hi = AMOUNTS[DisputeType(kind)]
        amount = Decimal(rng.randrange(lo, hi, 100)) if kind not in (DisputeType.NEIGHBOURHOOD, DisputeType.FAMILY) \
            or rng.random() < 0.3 else None
        phrase, descriptions, _terms, _facts = TEXTS[DisputeType(kind)]
        description = rng.choice(descriptions).format(n=people)
        if repeat_of is not None:
            description = f"双方此前已发生过纠纷（{repeat_of.d.registered_at.astimezone(ctx.zone):%Y年%m月}），" \
                          f"现矛盾再次发生：{description}"
        if case is not None:
            description, title = case.description, case.description[:60]
        else:
            title = f"{names[0]}与{names[1]}{phrase}"
        level = _user_level(by)
        reference = ""
        year = at.astimezone(ctx.zone).year
        if source == DisputeSource.POLICE:
            reference = f"{grid.code[:6]}110{year}{rng.randint(1, 99999):05d}"
        elif source == DisputeSource.COURT:
            reference = f"({year})苏{grid.code[2:6]}民诉前调{rng.randint(100, 9999)}号"
        elif source == DisputeSource.PETITIONS:
            reference = f"XF{grid.code[:6]}{year}{rng.randint(1, 99999):05d}"
        elif case is not None:
            reference = case.number
        d = Dispute(type=kind, source=source,
                    source_reference=reference[:60], case=case, title=title[:100], description=description[:4000],
                    grid=grid, path=grid.path, lon=lon, lat=lat, address=(address or "")[:200],
                    address_key=address_key(address), people_count=people, amount=amount, grade=grade,
                    initial_grade=grade, state=State.REGISTERED, version=1, level=level, level_since=at,
                    registered_at=at, due_at=ctx.clock.due(at, ctx.rules.deadline_days(grade), "days"),
                    created_at=at, updated_at=at, created_by=by, updated_by=by)
        life = _Life(ctx=ctx, rng=rng, d=d, place=place, plan=plan or self.plan(d, by), parties=parties,
                     raw_parties=raw, names=names, registrant=by, case=case, t=at)
        action = Action.CONVERT if case is not None else Action.REGISTER
        life.steps.append(Step(action=action, from_state="", to_state=State.REGISTERED, actor=by, actor_name=str(by),
                               at=at, note="", data={"source": d.source, "case": case.number if case else ""}))
        return life.run()

    def plan(self, d: Dispute, by: User) -> _Plan:
        rng, ctx = self.rng, self.ctx
        p = _Plan()
        r = rng.random()
        start = d.level
        if r < 0.04:
            p.target = "withdrawn"
        elif r < 0.13:
            p.target = "external"
            p.out_from = rng.choice([Level.COMMUNITY, Level.COMMUNITY, Level.STREET]) \
                if start != Level.STREET else Level.STREET
            if d.type == DisputeType.LABOUR:
                p.external = rng.choice([Channel.ARBITRATION, Channel.ARBITRATION, Channel.LITIGATION])
            elif d.source == DisputeSource.PETITIONS:
                p.external = Channel.PETITIONS
            else:
                p.external = rng.choice([Channel.LITIGATION, Channel.LITIGATION, Channel.JUDICIAL, Channel.PETITIONS])
        else:
            weights = {Level.GRID: 48, Level.COMMUNITY: 36, Level.STREET: 12, Level.DISTRICT: 4}
            if start != Level.GRID:
                weights[Level.GRID] = 0
            if start == Level.STREET:
                weights[Level.COMMUNITY] = 0
            if d.grade == Grade.SERIOUS:
                weights[Level.GRID], weights[Level.STREET] = 0, weights[Level.STREET] * 3
            p.target = rng.choices(list(weights), list(weights.values()))[0]
            u = rng.random()
            p.unfulfilled = "again" if u < 0.04 else "court" if u < 0.08 else ""
            p.unsettled = rng.random() < 0.06
        p.regrade = rng.random() < 0.03
        p.raise_at_assessment = rng.random() < 0.08
        p.slow = rng.random() < 0.1
        # recent disputes: some stay open in a state (the queues), besides those cut by now
        age = (ctx.now - d.registered_at).total_seconds() / 86400
        s = rng.random()
        for state, max_age, share in [(State.REGISTERED, 2, 0.3), (State.ASSESSED, 4, 0.2), (State.MEDIATING, 8, 0.2),
                                      (State.FAILED, 8, 0.1), (State.REFERRED, 30, 0.08),
                                      (State.AGREED, 30, 0.1), (State.FULFILLED, 40, 0.1)]:
            if age <= max_age:
                if s < share:
                    p.stop = state
                    break
                s -= share
        return p

    def add(self, life: _Life | None) -> None:
        if life is not None:
            self.lives.append(life)
            self.history[life.place.community.pk].append(life)

    def repeat_candidate(self, community_id: int, at: dt.datetime) -> _Life | None:
        window = dt.timedelta(days=self.ctx.rules.repeat_window_days - 5)
        earlier = [life for life in self.history.get(community_id, [])
                   if dt.timedelta(days=20) < at - life.d.registered_at < window and life.case is None]
        return self.rng.choice(earlier) if earlier else None


def _pick(rng: random.Random, weights):
    values, w = zip(*weights, strict=True)
    return rng.choices(values, w)[0]


def _instant(ctx: _Ctx, rng: random.Random, days_back: float) -> dt.datetime:
    """A moment in working time about `days_back` days before now."""
    start = ctx.now - dt.timedelta(days=days_back)
    return ctx.clock.after(start, rng.uniform(0.05, 6))


def _year(builder: _Builder, per_community: int) -> None:
    ctx, rng = builder.ctx, builder.rng
    slots = []
    for index, community in enumerate(ctx.communities):
        grids = ctx.grids.get(community.pk) or []
        if not grids or community.pk not in ctx.mediator:
            continue
        n = round(per_community * (1.5 if index == 0 else rng.uniform(0.7, 1.3)))
        for _ in range(n):
            at = _instant(ctx, rng, rng.uniform(0.3, DAYS))
            if at < ctx.now:
                slots.append((at, community.pk, rng.choice(grids)))
    slots.sort(key=lambda s: s[0])
    for at, community_id, grid in slots:
        r = rng.random()
        repeat = builder.repeat_candidate(community_id, at) if r < 0.08 else None
        key = None
        if repeat is None and r > 0.94 and ctx.tagged.get(grid.pk):
            key = rng.choice(ctx.tagged[grid.pk])
        if repeat is not None:
            grid = repeat.place.grid
        builder.add(builder.new(at=at, grid=grid, repeat_of=repeat, key_person=key))


def _showcase(builder: _Builder) -> None:
    """Recent disputes in the `mediator` login's community: its queue and the warnings board have work, with
    every kind of warning (repeats, a key population, a rising grade, a deadline, an unsettled follow-up)."""
    ctx, rng = builder.ctx, builder.rng
    demo = User.objects.filter(username="mediator", role=Role.MEDIATOR).first()
    community_id = demo.area_id if demo is not None and demo.area_id in ctx.grids else (
        ctx.communities[0].pk if ctx.communities else None)
    if community_id is None or community_id not in ctx.mediator:
        return
    grids = ctx.grids[community_id]
    member = User.objects.filter(username="gridmember").first()
    first = next((g for g in grids if member is not None and ctx.member.get(g.pk) == member), grids[0])

    def recent(days: float) -> dt.datetime:
        return ctx.clock.after(ctx.now - dt.timedelta(days=days), rng.uniform(0.1, 2))

    def one(days: float, plan: _Plan, **kw) -> _Life | None:
        # a life may end elsewhere (the time rules, or "now" on a weekend): try other starts until one stops here
        for attempt in range(24):
            at = recent(days + attempt * 0.3)
            if at >= ctx.now:
                continue
            life = builder.new(at=at, plan=copy.copy(plan), **kw)
            if life is not None and not life.cut and life.d.state == (plan.stop or State.CLOSED):
                builder.add(life)
                return life
        return None

    stops = [(State.REGISTERED, 0.6), (State.ASSESSED, 1.5), (State.MEDIATING, 3), (State.FAILED, 4),
             (State.AGREED, 6)]
    for stop, days in stops:
        one(days, _Plan(target=Level.COMMUNITY if stop != State.FAILED else Level.STREET, stop=stop), grid=first,
            source=DisputeSource.SCREENING, grade=Grade.GENERAL)
    # waiting for the street: failed at the community and referred up
    one(5, _Plan(target=Level.STREET, stop=State.REFERRED), grid=rng.choice(grids), source=DisputeSource.APPLICATION)
    # an external referral to follow up, a fulfilled one to visit, one found unsettled at the visit
    one(9, _Plan(target="external", external=Channel.LITIGATION, out_from=Level.COMMUNITY, stop=State.REFERRED),
        grid=rng.choice(grids))
    one(12, _Plan(target=Level.COMMUNITY, stop=State.FULFILLED), grid=first)
    one(30, _Plan(target=Level.COMMUNITY, unsettled=True, stop=State.FULFILLED), grid=first)
    # a rising grade: a general one still being mediated after the escalation rule's days
    one(9, _Plan(target=Level.COMMUNITY, stop=State.MEDIATING, slow=True), grid=rng.choice(grids),
        grade=Grade.GENERAL, source=DisputeSource.HOTLINE)
    # a serious one, straight to the street
    one(1.2, _Plan(target=Level.STREET, stop=State.ASSESSED), grid=rng.choice(grids), grade=Grade.SERIOUS,
        source=DisputeSource.POLICE)
    # a key population among the parties
    tagged = [(g, r) for g in grids for r in ctx.tagged.get(g.pk, [])]
    if tagged:
        grid, resident = rng.choice(tagged)
        one(2, _Plan(target=Level.COMMUNITY, stop=State.MEDIATING), grid=grid, key_person=resident)
    # the same parties again at the same address (an earlier, closed one and a new open one)
    earlier = one(150, _Plan(target=Level.GRID if first.pk in ctx.member else Level.COMMUNITY), grid=first,
                  kind=DisputeType.NEIGHBOURHOOD, source=DisputeSource.SCREENING)
    if earlier is not None:
        one(1, _Plan(target=Level.COMMUNITY, stop=State.ASSESSED), grid=first, repeat_of=earlier)


def _conversions(builder: _Builder, count: int) -> int:
    """A few of the demo's open cases in dispute categories go to mediation (as dispute_from_case leaves them)."""
    from gridgov.cases.models import Case
    from gridgov.cases.models import Step as CaseStep

    ctx, rng = builder.ctx, builder.rng
    cases = list(Case.objects.filter(category__is_dispute=True, state__in=CONVERTIBLE, dispute__isnull=True)
                 .select_related("category", "grid").order_by("reported_at", "pk"))
    rng.shuffle(cases)
    done = 0
    for case in cases:
        if done >= count:
            break
        place = ctx.places.get(case.grid_id)
        by = ctx.mediator.get(place.community.pk) if place else None
        last = CaseStep.objects.filter(case=case).order_by("-at").values_list("at", flat=True).first() \
            or case.reported_at
        at = ctx.clock.after(last, rng.uniform(0.3, 8))
        if at >= ctx.now:
            at = last + (ctx.now - last) / 2
        if by is None or at >= ctx.now or ctx.now - last < dt.timedelta(minutes=2):
            continue
        kind = CASE_TYPES.get(case.category.code[:5], DisputeType.OTHER)
        life = builder.new(at=at, grid=place.grid, kind=kind, case=case, converter=by)
        if life is not None:
            builder.add(life)
            done += 1
    return done


# --- writing ---------------------------------------------------------------------------------------------

def _next_id(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1


def _flush(lives: list[_Life], ctx: _Ctx) -> dict:
    from gridgov.cases.choices import TaskState
    from gridgov.cases.demo import _insert
    from gridgov.cases.models import Case, Task
    from gridgov.cases.models import Step as CaseStep

    lives.sort(key=lambda life: (life.d.registered_at, life.d.title))
    next_dispute, next_session, next_visit = _next_id(Dispute), _next_id(Session), _next_id(FollowUp)
    disputes, parties, sessions, visits, agreements, steps = [], [], [], [], [], []
    numbers = {}
    for life in lives:
        d = life.d
        d.id = next_dispute
        next_dispute += 1
        d.number = f"J{d.registered_at.astimezone(ctx.zone):%Y%m%d}{d.pk:05d}"
        numbers[id(life)] = d.number
        last = life.steps[-1]
        d.updated_at, d.updated_by = last.at, last.actor
        disputes.append(d)
        for party in life.parties:
            party.dispute_id = d.pk
            parties.append(party)
        for s in life.sessions:
            s.id, s.dispute_id = next_session, d.pk
            next_session += 1
            sessions.append(s)
        for v in life.follow_ups:
            v.id, v.dispute_id = next_visit, d.pk
            next_visit += 1
            visits.append(v)
        if life.agreement is not None:
            ag = life.agreement
            ag.dispute_id = d.pk
            ag.number = f"{d.number}-XY{ag.number.count:02d}"
            agreements.append(ag)
        for step in life.steps:
            step.dispute_id = d.pk
            data = dict(step.data)
            for key, value in data.items():
                if isinstance(value, _Ref):
                    data[key] = value.obj.pk if value.kind != "agreement" else f"{d.number}-XY{value.count:02d}"
            step.data = data
            steps.append(step)
    _insert(Dispute, disputes, with_pk=True)
    _insert(Party, parties, with_pk=False)
    _insert(Session, sessions, with_pk=True)
    _insert(FollowUp, visits, with_pk=True)
    _insert(Agreement, agreements, with_pk=False)
    _insert(Step, steps, with_pk=False)
    # the converted cases end as "converted", their open tasks cancelled, with the step dispute_from_case writes
    converted = 0
    for life in lives:
        if life.case is None:
            continue
        case, at, by = life.case, life.d.registered_at, life.registrant
        CaseStep.objects.create(case=case, action="convert", from_state=case.state, to_state="converted", actor=by,
                                actor_name=str(by), at=at, note="", data={"dispute": life.d.number}, public=True)
        Task.objects.filter(case=case, state__in=[TaskState.PENDING, TaskState.ACCEPTED]).update(
            state=TaskState.CANCELLED, updated_at=at)
        Case.objects.filter(pk=case.pk).update(state="converted", version=case.version + 1, updated_at=at,
                                               updated_by=by)
        converted += 1
    statements = connection.ops.sequence_reset_sql(no_style(), [Dispute, Session, FollowUp])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
    return {"disputes": len(disputes), "parties": len(parties), "sessions": len(sessions),
            "agreements": len(agreements), "follow_ups": len(visits), "steps": len(steps), "converted": converted}


# --- the entry points --------------------------------------------------------------------------------------

@transaction.atomic
def demo_disputes(*, seed: int = 1, per_community: int | None = None, now: dt.datetime | None = None) -> int:
    """Add a year of demo disputes (ending `now`, default the present) to the city in the database: about
    `per_community` (default PER_COMMUNITY) in each community, a few converted from open demo cases in dispute
    categories, and the recent ones of the showcase. Returns how many disputes were written."""
    return _build(seed=seed, per_community=per_community, now=now)["disputes"]


def _build(*, seed: int, per_community: int | None, now: dt.datetime | None) -> dict:
    now = (now or timezone.now()).replace(microsecond=0)
    created = _ensure_mediators(seed)
    ctx = _load(now)
    rng = random.Random(f"gridgov-disputes-{seed}")
    builder = _Builder(ctx, rng)
    per_community = PER_COMMUNITY if per_community is None else per_community
    _year(builder, per_community)
    _showcase(builder)
    _conversions(builder, max(2, len(builder.lives) // 50))
    counts = _flush(builder.lives, ctx)
    counts["mediators_created"] = created
    # demo data, not anyone's action: one audit entry for the whole step
    audit_log(actor=None, action="demo.disputes", object_type="disputes.dispute",
              object_repr=f"{counts['disputes']} demo disputes",
              after={"seed": seed, "per_community": per_community, **counts, "now": now.isoformat()})
    return counts


def build_disputes(*, size: str, seed: int) -> dict:
    """The demo step (settings.GRIDGOV_DEMO_STEPS), after the residents: runs inside demo_city's transaction."""
    return _build(seed=seed, per_community=None, now=None)
