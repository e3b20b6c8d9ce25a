"""Case screens (being built)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from gridgov.core.errors import NotFound

from . import selectors


@login_required
def case_detail(request, pk: int):
    try:
        case = selectors.case_get(user=request.user, case_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "cases/detail.html", {"case": case})
