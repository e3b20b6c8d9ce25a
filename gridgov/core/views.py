"""The home page per role, and /healthz."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from . import selectors


def healthz(request):
    """Liveness for load balancers and monitors: the database answers, and when jobs last ran."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        db_ok = True
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        db_ok = False
    body = {
        "status": "ok" if db_ok else "error",
        "database": "ok" if db_ok else "unreachable",
        "time": timezone.now().isoformat(),
        "jobs": selectors.job_status() if db_ok else [],
    }
    if db_ok:
        years = selectors.calendar_years()
        this_year = timezone.localdate().year
        body["calendar"] = {"years": years, "next_year_loaded": this_year + 1 in years}
    return JsonResponse(body, status=200 if db_ok else 503)


@login_required
def home(request):
    return render(request, "core/home.html", selectors.home_context(user=request.user))
