"""API input hygiene over every list and body: bounded page numbers, NUL characters refused before anything is
written, parameter errors named by the parameter."""

import json

import pytest

from gridgov.accounts.services import token_create
from gridgov.cases.models import Case
from gridgov.cases.tests.conftest import world  # noqa: F401 -- the shared small city
from gridgov.core.pagination import MAX_PAGE

pytestmark = pytest.mark.django_db

LISTS = ["/cases", "/inbox", "/geo/grids", "/residents/people", "/disputes"]


@pytest.fixture
def admin_headers(world):  # noqa: F811
    token = token_create(user=world["users"]["admin"], name="test")[1]
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


@pytest.mark.parametrize("page", [10**30, MAX_PAGE + 1, 0, -1])
def test_a_page_number_out_of_bounds_is_a_422_naming_page(client, admin_headers, page):
    for path in LISTS:
        response = client.get(f"/api/v1{path}", {"page": page}, headers=admin_headers)
        assert response.status_code == 422, (path, response.content)
        body = response.json()
        assert body["code"] == "validation_error"
        assert [d["field"] for d in body["details"]] == ["page"], path


def test_the_last_allowed_page_is_an_empty_page_with_the_total(client, admin_headers):
    for path in LISTS:
        response = client.get(f"/api/v1{path}", {"page": MAX_PAGE, "page_size": 200}, headers=admin_headers)
        assert response.status_code == 200, (path, response.content)
        assert response.json()["items"] == [] and "count" in response.json()


@pytest.mark.parametrize("raw, field", [
    ('{"category": "T0101", "description": "a\\u0000b", "lon": 120.605, "lat": 31.305}', "description"),
    ('{"category": "T0101", "description": "x", "lon": 120.605, "lat": 31.305, "extra": {"k": ["\\u0000"]}}',
     "extra.k[0]"),
    ('{"category": "T0101", "description": "x", "lon": 120.605, "lat": 31.305, "extra": {"\\u0000": 1}}',
     "extra.\x00"),
])
def test_a_nul_in_a_json_body_is_a_422_naming_the_field_and_writes_nothing(client, admin_headers, raw, field):
    response = client.post("/api/v1/cases", raw, content_type="application/json", headers=admin_headers)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["details"][0]["field"] == field and body["details"][0]["type"] == "nul_character"
    assert Case.objects.count() == 0


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client, admin_headers):
    raw = json.dumps({"category": "T0101", "description": "C:\\u0000", "lon": 120.605, "lat": 31.305})
    response = client.post("/api/v1/cases", raw, content_type="application/json", headers=admin_headers)
    assert response.status_code == 201, response.content
    assert Case.objects.get().description == "C:\\u0000"


def test_a_nul_in_a_form_field_is_a_422_naming_it(client, admin_headers):
    response = client.post("/api/v1/cases/upload", {"category": "T0101", "description": "a\x00b", "lon": "120.605",
                                                    "lat": "31.305"}, headers=admin_headers)
    assert response.status_code == 422, response.content
    assert response.json()["details"][0]["field"] == "description"
    assert Case.objects.count() == 0


def test_a_nul_in_the_query_string_is_still_a_400(client, admin_headers):
    response = client.get("/api/v1/cases?q=a%00b", headers=admin_headers)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_a_bad_item_of_a_list_parameter_is_named_by_the_parameter(client, admin_headers):
    response = client.get("/api/v1/cases", {"state": ["registered", "bogus"], "page": "x"}, headers=admin_headers)
    assert response.status_code == 422
    fields = [d["field"] for d in response.json()["details"]]
    assert "page" in fields and all("." not in f for f in fields), fields


@pytest.mark.parametrize("loc, name", [
    (("query", "params", "kpi", 0), "kpi"),
    (("query", "filters", "state", 2), "state"),
    (("query", "page"), "page"),
    (("path", "case_id"), "case_id"),
    (("body", "payload", "parties", 1, "name"), "parties.1.name"),
    (("form", "payload", "description"), "description"),
])
def test_error_locations_name_the_parameter(loc, name):
    from config.api import _field

    assert _field(loc) == name


ORDERINGS = {
    "/cases": ["number", "-reported_at"],
    "/inbox": ["created_at", "-created_at"],
    "/geo/areas": ["code", "-name", "level"],
    "/geo/grids": ["code", "-code", "name"],
    "/residents/people": ["name", "-completeness", "confirmed_at", "-created_at"],
    "/residents/addresses": ["address", "-created_at"],
    "/residents/houses": ["-address", "confirmed_at"],
    "/residents/units": ["name", "-confirmed_at"],
    "/disputes": ["-registered_at"],
}


@pytest.mark.parametrize("path", sorted(ORDERINGS))
def test_every_list_orders_and_counts_and_refuses_an_unknown_ordering(client, admin_headers, path):
    for ordering in ORDERINGS[path]:
        response = client.get(f"/api/v1{path}", {"ordering": ordering}, headers=admin_headers)
        assert response.status_code == 200, (path, ordering, response.content)
        assert set(response.json()) == {"items", "count"}
    bad = client.get(f"/api/v1{path}", {"ordering": "password"}, headers=admin_headers)
    assert bad.status_code == 422 and "ordering" in [d["field"] for d in bad.json()["details"]], bad.content


def test_grids_are_ordered_as_asked(client, admin_headers, world):  # noqa: F811
    codes = [g.code for g in (world["g1"], world["g2"], world["g3"])]
    down = client.get("/api/v1/geo/grids", {"ordering": "-code"}, headers=admin_headers).json()["items"]
    assert [g["code"] for g in down] == sorted(codes, reverse=True)


def test_every_write_a_browser_session_may_send_documents_the_csrf_403(client):
    # with the session cookie the API checks the CSRF token, and refuses with a 403 (the token auth never does)
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    writes = [(method, path, op) for path, ops in paths.items() for method, op in ops.items()
              if method in ("post", "put", "patch", "delete")]
    session = [(method, path) for method, path, op in writes
               if any("ActiveSessionAuth" in scheme for scheme in op.get("security", []))]
    assert len(session) > 20
    assert [(m, p) for m, p, op in writes if (m, p) in session and "403" not in op["responses"]] == []


@pytest.mark.parametrize("message,status,code", [("database is locked", 503, "busy"),
                                                  ("no such table: x", 500, "server_error")])
def test_a_busy_database_is_a_503_to_retry_and_other_database_errors_stay_500(client, admin_headers, monkeypatch,
                                                                               message, status, code):
    from django.db.utils import OperationalError

    from gridgov.accounts import selectors

    def fail(**kwargs):
        raise OperationalError(message)

    monkeypatch.setattr(selectors, "token_list", fail)
    response = client.get("/api/v1/auth/tokens", headers=admin_headers)
    assert response.status_code == status and response.json()["code"] == code
    assert (response.headers.get("Retry-After") == "5") is (status == 503)
