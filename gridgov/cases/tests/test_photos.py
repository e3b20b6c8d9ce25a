"""Photos: real images only, a size limit, the location kept as data and every other piece of metadata
stripped from the stored file. A refused upload writes nothing, neither rows nor files."""

import datetime as dt
import hashlib
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from gridgov.cases import services
from gridgov.cases.models import Attachment
from gridgov.core.errors import InvalidInput

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def report(world, photos, **kw):
    kw = {"category": "T0101", "description": "垃圾堆放", "lon": 120.605, "lat": 31.305, **kw}
    return services.case_report(by=world["users"]["gm"], photos=photos, **kw)


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_the_stored_photo_keeps_its_location_as_data_and_loses_its_metadata(world, make_jpeg, media):
    upload = make_jpeg(gps=(120.6051, 31.3052), size=(64, 48), orientation=6)
    assert b"SecretCam" in upload.read() and upload.seek(0) == 0
    case, _ = report(world, [upload])
    att = case.attachments.get()
    assert att.kind == Attachment.Kind.REPORT and att.uploaded_by == world["users"]["gm"]
    assert att.content_type == "image/jpeg" and att.file.name.endswith(".jpg")
    assert att.photo_lon == pytest.approx(120.6051, abs=1e-5) and att.photo_lat == pytest.approx(31.3052, abs=1e-5)
    assert att.taken_at == dt.datetime(2026, 3, 10, 9, 15, tzinfo=SH)
    path = media / att.file.name
    data = path.read_bytes()
    assert att.size == len(data) and att.sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(path) as image:
        exif = image.getexif()
        assert 271 not in exif and 272 not in exif and 305 not in exif  # Make, Model, Software
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info
        assert image.size == (48, 64) == (att.width, att.height)  # the orientation was applied, then dropped
    assert b"SecretCam" not in data and b"PhoneMaker" not in data and b"Model X" not in data


def test_a_photo_without_location_is_kept_without_one(world, make_jpeg, media):
    case, _ = report(world, [make_jpeg()])
    att = case.attachments.get()
    assert att.photo_lon is None and att.photo_lat is None


def test_png_and_webp_are_accepted(world, media):
    uploads = []
    for fmt, name in (("PNG", "a.png"), ("WEBP", "b.webp")):
        buf = io.BytesIO()
        Image.new("RGBA", (20, 10), (0, 128, 0, 200)).save(buf, fmt)
        uploads.append(SimpleUploadedFile(name, buf.getvalue()))
    case, _ = report(world, uploads)
    assert sorted(case.attachments.values_list("content_type", flat=True)) == ["image/png", "image/webp"]


def test_a_text_file_named_jpg_is_refused(world, make_jpeg, media, nothing_written):
    fake = SimpleUploadedFile("photo.jpg", b"just some text, not a picture\n" * 10, content_type="image/jpeg")
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [make_jpeg(), fake])
    assert exc.value.status == 422 and exc.value.code == "not_an_image"
    assert exc.value.details == [{"field": "photos", "file": "photo.jpg"}]
    assert stored_files(media) == []


@pytest.mark.parametrize("fmt", ["GIF", "BMP"])
def test_other_image_formats_are_refused(world, media, nothing_written, fmt):
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, fmt)
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [SimpleUploadedFile("x.jpg", buf.getvalue())])
    assert exc.value.code == "not_an_image"


def test_a_truncated_jpeg_is_refused(world, make_jpeg, media, nothing_written):
    data = make_jpeg(noisy=True, size=(200, 200)).read()
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [SimpleUploadedFile("cut.jpg", data[: len(data) // 2])])
    assert exc.value.code == "not_an_image"


def test_a_too_large_photo_is_refused(world, make_jpeg, media, settings, nothing_written):
    settings.GRIDGOV_PHOTO_MAX_BYTES = 20_000
    big = make_jpeg(noisy=True, size=(200, 200))
    assert big.size > 20_000
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [big])
    assert exc.value.status == 422 and exc.value.code == "photo_too_large"
    assert exc.value.details[0]["field"] == "photos"
    # a stream that does not tell its size is measured as it is read
    stream = io.BytesIO(make_jpeg(noisy=True, size=(200, 200)).read())
    stream.name = "stream.jpg"
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [stream])
    assert exc.value.code == "photo_too_large"
    assert stored_files(media) == []
    assert report(world, [make_jpeg(size=(40, 30))])[1]  # a small one still goes through


def test_a_decompression_bomb_is_refused_before_decoding(world, media, nothing_written):
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, "PNG")  # 64 megapixels in a few kilobytes
    assert len(buf.getvalue()) < 100_000
    with nothing_written(), pytest.raises(InvalidInput) as exc:
        report(world, [SimpleUploadedFile("bomb.png", buf.getvalue())])
    assert exc.value.code == "photo_too_large"


def test_a_bad_evidence_photo_changes_nothing(world, drive, media, nothing_written):
    case = drive("in_progress", category="T0102", extra={"size": "small"})
    fake = SimpleUploadedFile("done.jpg", b"GIF89a not really")
    with nothing_written(case), pytest.raises(InvalidInput) as exc:
        services.case_report_back(case_id=case.pk, by=world["users"]["handler"], result="已修复", photos=[fake])
    assert exc.value.code == "not_an_image"
    assert stored_files(media) == []
