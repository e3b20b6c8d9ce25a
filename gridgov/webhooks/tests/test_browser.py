"""In Chromium: a dispatcher subscribes a receiver, sees the secret, a real case event is delivered by the job,
the log shows it, a replay and a pause from the page. States are read from data-state attributes (the UI is
Chinese by default)."""

from __future__ import annotations

import pytest

from gridgov.accounts.tests.factories import PASSWORD
from gridgov.browser_fixtures import login
from gridgov.cases import services as case_services
from gridgov.webhooks import services
from gridgov.webhooks.models import Subscription

pytestmark = [pytest.mark.browser]


@pytest.fixture
def viewport():
    return {"width": 1280, "height": 800}


def test_subscribe_deliver_replay_pause(transactional_db, world, live_server, page, js_errors, httpserver):
    from playwright.sync_api import expect

    httpserver.expect_request("/hook", method="POST").respond_with_data("thanks")
    login(page, live_server, "disp", PASSWORD)
    page.goto(live_server.url + "/webhooks/")
    page.get_by_test_id("new-subscription").click()
    form = page.get_by_test_id("subscription-form")
    form.locator("input[name=name]").fill("Hotline")
    form.locator("input[name=target_url]").fill("ftp://nope")
    form.locator("input[value='case.created']").check()
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-target_url")).to_be_visible()
    assert not Subscription.objects.exists()

    page.get_by_test_id("subscription-form").locator("input[name=target_url]").fill(httpserver.url_for("/hook"))
    page.get_by_test_id("save").click()
    sub = Subscription.objects.get()
    expect(page.get_by_test_id("secret-value")).to_have_text(services.secret_of(sub))

    case, _ = case_services.case_report(by=world["users"]["gm"], category="T0101", description="垃圾堆放",
                                        lon=120.605, lat=31.305)
    services.deliveries_send()
    assert len(httpserver.log) == 1
    page.reload()
    row = page.locator("[data-testid=delivery-table] tr[data-delivery]")
    expect(row).to_have_count(1)
    expect(row.first).to_have_attribute("data-state", "succeeded")
    expect(row.first).to_contain_text(case.tracking_code)

    row.first.get_by_test_id("replay").click()
    expect(page.locator("tr[data-delivery][data-state=pending]")).to_have_count(1)
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("paused")).to_be_visible()
    assert services.deliveries_send()["sent"] == 0
    page.get_by_test_id("resume").click()
    expect(page.get_by_test_id("paused")).to_have_count(0)
    assert services.deliveries_send()["succeeded"] == 1
    assert js_errors == []
