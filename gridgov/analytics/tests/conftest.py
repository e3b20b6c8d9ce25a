"""Fixtures for the analytics tests: the cases app's `world` (a city, two streets, grids g1/g2/g3, departments,
users) and `drive`, with one clock for the cases' services."""

import pytest
from django.utils import translation

from gridgov.cases.tests.conftest import Clock, calendar_2026, drive, world  # noqa: F401 - fixtures re-exported


@pytest.fixture
def clock(monkeypatch, settings):
    from django.utils import timezone

    from gridgov.cases import services
    from gridgov.core.workcalendar import calendar_changed

    settings.TIME_ZONE = "Asia/Shanghai"
    settings.GRIDGOV_WORK_PERIODS = "09:00-12:00,13:30-17:30"
    calendar_changed()
    c = Clock(timezone.now())
    monkeypatch.setattr(services, "_now", c)
    yield c
    calendar_changed()


@pytest.fixture
def english_ui(settings):
    """The screens in English, so the tests read the labels they assert (the UI's default is Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def figures(world, drive, clock):  # noqa: F811 - the fixtures imported above
    """The month of cases counted by hand in screens.make_figures (test_api.py has its own)."""
    from .screens import make_figures

    return make_figures(world, drive, clock)
