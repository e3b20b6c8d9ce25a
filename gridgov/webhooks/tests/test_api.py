"""The webhooks API over bearer tokens: CRUD, pause/resume, secret rotation, the delivery log with its total,
replay, who may do what, and bad input refused with a 422 that writes nothing."""

import json

import pytest

from gridgov.core.models import AuditEntry
from gridgov.core.testing import Api
from gridgov.webhooks import services
from gridgov.webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db

BODY = {"name": "Hotline system", "target_url": "https://hotline.example/hooks",
        "events": ["case.created", "case.closed"]}


@pytest.fixture
def api(client, world):
    cache = {}

    def as_user(name):
        if name not in cache:
            cache[name] = Api(client, world["users"][name], base="/api/v1/webhooks")
        return cache[name]

    return as_user


def test_create_read_update_delete(api, world):
    r = api("dispatcher").post("/subscriptions", BODY | {"area": world["community"].code})
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["owner"] == "disp" and created["active"]
    assert created["events"] == ["case.created", "case.closed"]
    assert created["area"] == {"code": world["community"].code, "name": world["community"].name}
    sub = Subscription.objects.get()
    assert sub.secret != created["secret"]  # encrypted at rest
    assert services.secret_of(sub) == created["secret"]

    got = api("dispatcher").get(f"/subscriptions/{sub.pk}").json()
    assert "secret" not in got and got["name"] == BODY["name"]
    listed = api("dispatcher").get("/subscriptions").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == sub.pk

    r = api("dispatcher").send("patch", f"/subscriptions/{sub.pk}", {"events": ["case.state_changed"],
                                                                     "area": None})
    assert r.status_code == 200, r.content
    assert r.json()["events"] == ["case.state_changed"] and r.json()["area"] is None
    assert r.json()["name"] == BODY["name"]  # untouched

    r = api("dispatcher").post(f"/subscriptions/{sub.pk}/rotate-secret")
    assert r.status_code == 200 and r.json()["secret"] != created["secret"]

    assert api("dispatcher").post(f"/subscriptions/{sub.pk}/pause").json()["active"] is False
    assert api("dispatcher").post(f"/subscriptions/{sub.pk}/resume").json()["active"] is True

    assert api("dispatcher").send("delete", f"/subscriptions/{sub.pk}").status_code == 204
    assert not Subscription.objects.exists()
    actions = list(AuditEntry.objects.filter(action__startswith="webhook.").values_list("action", flat=True))
    assert actions == ["webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.pause",
                       "webhook.resume", "webhook.delete"]


@pytest.mark.parametrize("change, field, code", [
    ({"target_url": "ftp://hotline.example/x"}, "target_url", "invalid"),
    ({"target_url": "javascript:alert(1)"}, "target_url", "invalid"),
    ({"target_url": "not a url"}, "target_url", "invalid"),
    ({"target_url": "https://"}, "target_url", "invalid"),
    ({"target_url": "https://hotline.example:99999/"}, "target_url", "invalid"),
    ({"events": ["case.deleted"]}, "events", "unknown_event"),
    ({"events": []}, "events", "invalid"),
    ({"name": "   "}, "name", "invalid"),
    ({"area": "320508002001"}, "area", "out_of_scope"),  # community 2: another street
    ({"area": "nope"}, "area", "out_of_scope"),
])
def test_bad_input_is_422_and_writes_nothing(api, change, field, code):
    dispatcher = api("dispatcher")  # its token is written first
    audit = AuditEntry.objects.count()
    r = dispatcher.post("/subscriptions", BODY | change)
    assert r.status_code == 422, r.content
    assert r.json()["code"] == code and r.json()["details"][0]["field"] == field
    assert not Subscription.objects.exists() and AuditEntry.objects.count() == audit


