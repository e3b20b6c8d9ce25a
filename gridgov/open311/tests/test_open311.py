"""Open311 GeoReport v2: every resource in JSON (validated against the specification's schemas) and XML (the same
content), creating through the cases service, scope and privacy, and the specification's errors for bad input."""

import datetime as dt
import json
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from gridgov.accounts.services import token_create, token_revoke
from gridgov.cases import services as case_services
from gridgov.cases.choices import Source, State
from gridgov.cases.models import Case, Category, Step
from gridgov.core.models import AuditEntry
from gridgov.geo.models import Address
from gridgov.open311.models import Open311Request

from . import schemas
from .conftest import IN_G1, IN_G3, Open311

pytestmark = pytest.mark.django_db


def rows():
    return (Case.objects.count(), Step.objects.count(), AuditEntry.objects.count(), Open311Request.objects.count())


# --- discovery and services --------------------------------------------------------------------------------

def test_discovery(o311):
    data = o311(None).get("discovery", schemas.DISCOVERY)
    endpoint = data["endpoints"][0]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    # the discovery file is also at the root of /open311/
    assert o311(None).client.get("/open311/discovery.json").status_code == 200


def test_services_are_the_reportable_categories(o311):
    services = o311(None).get("services", schemas.SERVICES)
    by_code = {s["service_code"]: s for s in services}
    assert {"t0101", "t0102", "dump"} <= set(by_code)  # (with the seeded categories)
    assert "t01" not in by_code  # a main class is the group, not a service
    assert len(by_code) == Category.objects.filter(is_active=True, parent__isnull=False).count()
    assert by_code["dump"] == {"service_code": "dump", "service_name": "建筑垃圾", "description": "建筑垃圾乱倒",
                               "metadata": True, "type": "realtime", "keywords": "渣土,垃圾", "group": "市容"}
    assert by_code["t0101"]["metadata"] is False
    assert by_code["t0102"]["metadata"] is True


def test_service_definition_maps_the_extra_fields(o311):
    definition = o311(None).get("services/dump", schemas.SERVICE_DEFINITION)
    assert definition["service_code"] == "dump"
    attributes = definition["attributes"]
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in attributes] == [
        ("size", "singlevaluelist", True, 1), ("kinds", "multivaluelist", False, 2), ("count", "number", False, 3),
        ("seen", "datetime", False, 4), ("plate", "string", False, 5), ("notes", "text", False, 6)]
    assert attributes[0]["values"] == [{"key": "small", "name": "小"}, {"key": "large", "name": "大"}]
    assert attributes[0]["description"] == "面积"
    assert all(a["variable"] is True for a in attributes)
    assert o311(None).get("services/t0101", schemas.SERVICE_DEFINITION)["attributes"] == []


@pytest.mark.parametrize("code", ["nope", "T01", "t01", "x" * 300])
def test_unknown_service_code_is_404(o311, code):
    errors = o311(None).error(f"services/{code}", 404)
    assert errors[0]["code"] == 404


# --- POST requests -----------------------------------------------------------------------------------------

