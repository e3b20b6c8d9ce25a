"""The API token page (/accounts/tokens/) and the token endpoints of the API: create with a name and an optional
expiry (the token shown once), list, revoke; audited; another user's token is a 404."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from gridgov.accounts.models import ApiToken
from gridgov.accounts.services import token_create
from gridgov.accounts.tests.factories import UserFactory
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/accounts/tokens/"


@pytest.fixture
def me(client):
    user = UserFactory(username="gm1", role="grid_member")
    client.force_login(user)
    return user


def _secret(response) -> str:
    match = re.search(r'data-testid="token-secret">(ggv_[^<]+)<', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def test_the_page_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_nav_links_to_the_page(client, me):
    assert 'href="/accounts/tokens/"' in client.get("/").content.decode()


def test_create_shows_the_token_once_and_it_works(client, me):
    response = client.post(URL, {"name": "nightly export", "expires_on": ""})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    plain = _secret(response)
    token = ApiToken.objects.get(user=me)
    assert token.name == "nightly export" and token.expires_at is None and plain.startswith(token.prefix)
    assert plain not in str(token.key_hash)
    entry = AuditEntry.objects.get(action="token.create")
    assert entry.actor_id == me.pk and plain not in str(entry.after)
    # shown once: the list does not show it again
    again = client.get(URL).content.decode()
    assert plain not in again and "nightly export" in again and token.prefix in again
    # and it authenticates the API as me
    api = client.__class__()
    answer = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {plain}"})
    assert answer.status_code == 200 and answer.json()["username"] == "gm1"


def test_an_expiry_is_the_end_of_the_chosen_day(client, me):
    day = timezone.localdate() + dt.timedelta(days=30)
    response = client.post(URL, {"name": "ci", "expires_on": day.isoformat()})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=me)
    assert timezone.localtime(token.expires_at).date() == day + dt.timedelta(days=1)
    assert timezone.localtime(token.expires_at).time() == dt.time(0, 0)


@pytest.mark.parametrize("data, field", [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "ok", "expires_on": "tomorrow"}, "expires_on"),
    ({"name": "ok", "expires_on": "2001-01-01"}, "expires_on"),
    ({"name": "ok", "expires_on": "9999-12-31"}, "expires_on"),
])
def test_bad_input_is_a_form_error_and_creates_nothing(client, me, data, field):
    response = client.post(URL, data)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in response.content.decode()
    assert 'data-testid="token-secret"' not in response.content.decode()
    assert not ApiToken.objects.exists() and not AuditEntry.objects.filter(action="token.create").exists()


def test_the_form_needs_the_csrf_token(me):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(me)
    assert strict.post(URL, {"name": "x"}).status_code == 403
    page = strict.get(URL)
    csrf = page.cookies["csrftoken"].value
    assert strict.post(URL, {"name": "x", "csrfmiddlewaretoken": csrf}).status_code == 200
    assert ApiToken.objects.filter(user=me).count() == 1


def test_revoke_stops_the_token_and_is_audited(client, me):
    token, plain = token_create(user=me, name="old")
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == URL
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action="token.revoke", object_id=str(token.pk), actor_id=me.pk).exists()
    page = client.get(URL).content.decode()
    # the token's status says revoked (吊销, the default Chinese UI) and its revoke button is gone
    assert "吊销" in page and f'data-testid="revoke-{token.pk}"' not in page
    api = client.__class__()
    assert api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_revoke_needs_post(client, me):
    token, _ = token_create(user=me, name="old")
    assert client.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_another_users_token_is_not_listed_and_cannot_be_revoked(client, me):
    other = UserFactory(username="someone")
    theirs, _ = token_create(user=other, name="their secret name")
    assert "their secret name" not in client.get(URL).content.decode()
    assert client.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.post("/accounts/tokens/999999/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and not AuditEntry.objects.filter(action="token.revoke").exists()


def test_expired_and_revoked_tokens_are_marked(client, me):
    expired, _ = token_create(user=me, name="expired one")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    page = client.get(URL, headers={"Accept-Language": "en"}).content.decode()
    row = page[page.index(f'data-testid="token-{expired.pk}"'):]
    assert "expired" in row[:row.index("</tr>")]


# --- the same through the API -----------------------------------------------------------------------------------

def test_api_creates_lists_and_revokes_my_tokens(client, me):
    _, plain = token_create(user=me, name="first")
    headers = {"Authorization": f"Bearer {plain}"}
    expires = (timezone.now() + dt.timedelta(days=7)).isoformat()
    created = client.post("/api/v1/auth/tokens", {"name": "second", "expires_at": expires},
                          content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith("ggv_") and body["expires_at"]
    listed = client.get("/api/v1/auth/tokens", headers=headers).json()
    assert [t["name"] for t in listed] == ["second", "first"]
    assert "token" not in listed[0] and listed[0]["usable"] is True and listed[0]["expires_at"]
    assert client.delete(f"/api/v1/auth/tokens/{body['id']}", headers=headers).status_code == 204
    fresh = client.__class__()  # `client` is signed in: its session would authenticate it anyway
    assert fresh.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}).status_code == 401


@pytest.mark.parametrize("payload, code", [
    ({"name": ""}, "validation_error"),
    ({"name": "   "}, "invalid"),
    ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry"),
    ({"name": "x", "expires_at": "2999-01-01T00:00:00Z"}, "invalid_expiry"),
    ({"name": "x", "expires_at": "2999-01-01T00:00:00"}, "invalid_expiry"),
    ({"name": "x", "owner": "admin"}, "validation_error"),
])
def test_api_bad_token_requests_are_422(client, me, payload, code):
    _, plain = token_create(user=me, name="first")
    response = client.post("/api/v1/auth/tokens", payload, content_type="application/json",
                           headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 422 and response.json()["code"] == code, response.content
    assert ApiToken.objects.count() == 1


def test_api_another_users_token_is_404(client, me):
    _, plain = token_create(user=me, name="mine")
    theirs, _ = token_create(user=UserFactory(), name="theirs")
    response = client.delete(f"/api/v1/auth/tokens/{theirs.pk}", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 404
