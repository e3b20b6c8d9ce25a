"""Notifications: an in-app inbox row per user, plus pluggable channels (settings.GRIDGOV_NOTIFY_CHANNELS).

A channel is a callable `send(notification)`; the email channel mails users who have an address. Channels
run after the transaction commits, so a slow or failing channel never undoes or delays the write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Notification

logger = logging.getLogger("gridgov.notifications")


def notify(*, users: Iterable, kind: str, title: str, url: str = "", obj: models.Model | None = None) -> list[Notification]:
    recipients = {u.pk: u for u in users if u is not None and getattr(u, "is_active", True)}
    rows = [Notification(user_id=pk, kind=kind, title=title[:200], url=url,
                         object_type=obj._meta.label_lower if obj is not None else "",
                         object_id=str(obj.pk) if obj is not None else "")
            for pk in recipients]
    Notification.objects.bulk_create(rows)
    for row in rows:
        row.user = recipients[row.user_id]
    channels = [import_string(path) for path in settings.GRIDGOV_NOTIFY_CHANNELS]
    if channels and rows:
        transaction.on_commit(lambda: _send(channels, rows))
    return rows


def _send(channels, rows) -> None:
    for channel in channels:
        for row in rows:
            try:
                channel(row)
            except Exception:  # noqa: BLE001 - a channel failure is logged, never raised into the request
                logger.exception("notification channel %s failed", channel)


def email_channel(notification: Notification) -> None:
    email = getattr(notification.user, "email", "")
    if email:
        link = f"{settings.GRIDGOV_BASE_URL}{notification.url}" if notification.url else ""
        send_mail(subject=f"[gridgov] {notification.title}", message=f"{notification.title}\n{link}",
                  from_email=None, recipient_list=[email], fail_silently=False)


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def inbox(*, user, unread_only: bool = False):
    qs = Notification.objects.filter(user=user)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark some (or all) of the user's notifications read; a user's own inbox, so no audit entry."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