def test_post_creates_a_case_through_the_cases_service(o311, city):
    client = o311("resident")
    before = AuditEntry.objects.count()
    answer = client.create(service_code="dump", description="一堆渣土\n在路边", address_string="人民路1号",
                           first_name="小", last_name="王", phone="13800138000", email="w@example.com",
                           device_id="d1", account_id="a1", **{
                               "attribute[size]": "large", "attribute[kinds][]": ["glass", "paper"],
                               "attribute[count]": "3", "attribute[seen]": "2026-03-01T08:00:00+08:00",
                               "attribute[plate]": "苏E12345", "attribute[notes]": "两车\n三车",
                               "media_url": "https://img.example.com/a.jpg"})
    case = Case.objects.get(tracking_code=answer["service_request_id"])
    assert answer["account_id"] == str(city["users"]["resident"].pk)
    assert case.tracking_code in answer["service_notice"]
    assert case.category.service_code == "dump"
    assert case.source == Source.API and case.reporter == city["users"]["resident"]
    assert case.state == State.REPORTED and case.grid == city["g1"]
    assert (case.lon, case.lat) == (120.605, 31.305)
    assert case.description == "一堆渣土\n在路边" and case.address == "人民路1号"
    assert case.reporter_name == "小 王" and case.reporter_phone and "138" not in case.reporter_phone  # encrypted
    assert case.extra == {"size": "large", "kinds": ["glass", "paper"], "count": 3.0,
                          "seen": "2026-03-01T08:00:00+08:00", "plate": "苏E12345", "notes": "两车\n三车"}
    assert case.open311.media_url == "https://img.example.com/a.jpg"
    actions = set(AuditEntry.objects.filter(pk__gt=0).order_by("-pk").values_list("action", flat=True)[:5])
    assert {"case.report", "open311.media_url"} <= actions
    assert AuditEntry.objects.count() == before + 2
    assert case.steps.get().action == "report"


def test_post_multivalue_by_repeated_key_and_xml_answer(o311):
    client = o311("gm")
    response = client.post("xml", {"api_key": client.key, "service_code": "dump", **IN_G1,
                                   "attribute[size]": "small", "attribute[kinds]": ["glass", "metal"]})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    data = schemas.check_xml(schemas.POST_RESPONSE, response.content)
    case = Case.objects.get(tracking_code=data[0]["service_request_id"])
    assert case.extra == {"size": "small", "kinds": ["glass", "metal"]}
    assert case.description == "建筑垃圾"  # no description: the service's name


def test_post_locates_a_standard_address(o311, city):
    address = Address.objects.create(grid=city["g3"], path=city["g3"].path, community=city["community2"],
                                     road="人民路", number="8", full_text="人民路8号", lon=120.625, lat=31.305)
    client = o311("gm")
    by_text = Case.objects.get(tracking_code=client.create(lat="", long="", address_string="人民路8号")
                               ["service_request_id"])
    assert by_text.grid == city["g3"] and by_text.address == "人民路8号"
    by_id = Case.objects.get(tracking_code=client.create(lat="", long="", address_id=str(address.pk))
                             ["service_request_id"])
    assert by_id.grid == city["g3"] and by_id.address == "人民路8号"


def test_post_with_the_bearer_header(client, city):
    key = token_create(user=city["users"]["gm"], name="x")[1]
    response = client.post("/open311/v2/requests.json", {"service_code": "t0101", **IN_G1},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


BAD_POSTS = [
    ({"service_code": ""}, 400, "service_code"),
    ({"service_code": "nope"}, 404, "service_code"),
    ({"service_code": "t01"}, 404, "service_code"),
    ({"lat": "", "long": ""}, 400, "location"),
    ({"long": ""}, 400, "lat and long"),
    ({"lat": "north"}, 400, "lat must be a number"),
    ({"lat": "nan"}, 400, "lat must be a number"),
    ({"long": "inf"}, 400, "long must be a number"),
    ({"lat": "95"}, 400, "lat must be between -90 and 90"),
    ({"long": "-180.5"}, 400, "long must be between -180 and 180"),
    ({"lat": "40.0", "long": "116.4"}, 400, "outside every grid"),
    ({"lat": "", "long": "", "address_string": "没有这个地址"}, 400, "address_string"),
    ({"lat": "", "long": "", "address_id": "abc"}, 400, "address_id"),
    ({"lat": "", "long": "", "address_id": "99999999"}, 400, "address_id"),
    ({"lat": "", "long": "", "address_id": "²"}, 400, "address_id"),
    ({"lat": "", "long": "", "address_id": "9" * 18}, 400, "address_id"),
    ({"service_code": "dump"}, 400, "attribute[size]"),
    ({"service_code": "dump", "attribute[size]": "huge"}, 400, "attribute[size]"),
    ({"service_code": "dump", "attribute[size]": ["small", "large"]}, 400, "takes one value"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[kinds][]": ["glass", "wood"]}, 400,
     "attribute[kinds]"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[count]": "many"}, 400, "attribute[count]"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[seen]": "yesterday"}, 400, "attribute[seen]"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[seen]": "2026-03-01T08:00:00"}, 400,
     "time zone"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[seen]": "0001-01-01T00:00:00+08:00"}, 400,
     "attribute[seen]"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[plate]": "a\nb"}, 400, "line breaks"),
    ({"service_code": "dump", "attribute[size]": "small", "attribute[colour]": "red"}, 400, "attribute[colour]"),
    ({"attribute[": "x"}, 400, "attribute["),
    ({"description": "x" * 4001}, 400, "4000"),
    ({"phone": "12"}, 400, "phone"),
    ({"media_url": "ftp://example.com/a.jpg"}, 400, "media_url"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"description": "垃圾\x00"}, 400, "NUL"),
    ({"service_code": ["t0101", "t0102"]}, 400, "more than once"),
]


