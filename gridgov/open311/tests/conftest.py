"""Fixtures for the Open311 tests: the cases tests' small city, a category with every attribute datatype, and
a client that fetches each resource in JSON and XML, validates the JSON against the specification's schema
and checks that the XML says the same."""

import json

import pytest

from gridgov.accounts.services import token_create
from gridgov.cases.categories import categories_upsert
from gridgov.cases.tests.conftest import world  # noqa: F401 -- the shared fixture

from . import schemas

IN_G1 = {"lat": "31.305", "long": "120.605"}
IN_G3 = {"lat": "31.305", "long": "120.625"}
ATTRIBUTES = [
    {"code": "size", "label": "面积", "datatype": "singlevaluelist", "required": True,
     "values": [{"key": "small", "name": "小"}, {"key": "large", "name": "大"}]},
    {"code": "kinds", "label": "种类", "datatype": "multivaluelist", "required": False,
     "values": [{"key": "glass", "name": "玻璃"}, {"key": "paper", "name": "纸"}, {"key": "metal", "name": "金属"}]},
    {"code": "count", "label": "数量", "datatype": "number", "required": False},
    {"code": "seen", "label": "发现时间", "datatype": "datetime", "required": False},
    {"code": "plate", "label": "车牌", "datatype": "string", "required": False},
    {"code": "notes", "label": "补充", "datatype": "text", "required": False},
]


@pytest.fixture
def city(world):  # noqa: F811
    """The world plus category T0103 (service code `dump`) with one attribute of each datatype."""
    categories_upsert(rows=[{"code": "T0103", "name": "建筑垃圾", "kind": "event", "parent": "T01",
                             "department": "URBAN", "service_code": "dump", "keywords": "渣土,垃圾",
                             "description": "建筑垃圾乱倒", "extra_fields": ATTRIBUTES}])
    return world


class Open311:
    """Calls /open311/v2/<resource>.<fmt> with an optional api_key."""

    def __init__(self, client, key: str | None = None):
        self.client = client
        self.key = key

    def _params(self, params):
        return ({"api_key": self.key} if self.key else {}) | params

    def raw(self, resource: str, fmt: str = "json", **params):
        return self.client.get(f"/open311/v2/{resource}.{fmt}", self._params(params))

    def get(self, resource: str, schema: dict, expect: int = 200, **params):
        """The JSON answer (validated), after checking the XML answer to the same call says the same."""
        response = self.raw(resource, "json", **params)
        assert response.status_code == expect, response.content
        assert response["Content-Type"] == "application/json; charset=utf-8"
        data = json.loads(response.content)
        schemas.validate(schema, data)
        xml = self.raw(resource, "xml", **params)
        assert xml.status_code == expect, xml.content
        assert xml["Content-Type"] == "text/xml; charset=utf-8"
        schemas.check_xml(schema, xml.content, data)
        return data

    def error(self, resource: str, expect: int, **params) -> list[dict]:
        return self.get(resource, schemas.ERRORS, expect, **params)

    def post(self, fmt: str = "json", data=None, raw_body: str | None = None, key: bool = True, **fields):
        body = self._params(fields) if key else fields
        if raw_body is not None:
            return self.client.post(f"/open311/v2/requests.{fmt}", raw_body,
                                    content_type="application/x-www-form-urlencoded")
        return self.client.post(f"/open311/v2/requests.{fmt}", data if data is not None else body)

    def create(self, **fields) -> dict:
        response = self.post(**{"service_code": "t0101", "description": "垃圾堆放", **IN_G1, **fields})
        assert response.status_code == 200, response.content
        data = json.loads(response.content)
        schemas.validate(schemas.POST_RESPONSE, data)
        return data[0]


@pytest.fixture
def o311(client, city):
    """o311(None) is the public; o311("gm") a user of the world with a fresh api_key."""
    keys = {}

    def as_user(name):
        if name is None:
            return Open311(client)
        if name not in keys:
            keys[name] = token_create(user=city["users"][name], name="open311")[1]
        return Open311(client, keys[name])

    return as_user
