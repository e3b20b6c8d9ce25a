"""The admin upload page for GeoJSON imports (work in progress)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse


@login_required
def geojson_upload(request):
    if not request.user.is_admin_role:
        raise PermissionDenied
    return HttpResponse("")
