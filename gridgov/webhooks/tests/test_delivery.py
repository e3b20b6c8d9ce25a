"""The delivery job against a real HTTP receiver (pytest-httpserver): signed bodies, retries with backoff after
a 500 or a timeout, giving up, paused subscriptions waiting, replays of the same bytes."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.utils import timezone
from werkzeug import Response

from gridgov.core.models import AuditEntry
from gridgov.webhooks import services
from gridgov.webhooks.jobs import deliver
from gridgov.webhooks.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(drive, committed, subscribe, httpserver):
    """A subscription to case.created on the test receiver, with one case reported (one pending delivery)."""
    sub, secret = subscribe(url=httpserver.url_for("/hook"), events=["case.created"])
    with committed():
        case = drive.report()
    delivery = sub.deliveries.get()
    return sub, secret, case, delivery


def test_signed_post_verifies_and_succeeds(queued, httpserver):
    sub, secret, case, delivery = queued
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    result = services.deliveries_send()
    assert result["sent"] == 1 and result["succeeded"] == 1
    (request, _response), = httpserver.log
    body = request.get_data()
    assert body == delivery.payload.encode()
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Gridgov-Signature"], expected)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Gridgov-Event"] == "case.created"
    assert request.headers["X-Gridgov-Delivery"] == str(delivery.pk)
    assert abs(int(request.headers["X-Gridgov-Timestamp"]) - time.time()) < 60
    assert json.loads(body)["case"]["tracking_code"] == case.tracking_code
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.delivered_at and delivery.next_attempt_at is None and delivery.duration_ms is not None
    assert json.loads(delivery.last_response) == {"ok": True}
    # nothing left to send
    assert services.deliveries_send()["sent"] == 0


def test_500_is_retried_with_backoff_then_given_up(queued, httpserver):
    _, _, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("boom " * 1000, status=500)
    now = timezone.now()
    waits = []
    for attempt in range(1, 7):
        services.deliveries_send(now=now)
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
        assert len(delivery.last_response.encode()) <= 2048
        if attempt < 6:
            assert delivery.state == "failed"
            waits.append(delivery.next_attempt_at - now)
            # not due before its time
            assert services.deliveries_send(now=delivery.next_attempt_at - dt.timedelta(seconds=1))["sent"] == 0
            now = delivery.next_attempt_at
    assert waits == [dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
                     dt.timedelta(hours=2), dt.timedelta(hours=12)]
    assert delivery.state == "gave_up" and delivery.next_attempt_at is None
    assert services.deliveries_send(now=now + dt.timedelta(days=30))["sent"] == 0
    assert len(httpserver.log) == 6


def test_timeout_is_a_failed_attempt_and_the_retry_succeeds(queued, httpserver):
    _, _, _, delivery = queued

    def slow(request):
        time.sleep(1.2)  # the tests' timeout is 0.5 s
        return Response("late", status=200)

    httpserver.expect_ordered_request("/hook").respond_with_handler(slow)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=204)
    now = timezone.now()
    started = time.monotonic()
    services.deliveries_send(now=now)
    elapsed = time.monotonic() - started
    assert elapsed < 1.1  # the job did not wait for the slow answer
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_status_code is None
    assert "timeout" in delivery.last_error
    assert delivery.next_attempt_at == now + dt.timedelta(minutes=1)
    time.sleep(max(0.0, 1.3 - elapsed))  # let the slow handler finish (the test server answers one at a time)
    services.deliveries_send(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "succeeded", 2, 204, "")


def test_an_answer_trickled_byte_by_byte_is_cut_at_the_timeout(queued, httpserver):
    """Each byte comes within the read timeout, but the whole answer would take 3 s: the job stops reading."""
    _, _, _, delivery = queued

    def trickle():
        for _ in range(30):
            yield b"x"
            time.sleep(0.1)

    httpserver.expect_request("/hook").respond_with_response(Response(trickle(), status=200,
                                                                      direct_passthrough=True))
    started = time.monotonic()
    services.deliveries_send()
    assert time.monotonic() - started < 2  # the tests' timeout is 0.5 s
    delivery.refresh_from_db()
    assert delivery.state == "succeeded" and delivery.last_status_code == 200
    assert 0 < len(delivery.last_response) < 30
    time.sleep(3)  # let the test server finish the answer (it serves one request at a time)


def test_a_subscription_deleted_during_its_attempt_does_not_stop_the_job(drive, committed, subscribe, httpserver,
                                                                          monkeypatch):
    first, _ = subscribe(url=httpserver.url_for("/hook"), name="a deleted one")
    second, _ = subscribe(url=httpserver.url_for("/hook"), name="b kept")
    httpserver.expect_request("/hook").respond_with_data("ok")
    with committed():
        drive.report()
    attempt = services._attempt

    def deleting(client, delivery):
        outcome = attempt(client, delivery)
        if delivery.subscription_id == first.pk:  # its owner deletes it while the POST is under way
            services.subscription_delete(subscription_id=first.pk, by=first.owner)
        return outcome

    monkeypatch.setattr(services, "_attempt", deleting)
    result = services.deliveries_send()
    assert result["sent"] == 2 and result["succeeded"] == 2
    assert not Delivery.objects.filter(subscription_id=first.pk).exists()
    assert second.deliveries.get().state == "succeeded"


def test_unreachable_target_is_recorded(drive, committed, subscribe):
    sub, _ = subscribe(url="http://127.0.0.1:9/hook")  # discard port: nothing listens
    with committed():
        drive.report()
    services.deliveries_send()
    d = sub.deliveries.get()
    assert d.state == "failed" and d.last_status_code is None and "ConnectError" in d.last_error


def test_redirect_is_not_followed(queued, httpserver):
    _, _, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("", status=302, headers={"Location": "http://elsewhere/"})
    services.deliveries_send()
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_status_code == 302
    assert "not followed" in delivery.last_error
    assert len(httpserver.log) == 1


def test_paused_subscription_waits_until_resumed(queued, httpserver):
    sub, _, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("ok")
    services.subscription_pause(subscription_id=sub.pk, by=sub.owner)
    assert services.deliveries_send(now=timezone.now() + dt.timedelta(hours=1))["sent"] == 0
    assert httpserver.log == []
    services.subscription_resume(subscription_id=sub.pk, by=sub.owner)
    assert services.deliveries_send()["succeeded"] == 1
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"


def test_replay_sends_the_same_bytes_again(queued, httpserver):
    sub, secret, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("", status=500)
    services.deliveries_send()
    audit_before = AuditEntry.objects.count()
    replay = services.delivery_replay(delivery_id=delivery.pk, by=sub.owner)
    assert AuditEntry.objects.count() == audit_before + 1
    assert (replay.state, replay.attempts, replay.replay_of_id) == ("pending", 0, delivery.pk)
    assert replay.payload == delivery.payload and replay.event_id == delivery.event_id
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert services.deliveries_send()["succeeded"] == 1  # the original waits for its retry
    (request, _), = httpserver.log
    assert request.get_data() == delivery.payload.encode()
    assert request.headers["X-Gridgov-Delivery"] == str(replay.pk)
    assert request.headers["X-Gridgov-Signature"] == services.sign(delivery.payload.encode(), secret)


def test_rotated_secret_signs_later_attempts(queued, httpserver):
    sub, old, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("ok")
    _, new = services.subscription_rotate_secret(subscription_id=sub.pk, by=sub.owner)
    assert new != old
    services.deliveries_send()
    (request, _), = httpserver.log
    assert request.headers["X-Gridgov-Signature"] == services.sign(request.get_data(), new)


def test_a_claimed_delivery_is_not_sent_twice(queued, httpserver):
    _, _, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("ok")
    # another runner claimed it a moment ago (its lease moved next_attempt_at)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + services.LEASE)
    assert services.deliveries_send()["sent"] == 0
    assert httpserver.log == []


def test_private_target_refused_at_send_time(queued, httpserver, settings):
    _, _, _, delivery = queued
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings.GRIDGOV_WEBHOOKS_ALLOW_PRIVATE = False
    services.deliveries_send()
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "private" in delivery.last_error
    assert httpserver.log == []


def test_dns_rebinding_is_refused_at_connect_time(drive, committed, subscribe, httpserver, settings, monkeypatch):
    """The name resolves to a public address when checked, then to the local receiver when connecting: the
    connection is refused, the receiver never called."""
    import socket

    httpserver.expect_request("/hook").respond_with_data("ok")
    sub, _ = subscribe(url=f"http://rebind.example:{httpserver.port}/hook")
    with committed():
        drive.report()
    settings.GRIDGOV_WEBHOOKS_ALLOW_PRIVATE = False
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    services.deliveries_send()
    delivery = sub.deliveries.get()
    assert delivery.state == "failed" and "private" in delivery.last_error
    assert len(lookups) >= 2 and httpserver.log == []


def test_job_reports_counts(queued, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    assert deliver() == "1 sent, 1 succeeded, 0 to retry, 0 given up"


def test_undecryptable_secret_does_not_stop_the_job(drive, committed, subscribe, httpserver):
    broken, _ = subscribe(url=httpserver.url_for("/hook"), name="broken")
    fine, _ = subscribe(url=httpserver.url_for("/hook"), name="fine")
    broken.secret = "not-a-ciphertext"
    broken.save()
    httpserver.expect_request("/hook").respond_with_data("ok")
    with committed():
        drive.report()
    result = services.deliveries_send()
    assert result["sent"] == 2 and result["succeeded"] == 1
    assert broken.deliveries.get().state == "failed"
