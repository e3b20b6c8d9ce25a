"""A round trip over a live server, as an Open311 client would make it: discover, read the services and a
definition, create requests (JSON and XML), list, fetch, filter by status and date, read the updates."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gridgov.accounts.services import token_create
from gridgov.cases import services as case_services
from gridgov.cases.models import Case

from . import schemas
from .conftest import IN_G1

pytestmark = pytest.mark.django_db(transaction=True)


def _json(response: httpx.Response, schema: dict, status: int = 200):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    data = response.json()
    schemas.validate(schema, data)
    return data


def _xml(response: httpx.Response, schema: dict, status: int = 200):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    return schemas.check_xml(schema, response.content)


def test_round_trip(live_server, city):
    key = token_create(user=city["users"]["gm"], name="open311 client")[1]
    dispatcher = city["users"]["dispatcher"]
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        discovery = _json(http.get("/open311/v2/discovery.json"), schemas.DISCOVERY)
        base = discovery["endpoints"][0]["url"]
        assert base == f"{live_server.url}/open311/v2"
        _xml(http.get(f"{base}/discovery.xml"), schemas.DISCOVERY)

        services = _json(http.get(f"{base}/services.json", params={"jurisdiction_id": "s-city"}), schemas.SERVICES)
        assert _xml(http.get(f"{base}/services.xml"), schemas.SERVICES) == schemas._as_text(services)
        dump = next(s for s in services if s["service_code"] == "dump")
        assert dump["metadata"] is True
        definition = _json(http.get(f"{base}/services/dump.json"), schemas.SERVICE_DEFINITION)
        _xml(http.get(f"{base}/services/dump.xml"), schemas.SERVICE_DEFINITION)
        required = [a["code"] for a in definition["attributes"] if a["required"]]
        assert required == ["size"]

        # create: one in JSON with a multivaluelist answer, one in XML
        created = _json(http.post(f"{base}/requests.json", data={
            "api_key": key, "service_code": "dump", "description": "渣土", **IN_G1,
            "attribute[size]": "small", "attribute[kinds][]": ["glass", "paper"]}), schemas.POST_RESPONSE)
        first = created[0]["service_request_id"]
        second = _xml(http.post(f"{base}/requests.xml", data={
            "api_key": key, "service_code": "t0101", "description": "垃圾", **IN_G1}),
            schemas.POST_RESPONSE)[0]["service_request_id"]
        case = Case.objects.get(tracking_code=second)
        case_services.case_reject(case_id=case.pk, by=dispatcher, reason="重复上报")

        # list, fetch, filter by status and by date, in both formats
        listed = _json(http.get(f"{base}/requests.json", params={"api_key": key}), schemas.REQUESTS)
        assert [r["service_request_id"] for r in listed] == [second, first]
        assert _xml(http.get(f"{base}/requests.xml", params={"api_key": key}), schemas.REQUESTS) \
            == schemas._as_text(listed)
        one = _json(http.get(f"{base}/requests/{first}.json", params={"api_key": key, "extensions": "true"}),
                    schemas.REQUESTS)
        assert one[0]["extended_attributes"]["attributes"][1] == {"code": "kinds", "value": ["glass", "paper"]}
        _xml(http.get(f"{base}/requests/{first}.xml", params={"api_key": key, "extensions": "true"}),
             schemas.REQUESTS)
        for status, expected in (("open", [first]), ("closed", [second])):
            for fmt in ("json", "xml"):
                response = http.get(f"{base}/requests.{fmt}", params={"api_key": key, "status": status})
                data = (_json(response, schemas.REQUESTS) if fmt == "json" else _xml(response, schemas.REQUESTS))
                assert [r["service_request_id"] for r in data] == expected
        now = datetime.now(UTC)
        window = {"api_key": key, "start_date": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "end_date": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert len(_json(http.get(f"{base}/requests.json", params=window), schemas.REQUESTS)) == 2
        assert len(_xml(http.get(f"{base}/requests.xml", params=window), schemas.REQUESTS)) == 2
        earlier = {"api_key": key, "start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-01-31T00:00:00+08:00"}
        assert _json(http.get(f"{base}/requests.json", params=earlier), schemas.REQUESTS) == []
        too_long = {"api_key": key, "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
        _json(http.get(f"{base}/requests.json", params=too_long), schemas.ERRORS, 400)
        _xml(http.get(f"{base}/requests.xml", params=too_long), schemas.ERRORS, 400)

        # the public follows a request by its id; the token resource answers the same id
        public = _json(http.get(f"{base}/requests/{second}.json"), schemas.REQUESTS)[0]
        assert public["status"] == "closed" and public["description"] is None
        token = _json(http.get(f"{base}/tokens/{first}.json"), schemas.TOKEN)
        assert token[0]["service_request_id"] == first

        updates = _json(http.get(f"{base}/servicerequestupdates.json", params={"api_key": key}), schemas.UPDATES)
        assert [u["status"] for u in updates if u["service_request_id"] == second] == ["open", "closed"]
        _xml(http.get(f"{base}/servicerequestupdates.xml", params={"api_key": key}), schemas.UPDATES)

        # refusals in the specification's form
        _json(http.post(f"{base}/requests.json", data={"service_code": "t0101", **IN_G1}), schemas.ERRORS, 403)
        _xml(http.post(f"{base}/requests.xml", data={"api_key": "nope", "service_code": "t0101", **IN_G1}),
             schemas.ERRORS, 403)
        _json(http.post(f"{base}/requests.json", data={"api_key": key, "service_code": "zzz", **IN_G1}),
              schemas.ERRORS, 404)
        _json(http.post(f"{base}/requests.json", content=f"api_key={key}&".encode() + b"\xff\xfe%%%&&=",
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), schemas.ERRORS, 400)
        _xml(http.get(f"{base}/requests/NOPE.xml"), schemas.ERRORS, 404)
        body = json.loads(http.get(f"{base}/nothing.json").text)
        assert body[0]["code"] == 404
        ET.fromstring(http.get(f"{base}/nothing.xml").content)
    assert Case.objects.count() == 2