@pytest.mark.parametrize(("fields", "status", "words"), BAD_POSTS)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_posts_are_refused_and_write_nothing(o311, fields, status, words, fmt):
    client = o311("gm")
    before = rows()
    response = client.post(fmt, {"api_key": client.key, "service_code": "t0101", "description": "垃圾", **IN_G1,
                                 **fields})
    assert response.status_code == status, response.content
    if fmt == "json":
        errors = json.loads(response.content)
        schemas.validate(schemas.ERRORS, errors)
    else:
        errors = schemas.check_xml(schemas.ERRORS, response.content)
    assert any(words in e["description"] for e in errors), errors
    assert rows() == before


@pytest.mark.parametrize("body", [
    "%%%", "api_key=%ZZ&service_code=t0101", "&&&===", "service_code=t0101&lat=31.305&long=120.605&api_key",
    "a=" + "%E4" * 10, "attribute%5Bsize%5D%5B%5D%5B%5D=1",
])
def test_malformed_form_bodies_are_400(o311, body):
    client = o311("gm")
    response = client.post(raw_body=body)
    assert response.status_code in (400, 403), response.content
    schemas.validate(schemas.ERRORS, json.loads(response.content))


def test_a_non_form_body_is_400(o311):
    client = o311("gm")
    response = client.client.post(f"/open311/v2/requests.json?api_key={client.key}",
                                   json.dumps({"service_code": "t0101"}), content_type="application/json")
    assert response.status_code == 400
    schemas.validate(schemas.ERRORS, json.loads(response.content))


