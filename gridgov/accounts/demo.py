"""The demo city's people: departments, one demo login per role, and a grid member for every grid."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from gridgov.geo.models import Area, Grid

from .choices import DepartmentKind, Role
from .models import Department, User

DEPARTMENTS = [
    ("URBAN", "城市管理局", DepartmentKind.GOVERNMENT),
    ("POLICE", "公安分局", DepartmentKind.GOVERNMENT),
    ("HOUSING", "住房和城乡建设局", DepartmentKind.GOVERNMENT),
    ("CIVIL", "民政局", DepartmentKind.GOVERNMENT),
    ("MARKET", "市场监督管理局", DepartmentKind.GOVERNMENT),
    ("EMERGENCY", "应急管理局", DepartmentKind.GOVERNMENT),
    ("ENV", "生态环境局", DepartmentKind.GOVERNMENT),
    ("TRANSPORT", "交通运输局", DepartmentKind.GOVERNMENT),
    ("GREEN", "园林和绿化管理局", DepartmentKind.GOVERNMENT),
    ("WATER", "水务集团", DepartmentKind.UTILITY),
    ("POWER", "供电公司", DepartmentKind.UTILITY),
    ("GAS", "燃气公司", DepartmentKind.UTILITY),
    ("PROPERTY", "安居物业服务有限公司", DepartmentKind.PROPERTY),
]

# (username, role, display name, where: "city" | "district" | "street" | "community" | "grid" | None,
#  department code)
DEMO_LOGINS = [
    ("admin", Role.ADMIN, "系统管理员", None, None),
    ("leader", Role.LEADER, "王市长", "city", None),
    ("dispatcher", Role.DISPATCHER, "李受理", "street", None),
    ("dispatcher_c", Role.DISPATCHER, "孙社区", "community", None),
    ("dispatcher_d", Role.DISPATCHER, "钱指挥", "district", None),
    ("handler", Role.HANDLER, "赵城管", None, "URBAN"),
    ("mediator", Role.MEDIATOR, "陈调解", "community", None),
    ("party", Role.PARTY_SECRETARY, "周书记", "community", None),
    ("gridmember", Role.GRID_MEMBER, "张网格", "grid", None),
    ("resident", Role.RESIDENT, "刘居民", None, None),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰志文斌"


@transaction.atomic
def build_people(*, size: str, seed: int) -> dict:
    city = Area.objects.get(level="city", parent__isnull=True)
    first_street = Area.objects.filter(level="street").order_by("code").first()
    first_community = Area.objects.filter(level="community", parent=first_street).order_by("code").first()
    first_grid = Grid.objects.filter(community=first_community).order_by("code").first()

    departments = Department.objects.bulk_create(
        [Department(code=code, name=name, kind=kind) for code, name, kind in DEPARTMENTS])
    for department in departments:
        department.areas.add(city)
    by_code = {d.code: d for d in departments}

    # One hash for every demo account: hashing 10,000 passwords with Argon2 would take minutes.
    password = make_password(settings.GRIDGOV_DEMO_PASSWORD)
    where = {"city": city, "district": first_street.parent, "street": first_street, "community": first_community}
    users = []
    # An account created before the demo (e.g. `createsuperuser admin`) is kept as it is.
    existing = set(User.objects.values_list("username", flat=True))
    for username, role, name, scope, dept in DEMO_LOGINS:
        if username in existing:
            continue
        users.append(User(username=username, role=role, display_name=name, password=password,
                          area=where.get(scope), department=by_code.get(dept),
                          is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN))
    User.objects.bulk_create(users)
    User.objects.get(username="gridmember").grids.add(first_grid)

    # Every other grid gets its own grid member, gm<grid code>, with the same demo password.
    grid_ids = list(Grid.objects.exclude(pk=first_grid.pk).order_by("code").values_list("id", "code"))
    members = [
        User(username=f"gm{code}", role=Role.GRID_MEMBER, password=password,
             display_name=SURNAMES[(seed + i) % len(SURNAMES)] + GIVEN[(seed * 7 + i * 3) % len(GIVEN)]
             + GIVEN[(i * 11 + 5) % len(GIVEN)],
             phone=f"139{(seed * 7919 + i * 104729) % 100_000_000:08d}")
        for i, (_, code) in enumerate(grid_ids)
    ]
    User.objects.bulk_create(members, batch_size=1000)
    member_ids = dict(User.objects.filter(username__startswith="gm").values_list("username", "id"))
    through = Grid.members.through
    through.objects.bulk_create(
        [through(grid_id=grid_id, user_id=member_ids[f"gm{code}"]) for grid_id, code in grid_ids],
        batch_size=2000)
    return {"departments": len(departments), "users": len(users) + len(members)}
