"""The demo city's registry (一标三实): for every grid, standard addresses in its buildings, houses, households,
residents, units, key populations and a few months of visits.

- Names are synthetic. ID numbers are valid GB 11643 numbers (real date, correct check digit) on the demo
  city's district codes (the first six digits are the code of the grid's district, 3205xx); phones are
  synthetic mobiles. Both are stored encrypted with blind indexes, exactly as the services write them.
- Mostly 户籍 residents of ethnicity 01; about one in six is floating population (registered elsewhere, living
  here: 人在户不在), a few are from abroad (no ID number recorded), a few are registered here but live
  elsewhere (户在人不在); a few records are stale (not confirmed for over a year).
- Units carry valid unified social credit codes (GB 32100 check character) registered in the district.
- Key populations: elderly living alone aged 75+, aged 80+, disabled, low-income, left-behind children and a
  few sensitive ones (community correction, released prisoners, severe mental disorder, petitioners). Each has
  visits by the grid's member over the past months following its visit policy; about a quarter of them have
  missed the latest one, so the "visits due" list has overdue entries. The first grid (the `gridmember`
  login's) always has some.
- Built with bulk_create (not the per-row services) to stay fast; no per-row history rows are written for
  demo data, one audit entry records the step.

Demo permissions granted here:
- `gridmember` (网格员 of the first grid): residents.unmask_personal and residents.view_sensitive_tags — a
  grid member who visits community-correction and mental-health cases with the justice office; every
  unmasking is still audited. The other grid members (gm<grid code>) have neither, to show the difference.
- `dispatcher_c` (community dispatcher): residents.unmask_personal only.

Size: small ≈ 55 residents per residential grid (≈ 7,000 for the 144 grids); large 20 per grid by default.
Set GRIDGOV_DEMO_RESIDENTS_PER_GRID (setting or environment variable) to change it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections import defaultdict

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from gridgov.accounts.models import User
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.geo.models import Address, Building, Grid

from .choices import (
    FREQUENCY_DAYS,
    HouseUse,
    PersonStatus,
    PoliticalStatus,
    Presence,
    Relation,
    ResidenceType,
    VisitForm,
)
from .models import House, Household, KeyTag, Resident, ResidentTag, Unit, Visit
from .services import completeness
from .validators import USCC_ALPHABET, id_check_char, uscc_check_char

PER_GRID = {"small": 55, "large": 20}
KIND_SHARE = {"residential": 1.0, "village": 1.0, "commercial": 0.4, "school": 0.3, "industrial": 0.3,
              "special": 0.25}

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志文斌慧琳晨宇浩然子涵欣怡梓轩雨萱"
         "一诺思远佳怡俊杰嘉豪婷婷晓东海燕春生秋菊德福金凤")
OCCUPATIONS = ["职员", "教师", "医生", "护士", "工人", "个体经营", "司机", "厨师", "保安", "快递员", "程序员",
               "会计", "销售", "公务员", "自由职业", "退休", "无业"]
ELSEWHERE = ["安徽省阜阳市颍州区", "河南省驻马店市驿城区", "四川省成都市金牛区", "江西省上饶市信州区",
             "湖北省黄冈市黄州区", "山东省临沂市兰山区", "江苏省盐城市亭湖区", "贵州省遵义市汇川区"]
MINORITIES = ["03", "02", "08", "11", "06", "15", "10", "05", "04", "07", "12", "13"]
UNIT_KINDS = [("超市", "便利店"), ("餐饮", "餐馆"), ("美容美发", "理发店"), ("维修", "家电维修部"),
              ("药店", "大药房"), ("培训", "培训中心"), ("物业", "物业服务中心"), ("诊所", "社区诊所"),
              ("快递", "快递驿站"), ("五金", "五金店")]
VISIT_TEXTS = ["上门走访，身体状况良好，生活能自理。", "电话问候，老人表示一切正常。", "查看居住环境，提醒用电用气安全。",
               "了解近期生活困难，已联系社区协助。", "陪同就医后回访，恢复情况良好。", "询问补助发放情况，已按时到账。",
               "了解学习和生活情况，与监护人沟通。", "情绪稳定，按时服药，家属照看到位。", "对象在家，思想稳定，按要求报到。"]
MEASURES = ["", "", "", "提醒按时服药", "协调志愿者定期上门", "帮助申请临时救助", "更换烟感报警器"]
CONDITIONS = ["良好", "良好", "一般", "行动不便", "需关注"]

# tag code -> (share among eligible residents, who is eligible)
ELDERLY_ALONE_AGE = 75
AGED_80 = 80


def _per_grid(size: str) -> int:
    value = getattr(settings, "GRIDGOV_DEMO_RESIDENTS_PER_GRID", None) or os.environ.get(
        "GRIDGOV_DEMO_RESIDENTS_PER_GRID")
    return int(value) if value else PER_GRID.get(size, 20)


class _Ids:
    """Unique valid identifiers."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.ids: set[str] = set()
        self.codes: set[str] = set()
        self.phones: set[str] = set()

    def citizen(self, region: str, birth: dt.date, male: bool) -> str:
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if male else 0)
            first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            number = first17 + id_check_char(first17)
            if number not in self.ids:
                self.ids.add(number)
                return number

    def mobile(self) -> str:
        while True:
            phone = f"1{self.rng.choice('35789')}{self.rng.randrange(10)}{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def uscc(self, region: str) -> str:
        while True:
            body = "".join(self.rng.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
            first17 = f"{self.rng.choice(['91', '92', '52'])}{region}{body}"
            code = first17 + uscc_check_char(first17)
            if code not in self.codes:
                self.codes.add(code)
                return code


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))


