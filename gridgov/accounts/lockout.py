"""What a locked-out login gets (django-axes): the error format on the API, a page elsewhere."""

from django.http import JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "locked_out", "message": "Too many failed attempts; try again later.",
                             "details": None}, status=429)
    return render(request, "accounts/locked_out.html", status=429)
