"""The webhook pages: who may open them, the form (refusals re-rendered, nothing written), the subscription
page with its delivery log, pause/resume, replay, secret rotation and deletion."""

import pytest
from django.urls import reverse

from gridgov.core.models import AuditEntry
from gridgov.webhooks import services
from gridgov.webhooks.models import Delivery, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(client, world):
    def login(name):
        client.force_login(world["users"][name])
        return client

    return login


def form_data(**over):
    return {"name": "Hotline", "target_url": "https://hotline.example/hook", "events": ["case.created"],
            "area": "", **over}


def test_pages_are_for_managers(as_user, subscribe, client):
    sub, _ = subscribe(user="dispatcher")
    assert client.get(reverse("webhooks:list")).status_code == 302  # to the login page
    for role in ("handler", "gm", "resident"):
        c = as_user(role)
        assert c.get(reverse("webhooks:list")).status_code == 403, role
        assert c.get(reverse("webhooks:new")).status_code == 403, role
        assert c.post(reverse("webhooks:act", args=[sub.pk, "pause"])).status_code == 403, role
    c = as_user("other_dispatcher")
    assert c.get(reverse("webhooks:detail", args=[sub.pk])).status_code == 404
    assert c.post(reverse("webhooks:act", args=[sub.pk, "delete"])).status_code == 404
    assert "Receiver" not in c.get(reverse("webhooks:list")).content.decode()
    assert Subscription.objects.filter(pk=sub.pk, active=True).exists()
    c = as_user("admin")
    assert "Receiver" in c.get(reverse("webhooks:list")).content.decode()


def test_create_through_the_form(as_user, world):
    c = as_user("dispatcher")
    page = c.get(reverse("webhooks:new")).content.decode()
    assert world["community"].name in page and world["community2"].name not in page  # areas of my scope only
    r = c.post(reverse("webhooks:new"), form_data(area=world["community"].pk, events=["case.created", "case.closed"]))
    sub = Subscription.objects.get()
    assert r.status_code == 302 and r.url == reverse("webhooks:detail", args=[sub.pk]) + "?secret=1"
    assert (sub.owner, sub.area, sub.events) == (world["users"]["dispatcher"], world["community"],
                                                 ["case.created", "case.closed"])
    page = c.get(r.url).content.decode()
    assert services.secret_of(sub) in page


@pytest.mark.parametrize("over, field", [
    ({"target_url": "ftp://hotline.example/"}, "target_url"),
    ({"target_url": "hotline.example"}, "target_url"),
    ({"events": ["case.deleted"]}, "events"),
    ({"events": []}, "events"),
    ({"name": ""}, "name"),
])
def test_form_refusals_write_nothing(as_user, over, field):
    c = as_user("dispatcher")
    audit = AuditEntry.objects.count()
    r = c.post(reverse("webhooks:new"), form_data(**over))
    assert r.status_code == 422
    assert f'data-testid="error-{field}"' in r.content.decode()
    assert not Subscription.objects.exists() and AuditEntry.objects.count() == audit


def test_edit(as_user, subscribe):
    sub, _ = subscribe()
    c = as_user("dispatcher")
    assert c.get(reverse("webhooks:edit", args=[sub.pk])).status_code == 200
    r = c.post(reverse("webhooks:edit", args=[sub.pk]), form_data(name="Renamed", events=["case.closed"]))
    assert r.status_code == 302
    sub.refresh_from_db()
    assert (sub.name, sub.events) == ("Renamed", ["case.closed"])
    r = c.post(reverse("webhooks:edit", args=[sub.pk]), form_data(target_url="mailto:x@y"))
    assert r.status_code == 422
    sub.refresh_from_db()
    assert sub.name == "Renamed"


def test_subscription_page_log_pause_resume_replay_rotate_delete(as_user, subscribe, drive, committed):
    sub, secret = subscribe()
    with committed():
        case = drive.report()
    c = as_user("dispatcher")
    page = c.get(reverse("webhooks:detail", args=[sub.pk])).content.decode()
    assert case.tracking_code in page and 'data-testid="replay"' in page and "case.created" in page

    c.post(reverse("webhooks:act", args=[sub.pk, "pause"]))
    sub.refresh_from_db()
    assert not sub.active
    assert 'data-testid="paused"' in c.get(reverse("webhooks:detail", args=[sub.pk])).content.decode()
    c.post(reverse("webhooks:act", args=[sub.pk, "resume"]))
    sub.refresh_from_db()
    assert sub.active

    delivery = sub.deliveries.get()
    r = c.post(reverse("webhooks:replay", args=[delivery.pk]))
    assert r.status_code == 302 and sub.deliveries.count() == 2
    assert sub.deliveries.filter(replay_of=delivery).exists()
    assert as_user("other_dispatcher").post(reverse("webhooks:replay", args=[delivery.pk])).status_code == 404
    c = as_user("dispatcher")

    filtered = c.get(reverse("webhooks:detail", args=[sub.pk]), {"state": "succeeded"}).content.decode()
    assert case.tracking_code not in filtered

    r = c.post(reverse("webhooks:act", args=[sub.pk, "rotate"]))
    assert r.status_code == 302 and services.secret_of(Subscription.objects.get(pk=sub.pk)) != secret
    assert c.get(reverse("webhooks:act", args=[sub.pk, "pause"])).status_code == 405
    assert c.post(reverse("webhooks:act", args=[sub.pk, "explode"])).status_code == 404

    r = c.post(reverse("webhooks:act", args=[sub.pk, "delete"]))
    assert r.status_code == 302 and r.url == reverse("webhooks:list")
    assert not Subscription.objects.exists() and not Delivery.objects.exists()


def test_admin_is_read_only_and_hides_the_secret(client, subscribe, drive, committed):
    from gridgov.accounts.tests.factories import UserFactory

    sub, secret = subscribe()
    with committed():
        drive.report()
    delivery = sub.deliveries.get()
    client.force_login(UserFactory(role="admin", is_staff=True, is_superuser=True))
    for model, obj in (("subscription", sub), ("delivery", delivery)):
        assert client.get(reverse(f"admin:webhooks_{model}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:webhooks_{model}_change", args=[obj.pk]))
        assert page.status_code == 200 and secret not in page.content.decode() and sub.secret not in page.content.decode()
        assert client.get(reverse(f"admin:webhooks_{model}_add")).status_code == 403
        assert client.post(reverse(f"admin:webhooks_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403


def test_pages_of_50_take_a_constant_number_of_queries(as_user, world, subscribe, django_assert_max_num_queries):
    subs = [subscribe(user=("admin", "dispatcher")[i % 2], name=f"r{i:02}",
                      area=world["community"] if i % 2 else None)[0] for i in range(50)]
    Delivery.objects.bulk_create(
        Delivery(subscription=subs[0], event="case.created", event_id=f"e{i}", tracking_code=f"C{i}", payload="{}")
        for i in range(50))
    client = as_user("admin")
    client.get(reverse("webhooks:list"))  # the session's first request
    with django_assert_max_num_queries(8):
        page = client.get(reverse("webhooks:list"))
    assert page.content.decode().count("r0") == 10  # r00 … r09: every subscription is listed
    with django_assert_max_num_queries(10):
        page = client.get(reverse("webhooks:detail", args=[subs[0].pk]))
    assert page.content.decode().count("data-delivery=") == 25  # a page of the log
