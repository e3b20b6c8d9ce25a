"""Open311 GeoReport v2 endpoints under /open311/v2/, XML or JSON by the path's suffix. Thin: the selectors read,
the services write; every refusal is answered as the specification's `errors` with 400, 403 or 404."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from gridgov.accounts.auth import user_for_token
from gridgov.core.errors import ServiceError

from . import selectors, services
from .formats import Open311Error, format_of, render, render_errors

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-05T00:00:00Z"  # when this endpoint's behaviour last changed (docs/open311.md)


def _service_error(exc: ServiceError) -> Open311Error:
    """A gridgov refusal in Open311 terms: 404 stays, 401/403 are 403, everything else is a 400."""
    status = 404 if exc.status == 404 else 403 if exc.status in (401, 403) else 400
    details = exc.details if isinstance(exc.details, list) else []
    lines = []
    for d in details:
        if isinstance(d, dict) and d.get("field"):
            field = str(d["field"])
            if field.startswith("extra."):
                field = f"attribute[{field[6:]}]"
            lines.append(f"{field}: {d.get('message') or exc.message}")
    return Open311Error(status, *(lines or [exc.message]))


def _api_key(request, params) -> str:
    # in the form body (the specification), else the query string or a bearer header
    key = params.get("api_key", "") or request.GET.get("api_key", "")
    header = request.headers.get("Authorization", "")
    if not key and header.lower().startswith("bearer "):
        key = header[7:].strip()
    return key


def _user(request, params, *, required: bool):
    key = _api_key(request, params)
    if not key:
        if required:
            raise Open311Error(403, "An api_key is required.")
        return None
    user = user_for_token(key)
    if user is None:
        raise Open311Error(403, "Invalid api_key: unknown, expired or revoked.")
    return user


def _check_jurisdiction(params) -> None:
    # one jurisdiction per installation: any value is accepted unless GRIDGOV_OPEN311_JURISDICTION names it
    expected = settings.GRIDGOV_OPEN311_JURISDICTION
    given = (params.get("jurisdiction_id") or "").strip()
    if expected and given and given != expected:
        raise Open311Error(404, f"jurisdiction_id {given[:100]!r} was not found.")


def endpoint(*methods: str):
    """Method check, jurisdiction, and every refusal as Open311 errors (never a 5xx for bad input)."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def inner(request, *args, fmt: str, **kwargs):
            try:
                if request.method not in allowed:
                    raise Open311Error(400, f"Method {request.method} is not allowed here; use "
                                            f"{' or '.join(sorted(methods))}.")
                params = request.GET
                if request.method == "POST":
                    try:
                        params = request.POST
                    except (SuspiciousOperation, MultiPartParserError, UnicodeDecodeError):
                        raise Open311Error(400, "The form body could not be read.") from None
                _check_jurisdiction(params)
                return view(request, *args, fmt=fmt, params=params, **kwargs)
            except ServiceError as exc:
                error = _service_error(exc)
            except Open311Error as exc:
                error = exc
            headers = {"Allow": ", ".join(sorted(allowed))} if request.method not in allowed else None
            return render_errors(fmt, error.status, error.errors, headers=headers)

        return inner

    return wrap


@endpoint("GET")
def discovery(request, *, fmt, params):
    base = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0] + "/"
    contact = settings.GRIDGOV_OPEN311_CONTACT or getattr(settings, "DEFAULT_FROM_EMAIL", "")
    return render(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": "Ask an administrator for an account; its API tokens are the api_key.",
        "endpoints": [{
            "specification": SPEC_URL,
            "url": base.rstrip("/"),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


@endpoint("GET")
def service_list(request, *, fmt, params):
    return render(fmt, "services", selectors.service_list())


@endpoint("GET")
def service_definition(request, code: str, *, fmt, params):
    return render(fmt, "service_definition", selectors.service_definition(selectors.service_get(code)))


def _extensions(params) -> bool:
    return (params.get("extensions") or "").strip().lower() in ("true", "1")


@endpoint("GET", "POST")
def requests(request, *, fmt, params):
    if request.method == "POST":
        user = _user(request, params, required=True)
        case = services.request_create(by=user, post=params, ip=request.META.get("REMOTE_ADDR", ""))
        return render(fmt, "service_requests", [{
            "service_request_id": case.tracking_code,
            "service_notice": services.service_notice(case),
            "account_id": str(user.pk),
        }])
    reader = selectors.Reader(_user(request, params, required=False))
    cases = selectors.request_list(reader=reader, params=params)
    return render(fmt, "service_requests",
                  selectors.requests_out(cases, reader=reader, extensions=_extensions(params)))


@endpoint("GET")
def request_detail(request, code: str, *, fmt, params):
    reader = selectors.Reader(_user(request, params, required=False))
    case = selectors.request_get(reader=reader, code=code)
    return render(fmt, "service_requests",
                  selectors.requests_out([case], reader=reader, extensions=_extensions(params)))


@endpoint("GET")
def token(request, token: str, *, fmt, params):
    case = selectors.token_get(token=token)
    return render(fmt, "service_requests", [{"service_request_id": case.tracking_code, "token": token}])


@endpoint("GET")
def updates(request, *, fmt, params):
    reader = selectors.Reader(_user(request, params, required=False))
    steps = selectors.update_list(reader=reader, params=params)
    return render(fmt, "service_request_updates", [selectors.update_out(s) for s in steps])


@csrf_exempt
def not_found(request, path: str = ""):
    fmt = format_of(request.path)
    return render_errors(fmt, 404, [{"code": 404, "description": "No such Open311 resource."}])
