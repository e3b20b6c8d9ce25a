import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gridgov.core.errors import InvalidInput
from gridgov.residents import services
from gridgov.residents.models import Visit, VisitPhoto

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _png(name="visit.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_a_visit_keeps_its_photos_for_those_who_may_see_the_resident(client, registry):
    gm = registry["users"]["gm"]
    zhang = registry["residents"]["zhang"]
    visit = services.visit_record(resident=zhang, by=gm, content="老人身体良好", photos=[_png()])
    photo = VisitPhoto.objects.get(visit=visit)
    assert photo.content_type == "image/png" and photo.width == 32

    client.force_login(gm)
    response = client.get(f"/residents/visits/photos/{photo.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    page = client.get(f"/residents/{zhang.pk}/").content.decode()
    assert f"/residents/visits/photos/{photo.pk}/" in page

    client.force_login(registry["users"]["gm3"])  # another grid's member
    assert client.get(f"/residents/visits/photos/{photo.pk}/").status_code == 404


def test_a_visit_with_a_file_that_is_not_an_image_is_refused_whole(registry):
    zhang = registry["residents"]["zhang"]
    bad = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    with pytest.raises(InvalidInput) as exc:
        services.visit_record(resident=zhang, by=registry["users"]["gm"], content="走访", photos=[bad])
    assert exc.value.code == "not_an_image"
    assert not Visit.objects.filter(resident=zhang).exists() and not VisitPhoto.objects.exists()


def test_the_visit_form_uploads_photos(client, registry):
    gm = registry["users"]["gm"]
    zhang = registry["residents"]["zhang"]
    client.force_login(gm)
    response = client.post(f"/residents/{zhang.pk}/visit/", {"form": "home", "content": "上门走访", "seen": "on",
                                                             "photos": [_png("a.png"), _png("b.png")]})
    assert response.status_code == 302
    assert VisitPhoto.objects.filter(visit__resident=zhang).count() == 2


def test_standard_addresses_over_the_api_are_scoped(client, registry):
    client.force_login(registry["users"]["gm"])
    body = client.get("/api/v1/residents/addresses").json()
    grids = {a["grid"] for a in body["items"]}
    assert body["count"] == 3 and grids == {registry["g1"].code}
    found = client.get("/api/v1/residents/addresses", {"q": "101"}).json()
    assert found["count"] == 1 and found["items"][0]["room"] == "101"
