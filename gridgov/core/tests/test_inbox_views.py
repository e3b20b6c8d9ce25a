"""The inbox page, "mark read", and the unread count in the navigation."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.accounts.tests.factories import UserFactory
from gridgov.cases.tests.conftest import world  # noqa: F401 - the small city with its people
from gridgov.core.models import Notification
from gridgov.core.notifications import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {"me": UserFactory(username="me", role="dispatcher"), "other": UserFactory(username="other")}


def login(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def unread_badge(html: str) -> str | None:
    found = re.search(r'data-testid="unread-count"[^>]*>(\d+)<', html)
    return found.group(1) if found else None


def note(user, title, *, url="/cases/1/", minutes_ago=0, read=False) -> Notification:
    row = notify(users=[user], kind=Notification.Kind.DISPATCHED, title=title, url=url)[0]
    Notification.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago), read_at=timezone.now() if read else None)
    return row


def test_inbox_needs_a_login(client):
    assert client.get("/inbox/")["Location"].startswith("/accounts/login/")
    assert client.post("/inbox/read/")["Location"].startswith("/accounts/login/")


def test_inbox_lists_own_notifications_newest_first_with_unread_highlighted(people):
    old = note(people["me"], "Old one, read", minutes_ago=60, read=True)
    new = note(people["me"], "New one", minutes_ago=1, url="/cases/7/")
    note(people["other"], "Somebody else's")
    html = login(people["me"]).get("/inbox/").content.decode()
    assert html.index("New one") < html.index("Old one, read")
    assert "Somebody else&#x27;s" not in html and "Somebody else's" not in html
    assert re.search(rf'<li class="unread" data-testid="notification-{new.pk}">', html)
    assert re.search(rf'<li class="read" data-testid="notification-{old.pk}">', html)
    assert '<a href="/cases/7/" class="title">New one</a>' in html
    assert "1 unread" in html


def test_links_leave_only_for_pages_of_this_site(people):
    note(people["me"], "Elsewhere", url="https://evil.example/phish")
    note(people["me"], "Script", url="javascript:alert(1)")
    note(people["me"], "Protocol-relative", url="//evil.example/x")
    html = login(people["me"]).get("/inbox/").content.decode()
    assert "evil.example" not in html and "javascript:" not in html
    assert '<span class="title">Elsewhere</span>' in html


def test_mark_all_read_marks_only_mine(people):
    mine = [note(people["me"], f"n{i}") for i in range(3)]
    theirs = note(people["other"], "theirs")
    client = login(people["me"])
    response = client.post("/inbox/read/")
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert not Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).exists()
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    page = client.get("/inbox/").content.decode()
    assert "3 notifications marked read." in page and 'class="unread"' not in page


def test_mark_one_read_and_bad_ids(people):
    first, second = note(people["me"], "first"), note(people["me"], "second")
    theirs = note(people["other"], "theirs")
    client = login(people["me"])
    assert client.post("/inbox/read/", {"id": [first.pk, theirs.pk], "next": "/inbox/?unread=1"})[
        "Location"] == "/inbox/?unread=1"
    assert Notification.objects.get(pk=first.pk).read_at is not None
    assert Notification.objects.get(pk=second.pk).read_at is None
    assert Notification.objects.get(pk=theirs.pk).read_at is None  # another user's id changes nothing
    response = client.post("/inbox/read/", {"id": "x1", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert Notification.objects.get(pk=second.pk).read_at is None
    assert "Nothing marked read" in client.get("/inbox/").content.decode()
    assert client.get("/inbox/read/").status_code == 405


def test_unread_only_filter(people):
    note(people["me"], "Unread thing")
    note(people["me"], "Read thing", read=True)
    html = login(people["me"]).get("/inbox/?unread=1").content.decode()
    assert "Unread thing" in html and "Read thing" not in html


def test_nav_shows_the_unread_count(people):
    client = login(people["me"])
    assert unread_badge(client.get("/").content.decode()) is None
    note(people["me"], "a")
    note(people["me"], "b")
    note(people["me"], "c", read=True)
    html = client.get("/").content.decode()
    assert 'data-testid="nav-inbox"' in html and unread_badge(html) == "2"
    client.post("/inbox/read/")
    assert unread_badge(client.get("/").content.decode()) is None


def test_a_dispatched_case_reaches_the_handlers_inbox(world):  # noqa: F811 - the imported fixture
    from gridgov.cases import services

    u = world["users"]
    case, _ = services.case_report(by=u["gm"], category="T0101", description="垃圾", lon=120.605, lat=31.305)
    services.case_register(case_id=case.pk, by=u["dispatcher"])
    services.case_dispatch(case_id=case.pk, by=u["dispatcher"], lead=world["urban"])
    handler = login(u["handler"])
    html = handler.get("/inbox/").content.decode()
    assert unread_badge(html) == "1"
    assert f'<a href="/cases/{case.pk}/" class="title">' in html and case.number in html
    assert handler.get(f"/cases/{case.pk}/").status_code == 200
