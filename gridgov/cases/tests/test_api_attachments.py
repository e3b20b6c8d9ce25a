"""Case photos through the API: `api_url` serves the image with a bearer token, to whoever may see its case."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gridgov.accounts.services import token_create

pytestmark = pytest.mark.django_db


def png(name="photo.png", size=(8, 6)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def bearer(user):
    return {"Authorization": f"Bearer {token_create(user=user, name='t')[1]}"}


def test_a_photo_is_served_through_the_api_within_scope(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    u = world["users"]
    data = {"category": "T0101", "description": "垃圾", "lon": "120.605", "lat": "31.305", "photos": [png()],
            "extra": json.dumps({})}
    created = client.post("/api/v1/cases/upload", data, headers=bearer(u["gm"]))
    assert created.status_code == 201, created.content
    [attachment] = created.json()["attachments"]
    assert attachment["api_url"] == f"/api/v1/cases/attachments/{attachment['id']}"
    response = client.get(attachment["api_url"], headers=bearer(u["dispatcher"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    # outside the case's scope, or no such photo: 404; no credentials: 401
    for user in ("other_dispatcher", "gm3", "resident"):
        outside = client.get(attachment["api_url"], headers=bearer(u[user]))
        assert outside.status_code == 404 and outside.json()["code"] == "not_found", user
    assert client.get("/api/v1/cases/attachments/999999", headers=bearer(u["admin"])).status_code == 404
    assert client.get("/api/v1/cases/attachments/" + "9" * 30, headers=bearer(u["admin"])).status_code == 404
    assert client.get(attachment["api_url"]).status_code == 401
