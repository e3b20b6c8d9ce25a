"""Case events without touching the cases app: a timeline step written by a case service fires its events.

The receiver only notes what happened; the Delivery rows are written after the transition commits (a rolled
back transition fires nothing) and nothing is sent here — the job `webhooks.deliver` does that.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from gridgov.cases.models import Step

from .services import deliveries_enqueue, step_events

logger = logging.getLogger("gridgov.webhooks")


@receiver(post_save, sender=Step, dispatch_uid="gridgov.webhooks.step_saved")
def step_saved(sender, instance: Step, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    events = step_events(action=instance.action, from_state=instance.from_state, to_state=instance.to_state)
    if not events:
        return
    args = {"case_id": instance.case_id, "events": events, "occurred_at": instance.at, "action": instance.action,
            "from_state": instance.from_state, "to_state": instance.to_state}
    # robust: a failure here is logged and never turns the committed transition into an error page
    transaction.on_commit(lambda: deliveries_enqueue(**args), robust=True)
