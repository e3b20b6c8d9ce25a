"""Fixtures for browser tests: Playwright drives Debian's chromium against pytest-django's live server.

Loaded from the root conftest (`pytest_plugins = ["gridgov.browser_fixtures"]`). Mark browser tests with
`@pytest.mark.browser`. `playwright install` is not needed: the browser is the system's chromium.

- `browser`: one headless chromium for the session. Missing chromium skips the test, except under CI
  (the CI environment variable set), where it fails: CI must install the `chromium` package.
- `page`: a fresh context and page per test (own cookies), a phone viewport unless a test overrides the
  `viewport` fixture (or parametrizes it: `@pytest.mark.parametrize("viewport", [{"width": 1280, ...}])`).
  JavaScript errors on the page are collected in the `js_errors` list; a failing test leaves a screenshot
  under var/browser-failures/ (or $GRIDGOV_BROWSER_ARTIFACTS).
- `new_page`: a factory, `new_page(name, viewport=..., **context_options)`, of pages each in its own
  context (own cookies): one per role in a test that plays several; errors and screenshots as `page`.
- `demo_city`: the small demo city, built in a transactional database the live server can read.
- `login(page, live_server, username)`: logs in through the login form.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

CHROMIUM = Path(os.environ.get("GRIDGOV_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
# Playwright's default timeout is 30 s; a page of this app that needs more than this is a bug.
DEFAULT_TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(config, items):
    """Run browser tests last (stable order otherwise).

    Playwright's sync API marks an asyncio loop as running in the main thread from the browser's start to
    the session's end; tests after it could not use asyncio.run() or async_to_sync(), and Django's async
    safety check is off while it runs (see `browser`). Last, browser tests can affect no other test.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so `page` can tell a failed test (and screenshot it)."""
    report = yield
    setattr(item, f"_browser_report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = (f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); "
                  "`playwright install` browsers are not used")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must install it.", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Between its calls, Playwright's sync API leaves its asyncio loop marked as running in this thread;
    # Django then refuses ORM calls here (SynchronousOnlyOperation): the test database's setup and flush,
    # demo_city, queries in tests. They are plain synchronous calls, so lift the check while the browser
    # lives (browser tests run last: pytest_collection_modifyitems).
    mp = pytest.MonkeyPatch()
    mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        mp.undo()


@pytest.fixture
def viewport() -> dict:
    """The page's viewport; override (or parametrize) this fixture for another size."""
    return dict(PHONE_VIEWPORT)


@pytest.fixture
def browser_locale() -> str:
    """The browser's language (Accept-Language): Chinese, the site's default language."""
    return "zh-CN"


@pytest.fixture
def js_errors() -> list[str]:
    """Uncaught JavaScript errors on the test's page (filled by `page`)."""
    return []


@pytest.fixture
def page(request, browser, viewport, browser_locale, js_errors):
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, locale=browser_locale, timezone_id="Asia/Shanghai",
                                  is_mobile=phone, has_touch=phone)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        yield pg
    finally:
        report = getattr(request.node, "_browser_report_call", None)
        if report is not None and report.failed:
            _screenshot(pg, request.node.nodeid)
        context.close()


@pytest.fixture
def new_page(request, browser, browser_locale, js_errors):
    """A factory of pages, each in a context of its own (own cookies, own login): `new_page("dispatcher",
    viewport={"width": 1280, "height": 800})`. A viewport narrower than 600 px is a phone (touch); other
    keyword arguments go to browser.new_context (e.g. geolocation=..., permissions=["geolocation"]).
    JavaScript errors go to `js_errors` prefixed with the page's name; a failing test leaves a screenshot of
    every page it opened."""
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    opened = []

    def open_page(name: str = "page", *, viewport: dict | None = None, **context_options):
        size = dict(viewport or PHONE_VIEWPORT)
        phone = size["width"] < 600
        options = {"locale": browser_locale, "timezone_id": "Asia/Shanghai", "is_mobile": phone,
                   "has_touch": phone, **context_options}
        context = browser.new_context(viewport=size, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        pg = context.new_page()
        pg.on("pageerror", lambda exc: js_errors.append(f"{name}: {exc}"))
        opened.append((name, context, pg))
        return pg

    try:
        yield open_page
    finally:
        report = getattr(request.node, "_browser_report_call", None)
        for name, context, pg in opened:
            if report is not None and report.failed:
                _screenshot(pg, f"{request.node.nodeid}-{name}")
            context.close()


def _screenshot(pg, nodeid: str) -> None:
    from django.conf import settings

    folder = Path(os.environ.get("GRIDGOV_BROWSER_ARTIFACTS") or settings.VAR_DIR / "browser-failures")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(folder / (re.sub(r"[^\w.-]+", "_", nodeid) + ".png")), full_page=True)
    except Exception:  # a screenshot is a courtesy: never mask the test's own failure
        pass


@pytest.fixture
def demo_city(transactional_db, live_server, settings):
    """The small demo city (S City) — its geography, people and year of cases; the residents, disputes and
    rollups steps are left out (no browser test here reads them, and they triple the build) — committed so
    the live server's thread sees it."""
    from django.core.management import call_command

    from gridgov.accounts.models import User

    settings.GRIDGOV_DEMO_STEPS = [step for step in settings.GRIDGOV_DEMO_STEPS
                                   if step.rsplit(".", 1)[-1] in ("build_geography", "build_people", "build_cases")]
    call_command("demo_city", stdout=io.StringIO())
    gridmember = User.objects.get(username="gridmember")
    return SimpleNamespace(
        password=settings.GRIDGOV_DEMO_PASSWORD,
        gridmember=gridmember,
        grid=gridmember.grids.select_related("community").order_by("code").first(),
    )


def login(page, live_server, username: str, password: str | None = None, *, expect_success: bool = True):
    """Log in through the login form (demo password unless given); on success, wait to leave the form."""
    from django.conf import settings
    from django.urls import reverse
    from playwright.sync_api import expect

    login_url = live_server.url + reverse("login")
    page.goto(login_url)
    form = page.get_by_test_id("login-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password if password is not None else settings.GRIDGOV_DEMO_PASSWORD)
    form.locator("button[type=submit]").click()
    if expect_success:
        expect(page).not_to_have_url(re.compile(re.escape(reverse("login"))))
    return page
