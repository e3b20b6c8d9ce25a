"""POST requests: an Open311 form post becomes a case through gridgov.cases.services.case_report (which
validates the extra fields, locates the grid, writes the timeline and the audit entry)."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from django.db import transaction
from django.utils.translation import gettext

from gridgov.cases.choices import LimitUnit, Source
from gridgov.cases.models import Case
from gridgov.cases.services import case_report
from gridgov.core.audit import audit_log
from gridgov.geo.models import Address

from .formats import Open311Error
from .models import Open311Request
from .selectors import attribute_specs, parse_w3c, service_get

ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
DESCRIPTION_MAX = 4000  # the specification's limit


def _one(post, name: str, limit: int = 500) -> str:
    values = post.getlist(name)
    if len(values) > 1:
        raise Open311Error(400, f"{name} was sent more than once.")
    value = (values[0] if values else "").strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters.")
    return value


def _float(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.") from None
    if not math.isfinite(number):
        raise Open311Error(400, f"{name} must be a number.")
    return number


def _location(post) -> tuple[float, float, str]:
    """(lon, lat, address): lat & long, or a standard address by address_id, or one whose full text is
    address_string exactly (gridgov does not geocode free text)."""
    lat, lon = _one(post, "lat", 40), _one(post, "long", 40)
    address_string = _one(post, "address_string", 200)
    address_id = _one(post, "address_id", 40)
    if lat or lon:
        if not (lat and lon):
            raise Open311Error(400, "lat and long must both be sent.")
        lon_, lat_ = _float(lon, "long"), _float(lat, "lat")
        # checked here so that the error names the Open311 field (the cases service only says "lon")
        if not -90 <= lat_ <= 90:
            raise Open311Error(400, "lat must be between -90 and 90.")
        if not -180 <= lon_ <= 180:
            raise Open311Error(400, "long must be between -180 and 180.")
        return lon_, lat_, address_string
    address = None
    if address_id:
        address = Address.objects.select_related("building", "grid").filter(pk=int(address_id)).first() \
            if re.fullmatch(r"[0-9]{1,18}", address_id) else None
        if address is None:
            raise Open311Error(400, "address_id was not found.")
    elif address_string:
        address = Address.objects.select_related("building", "grid").filter(full_text=address_string).first()
        if address is None:
            raise Open311Error(400, "address_string could not be located; send lat and long as well.")
    if address is None:
        raise Open311Error(400, "A location is required: lat and long, address_string or address_id.")
    for source in (address, address.building, address.grid):
        lon_, lat_ = (getattr(source, "lon", None), getattr(source, "lat", None)) if source is not address.grid \
            else (source.center_lon, source.center_lat)
        if lon_ is not None and lat_ is not None:
            return lon_, lat_, address_string or address.full_text
    raise Open311Error(400, "The address has no known position; send lat and long.")


def _attributes(post, category) -> dict:
    """attribute[code]=value, and attribute[code][]=v1&attribute[code][]=v2 for a multivaluelist."""
    specs = {str(s["code"]): s for s in attribute_specs(category)}
    answers: dict[str, list[str]] = {}
    for key in post:
        match = ATTRIBUTE_KEY.match(key)
        if match is None:
            if key.startswith("attribute"):
                raise Open311Error(400, f"{key[:60]!r} is not of the form attribute[code].")
            continue
        answers.setdefault(match.group(1), []).extend(v.strip() for v in post.getlist(key))
    extra, problems = {}, []
    for code, values in answers.items():
        values = [v for v in values if v]
        spec = specs.get(code)
        if spec is None:
            problems.append(f"attribute[{code}] is not an attribute of this service.")
            continue
        datatype = spec.get("datatype", "string")
        if not values:
            continue  # empty is absent; case_report says whether it was required
        if datatype == "multivaluelist":
            extra[code] = values
            continue
        if len(values) > 1:
            problems.append(f"attribute[{code}] takes one value.")
            continue
        value = values[0]
        if len(value) > 2000:
            problems.append(f"attribute[{code}] is longer than 2000 characters.")
        elif datatype == "datetime":
            try:
                extra[code] = parse_w3c(value, f"attribute[{code}]").isoformat()
            except Open311Error as exc:
                problems.append(exc.errors[0]["description"])
        elif datatype == "number":
            try:
                extra[code] = _float(value, f"attribute[{code}]")
            except Open311Error as exc:
                problems.append(exc.errors[0]["description"])
        elif datatype == "string" and ("\n" in value or "\r" in value):
            problems.append(f"attribute[{code}] is a string: no line breaks.")
        else:
            extra[code] = value
    if problems:
        raise Open311Error(400, *problems)
    return extra


def _media_url(post) -> str:
    url = _one(post, "media_url", 500)
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
            raise Open311Error(400, "media_url must be an http or https URL.")
    return url


def service_notice(case: Case) -> str:
    category = case.category
    unit = LimitUnit(category.limit_unit).label
    return gettext("The command centre registers a report within %(n)s %(unit)s; follow it with the code "
                   "%(code)s.") % {"n": category.register_limit, "unit": unit, "code": case.tracking_code}


def request_create(*, by, post, ip: str = "") -> Case:
    """Create a service request from the form fields; refusals are Open311Errors (400/404) or the
    ServiceErrors of case_report, and nothing is written then."""
    if any("\x00" in key or any("\x00" in v for v in post.getlist(key)) for key in post):
        raise Open311Error(400, "The request contains a NUL character.")
    code = _one(post, "service_code", 40)
    if not code:
        raise Open311Error(400, "service_code was not provided.")
    category = service_get(code)
    lon, lat, address = _location(post)
    extra = _attributes(post, category)
    description = _one(post, "description", DESCRIPTION_MAX + 1)
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description is longer than {DESCRIPTION_MAX} characters.")
    name = " ".join(p for p in (_one(post, "first_name", 50), _one(post, "last_name", 50)) if p)
    phone = _one(post, "phone", 40)
    _one(post, "email", 254)  # accepted, not kept (docs/open311.md, "Personal data")
    media_url = _media_url(post)
    with transaction.atomic():
        case, _created = case_report(
            by=by, category=category.service_code, description=description or category.name, lon=lon, lat=lat,
            source=Source.API, address=address, extra=extra, reporter_name=name, reporter_phone=phone, ip=ip)
        if media_url:
            Open311Request.objects.create(case=case, media_url=media_url)
            audit_log(actor=by, action="open311.media_url", obj=case, after={"media_url": media_url})
    return case