def test_too_many_fields_is_400(o311, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = o311("gm")
    response = client.post(raw_body="&".join(f"f{i}=1" for i in range(50)))
    assert response.status_code == 400
    schemas.validate(schemas.ERRORS, json.loads(response.content))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_missing_invalid_or_revoked_is_403(o311, city, fmt):
    user = city["users"]["gm"]
    token, key = token_create(user=user, name="soon revoked")
    before = rows()
    public = o311(None)
    for response in (public.post(fmt, key=False, service_code="t0101", **IN_G1),
                     public.post(fmt, api_key="ggv_wrong", service_code="t0101", **IN_G1)):
        assert response.status_code == 403
    token_revoke(token_id=token.pk, by=user)
    before = rows()
    revoked = Open311(public.client, key)
    assert revoked.post(fmt, service_code="t0101", **IN_G1).status_code == 403
    # a revoked key cannot read either
    assert revoked.raw("requests", fmt).status_code == 403
    errors = revoked.error("requests", 403)
    assert errors[0]["code"] == 403 and "api_key" in errors[0]["description"]
    assert rows() == before


def test_an_inactive_users_key_is_403(o311, city):
    client = o311("gm")
    city["users"]["gm"].is_active = False
    city["users"]["gm"].save()
    assert client.post(service_code="t0101", **IN_G1).status_code == 403


# --- GET requests ------------------------------------------------------------------------------------------

@pytest.fixture
def reported(o311, city):
    """Three requests: two in g1 by the grid member (one then refused), one in g3 by the resident."""
    gm, res = o311("gm"), o311("resident")
    a = gm.create(description="甲", address_string="人民路1号")["service_request_id"]
    b = gm.create(description="乙")["service_request_id"]
    c = res.create(description="丙", **IN_G3)["service_request_id"]
    case_b = Case.objects.get(tracking_code=b)
    case_services.case_reject(case_id=case_b.pk, by=city["users"]["dispatcher"], reason="不属于受理范围")
    return {"a": a, "b": b, "c": c}


def test_list_is_scoped_to_the_keys_user(o311, reported):
    r = reported
    assert {x["service_request_id"] for x in o311("dispatcher").get("requests", schemas.REQUESTS)} == {r["a"], r["b"]}
    assert {x["service_request_id"] for x in o311("resident").get("requests", schemas.REQUESTS)} == {r["c"]}
    assert {x["service_request_id"] for x in o311("admin").get("requests", schemas.REQUESTS)} == set(r.values())
    assert {x["service_request_id"] for x in o311("other_dispatcher").get("requests", schemas.REQUESTS)} == {r["c"]}
    assert o311("handler").get("requests", schemas.REQUESTS) == []  # nothing dispatched to the department yet


def test_list_fields_status_and_order(o311, reported):
    data = o311("admin").get("requests", schemas.REQUESTS)
    assert [x["service_request_id"] for x in data] == [reported["c"], reported["b"], reported["a"]]
    by_id = {x["service_request_id"]: x for x in data}
    refused, first = by_id[reported["b"]], by_id[reported["a"]]
    assert refused["status"] == "closed" and refused["status_notes"] == "不属于受理范围"
    assert refused["expected_datetime"] is None
    assert first["status"] == "open" and first["description"] == "甲" and first["address"] == "人民路1号"
    assert (first["lat"], first["long"]) == (31.305, 120.605)
    assert first["service_code"] == "t0101" and first["service_name"] == "暴露垃圾"
    assert first["requested_datetime"].endswith("+08:00")


@pytest.mark.parametrize(("status", "expected"), [("open", {"a", "c"}), ("closed", {"b"}),
                                                  ("open,closed", {"a", "b", "c"}), ("", {"a", "b", "c"})])
def test_filter_by_status(o311, reported, status, expected):
    data = o311("admin").get("requests", schemas.REQUESTS, status=status)
    assert {x["service_request_id"] for x in data} == {reported[k] for k in expected}


def test_filter_by_service_code_and_ids(o311, reported):
    admin = o311("admin")
    assert admin.get("requests", schemas.REQUESTS, service_code="t0102") == []
    assert len(admin.get("requests", schemas.REQUESTS, service_code="t0101,t0102")) == 3
    assert admin.error("requests", 404, service_code="nope")
    ids = f"{reported['a'].lower()}, {reported['c']},UNKNOWN"
    # service_request_id overrides every other argument
    data = admin.get("requests", schemas.REQUESTS, service_request_id=ids, status="closed")
    assert [x["service_request_id"] for x in data] == [reported["a"], reported["c"]]


def test_filter_by_date(o311, reported):
    admin = o311("admin")
    now = timezone.now()
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    utc = dt.UTC
    assert len(admin.get("requests", schemas.REQUESTS, start_date=iso((now - timedelta(days=1)).astimezone(utc)),
                         end_date=iso((now + timedelta(days=1)).astimezone(utc)))) == 3
    assert admin.get("requests", schemas.REQUESTS, start_date=iso((now + timedelta(hours=1)).astimezone(utc))) == []
    assert admin.get("requests", schemas.REQUESTS, end_date="2020-01-01T00:00:00+08:00") == []
    assert len(admin.get("requests", schemas.REQUESTS, start_date=(now - timedelta(days=2)).date().isoformat())) == 3
    # a case reported long ago is outside the default 90 days
    Case.objects.filter(tracking_code=reported["a"]).update(reported_at=now - timedelta(days=100))
    assert len(admin.get("requests", schemas.REQUESTS)) == 2


@pytest.mark.parametrize("params", [
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},  # 91 days
    {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
    {"start_date": "2026-01-01T00:00:00"},  # no time zone
    {"start_date": "yesterday"},
    {"end_date": "2026-13-45T00:00:00Z"},
    {"start_date": "2026-02-30"},
    {"status": "pending"},
    {"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "10000000"}, {"page": "9" * 40},
    {"page_size": "0"}, {"page_size": "5000"}, {"page_size": "1e3"}, {"page": "²"}, {"page_size": "١٠"},
    {"start_date": "２０２６-01-01T00:00:00Z"}, {"start_date": "2026-01-01T25:00:00Z"},
    {"service_request_id": ",".join(f"C{i}" for i in range(101))},
])
def test_bad_list_arguments_are_400(o311, reported, params):
    errors = o311("admin").error("requests", 400, **params)
    assert errors[0]["code"] == 400


@pytest.mark.parametrize("params", [
    {"start_date": "9999-12-31T00:00:00Z"},  # the default end, 90 days later, is past year 9999
    {"end_date": "0001-01-01T00:00:00Z"},  # the default start, 90 days earlier, is before year 1
    {"start_date": "0001-01-01T00:00:00+08:00", "end_date": "0001-01-02T00:00:00+08:00"},  # before year 1 in UTC
    {"start_date": "9999-12-31"},
])
@pytest.mark.parametrize("resource", ["requests", "servicerequestupdates"])
def test_dates_at_the_ends_of_the_calendar_are_400_not_500(o311, reported, resource, params):
    errors = o311("admin").error(resource, 400, **params)
    assert "W3C datetime" in errors[0]["description"]


def test_arguments_declared_several_times(o311, reported):
    admin = o311("admin")
    data = admin.get("requests", schemas.REQUESTS, status=["open", "closed"], service_code=["t0101", "t0102"])
    assert len(data) == 3
    data = admin.get("requests", schemas.REQUESTS, service_request_id=[reported["a"], reported["b"]])
    assert [x["service_request_id"] for x in data] == [reported["a"], reported["b"]]


@pytest.mark.parametrize("query", ["status=%00", "service_code=t01%0001", "api_key=%00"])
def test_nul_in_the_query_is_400(client, city, query):
    assert client.get(f"/open311/v2/requests.json?{query}").status_code == 400


def test_paging_extension(o311, reported):
    admin = o311("admin")
    pages = [admin.get("requests", schemas.REQUESTS, page=str(p), page_size="2") for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 1, 0]
    assert [x["service_request_id"] for x in pages[0] + pages[1]] == [reported["c"], reported["b"], reported["a"]]
    assert admin.get("requests", schemas.REQUESTS, page="999999", page_size="1000") == []


def test_the_public_cannot_list_but_can_fetch_by_id(o311, reported):
    public = o311(None)
    assert "api_key" in public.error("requests", 403)[0]["description"]
    data = public.get(f"requests/{reported['a']}", schemas.REQUESTS)
    assert len(data) == 1
    one = data[0]
    # what the public tracking page shows, nothing more
    assert one["service_request_id"] == reported["a"] and one["status"] == "open"
    assert one["description"] is None and one["address"] is None and one["lat"] is None and one["long"] is None
    assert one["status_notes"]  # the state in plain words
    listed = public.get("requests", schemas.REQUESTS, service_request_id=f"{reported['a']},{reported['b']}")
    assert [x["service_request_id"] for x in listed] == [reported["a"], reported["b"]]
    assert listed[1]["status_notes"] != "不属于受理范围"  # notes are for key holders


def test_fetch_one_is_scoped(o311, reported):
    assert o311("dispatcher").get(f"requests/{reported['a']}", schemas.REQUESTS)[0]["description"] == "甲"
    assert o311("dispatcher").error(f"requests/{reported['c']}", 404)
    assert o311(None).error("requests/NOSUCHCODE", 404)
    assert o311(None).error("requests/" + "A" * 300, 404)


def test_extensions_add_attributes_and_notes(o311, reported, city):
    data = o311("admin").get(f"requests/{reported['b']}", schemas.REQUESTS, extensions="true")[0]
    assert data["extended_attributes"]["state"] == "rejected"
    assert data["extended_attributes"]["group"] == "市容"
    assert [(n["type"], n["status"]) for n in data["notes"]] == [("report", "open"), ("reject", "closed")]
    assert data["notes"][1]["description"] == "不属于受理范围"
    public = o311(None).get(f"requests/{reported['b']}", schemas.REQUESTS, extensions="true")[0]
    assert [n["description"] for n in public["notes"]] == [None, None]
    assert public["extended_attributes"]["attributes"] == []
    listed = o311("admin").get("requests", schemas.REQUESTS, extensions="true")
    assert all("notes" in x for x in listed)
    assert "notes" not in o311("admin").get("requests", schemas.REQUESTS)[0]


def test_extended_attributes_carry_the_answers(o311):
    client = o311("gm")
    code = client.create(service_code="dump", **{"attribute[size]": "large",
                                                 "attribute[kinds][]": ["glass", "paper"]})["service_request_id"]
    data = client.get(f"requests/{code}", schemas.REQUESTS, extensions="true")[0]
    assert data["extended_attributes"]["attributes"] == [{"code": "size", "value": "large"},
                                                         {"code": "kinds", "value": ["glass", "paper"]}]


def test_media_url_is_returned_to_key_holders_only(o311):
    code = o311("gm").create(media_url="https://img.example.com/b.jpg")["service_request_id"]
    assert o311("gm").get(f"requests/{code}", schemas.REQUESTS)[0]["media_url"] == "https://img.example.com/b.jpg"
    assert o311(None).get(f"requests/{code}", schemas.REQUESTS)[0]["media_url"] is None


def test_personal_data_never_leaves(o311, reported, city):
    code = o311("resident").create(first_name="王", last_name="秘密", phone="13912345678",
                                   email="secret@example.com")["service_request_id"]
    for client in (o311("admin"), o311(None)):
        for resource, params in (("requests", {}), (f"requests/{code}", {"extensions": "true"}),
                                 ("servicerequestupdates", {})):
            for fmt in ("json", "xml"):
                body = client.raw(resource, fmt, **params).content.decode()
                for secret in ("秘密", "13912345678", "secret@example.com", "张网格"):
                    assert secret not in body, (resource, secret)


# --- tokens, updates, jurisdiction, methods ----------------------------------------------------------------

def test_token(o311, reported):
    data = o311(None).get(f"tokens/{reported['a']}", schemas.TOKEN)
    assert data == [{"service_request_id": reported["a"], "token": reported["a"]}]
    assert o311(None).error("tokens/NOPE", 404)


def test_service_request_updates(o311, reported, city):
    Step.objects.exclude(action="reject").update(at=F("at") - timedelta(minutes=5))
    dispatcher = o311("dispatcher")
    updates = dispatcher.get("servicerequestupdates", schemas.UPDATES)
    assert [(u["service_request_id"], u["status"]) for u in updates] == [
        (reported["a"], "open"), (reported["b"], "open"), (reported["b"], "closed")]
    assert updates[2]["description"] == "不属于受理范围"
    since = updates[2]["updated_datetime"]
    assert [u["update_id"] for u in dispatcher.get("servicerequestupdates", schemas.UPDATES, start_date=since)] \
        == [updates[2]["update_id"]]
    only_a = dispatcher.get("servicerequestupdates", schemas.UPDATES, service_request_id=reported["a"])
    assert [u["service_request_id"] for u in only_a] == [reported["a"]]
    assert o311("resident").get("servicerequestupdates", schemas.UPDATES)[0]["service_request_id"] == reported["c"]
    assert o311(None).error("servicerequestupdates", 403)
    assert dispatcher.error("servicerequestupdates", 400, start_date="2026-01-01T00:00:00Z",
                            end_date="2026-06-01T00:00:00Z")
    # an internal comment is not an update
    case_services.case_comment(case_id=Case.objects.get(tracking_code=reported["a"]).pk,
                               by=city["users"]["dispatcher"], note="内部意见")
    assert len(dispatcher.get("servicerequestupdates", schemas.UPDATES)) == 3


def test_jurisdiction_id(o311, settings):
    public = o311(None)
    assert public.get("services", schemas.SERVICES, jurisdiction_id="anything.example")
    settings.GRIDGOV_OPEN311_JURISDICTION = "s-city.gov.cn"
    assert public.get("services", schemas.SERVICES, jurisdiction_id="s-city.gov.cn")
    assert public.get("services", schemas.SERVICES)
    assert public.error("services", 404, jurisdiction_id="other.gov")


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_400(client, city, method):
    response = getattr(client, method)("/open311/v2/requests.json")
    assert response.status_code == 400
    assert response["Allow"] == "GET, HEAD, POST"
    schemas.validate(schemas.ERRORS, json.loads(response.content))
    assert client.post("/open311/v2/services.xml").status_code == 400


@pytest.mark.parametrize(("path", "fmt"), [("/open311/v2/nothing.json", "json"), ("/open311/v2/services.html", "xml"),
                                           ("/open311/v2/services", "xml"), ("/open311/", "xml"),
                                           ("/open311/v2/requests/a/b.json", "json")])
def test_unknown_resources_are_404_in_the_errors_form(client, path, fmt):
    response = client.get(path)
    assert response.status_code == 404
    if fmt == "json":
        schemas.validate(schemas.ERRORS, json.loads(response.content))
    else:
        schemas.check_xml(schemas.ERRORS, response.content)


def test_xml_escapes_text(o311):
    client = o311("gm")
    code = client.create(description="<b>&amp;</b> \"引号\" ]]>")["service_request_id"]
    data = client.get(f"requests/{code}", schemas.REQUESTS)  # check_xml parses and compares
    assert data[0]["description"] == "<b>&amp;</b> \"引号\" ]]>"
    # a control character XML cannot carry is left out, and the answer still parses
    code = client.create(description="铃\x07声")["service_request_id"]
    body = client.raw(f"requests/{code}", "xml").content
    assert schemas.check_xml(schemas.REQUESTS, body)[0]["description"] == "铃声"


# --- query counts ------------------------------------------------------------------------------------------

def test_lists_of_50_take_a_constant_number_of_queries(o311, city, django_assert_max_num_queries):
    """No query per request or per note: a page of 50 dispatched requests costs what a page of one does."""
    u = city["users"]
    for i in range(50):
        case = case_services.case_report(by=u["gm"], category="T0101", description=f"第{i}件",
                                         lon=120.601 + i * 0.0001, lat=31.305, source=Source.API)[0]
        case_services.case_register(case_id=case.pk, by=u["dispatcher"])
        case_services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=city["urban"], assist=[])
    dispatcher, public = o311("dispatcher"), o311(None)
    for params in ({}, {"extensions": "true"}):
        with django_assert_max_num_queries(8):
            data = json.loads(dispatcher.raw("requests", "json", **params).content)
        assert len(data) == 50 and all(r["agency_responsible"] == "城管" for r in data)
    # the public, by id, with the notes
    ids = ",".join(r["service_request_id"] for r in data)
    with django_assert_max_num_queries(8):
        answer = public.raw("requests", "json", service_request_id=ids, extensions="true")
    assert len(json.loads(answer.content)) == 50
    with django_assert_max_num_queries(6):
        updates = json.loads(dispatcher.raw("servicerequestupdates", "json").content)
    assert len(updates) == 150  # report, register, dispatch of each
