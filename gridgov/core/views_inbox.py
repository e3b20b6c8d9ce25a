"""The inbox: a user's notifications, newest first, with "mark read"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import notifications


def _safe_url(request, url: str) -> str:
    """Only links inside gridgov: a notification's URL never sends the user elsewhere."""
    if url and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return ""


@login_required
def inbox(request):
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(notifications.inbox(user=request.user, unread_only=unread_only), 30).get_page(
        request.GET.get("page"))
    for row in page:
        row.safe_url = _safe_url(request, row.url)
    return render(request, "core/inbox.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def inbox_read(request):
    """Mark the notifications named by `id` (repeatable) read, or all of them without any `id`."""
    raw = request.POST.getlist("id")
    ids = [int(v) for v in raw if v.isdigit()]
    if raw and not ids:
        messages.error(request, _("Nothing marked read: unknown notification."))
        return redirect("inbox")
    count = notifications.mark_read(user=request.user, ids=ids or None)
    if not raw:
        messages.success(request, ngettext("%(n)d notification marked read.", "%(n)d notifications marked read.",
                                           count) % {"n": count})
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("inbox")
