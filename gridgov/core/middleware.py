"""Request hygiene: refuse NUL characters (PostgreSQL text cannot hold them) and keep every /api/ error in
the API's JSON error format, even those Django or Ninja produce before our handlers run (404, 405, 400)."""

import json

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
