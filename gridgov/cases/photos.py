"""Photos attached to cases: real images only, a size limit, the location and time kept as data, every other
piece of metadata stripped by re-encoding the pixels."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from gridgov.core.errors import InvalidInput

ALLOWED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MAX_PIXELS = 60_000_000  # refuse decompression bombs before decoding


@dataclass
class Photo:
    content: ContentFile
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    lon: float | None
    lat: float | None
    taken_at: dt.datetime | None


def _gps_degrees(values, ref) -> float | None:
    try:
        d, m, s = (float(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref in ("S", "W") else value


def _location(exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo) if exif else {}
    if not gps:
        return None, None
    lat = _gps_degrees(gps.get(2), gps.get(1))
    lon = _gps_degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lon, 7), round(lat, 7)


def _taken_at(exif) -> dt.datetime | None:
    raw = (exif.get_ifd(ExifTags.IFD.Exif).get(36867) if exif else None) or (exif.get(306) if exif else None)
    try:
        naive = dt.datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S")
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(naive)  # camera clocks are local time


def process_photo(upload, *, field: str = "photos") -> Photo:
    """Validate an uploaded file and return a clean copy; InvalidInput (422) for anything else."""
    name = getattr(upload, "name", "photo")
    size = getattr(upload, "size", None)
    if size is not None and size > settings.GRIDGOV_PHOTO_MAX_BYTES:
        raise InvalidInput(f"{name}: the photo is larger than {settings.GRIDGOV_PHOTO_MAX_BYTES // 1024 // 1024} MB.",
                           code="photo_too_large", details=[{"field": field, "file": name}])
    data = upload.read()
    if len(data) > settings.GRIDGOV_PHOTO_MAX_BYTES:
        raise InvalidInput(f"{name}: the photo is too large.", code="photo_too_large",
                           details=[{"field": field, "file": name}])
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.format not in ALLOWED_FORMATS:
            raise UnidentifiedImageError(image.format)
        if image.width * image.height > MAX_PIXELS:
            raise InvalidInput(f"{name}: the image has too many pixels.", code="photo_too_large",
                               details=[{"field": field, "file": name}])
        content_type, ext = ALLOWED_FORMATS[image.format]
        exif = image.getexif()
        lon, lat = _location(exif)
        taken_at = _taken_at(exif)
        image = ImageOps.exif_transpose(image)  # keep the orientation, then drop the EXIF block
        out = io.BytesIO()
        if content_type == "image/jpeg":
            image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
        elif content_type == "image/png":
            image.save(out, "PNG", optimize=True)
        else:
            image.save(out, "WEBP", quality=85)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{name}: not a JPEG, PNG or WebP image.", code="not_an_image",
                           details=[{"field": field, "file": name}]) from exc
    clean = out.getvalue()
    return Photo(content=ContentFile(clean, name=f"{uuid.uuid4().hex}.{ext}"), content_type=content_type,
                 size=len(clean), width=image.width, height=image.height,
                 sha256=hashlib.sha256(clean).hexdigest(), lon=lon, lat=lat, taken_at=taken_at)
