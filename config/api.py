"""The one NinjaAPI: /api/v1/, its authentication and its error format.

Every error is JSON {"code": ..., "message": ..., "details": ...} with the right 4xx; a 5xx is a bug.
"""

import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from gridgov.accounts.api import departments_router
from gridgov.accounts.api import router as auth_router
from gridgov.accounts.auth import api_auth
from gridgov.analytics.api import router as analytics_router
from gridgov.cases.api import router as cases_router
from gridgov.core.api import router as inbox_router
from gridgov.core.errors import ServiceError
from gridgov.disputes.api import router as disputes_router
from gridgov.geo.api import router as geo_router
from gridgov.residents.api import router as residents_router

logger = logging.getLogger("gridgov.api")

api = NinjaAPI(
    title="gridgov API",
    version="1",
    description=(
        "The JSON API of gridgov. Authenticate with a session cookie (the web UI) or with "
        "`Authorization: Bearer <token>`, a token from `POST /api/v1/auth/token`. Errors are "
        '`{"code": ..., "message": ..., "details": ...}`.'
    ),
    auth=api_auth,
    urls_namespace="api",
)


def error(request, status: int, code: str, message: str, details=None):
    return api.create_response(request, {"code": code, "message": message, "details": details}, status=status)


def _field(loc) -> str:
    # Ninja locations look like ("query", "lon") or ("body", "payload", "name"): name the field itself.
    parts = [str(p) for p in loc if p not in ("query", "body", "path", "form", "header", "cookie", "payload")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid input"
    return error(request, 422, "validation_error", message, details)


@api.exception_handler(ServiceError)
def on_service_error(request, exc: ServiceError):
    return error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error(request, 401, "unauthorized", "Authentication required: a valid session or bearer token.")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
             409: "conflict", 422: "validation_error", 429: "too_many_requests"}
    return error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    logger.exception("unhandled API error")
    return error(request, 500, "server_error", "Internal error; it has been logged.")


api.add_router("/auth/", auth_router)
api.add_router("/geo/", geo_router)
api.add_router("/", cases_router)
api.add_router("/", departments_router)
api.add_router("/inbox", inbox_router)
api.add_router("/residents/", residents_router)
api.add_router("/", disputes_router)
api.add_router("/analytics/", analytics_router)
