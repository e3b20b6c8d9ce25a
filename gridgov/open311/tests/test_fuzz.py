"""Whatever a client sends, the answer is a 2xx or one of the specification's 4xx with its `errors` body:
never a 5xx (random arguments for every parameter of GET requests, updates and POST requests)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import schemas

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
junk = st.one_of(st.text(max_size=40), st.sampled_from(["", "open", "closed", "t0101", "dump", "2026-01-01",
                                                       "2026-01-01T00:00:00Z", "1", "0", "-1", "1e309", "nan",
                                                       "9" * 30, "true", "attribute[size]"]))


def _check(response, *codes):
    assert response.status_code in codes, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        schemas.validate(schemas.ERRORS, json.loads(response.content))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["service_request_id", "service_code", "start_date", "end_date",
                                               "status", "page", "page_size", "extensions", "jurisdiction_id"]),
                              junk, max_size=6))
def test_get_requests_never_fails(o311, params):
    params = {k: v for k, v in params.items() if "\x00" not in v}  # NUL: the middleware's 400, tested apart
    _check(o311("admin").raw("requests", "json", **params), 200, 400, 404)
    _check(o311("admin").raw("servicerequestupdates", "json", **params), 200, 400)


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["service_code", "lat", "long", "address_string", "address_id",
                                               "description", "phone", "first_name", "media_url", "email",
                                               "attribute[size]", "attribute[kinds][]", "attribute[count]",
                                               "attribute[seen]", "attribute[x]", "attribute"]),
                              junk, max_size=8))
def test_post_requests_never_fails(o311, fields):
    _check(o311("gm").post(**fields), 200, 400, 404)
