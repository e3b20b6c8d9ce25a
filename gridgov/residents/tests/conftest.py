"""Fixtures for the residents tests: a small tree, three grids, addresses and houses, users of every role and
a few residents with valid ID numbers.

    registry["g1"] / ["g2"]      grids of community 1 (g1 is gm's grid), registry["g3"] in community 2 (gm3's)
    registry["addresses"]        {"g1": [Address, Address, Address], "g2": [...], "g3": [...]}
    registry["houses"]           the same keys, one House per address
    registry["users"]            gm, gm3, dispatcher (street 1), other_dispatcher (street 2), leader (city),
                                 resident, admin, officer (grid member of g1 holding residents.unmask_personal and
                                 residents.view_sensitive_tags)
    registry["residents"]        {"zhang": Resident in g1, "li": Resident in g1, "wang": Resident in g3}
    registry["ids"] / ["phones"] the plaintext ID numbers / phones of those residents (same keys)
    registry["tags"]             {code: KeyTag} (seeded by migration 0002)

`make_id(region, birth, seq)` (importable from here) builds a GB 11643 number with a correct check digit.
"""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov.accounts.tests.factories import UserFactory
from gridgov.geo.models import Address
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree
from gridgov.residents.validators import id_check_char

IDS = {
    "zhang": "320508198001010032",  # built with make_id below; checked in test_validators
    "li": "320508199205150023",
    "wang": "320508195003030017",
}


def make_id(region: str = "320508", birth: dt.date = dt.date(1980, 1, 1), seq: int = 3) -> str:
    """An 18-digit ID number: region + birth date + 3-digit sequence (odd = male) + check digit."""
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def _address(grid, community, road: str, number: str, room: str) -> Address:
    return Address.objects.create(grid=grid, path=grid.path, community=community, road=road, number=number,
                                  building_no="1", unit="1", floor=room[:1], room=room,
                                  full_text=f"{community.name}{road}{number}号1幢1单元{room}室")


@pytest.fixture
def registry(db):
    from django.contrib.auth.models import Permission

    from gridgov.residents import services
    from gridgov.residents.models import House, KeyTag

    t = make_tree()
    street2 = AreaFactory(code="320508002", level="street", parent=t["district"], name="Street 2")
    community2 = AreaFactory(code="320508002001", level="community", parent=street2, name="Community 2")
    g1 = GridFactory(code="320508001001001", community=t["community"], bounds=(120.60, 31.30, 120.61, 31.31))
    g2 = GridFactory(code="320508001001002", community=t["community"], bounds=(120.61, 31.30, 120.62, 31.31))
    g3 = GridFactory(code="320508002001001", community=community2, bounds=(120.62, 31.30, 120.63, 31.31))
    users = {
        "gm": UserFactory(username="gm", role="grid_member", display_name="张网格"),
        "gm3": UserFactory(username="gm3", role="grid_member"),
        "officer": UserFactory(username="officer", role="grid_member"),
        "dispatcher": UserFactory(username="disp", role="dispatcher", area=t["street"]),
        "other_dispatcher": UserFactory(username="odisp", role="dispatcher", area=street2),
        "leader": UserFactory(username="leader", role="leader", area=t["city"]),
        "resident": UserFactory(username="res", role="resident"),
        "admin": UserFactory(username="adm", role="admin"),
    }
    g1.members.add(users["gm"], users["officer"])
    g3.members.add(users["gm3"])
    users["officer"].user_permissions.add(
        *Permission.objects.filter(content_type__app_label="residents",
                                   codename__in=["unmask_personal", "view_sensitive_tags"]))
    communities = {"g1": t["community"], "g2": t["community"], "g3": community2}
    grids = {"g1": g1, "g2": g2, "g3": g3}
    roads = {"g1": "人民路", "g2": "干将路", "g3": "十全街"}
    addresses, houses = {}, {}
    for key, grid in grids.items():
        addresses[key] = [_address(grid, communities[key], roads[key], "1", room) for room in ("101", "102", "201")]
        houses[key] = [House.objects.create(address=a, grid=grid, path=grid.path, owner_name="房东")
                       for a in addresses[key]]
    admin = users["admin"]
    phones = {"zhang": "13912345678", "li": "13800001111", "wang": "13700002222"}
    residents = {}
    for key, grid_key, name in [("zhang", "g1", "张三"), ("li", "g1", "李四"), ("wang", "g3", "王五")]:
        residents[key], _ = services.resident_save(
            by=admin, grid=grids[grid_key],
            data={"name": name, "id_number": IDS[key], "phone": phones[key], "ethnicity": "01",
                  "house": houses[grid_key][0], "registered_address": "江苏省苏州市"})
    return {**t, "street2": street2, "community2": community2, **grids, "grids": grids, "addresses": addresses,
            "houses": houses, "users": users, "residents": residents, "ids": dict(IDS), "phones": phones,
            "tags": {tag.code: tag for tag in KeyTag.objects.all()}}
