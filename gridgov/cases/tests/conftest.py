"""Fixtures for the cases tests: a small city, departments, users of every role, a category."""

import pytest

from gridgov.accounts.tests.factories import DepartmentFactory, UserFactory
from gridgov.cases.categories import categories_upsert
from gridgov.cases.models import Category
from gridgov.geo.tests.factories import AreaFactory, GridFactory, make_tree


@pytest.fixture
def world(db):
    """Two communities (two streets); grids g1 (mine) and g2 in community 1, g3 in community 2."""
    t = make_tree()
    street2 = AreaFactory(code="320508002", level="street", parent=t["district"], name="Street 2")
    community2 = AreaFactory(code="320508002001", level="community", parent=street2, name="Community 2")
    g1 = GridFactory(code="320508001001001", community=t["community"], bounds=(120.60, 31.30, 120.61, 31.31))
    g2 = GridFactory(code="320508001001002", community=t["community"], bounds=(120.61, 31.30, 120.62, 31.31))
    g3 = GridFactory(code="320508002001001", community=community2, bounds=(120.62, 31.30, 120.63, 31.31))
    urban = DepartmentFactory(code="URBAN", name="城管")
    water = DepartmentFactory(code="WATER", name="水务")
    police = DepartmentFactory(code="POLICE", name="公安")
    users = {
        "gm": UserFactory(username="gm", role="grid_member", display_name="张网格"),
        "gm3": UserFactory(username="gm3", role="grid_member"),
        "dispatcher": UserFactory(username="disp", role="dispatcher", area=t["street"]),
        "community_dispatcher": UserFactory(username="cdisp", role="dispatcher", area=t["community"]),
        "district_dispatcher": UserFactory(username="ddisp", role="dispatcher", area=t["district"]),
        "other_dispatcher": UserFactory(username="odisp", role="dispatcher", area=street2),
        "handler": UserFactory(username="h_urban", role="handler", department=urban),
        "water_handler": UserFactory(username="h_water", role="handler", department=water),
        "police_handler": UserFactory(username="h_police", role="handler", department=police),
        "leader": UserFactory(username="leader", role="leader", area=t["city"]),
        "resident": UserFactory(username="res", role="resident"),
        "admin": UserFactory(username="adm", role="admin"),
    }
    g1.members.add(users["gm"])
    g3.members.add(users["gm3"])
    categories_upsert(rows=[
        {"code": "T01", "name": "市容", "kind": "event", "parent": None},
        {"code": "T0101", "name": "暴露垃圾", "kind": "event", "parent": "T01", "department": "URBAN",
         "register_limit": 2, "dispatch_limit": 2, "handle_limit": 2, "limit_unit": "hours", "handle_unit": "days",
         "duplicate_radius_m": 50, "photo_required_report_back": False},
        {"code": "T0102", "name": "路面塌陷", "kind": "event", "parent": "T01", "department": "URBAN",
         "photo_required_report_back": True, "extra_fields": [
             {"code": "size", "label": "面积", "datatype": "singlevaluelist", "required": True,
              "values": [{"key": "small", "name": "小"}, {"key": "large", "name": "大"}]}]},
    ])
    return {**t, "street2": street2, "community2": community2, "g1": g1, "g2": g2, "g3": g3, "urban": urban,
            "water": water, "police": police, "users": users, "category": Category.objects.get(code="T0101")}
