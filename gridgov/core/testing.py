"""One bearer-token API client for the tests, so the API test modules don't each keep a copy."""

import json

from gridgov.accounts.services import token_create


class Api:
    """Django's test `client` acting as `user` (or with an explicit `token`, or none), labels in English."""

    base = "/api/v1"

    def __init__(self, client, user=None, token=None, *, base=None):
        self.client, self.base = client, self.base if base is None else base
        if token is None and user is not None:
            token = token_create(user=user, name="test")[1]
        self.headers = {"Accept-Language": "en"} | ({"Authorization": f"Bearer {token}"} if token else {})

    def get(self, path, **params):
        return self.client.get(f"{self.base}{path}", params, headers=self.headers)

    def send(self, method, path, body=None, raw: str | None = None, headers=None):
        """A JSON request (`raw` is sent as it is); `headers` add to or override the defaults."""
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return getattr(self.client, method)(f"{self.base}{path}", data, content_type="application/json",
                                            headers={**self.headers, **(headers or {})})

    def post(self, path, body=None, raw: str | None = None, headers=None):
        return self.send("post", path, body, raw, headers)

    def put(self, path, body=None, raw: str | None = None, headers=None):
        return self.send("put", path, body, raw, headers)

    def patch(self, path, body=None, raw: str | None = None, headers=None):
        return self.send("patch", path, body, raw, headers)

    def delete(self, path, body=None, raw: str | None = None, headers=None):
        return self.send("delete", path, body, raw, headers)

    def upload(self, path, data, headers=None):
        """A multipart/form-data POST."""
        return self.client.post(f"{self.base}{path}", data, headers={**self.headers, **(headers or {})})
