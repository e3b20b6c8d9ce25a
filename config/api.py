"""The one NinjaAPI: /api/v1/, its authentication and its error format.

Every error is JSON {"code": ..., "message": ..., "details": ...} with the right 4xx; a 5xx is a bug.
"""

import logging

from django.db.utils import OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from gridgov.accounts.api import departments_router
from gridgov.accounts.api import router as auth_router
from gridgov.accounts.auth import api_auth
from gridgov.analytics.api import router as analytics_router
from gridgov.cases.api import router as cases_router
from gridgov.cases.api_public import router as public_router
from gridgov.core.api import router as inbox_router
from gridgov.core.errors import ServiceError
from gridgov.disputes.api import router as disputes_router
from gridgov.geo.api import router as geo_router
from gridgov.residents.api import router as residents_router
from gridgov.webhooks.api import router as webhooks_router

logger = logging.getLogger("gridgov.api")

# The errors any operation may answer, whatever its own declaration: a body that is not JSON, or a NUL in the
# path or query (400); a parameter or body that does not validate (422); no credentials (401, when secured).
COMMON_ERRORS = {
    "400": "Malformed request: a body that is not JSON, a NUL character in the path or the query string",
    "401": "Authentication required: a valid session or bearer token",
    "422": "Invalid input: `details` names each field at fault",
}


class GridgovAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                declared = {str(status) for status in responses}  # Ninja keys them by int
                for status, description in COMMON_ERRORS.items():
                    if status in declared or (status == "401" and not operation.get("security")):
                        continue
                    responses[int(status)] = {"description": description, "content": error}
        return schema


api = GridgovAPI(
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


BUSY_RETRY_AFTER = 5  # seconds, in the 503 of a busy database


def error(request, status: int, code: str, message: str, details=None):
    return api.create_response(request, {"code": code, "message": message, "details": details}, status=status)


def _field(loc) -> str:
    """Name the field at fault: ("query", "params", "state", 0) is the parameter `state`; a body field keeps its
    path, ("body", "payload", "parties", 1, "name") → `parties.1.name`."""
    loc = tuple(loc)
    if loc and loc[0] in ("query", "path", "header", "cookie"):
        # Query/path parameters are flat: the last name is the parameter, whatever container or index precedes.
        names = [str(p) for p in loc[1:] if isinstance(p, str)]
        return names[-1] if names else str(loc[0])
    # drop the location and Ninja's container name, keep the rest: ("file", "file") is the upload `file`
    parts = list(loc)
    if parts and parts[0] in ("body", "form", "file", "files"):
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or ".".join(str(p) for p in loc)


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


@api.exception_handler(OperationalError)
def on_database_error(request, exc: OperationalError):
    # SQLite's single writer stayed busy past GRIDGOV_SQLITE_TIMEOUT (a long rebuild or import): the request
    # changed nothing and may be sent again — a 503 saying so, not a server error
    if "locked" in str(exc).lower():
        logger.warning("database busy: %s %s", request.method, request.path)
        response = error(request, 503, "busy", "The database is busy; nothing was changed, try again shortly.")
        response["Retry-After"] = str(BUSY_RETRY_AFTER)
        return response
    return on_unexpected(request, exc)


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
api.add_router("/webhooks/", webhooks_router)
api.add_router("/public/", public_router)
