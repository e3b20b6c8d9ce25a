"""Fixtures for the webhooks tests: the cases `world` (and `drive`), fast timeouts, local receivers allowed,
and `committed()`, which runs the on-commit hooks that the test transaction would otherwise never reach."""

import pytest

from gridgov.cases.tests import conftest as cases_fixtures

# the cases app's fixtures, re-exported: a small city with users of every role, and cases driven to a state
world = cases_fixtures.world
drive = cases_fixtures.drive


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.GRIDGOV_WEBHOOKS_TIMEOUT = 0.5
    settings.GRIDGOV_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver (pytest-httpserver) listens on 127.0.0.1
    return settings


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): services.case_...`: the transition commits and its hooks run (as in production)."""

    def ctx():
        return django_capture_on_commit_callbacks(execute=True)

    return ctx


@pytest.fixture
def subscribe(world):
    """subscribe(user="dispatcher", url=..., events=[...], area=None) → (subscription, secret)."""
    from gridgov.webhooks import services

    def make(user="dispatcher", url="https://receiver.example/hook", events=None, area=None, name="Receiver"):
        return services.subscription_create(
            by=world["users"][user], name=name, target_url=url,
            events=events or ["case.created", "case.state_changed", "case.closed"], area=area)

    return make