def test_schema_errors_are_422(api):
    r = api("dispatcher").post("/subscriptions", {"name": "x", "target_url": "https://a.example/", "events": "all"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert not Subscription.objects.exists()


def test_private_targets_are_refused_unless_allowed(api, settings):
    settings.GRIDGOV_WEBHOOKS_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8000/x", "http://localhost/x", "http://169.254.169.254/latest", "http://[::1]/",
                "http://10.0.0.5/hook", "http://localhost./x", "http://LOCALHOST/x", "http://[::ffff:127.0.0.1]/",
                "http://0.0.0.0/"):
        r = api("dispatcher").post("/subscriptions", BODY | {"target_url": url})
        assert r.status_code == 422 and r.json()["code"] == "private_target", url
    assert not Subscription.objects.exists()


def test_bad_update_writes_nothing(api, subscribe):
    sub, _ = subscribe()
    r = api("dispatcher").send("patch", f"/subscriptions/{sub.pk}", {"name": "new", "target_url": "gopher://x"})
    assert r.status_code == 422
    sub.refresh_from_db()
    assert sub.name == "Receiver"


def test_who_may_manage(api, client, subscribe):
    sub, _ = subscribe(user="dispatcher")
    for role in ("handler", "gm", "resident"):
        assert api(role).get("/subscriptions").status_code == 403, role
        assert api(role).post("/subscriptions", BODY).status_code == 403, role
        assert api(role).post("/subscriptions", BODY | {"area": "nowhere"}).status_code == 403, role
        assert api(role).send("patch", f"/subscriptions/{sub.pk}", {"area": "nowhere"}).status_code == 403, role
    # another manager does not see it: 404, as if it did not exist
    assert api("other_dispatcher").get(f"/subscriptions/{sub.pk}").status_code == 404
    assert api("other_dispatcher").post(f"/subscriptions/{sub.pk}/pause").status_code == 404
    assert api("other_dispatcher").send("delete", f"/subscriptions/{sub.pk}").status_code == 404
    assert api("other_dispatcher").get("/subscriptions").json()["count"] == 0
    # a leader manages their own; the administrator all
    assert api("leader").post("/subscriptions", BODY).status_code == 201
    assert api("admin").get("/subscriptions").json()["count"] == 2
    assert api("admin").post(f"/subscriptions/{sub.pk}/pause").status_code == 200
    assert client.get("/api/v1/webhooks/subscriptions").status_code == 401
    sub.refresh_from_db()
    assert sub.active is False


def test_delivery_log_paginated_with_total_and_replay(api, drive, committed, subscribe):
    sub, _ = subscribe()
    with committed():
        for _ in range(3):
            drive.report()
    r = api("dispatcher").get(f"/subscriptions/{sub.pk}/deliveries", page_size=2)
    assert r.status_code == 200
    assert r.json()["count"] == 3 and len(r.json()["items"]) == 2
    first = r.json()["items"][0]
    assert first["state"] == "pending" and first["event"] == "case.created" and "payload" not in first
    assert api("dispatcher").get(f"/subscriptions/{sub.pk}/deliveries", state="succeeded").json()["count"] == 0
    bad = api("dispatcher").get(f"/subscriptions/{sub.pk}/deliveries", state="lost")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_filter"

    detail = api("dispatcher").get(f"/deliveries/{first['id']}").json()
    assert json.loads(detail["payload"])["event"] == "case.created"

    r = api("dispatcher").post(f"/deliveries/{first['id']}/replay")
    assert r.status_code == 201 and r.json()["replay_of_id"] == first["id"]
    assert Delivery.objects.get(pk=r.json()["id"]).payload == Delivery.objects.get(pk=first["id"]).payload
    # not yours: 404, and nothing queued
    count = Delivery.objects.count()
    assert api("other_dispatcher").post(f"/deliveries/{first['id']}/replay").status_code == 404
    assert api("other_dispatcher").get(f"/deliveries/{first['id']}").status_code == 404
    assert api("dispatcher").post("/deliveries/999999/replay").status_code == 404
    assert Delivery.objects.count() == count


def test_openapi_documents_the_errors(client):
    doc = client.get("/api/v1/openapi.json").json()
    ops = {(path, method): op for path, item in doc["paths"].items() if "/webhooks/" in path
           for method, op in item.items()}
    assert len(ops) == 11
    for (path, method), op in ops.items():
        assert {"401", "403", "404", "422"} <= set(op["responses"]), (path, method)


def test_lists_of_50_take_a_constant_number_of_queries(api, world, subscribe, django_assert_max_num_queries):
    subs = [subscribe(user=("admin", "dispatcher", "leader")[i % 3], name=f"r{i:02}",
                      area=world["community"] if i % 2 else None)[0] for i in range(50)]
    originals = Delivery.objects.bulk_create(
        Delivery(subscription=subs[0], event="case.created", event_id=f"e{i}", tracking_code=f"C{i}", payload="{}")
        for i in range(25))
    Delivery.objects.bulk_create(
        Delivery(subscription=subs[0], event="case.created", event_id=f"e{i}", tracking_code=f"C{i}", payload="{}",
                 replay_of=d) for i, d in enumerate(originals))
    admin = api("admin")
    admin.get("/subscriptions")  # the token's first use writes last_used_at
    with django_assert_max_num_queries(4):
        r = admin.get("/subscriptions", page_size=50)
    assert r.json()["count"] == 50 and len({s["owner"] for s in r.json()["items"]}) == 3
    with django_assert_max_num_queries(5):
        r = admin.get(f"/subscriptions/{subs[0].pk}/deliveries", page_size=50)
    assert r.json()["count"] == 50 and sum(1 for d in r.json()["items"] if d["replay_of_id"]) == 25
