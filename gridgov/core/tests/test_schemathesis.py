"""Property-based tests of the whole JSON API with schemathesis: every operation of /api/v1/openapi.json, with
generated valid and invalid inputs, against the Django WSGI application, as an administrator (everything in scope)
with a bearer token over the small `world` city. The checks: no 5xx; every status answered is documented for
the operation (errors included); its content type is the documented one; the body conforms to the schema the
document declares for that status.

Reads are also run as a grid member (a narrow scope), with fewer examples. Bounded so that the run stays
around a minute on two cores: `MAX_EXAMPLES` examples per read operation as an administrator, a third of that as
a grid member, half of it per write; no shrinking, no example database, derandomized. SCHEMATHESIS_MAX_EXAMPLES raises the bound for a longer local run.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from gridgov.accounts.services import token_create
from gridgov.cases import services as case_services
from gridgov.cases.tests.conftest import world  # noqa: F401 -- the shared small city

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
WRITE_EXAMPLES = max(1, MAX_EXAMPLES // 2)

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

BOUNDS = settings(
    max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def _keep_the_connection():
    # Django's test client does the same: the WSGI handler would otherwise close the test's database connection
    # at the end of each request (PostgreSQL), in the middle of the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(world, _keep_the_connection):  # noqa: F811
    u = world["users"]
    # something to read: a case in g1, registered
    case, _ = case_services.case_report(by=u["gm"], category="T0101", description="垃圾堆放", lon=120.605,
                                        lat=31.305)
    case_services.case_register(case_id=case.pk, by=u["dispatcher"])
    return {name: token_create(user=u[name], name="schemathesis")[1] for name in ("admin", "gm")}


def _call(case, token):
    # Authenticate every generated request; a generated Authorization header would only test the 401 path.
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.mark.django_db
@schema.include(method="GET").parametrize()
@BOUNDS
def test_reads(case, tokens):
    _call(case, tokens["admin"])


@pytest.mark.django_db
@schema.include(method="GET").parametrize()
@settings(BOUNDS, max_examples=max(1, MAX_EXAMPLES // 3))
def test_reads_as_a_grid_member(case, tokens):
    """A narrower scope: the 403/404 answers of a role that may see little must be documented too."""
    _call(case, tokens["gm"])


@pytest.mark.django_db
@schema.exclude(method="GET").parametrize()
@settings(BOUNDS, max_examples=WRITE_EXAMPLES)
def test_writes(case, tokens):
    _call(case, tokens["admin"])
