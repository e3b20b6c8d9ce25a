"""Webhook subscriptions (an external system's URL, secret, events and area) and their deliveries (one row per
event per subscription: the exact body sent, every attempt's outcome, the next retry)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import DeliveryState, Event


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=100)
    target_url = models.CharField(_("target URL"), max_length=500)  # checked by services.clean_target_url
    # encrypted at rest (gridgov.core.crypto); needed in clear to sign every delivery
    secret = models.CharField(max_length=300)
    events = models.JSONField(_("events"), default=list)
    # optional narrowing of the owner's scope: only cases under this area
    area = models.ForeignKey("geo.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT,
                              related_name="webhook_subscriptions")
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name

    def event_labels(self) -> list[str]:
        labels = dict(Event.choices)
        return [str(labels.get(e, e)) for e in self.events]


class Delivery(models.Model):
    subscription = models.ForeignKey(Subscription, verbose_name=_("subscription"), on_delete=models.CASCADE,
                                     related_name="deliveries")
    event = models.CharField(_("event"), max_length=30, choices=Event.choices)
    event_id = models.CharField(_("event id"), max_length=32, db_index=True)
    tracking_code = models.CharField(_("case"), max_length=12, blank=True, db_index=True)
    # the exact body bytes (UTF-8 text): the signature and a replay are computed over these
    payload = models.TextField(_("body"))
    replay_of = models.ForeignKey("self", verbose_name=_("replay of"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="replays")
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    last_response = models.TextField(_("last response (excerpt)"), blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            # the delivery job: due rows
            models.Index(fields=["state", "next_attempt_at"], name="webhooks_delivery_due"),
            # a subscription's log, newest first
            models.Index(fields=["subscription", "-created_at"], name="webhooks_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.tracking_code} #{self.pk}"
