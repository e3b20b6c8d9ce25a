"""Shared pytest fixtures."""

import pytest

pytest_plugins = ["gridgov.browser_fixtures"]


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Argon2 is the production hasher (tested in accounts); MD5 keeps the suite fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_locator():
    from gridgov.geo.locator import reset_locator

    reset_locator()
    yield
    reset_locator()


@pytest.fixture
def tree(db):
    from gridgov.geo.tests.factories import make_tree

    return make_tree()
