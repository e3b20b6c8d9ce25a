"""Request hygiene: refuse NUL characters (PostgreSQL text cannot hold them) and keep every /api/ error in
the API's JSON error format, even those Django or Ninja produce before our handlers run (404, 405, 400).

A NUL in the path or the query string is a 400; in a string of an API body (JSON, or form fields) it is a
422 `validation_error` naming the field, answered before any view runs, so nothing is written.
"""

import json
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

API_PREFIX = "/api/"
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


def _api_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"code": STATUS_CODES.get(status, "error"), "message": message, "details": None},
                        status=status)


class RequestHygieneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            if request.path.startswith(API_PREFIX):
                return _api_error(400, "The request contains a NUL character.")
            return render(request, "400.html", status=400)
        if request.path.startswith(API_PREFIX) and request.method in ("POST", "PUT", "PATCH", "DELETE"):
            fields = _nul_fields(request)
            if fields:
                return _nul_error(fields)
        response = self.get_response(request)
        if (request.path.startswith(API_PREFIX) and response.status_code >= 400
                and not response.get("Content-Type", "").startswith("application/json")):
            message = _plain_message(response)
            replacement = _api_error(response.status_code, message)
            for header in ("Allow", "Retry-After"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


def _plain_message(response: HttpResponse) -> str:
    if response.status_code == 404:
        return "No such endpoint."
    if response.status_code == 405:
        allowed = response.get("Allow", "")
        return f"Method not allowed; allowed: {allowed}" if allowed else "Method not allowed."
    try:
        text = response.content.decode()[:200]
        return json.loads(text).get("detail", text) if text.startswith("{") else (text or "Error.")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return "Error."


def _nul_fields(request) -> list[str]:
    """The fields of an API body holding a NUL character (an unreadable body is left to the API to refuse)."""
    content_type = request.content_type or ""
    try:
        if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return sorted({key for key, values in request.POST.lists()
                           if "\x00" in key or any("\x00" in v for v in values)})
        body = request.body
        # Cheap test first: a JSON body can only carry a NUL escaped (or raw, which is not valid JSON).
        if b"\\u0000" not in body and b"\x00" not in body:
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return ["body"] if b"\x00" in body else []
        return _walk(data, "")
    except Exception:  # noqa: BLE001 -- too large, broken multipart…: Ninja answers those in its own way
        return []


def _walk(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name] if "\x00" in str(key) else _walk(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _walk(item, f"{path}[{index}]")
    return found


def _nul_error(fields: list[str]) -> JsonResponse:
    details = [{"field": f, "message": "contains a NUL character", "type": "nul_character"} for f in fields]
    message = "; ".join(f"{f}: contains a NUL character" for f in fields)
    return JsonResponse({"code": "validation_error", "message": message, "details": details}, status=422)
