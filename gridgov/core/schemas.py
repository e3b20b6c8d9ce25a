from typing import Any

from ninja import Schema


class ErrorOut(Schema):
    """Every API error: a stable code, a message for people, and details (e.g. the fields at fault)."""

    code: str
    message: str
    details: Any = None


# The error responses every authenticated endpoint may give, for the OpenAPI document.
AUTH_ERRORS = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}