def _birth(rng: random.Random, today: dt.date, age_min: int, age_max: int) -> dt.date:
    age = rng.randint(age_min, age_max)
    return today - dt.timedelta(days=age * 365 + rng.randrange(365))


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _ago(now: dt.datetime, rng: random.Random, days_min: int, days_max: int) -> dt.datetime:
    return now - dt.timedelta(days=rng.uniform(days_min, days_max))


def _grant(username: str, *codenames: str) -> None:
    user = User.objects.filter(username=username).first()
    if user is not None:
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="residents",
                                                             codename__in=codenames))


@transaction.atomic
def build_residents(*, size: str, seed: int) -> dict:
    rng = random.Random(seed * 7919 + 4)
    ids = _Ids(rng)
    now = timezone.now()
    today = timezone.localdate()
    per_grid = _per_grid(size)
    grids = list(Grid.objects.select_related("community").order_by("code"))
    buildings = defaultdict(list)
    for b in Building.objects.order_by("code"):
        buildings[b.grid_id].append(b)
    members = dict(Grid.members.through.objects.order_by("user_id").values_list("grid_id", "user_id"))
    fallback_visitor = User.objects.filter(role="admin").order_by("pk").values_list("pk", flat=True).first()
    tags = {t.code: t for t in KeyTag.objects.all()}

    # 1. addresses and houses -----------------------------------------------------------------------------
    addresses, plan = [], []  # plan: (grid, kind) per address, "home" or "shop"
    used = set()
    for grid in grids:
        target = max(3, round(per_grid * KIND_SHARE.get(grid.kind, 1.0)))
        homes = max(2, round(target / 2.4))
        shops = rng.randint(1, 2) + (3 if grid.kind == "commercial" else 0)
        blds = buildings.get(grid.pk) or [None]
        slots = []
        for b_index, building in enumerate(blds, 1):
            road = building.road if building else "人民路"
            number = building.number if building else str(b_index)
            building_no = str(b_index)
            while (grid.community_id, road, number, building_no) in used:
                building_no += "A"
            used.add((grid.community_id, road, number, building_no))
            units = (building.units if building else 1) or 1
            floors = min((building.floors if building else 6) or 6, 18)
            rooms = [(u, f, r) for u in range(1, units + 1) for f in range(1, floors + 1) for r in (1, 2)]
            rng.shuffle(rooms)
            slots.append((building, road, number, building_no, rooms))
        for n in range(homes + shops):
            building, road, number, building_no, rooms = slots[n % len(slots)]
            if n >= homes:  # a shop on the ground floor, addressed by its own room number
                u, f, room = "", "1", f"商{n - homes + 1:02d}"
                kind = "shop"
            else:
                u, f, r = rooms.pop() if rooms else (1, 1, 90 + n)
                room, u, f = f"{f}{r:02d}", str(u), str(f)
                kind = "home"
            unit_text = f"{u}单元" if u else ""
            addresses.append(Address(
                grid_id=grid.pk, path=grid.path, community_id=grid.community_id, building=building, road=road,
                number=number, building_no=building_no, unit=u, floor=f, room=room,
                full_text=f"{grid.community.name}{road}{number}号{building_no}幢{unit_text}{room}室",
                lon=building.lon if building else None, lat=building.lat if building else None))
            plan.append((grid, kind))
    Address.objects.bulk_create(addresses, batch_size=2000)

    houses = []
    for address, (grid, kind) in zip(addresses, plan, strict=True):
        owner = _name(rng)
        houses.append(House(
            address_id=address.pk, grid_id=grid.pk, path=grid.path,
            use=HouseUse.RESIDENTIAL if kind == "home" else rng.choice([HouseUse.COMMERCIAL, HouseUse.MIXED]),
            floor_area=round(rng.uniform(45, 140), 2) if kind == "home" else round(rng.uniform(20, 200), 2),
            owner_name=owner, owner_phone=crypto.encrypt(ids.mobile()) if rng.random() < 0.8 else "",
            rented=kind == "shop" or rng.random() < 0.22,
            confirmed_at=_ago(now, rng, 5, 300)))
    House.objects.bulk_create(houses, batch_size=2000)

    # 2. households and residents -------------------------------------------------------------------------
    households, people = [], []  # people: dicts turned into Resident objects once households have pks
    household_no = 0
    for house, (grid, kind) in zip(houses, plan, strict=True):
        if kind != "home":
            continue
        district = grid.code[:6]
        household_no += 1
        household = Household(number=f"{grid.code}{household_no:05d}", house_id=house.pk, grid_id=grid.pk,
                              path=grid.path)
        households.append(household)
        floating = house.rented and rng.random() < 0.75
        shape = rng.random()
        members_plan = []
        if shape < 0.12:  # an elderly person living alone
            members_plan = [(Relation.HEAD, 72, 94)]
        elif shape < 0.30:  # a couple
            members_plan = [(Relation.HEAD, 25, 85), (Relation.SPOUSE, 0, 0)]
        elif shape < 0.85:  # a family
            members_plan = [(Relation.HEAD, 28, 55), (Relation.SPOUSE, 0, 0), (Relation.CHILD, 0, 0)]
            if rng.random() < 0.35:
                members_plan.append((Relation.CHILD, 0, 0))
            if rng.random() < 0.25:
                members_plan.append((Relation.PARENT, 0, 0))
        else:  # grandparents raising a grandchild (parents working elsewhere)
            members_plan = [(Relation.HEAD, 60, 78), (Relation.SPOUSE, 0, 0), (Relation.GRANDCHILD, 0, 0)]
        head_birth = None
        surname = rng.choice(SURNAMES)
        for relation, lo, hi in members_plan:
            if relation == Relation.HEAD:
                birth = _birth(rng, today, lo, hi)
                head_birth = birth
            elif relation == Relation.SPOUSE:
                birth = head_birth + dt.timedelta(days=rng.randint(-5 * 365, 5 * 365))
            elif relation == Relation.CHILD:
                head_age = _age(head_birth, today)
                birth = _birth(rng, today, max(0, head_age - 40), max(0, head_age - 22))
            elif relation == Relation.PARENT:
                head_age = _age(head_birth, today)
                birth = _birth(rng, today, min(head_age + 22, 95), min(head_age + 35, 98))
            else:  # grandchild
                birth = _birth(rng, today, 4, 15)
            birth = min(birth, today - dt.timedelta(days=30))
            male = rng.random() < 0.5
            name = (surname if relation in (Relation.HEAD, Relation.CHILD, Relation.GRANDCHILD)
                    else rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))
            people.append({"household": household, "house": house, "grid": grid, "relation": relation,
                           "birth": birth, "male": male, "name": name, "floating": floating,
                           "district": district, "alone": len(members_plan) == 1,
                           "grandchild": relation == Relation.GRANDCHILD})
    Household.objects.bulk_create(households, batch_size=2000)

    residents = []
    for p in people:
        age = _age(p["birth"], today)
        foreign = not p["floating"] and rng.random() < 0.01 and age >= 18
        residence = (ResidenceType.FOREIGN if foreign else
                     ResidenceType.FLOATING if p["floating"] else ResidenceType.REGISTERED)
        number = "" if foreign else ids.citizen(p["district"], p["birth"], p["male"])
        phone = ids.mobile() if age >= 14 and rng.random() < 0.9 else ""
        if residence == ResidenceType.FLOATING:
            presence, registered = Presence.PERSON_ONLY, rng.choice(ELSEWHERE)
        elif residence == ResidenceType.FOREIGN:
            presence, registered = Presence.PERSON_ONLY, ""
        else:
            presence = Presence.REGISTRATION_ONLY if rng.random() < 0.05 else Presence.CONSISTENT
            registered = f"江苏省S市{p['grid'].community.name}"
        political = (PoliticalStatus.CPC if age >= 18 and rng.random() < 0.09 else
                     PoliticalStatus.CYL if 14 <= age <= 28 and rng.random() < 0.4 else PoliticalStatus.MASSES)
        status = PersonStatus.ACTIVE
        if rng.random() < 0.01:
            status = rng.choice([PersonStatus.MOVED_OUT, PersonStatus.DECEASED if age > 70 else PersonStatus.MOVED_OUT])
        r = Resident(
            name=p["name"], id_number=crypto.encrypt(number), id_index=crypto.blind_index(number),
            id_last4=number[-4:], id_region=number[:6], gender="male" if p["male"] else "female",
            birth_date=p["birth"], ethnicity="" if foreign else ("01" if rng.random() < 0.93 else rng.choice(MINORITIES)),
            phone=crypto.encrypt(phone), phone_index=crypto.blind_index(phone), phone_last4=phone[-4:],
            registered_address=registered, house_id=p["house"].pk, household_id=p["household"].pk,
            relation=p["relation"], presence=presence, residence_type=residence,
            occupation=("学生" if age < 22 else "退休" if age >= 60 else rng.choice(OCCUPATIONS)) if age >= 6 else "",
            political_status=political, status=status, grid_id=p["grid"].pk, path=p["grid"].path,
            confirmed_at=_ago(now, rng, 400, 600) if rng.random() < 0.06 else _ago(now, rng, 1, 330))
        if rng.random() < 0.04:  # a record entered without its household: an incomplete one to fix
            r.household_id = None
        r.completeness = completeness(r)
        residents.append(r)
    Resident.objects.bulk_create(residents, batch_size=2000)

    # 3. units --------------------------------------------------------------------------------------------
    units = []
    for address, (grid, kind) in zip(addresses, plan, strict=True):
        if kind != "shop":
            continue
        category, suffix = rng.choice(UNIT_KINDS)
        phone = ids.mobile()
        units.append(Unit(
            name=f"{rng.choice(SURNAMES)}记{suffix}" if rng.random() < 0.6 else f"S市{address.road}{suffix}",
            credit_code=ids.uscc(grid.code[:6]) if rng.random() < 0.92 else "", kind=category,
            contact_name=_name(rng), contact_phone=crypto.encrypt(phone), contact_phone_last4=phone[-4:],
            address_id=address.pk, grid_id=grid.pk, path=grid.path, confirmed_at=_ago(now, rng, 5, 300)))
    Unit.objects.bulk_create(units, batch_size=2000)

    # 4. key populations and visits -----------------------------------------------------------------------
    records, visits = [], []
    sensitive = [c for c in ("community_correction", "released_prisoner", "severe_mental", "petitioner") if c in tags]
    first_grid = grids[0].pk if grids else None

    def tag(resident: Resident, code: str, grade: int) -> None:
        if code in tags:
            records.append((resident, tags[code], grade))

    by_grid = defaultdict(list)
    for r, p in zip(residents, people, strict=True):
        if r.status != PersonStatus.ACTIVE:
            continue
        by_grid[r.grid_id].append((r, p))
        age = _age(r.birth_date, today)
        if p["alone"] and age >= ELDERLY_ALONE_AGE:
            tag(r, "elderly_alone", 1 if age >= 85 else 2)
        if age >= AGED_80:
            tag(r, "aged_80", 2 if age < 90 else 1)
        if rng.random() < 0.015:
            tag(r, "disabled", rng.choice([1, 2, 3]))
        if rng.random() < 0.012 and age >= 18:
            tag(r, "low_income", rng.choice([2, 3]))
        if p["grandchild"] and rng.random() < 0.5:
            tag(r, "left_behind_child", 2)
        if sensitive and 18 <= age <= 70 and rng.random() < 0.004:
            tag(r, rng.choice(sensitive), rng.choice([1, 2, 2, 3]))
    # the gridmember's grid always has people to visit, some overdue
    if first_grid is not None and "elderly_alone" in tags:
        tagged = {(r.pk, t.code) for r, t, _ in records}
        for r, _p in sorted(by_grid[first_grid], key=lambda rp: rp[0].birth_date)[:3]:
            if (r.pk, "elderly_alone") not in tagged:
                tag(r, "elderly_alone", 1)

    tag_rows = []
    for resident, key_tag, grade in records:
        since = today - dt.timedelta(days=rng.randint(120, 900))
        tag_rows.append(ResidentTag(resident_id=resident.pk, tag=key_tag, grade=grade, since=since, active=True))
        frequency = key_tag.visit_policy.get(str(grade), key_tag.default_frequency)
        every = FREQUENCY_DAYS.get(frequency, 30)
        visitor = members.get(resident.grid_id, fallback_visitor)
        if visitor is None:
            continue
        # visits over the past ~4 months; a quarter missed the latest (overdue now)
        overdue = rng.random() < 0.25 or (resident.grid_id == first_grid and len(tag_rows) % 2 == 0)
        last = now - dt.timedelta(days=every * (1.3 + rng.random()) if overdue else every * rng.uniform(0.1, 0.9))
        start = max(timezone.make_aware(dt.datetime.combine(since, dt.time(9))), now - dt.timedelta(days=120))
        at = last
        while at >= start:
            hour = dt.timedelta(hours=rng.randint(-3, 3))
            form = rng.choices([VisitForm.HOME, VisitForm.PHONE, VisitForm.VIDEO], [70, 25, 5])[0]
            visits.append(Visit(
                resident_id=resident.pk, tag=key_tag, visitor_id=visitor, visited_at=at + hour, form=form,
                purpose=key_tag.name + "走访", content=rng.choice(VISIT_TEXTS), seen=rng.random() > 0.04,
                condition=rng.choice(CONDITIONS), measures=rng.choice(MEASURES), path=resident.path))
            at -= dt.timedelta(days=every * rng.uniform(0.8, 1.15))
    ResidentTag.objects.bulk_create(tag_rows, batch_size=2000)
    Visit.objects.bulk_create(visits, batch_size=2000)

    _grant("gridmember", "unmask_personal", "view_sensitive_tags")
    _grant("dispatcher_c", "unmask_personal")
    counts = {"addresses": len(addresses), "houses": len(houses), "households": len(households),
              "residents": len(residents), "units": len(units), "key_population": len(tag_rows),
              "visits": len(visits)}
    audit_log(actor=None, action="residents.demo", object_type="residents.resident",
              object_repr="demo registry", after={"size": size, "seed": seed, **counts})
    return counts
