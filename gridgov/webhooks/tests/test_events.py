"""Case events become pending deliveries after the transition commits: the right events, for the subscriptions
whose owner (and area) cover the case, with the case's public facts only — and no HTTP inside the request."""

import json

import pytest
from django.db import transaction

from gridgov.cases import services as case_services
from gridgov.webhooks.models import Delivery

pytestmark = pytest.mark.django_db

IN_G1 = {"lon": 120.605, "lat": 31.305}
IN_G3 = {"lon": 120.625, "lat": 31.305}


def events_of(sub):
    return [(d.event, json.loads(d.payload)["case"]["state"]) for d in sub.deliveries.order_by("id")]


def test_real_transitions_fire_created_state_changed_and_closed(world, drive, committed, subscribe, httpserver):
    sub, _ = subscribe(url=httpserver.url_for("/hook"))
    with committed():
        case = drive("closed", reporter_phone="13912345678", reporter_name="王五")
    assert events_of(sub) == [
        ("case.created", "reported"),
        ("case.state_changed", "registered"),
        ("case.state_changed", "dispatched"),
        ("case.state_changed", "in_progress"),
        ("case.state_changed", "handled"),
        ("case.state_changed", "verified"),
        ("case.state_changed", "closed"),
        ("case.closed", "closed"),
    ]
    # nothing was sent while the transitions ran: the job sends
    assert httpserver.log == []
    assert set(sub.deliveries.values_list("state", "attempts")) == {("pending", 0)}
    body = json.loads(sub.deliveries.get(event="case.closed").payload)
    assert body["event"] == "case.closed"
    assert body["occurred_at"].endswith("+08:00")
    c = body["case"]
    assert c["tracking_code"] == case.tracking_code
    assert c["previous_state"] == "verified" and c["action"] == "close"
    assert c["category"] == {"code": "T0101", "name": "暴露垃圾", "service_code": case.category.service_code}
    assert c["grid"]["code"] == world["g1"].code
    assert c["closed_at"] and c["reported_at"] and (c["lon"], c["lat"]) == (case.lon, case.lat)
    # never personal data
    raw = sub.deliveries.get(event="case.closed").payload
    assert "13912345678" not in raw and "王五" not in raw and "reporter" not in raw


def test_only_subscribed_events(drive, committed, subscribe):
    sub, _ = subscribe(events=["case.closed"])
    with committed():
        drive("closed")
    assert [d.event for d in sub.deliveries.all()] == ["case.closed"]


def test_actions_that_keep_the_state_fire_nothing(world, drive, committed, subscribe):
    case = drive("in_progress")
    sub, _ = subscribe()
    with committed():
        case_services.case_comment(case_id=case.pk, by=world["users"]["dispatcher"], note="催办")
    assert not sub.deliveries.exists()


def test_scope_subscription_gets_only_cases_its_owner_may_see(world, drive, committed, subscribe):
    mine, _ = subscribe(user="dispatcher", name="street 1")
    other, _ = subscribe(user="other_dispatcher", name="street 2")
    narrowed, _ = subscribe(user="district_dispatcher", area=world["community2"], name="community 2 only")
    everything, _ = subscribe(user="admin", name="all")
    with committed():
        in_g1 = drive.report(**IN_G1)
        in_g3 = drive.report(by=world["users"]["gm3"], **IN_G3)

    def codes(sub):
        return sorted(sub.deliveries.values_list("tracking_code", flat=True))

    assert codes(mine) == [in_g1.tracking_code]
    assert codes(other) == [in_g3.tracking_code]
    assert codes(narrowed) == [in_g3.tracking_code]
    assert codes(everything) == sorted([in_g1.tracking_code, in_g3.tracking_code])


def test_owner_who_lost_the_role_receives_nothing(world, drive, committed, subscribe):
    sub, _ = subscribe(user="dispatcher")
    world["users"]["dispatcher"].role = "resident"
    world["users"]["dispatcher"].save()
    with committed():
        drive.report()
    assert not sub.deliveries.exists()


def test_paused_subscription_still_queues(drive, committed, subscribe):
    from gridgov.webhooks import services

    sub, _ = subscribe()
    services.subscription_pause(subscription_id=sub.pk, by=sub.owner)
    with committed():
        drive.report()
    assert sub.deliveries.filter(state="pending").count() == 1


def test_rolled_back_transition_fires_nothing(drive, committed, subscribe):
    subscribe()
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        drive.report()
        raise RuntimeError("rolled back")
    assert not Delivery.objects.exists()


def test_one_query_for_the_subscriptions(world, drive, committed, subscribe, django_assert_max_num_queries):
    from gridgov.webhooks.services import deliveries_enqueue

    for i in range(5):
        subscribe(name=f"r{i}", events=["case.created"])
    case = drive.report()
    Delivery.objects.all().delete()
    # the subscriptions' events, the matching ones (with owners and areas), the case, the insert
    with django_assert_max_num_queries(4):
        n = deliveries_enqueue(case_id=case.pk, events=["case.created"], occurred_at=case.reported_at,
                               action="report", from_state="", to_state="reported")
    assert n == 5
    # a step no subscription wants (every step of every case comes here) costs one small query
    with django_assert_max_num_queries(1):
        n = deliveries_enqueue(case_id=case.pk, events=["case.closed"], occurred_at=case.reported_at,
                               action="close", from_state="verified", to_state="closed")
    assert n == 0


def test_slow_or_failing_receivers_do_not_slow_the_triggering_request(world, client, committed, subscribe,
                                                                      httpserver):
    """Through the real API: a receiver that would hang or answer 500 is not called during the request."""
    import time

    from gridgov.accounts.services import token_create

    def hang(request):
        time.sleep(2)
        return "late"

    httpserver.expect_request("/slow").respond_with_handler(hang)
    httpserver.expect_request("/broken").respond_with_data("", status=500)
    subscribe(url=httpserver.url_for("/slow"), name="slow")
    subscribe(url=httpserver.url_for("/broken"), name="broken")
    headers = {"Authorization": f"Bearer {token_create(user=world['users']['dispatcher'], name='t')[1]}"}
    case = case_services.case_report(by=world["users"]["gm"], category="T0101", description="x", **IN_G1)[0]
    started = time.monotonic()
    with committed():
        r = client.post(f"/api/v1/cases/{case.pk}/register", "{}", content_type="application/json", headers=headers)
    assert r.status_code == 200, r.content
    assert time.monotonic() - started < 1.5
    assert httpserver.log == []
    assert list(Delivery.objects.values_list("event", "state", "attempts")) == [
        ("case.state_changed", "pending", 0)] * 2
