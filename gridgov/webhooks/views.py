"""Webhook pages: the subscriptions, a create/edit form, and a subscription's page with its delivery log,
replay, pause/resume, secret rotation and deletion. Thin: selectors read, services write; plain POST +
redirect (works without JavaScript). A refused form is re-rendered with the errors (422, nothing written).
Administrators manage all subscriptions, dispatchers and leaders their own; others get a 403, and a
subscription that is not yours is a 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridgov.core.errors import NotFound, ServiceError

from . import selectors, services
from .choices import DeliveryState
from .forms import SubscriptionForm

PAGE_SIZE = 25


def managers_only(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.may_manage_webhooks(request.user):
            raise PermissionDenied
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapped


@managers_only
def subscription_list(request):
    return render(request, "webhooks/list.html", {"subscriptions": selectors.subscription_list(user=request.user)})


def _form_page(request, form, sub=None, status=200):
    return render(request, "webhooks/form.html", {"form": form, "subscription": sub}, status=status)


@managers_only
def subscription_create(request):
    if request.method != "POST":
        return _form_page(request, SubscriptionForm(user=request.user))
    form = SubscriptionForm(request.POST, user=request.user)
    if form.is_valid():
        d = form.cleaned_data
        try:
            sub, _secret = services.subscription_create(by=request.user, name=d["name"], target_url=d["target_url"],
                                                        events=d["events"], area=d["area"])
        except ServiceError as exc:
            form.place_errors(exc)
        else:
            messages.success(request, _("Subscription created. Copy its secret to the receiving system."))
            return redirect(reverse("webhooks:detail", args=[sub.pk]) + "?secret=1")
    return _form_page(request, form, status=422)


@managers_only
def subscription_edit(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    initial = {"name": sub.name, "target_url": sub.target_url, "events": sub.events, "area": sub.area}
    if request.method != "POST":
        return _form_page(request, SubscriptionForm(user=request.user, initial=initial), sub)
    form = SubscriptionForm(request.POST, user=request.user, initial=initial)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.subscription_update(subscription_id=sub.pk, by=request.user, name=d["name"],
                                         target_url=d["target_url"], events=d["events"], area=d["area"])
        except ServiceError as exc:
            form.place_errors(exc)
        else:
            messages.success(request, _("Subscription saved."))
            return redirect("webhooks:detail", pk=sub.pk)
    return _form_page(request, form, sub, status=422)


@managers_only
def subscription_detail(request, pk: int):
    sub = selectors.subscription_get(user=request.user, pk=pk)
    state = request.GET.get("state") or ""
    if state not in DeliveryState.values:
        state = ""
    deliveries = selectors.delivery_list(user=request.user, subscription_id=sub.pk, state=state or None)
    page = Paginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webhooks/detail.html", {
        "subscription": sub, "page": page, "state": state, "states": DeliveryState.choices,
        "secret": services.secret_of(sub), "show_secret": request.GET.get("secret") == "1"})


ACTIONS = {
    "pause": (services.subscription_pause, gettext_lazy("Subscription paused: deliveries wait until it is resumed.")),
    "resume": (services.subscription_resume, gettext_lazy("Subscription resumed.")),
    "rotate": (services.subscription_rotate_secret, gettext_lazy("New secret created: update the receiving system.")),
    "delete": (services.subscription_delete, gettext_lazy("Subscription deleted.")),
}


@require_POST
@managers_only
def subscription_act(request, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404
    service, message = ACTIONS[action]
    service(subscription_id=pk, by=request.user)
    messages.success(request, message)
    if action == "delete":
        return redirect("webhooks:list")
    url = reverse("webhooks:detail", args=[pk])
    return redirect(url + "?secret=1" if action == "rotate" else url)


@require_POST
@managers_only
def delivery_replay(request, pk: int):
    replay = services.delivery_replay(delivery_id=pk, by=request.user)
    messages.success(request, _("Delivery queued again: it is sent within a minute."))
    return redirect("webhooks:detail", pk=replay.subscription_id)
