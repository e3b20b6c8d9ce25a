import pytest
from django.contrib.auth.hashers import make_password

from gridgov.accounts.models import ApiToken
from gridgov.accounts.tests.factories import PASSWORD, UserFactory
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _issue(client, username, password, name="test"):
    return client.post("/api/v1/auth/token", {"username": username, "password": password, "name": name},
                       content_type="application/json")


def test_passwords_are_hashed_with_argon2(settings):
    from config import settings as production  # the suite swaps in a fast hasher; check the real list

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    assert make_password("secret-password").startswith("argon2$")


def test_login_page_logs_in_and_out(client):
    user = UserFactory(username="gm1", role="grid_member")
    response = client.post("/accounts/login/", {"username": "gm1", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").context["user"] == user
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_message(client):
    UserFactory(username="gm1")
    wrong_password = client.post("/accounts/login/", {"username": "gm1", "password": "nope-nope"})
    unknown_user = client.post("/accounts/login/", {"username": "nobody", "password": "nope-nope"})
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert wrong_password.context["form"].non_field_errors() == unknown_user.context["form"].non_field_errors()


def test_lockout_after_repeated_failures(client, settings):
    UserFactory(username="gm1")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "gm1", "password": "wrong-password"})
    # even the right password is refused while locked out
    response = client.post("/accounts/login/", {"username": "gm1", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_token_is_issued_stored_hashed_and_audited(client):
    UserFactory(username="disp", role="dispatcher")
    response = _issue(client, "disp", PASSWORD, name="hotline bridge")
    assert response.status_code == 201
    token = response.json()["token"]
    stored = ApiToken.objects.get()
    assert stored.name == "hotline bridge"
    assert token not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    assert AuditEntry.objects.filter(action="token.create", object_id=str(stored.pk)).exists()
    me = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200 and me.json()["username"] == "disp" and me.json()["role"] == "dispatcher"


def test_bad_credentials_are_a_401_that_does_not_say_which_part(client):
    UserFactory(username="disp")
    wrong_password = _issue(client, "disp", "wrong-password")
    unknown_user = _issue(client, "ghost", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


def test_token_endpoint_locks_out_too(client, settings):
    UserFactory(username="disp")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _issue(client, "disp", "wrong-password")
    response = _issue(client, "disp", PASSWORD)
    assert response.status_code == 429 and response.json()["code"] == "locked_out"
    assert not ApiToken.objects.exists()


def test_missing_fields_are_a_422_naming_them(client):
    response = client.post("/api/v1/auth/token", {"username": "x"}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error" and "password" in response.json()["message"]


def test_no_credentials_and_bad_tokens_are_401(client):
    assert client.get("/api/v1/auth/me").status_code == 401
    response = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer ggv_not-a-real-token")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_revoked_token_and_inactive_user_are_refused(client):
    user = UserFactory(username="disp")
    token = _issue(client, "disp", PASSWORD).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token['token']}"}
    assert [t["name"] for t in client.get("/api/v1/auth/tokens", **auth).json()] == ["test"]
    assert client.delete(f"/api/v1/auth/tokens/{token['id']}", **auth).status_code == 204
    assert client.get("/api/v1/auth/me", **auth).status_code == 401
    assert AuditEntry.objects.filter(action="token.revoke").count() == 1

    second = _issue(client, "disp", PASSWORD).json()["token"]
    user.is_active = False
    user.save()
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(client):
    UserFactory(username="a")
    UserFactory(username="b")
    token_a = _issue(client, "a", PASSWORD).json()
    token_b = _issue(client, "b", PASSWORD).json()["token"]
    response = client.delete(f"/api/v1/auth/tokens/{token_a['id']}", HTTP_AUTHORIZATION=f"Bearer {token_b}")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=token_a["id"]).revoked_at is None


def test_session_auth_works_for_the_api(client):
    user = UserFactory(username="leader", role="leader")
    client.force_login(user)
    assert client.get("/api/v1/auth/me").json()["username"] == "leader"


def test_a_session_write_without_the_csrf_token_is_a_documented_403():
    # a browser session may call the API; its writes need the CSRF token, and the 403 is in the schema
    from django.test import Client

    user = UserFactory(username="leader", role="leader")
    token = _issue(Client(), "leader", PASSWORD).json()
    browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(user)
    for response in (browser.delete(f"/api/v1/auth/tokens/{token['id']}"),
                     browser.post("/api/v1/auth/tokens", {"name": "x"}, content_type="application/json")):
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert ApiToken.objects.get(pk=token["id"]).revoked_at is None and ApiToken.objects.count() == 1
    paths = browser.get("/api/v1/openapi.json").json()["paths"]
    assert "403" in paths["/api/v1/auth/tokens/{token_id}"]["delete"]["responses"]
    assert "403" in paths["/api/v1/auth/tokens"]["post"]["responses"]


def test_logins_and_failures_are_audited(client):
    UserFactory(username="gm1")
    client.post("/accounts/login/", {"username": "gm1", "password": "wrong-password"})
    client.post("/accounts/login/", {"username": "gm1", "password": PASSWORD})
    client.post("/accounts/logout/")
    actions = list(AuditEntry.objects.values_list("action", "object_repr"))
    assert actions == [("auth.login_failed", "gm1"), ("auth.login", "gm1"), ("auth.logout", "gm1")]
