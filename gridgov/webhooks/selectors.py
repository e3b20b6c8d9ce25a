"""Webhook reads, scoped: administrators see every subscription, a dispatcher or leader only their own."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from gridgov.core.errors import Forbidden, InvalidInput, NotFound
from gridgov.geo.models import Area

from .choices import DUE_STATES, DeliveryState
from .models import Delivery, Subscription
from .services import managed_by, may_manage_webhooks, owner_paths


def _check(user) -> None:
    if not may_manage_webhooks(user):
        raise Forbidden("Only administrators, dispatchers and leaders manage webhooks.")


def subscription_list(*, user) -> QuerySet[Subscription]:
    _check(user)
    # `waiting`: deliveries not yet delivered nor given up (the list shows it)
    qs = Subscription.objects.select_related("owner", "area").annotate(
        waiting=Count("deliveries", filter=Q(deliveries__state__in=DUE_STATES)))
    return managed_by(user, qs)


def subscription_get(*, user, pk: int) -> Subscription:
    _check(user)
    sub = managed_by(user, Subscription.objects.select_related("owner", "owner__area", "area")).filter(pk=pk).first()
    if sub is None:
        raise NotFound("No such webhook subscription.")
    return sub


def delivery_list(*, user, subscription_id: int, state: str | None = None) -> QuerySet[Delivery]:
    sub = subscription_get(user=user, pk=subscription_id)
    qs = Delivery.objects.filter(subscription=sub).order_by("-created_at", "-id")
    if state:
        if state not in DeliveryState.values:
            raise InvalidInput(f"state: unknown state {state!r}", code="invalid_filter",
                               details=[{"field": "state", "message": f"one of {', '.join(DeliveryState.values)}"}])
        qs = qs.filter(state=state)
    return qs


def delivery_get(*, user, pk: int) -> Delivery:
    delivery = Delivery.objects.select_related("subscription").filter(pk=pk).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    subscription_get(user=user, pk=delivery.subscription_id)
    return delivery


def area_choices(*, user) -> QuerySet[Area]:
    """The areas a user may narrow a subscription to: their own area and everything under it."""
    paths = owner_paths(user)
    qs = Area.objects.order_by("path")
    if paths is None:
        return qs
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(path__startswith=path)
    return qs.filter(q)


def area_by_code(*, user, code: str | None) -> Area | None:
    _check(user)  # a role that may not manage webhooks is a 403 whatever it sends, not a 422 about the area
    if not code:
        return None
    area = area_choices(user=user).filter(code=code).first()
    if area is None:
        raise InvalidInput("area: unknown area or outside your scope", code="out_of_scope",
                           details=[{"field": "area", "message": "unknown area or outside your scope"}])
    return area
