"""The inbox API: my notifications only, newest first, the unread count, marking read."""

import json

import pytest

from gridgov.accounts.services import token_create
from gridgov.accounts.tests.factories import UserFactory
from gridgov.core.models import Notification
from gridgov.core.notifications import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db, settings):
    settings.GRIDGOV_NOTIFY_CHANNELS = []
    me, other = UserFactory(username="me", role="handler"), UserFactory(username="other", role="handler")
    mine = [notify(users=[me], kind=kind, title=title, url=f"/cases/{i}/")[0]
            for i, (kind, title) in enumerate([("dispatched", "Case 1 dispatched to you"),
                                               ("returned", "Case 2 returned"),
                                               ("overdue", "Case 3 is overdue")], start=1)]
    theirs = notify(users=[other], kind="verify", title="Please verify case 9")[0]
    return {"me": me, "other": other, "mine": mine, "theirs": theirs}


def headers(user):
    return {"Authorization": f"Bearer {token_create(user=user, name='test')[1]}", "Accept-Language": "en"}


def test_inbox_lists_my_notifications_newest_first(client, people):
    response = client.get("/api/v1/inbox", headers=headers(people["me"]))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [n["title"] for n in body["items"]] == ["Case 3 is overdue", "Case 2 returned", "Case 1 dispatched to you"]
    first = body["items"][0]
    assert first["kind"] == "overdue" and first["kind_label"] == "Overdue" and first["url"] == "/cases/3/"
    assert first["unread"] is True and first["read_at"] is None
    paged = client.get("/api/v1/inbox", {"page": 2, "page_size": 2}, headers=headers(people["me"])).json()
    assert [n["title"] for n in paged["items"]] == ["Case 1 dispatched to you"]


def test_unread_count_unread_filter_and_marking_some_read(client, people):
    auth = headers(people["me"])
    assert client.get("/api/v1/inbox/unread-count", headers=auth).json() == {"unread": 3}
    first, second, _ = people["mine"]
    # someone else's id is ignored: only my own inbox is touched
    response = client.post("/api/v1/inbox/read", json.dumps({"ids": [first.pk, people["theirs"].pk]}),
                           content_type="application/json", headers=auth)
    assert response.status_code == 200 and response.json() == {"marked": 1, "unread": 2}
    assert Notification.objects.get(pk=people["theirs"].pk).read_at is None
    unread = client.get("/api/v1/inbox", {"unread": "true"}, headers=auth).json()
    assert sorted(n["id"] for n in unread["items"]) == sorted(n.pk for n in people["mine"][1:])
    everything = client.get("/api/v1/inbox", headers=auth).json()["items"]
    assert [n["unread"] for n in everything] == [True, True, False]
    assert client.get("/api/v1/inbox/unread-count", headers=auth).json() == {"unread": 2}


def test_marking_all_read(client, people):
    auth = headers(people["me"])
    response = client.post("/api/v1/inbox/read", "{}", content_type="application/json", headers=auth)
    assert response.json() == {"marked": 3, "unread": 0}
    again = client.post("/api/v1/inbox/read", "{}", content_type="application/json", headers=auth)
    assert again.json() == {"marked": 0, "unread": 0}
    assert client.get("/api/v1/inbox", {"unread": "true"}, headers=auth).json() == {"items": [], "count": 0}
    other = headers(people["other"])
    assert client.get("/api/v1/inbox/unread-count", headers=other).json() == {"unread": 1}


def test_bad_input_and_no_credentials(client, people):
    auth = headers(people["me"])
    response = client.post("/api/v1/inbox/read", json.dumps({"ids": ["first"]}), content_type="application/json",
                           headers=auth)
    assert response.status_code == 422 and response.json()["details"][0]["field"].startswith("ids")
    assert client.get("/api/v1/inbox", {"unread": "maybe"}, headers=auth).status_code == 422
    assert Notification.objects.filter(read_at__isnull=False).count() == 0
    assert client.get("/api/v1/inbox").status_code == 401
    assert client.get("/api/v1/inbox/unread-count").status_code == 401
    assert client.post("/api/v1/inbox/read", "{}", content_type="application/json").status_code == 401
