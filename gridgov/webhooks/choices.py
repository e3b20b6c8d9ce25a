"""Webhook events and delivery states."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Event(models.TextChoices):
    CASE_CREATED = "case.created", _("Case created")
    CASE_STATE_CHANGED = "case.state_changed", _("Case state changed")
    CASE_CLOSED = "case.closed", _("Case closed")


class DeliveryState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("webhook delivery", "Pending")
    FAILED = "failed", _("Failed, will retry")
    SUCCEEDED = "succeeded", _("Succeeded")
    GAVE_UP = "gave_up", _("Gave up")


# Waiting to be sent (first attempt or a retry).
DUE_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)
