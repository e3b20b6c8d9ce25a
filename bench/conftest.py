"""Fixtures for the benchmark tests: the cases app's tiny `world` (a city, two streets, three grids)."""

from gridgov.cases.tests.conftest import world  # noqa: F401 - the fixture, re-exported
