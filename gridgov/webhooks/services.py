"""Webhook writes: subscriptions (create, update, pause, resume, rotate the secret, delete), the deliveries that a
case event queues, the delivery job that sends them, and replays.

No HTTP ever happens inside a request: a case transition only writes pending Delivery rows (after its commit);
the periodic job `webhooks.deliver` (jobs.py) sends them, signs each body with the subscription's secret and
retries failures with backoff. Every service that a person calls is atomic and audited; the rows the event
hook and the job write are their own log (the transition that caused them is audited by the cases app).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gridgov.accounts.choices import Role
from gridgov.core import crypto
from gridgov.core.audit import audit_log
from gridgov.core.errors import Forbidden, InvalidInput, NotFound

from .choices import DUE_STATES, DeliveryState, Event
from .models import Delivery, Subscription

logger = logging.getLogger("gridgov.webhooks")

# Who may own subscriptions besides administrators: roles with an area scope whose cases they may see.
MANAGER_ROLES = frozenset({Role.DISPATCHER, Role.LEADER})
# Waits after the 1st, 2nd, … failed attempt; after the last one the delivery is given up (6 attempts in all).
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2),
           dt.timedelta(hours=12))
EXCERPT_BYTES = 2048
# A claimed delivery is not picked again for this long (a runner that dies mid-send leaves it to a later run).
LEASE = dt.timedelta(minutes=10)
SECRET_PREFIX = "whsec_"
UNSET = object()


def timeout_seconds() -> float:
    return float(settings.GRIDGOV_WEBHOOKS_TIMEOUT)


def private_targets_allowed() -> bool:
    return bool(settings.GRIDGOV_WEBHOOKS_ALLOW_PRIVATE)


def sign(body: bytes, secret: str) -> str:
    """The X-Gridgov-Signature header value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def secret_of(subscription: Subscription) -> str:
    return crypto.decrypt(subscription.secret)


# --- who and what -------------------------------------------------------------------------------------------

def may_manage_webhooks(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_admin_role or (user.role in MANAGER_ROLES and user.area_id is not None)


def owner_paths(owner) -> list[str] | None:
    """The case paths a subscription's owner may receive (None: all). Computed from the loaded owner and area,
    without a query, so that matching an event costs one query in all."""
    if not owner.is_active:
        return []
    if owner.is_admin_role:
        return None
    if owner.role in MANAGER_ROLES and owner.area_id:
        return [owner.area.path]
    return []  # the owner's role changed: their subscriptions receive nothing


def _field_error(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


def _host_is_private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = host.lower().rstrip(".")  # "localhost." is localhost too (a fully qualified name)
        return name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")
    return not address.is_global


def clean_target_url(value: str) -> str:
    url = (value or "").strip()
    if not url:
        raise _field_error("target_url", "required")
    if len(url) > 500:
        raise _field_error("target_url", "at most 500 characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise _field_error("target_url", "not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise _field_error("target_url", "must be an http:// or https:// URL")
    if not parts.hostname or any(c.isspace() for c in url):
        raise _field_error("target_url", "not a valid URL")
    if not private_targets_allowed() and _host_is_private(parts.hostname):
        raise _field_error("target_url", "a private or local address is not allowed", code="private_target")
    return url


def clean_events(values: Iterable[str] | None) -> list[str]:
    values = list(values or [])
    known = [e.value for e in Event]
    unknown = [v for v in values if v not in known]
    if unknown:
        raise _field_error("events", f"unknown event(s): {', '.join(map(str, unknown))}; known: {', '.join(known)}",
                           code="unknown_event")
    if not values:
        raise _field_error("events", "choose at least one event")
    return [e for e in known if e in values]


def clean_name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        raise _field_error("name", "required")
    if len(name) > 100:
        raise _field_error("name", "at most 100 characters")
    return name


def _clean_area(area, owner):
    """The optional area narrowing the owner's scope: it must lie inside that scope."""
    if area is None:
        return None
    paths = owner_paths(owner)
    if paths is not None and not any(area.path.startswith(p) for p in paths):
        raise _field_error("area", "outside the owner's scope", code="out_of_scope")
    return area


def _snapshot(sub: Subscription) -> dict:
    return {"name": sub.name, "target_url": sub.target_url, "events": list(sub.events),
            "area": sub.area.code if sub.area_id else None, "owner": sub.owner.username, "active": sub.active}


def managed_by(user, qs):
    """The subscriptions of `qs` that `user` manages: every one for an administrator, their own otherwise."""
    return qs if user.is_admin_role else qs.filter(owner=user)


def _load(subscription_id: int, by) -> Subscription:
    """The subscription, locked, if `by` may manage it; otherwise NotFound (existence is not revealed)."""
    if not may_manage_webhooks(by):
        raise Forbidden("Only administrators, dispatchers and leaders manage webhooks.")
    qs = managed_by(by, Subscription.objects.select_for_update(of=("self",)).select_related("owner", "owner__area",
                                                                                          "area"))
    sub = qs.filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound("No such webhook subscription.")
    return sub


# --- subscriptions ------------------------------------------------------------------------------------------

def subscription_create(*, by, name: str, target_url: str, events: Iterable[str], area=None,
                        active: bool = True) -> tuple[Subscription, str]:
    """Create a subscription owned by `by`; returns it and its secret (also shown later to its managers)."""
    if not may_manage_webhooks(by):
        raise Forbidden("Only administrators, dispatchers and leaders manage webhooks.")
    fields = {"name": clean_name(name), "target_url": clean_target_url(target_url), "events": clean_events(events),
              "area": _clean_area(area, by)}
    plain = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        sub = Subscription.objects.create(**fields, secret=crypto.encrypt(plain), owner=by, active=bool(active))
        audit_log(actor=by, action="webhook.create", obj=sub, after=_snapshot(sub))
    return sub, plain


def subscription_update(*, subscription_id: int, by, name: str | None = None, target_url: str | None = None,
                        events: Iterable[str] | None = None, area=UNSET) -> Subscription:
    """Change the given fields (area=None removes the narrowing; leave it out to keep it)."""
    with transaction.atomic():
        sub = _load(subscription_id, by)
        before = _snapshot(sub)
        if name is not None:
            sub.name = clean_name(name)
        if target_url is not None:
            sub.target_url = clean_target_url(target_url)
        if events is not None:
            sub.events = clean_events(events)
        if area is not UNSET:
            sub.area = _clean_area(area, sub.owner)
        sub.save()
        audit_log(actor=by, action="webhook.update", obj=sub, before=before, after=_snapshot(sub))
    return sub


def _set_active(subscription_id: int, by, active: bool) -> Subscription:
    with transaction.atomic():
        sub = _load(subscription_id, by)
        if sub.active != active:
            sub.active = active
            sub.save(update_fields=["active", "updated_at"])
            audit_log(actor=by, action="webhook.resume" if active else "webhook.pause", obj=sub,
                      before={"active": not active}, after={"active": active})
    return sub


def subscription_pause(*, subscription_id: int, by) -> Subscription:
    """Stop sending: new events still queue deliveries, which wait until the subscription is resumed."""
    return _set_active(subscription_id, by, False)


def subscription_resume(*, subscription_id: int, by) -> Subscription:
    return _set_active(subscription_id, by, True)


def subscription_rotate_secret(*, subscription_id: int, by) -> tuple[Subscription, str]:
    """A new secret; every later attempt (retries and replays included) is signed with it."""
    plain = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        sub = _load(subscription_id, by)
        sub.secret = crypto.encrypt(plain)
        sub.save(update_fields=["secret", "updated_at"])
        audit_log(actor=by, action="webhook.rotate_secret", obj=sub)
    return sub, plain


def subscription_delete(*, subscription_id: int, by) -> None:
    """Delete the subscription and its delivery log."""
    with transaction.atomic():
        sub = _load(subscription_id, by)
        before = _snapshot(sub) | {"deliveries": sub.deliveries.count()}
        audit_log(actor=by, action="webhook.delete", obj=sub, before=before)
        sub.delete()


def delivery_replay(*, delivery_id: int, by) -> Delivery:
    """Queue the same body again as a new delivery (sent by the next job run, signed with the current secret)."""
    with transaction.atomic():
        original = Delivery.objects.filter(pk=delivery_id).only("subscription_id").first()
        if original is None:
            raise NotFound("No such delivery.")
        sub = _load(original.subscription_id, by)
        original = Delivery.objects.get(pk=delivery_id)
        now = timezone.now()
        replay = Delivery.objects.create(
            subscription=sub, event=original.event, event_id=original.event_id,
            tracking_code=original.tracking_code, payload=original.payload, replay_of=original,
            state=DeliveryState.PENDING, next_attempt_at=now, created_at=now)
        audit_log(actor=by, action="webhook.replay", obj=replay,
                  after={"replay_of": original.pk, "subscription": sub.pk, "event": original.event})
    return replay


# --- events → deliveries ------------------------------------------------------------------------------------

def _w3c(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def case_payload(*, case, event: str, event_id: str, occurred_at, state: str, previous_state: str | None,
                 action: str) -> dict:
    """What a receiver gets: the case's public facts, never the reporter's name, phone or account."""
    category = case.category
    return {
        "id": event_id,
        "event": event,
        "occurred_at": _w3c(occurred_at),
        "case": {
            "tracking_code": case.tracking_code,
            "number": case.number,
            "state": state,
            "previous_state": previous_state or None,
            "action": action,
            "category": {"code": category.code, "name": category.name, "service_code": category.service_code},
            "grid": {"code": case.grid.code, "name": case.grid.name},
            "description": case.description,
            "reported_at": _w3c(case.reported_at),
            "closed_at": _w3c(case.closed_at),
            "lon": case.lon,
            "lat": case.lat,
        },
    }


def step_events(*, action: str, from_state: str, to_state: str) -> list[str]:
    """The events a timeline step fires: created (the report), state changed (any change), closed."""
    from gridgov.cases.choices import Action, State

    if not from_state:
        return [Event.CASE_CREATED] if action in (Action.REPORT, Action.SELF_HANDLE) else []
    if not to_state or from_state == to_state:
        return []
    events = [Event.CASE_STATE_CHANGED]
    if to_state == State.CLOSED:
        events.append(Event.CASE_CLOSED)
    return events


def deliveries_enqueue(*, case_id: int, events: list[str], occurred_at, action: str, from_state: str,
                       to_state: str) -> int:
    """Queue one delivery per matching subscription and event (called after the transition's commit). Paused
    subscriptions get theirs too: they wait. Returns how many rows were written."""
    from gridgov.cases.models import Case

    # every step of every case comes here: read the events alone first (usually no subscription matches)
    wanted = [pk for pk, subscribed in Subscription.objects.order_by().values_list("pk", "events")
              if any(e in subscribed for e in events)]
    if not wanted:
        return 0
    subs = list(Subscription.objects.select_related("owner", "owner__area", "area").filter(pk__in=wanted))
    case = Case.objects.select_related("category", "grid").filter(pk=case_id).first()
    if case is None:
        return 0
    now = timezone.now()
    rows = []
    for event in events:
        body = None
        for sub in subs:
            if event not in sub.events or not _receives(sub, case.path):
                continue
            if body is None:  # the same bytes for every subscriber of this event
                event_id = uuid.uuid4().hex
                body = json.dumps(case_payload(case=case, event=event, event_id=event_id, occurred_at=occurred_at,
                                               state=to_state, previous_state=from_state, action=action),
                                  ensure_ascii=False, separators=(",", ":"))
            rows.append(Delivery(subscription=sub, event=event, event_id=event_id, tracking_code=case.tracking_code,
                                 payload=body, next_attempt_at=now, created_at=now))
    Delivery.objects.bulk_create(rows)
    return len(rows)


def _receives(sub: Subscription, path: str) -> bool:
    paths = owner_paths(sub.owner)
    if paths is not None and not any(path.startswith(p) for p in paths):
        return False
    return sub.area is None or path.startswith(sub.area.path)


# --- sending (the periodic job) -----------------------------------------------------------------------------

def _resolves_private(host: str) -> bool:
    if _host_is_private(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # the request itself will fail and say why
    return any(_host_is_private(info[4][0]) for info in infos)


PRIVATE_TARGET_ERROR = "the target resolves to a private or local address (not allowed)"


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to public addresses, vetting the very address it connects to: a name checked before the
    attempt may resolve to an internal address by the time of the connection (DNS rebinding)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: {exc}") from exc
        addresses = [info[4][0] for info in infos]
        if not addresses or any(_host_is_private(a) for a in addresses):
            raise httpcore.ConnectError(PRIVATE_TARGET_ERROR)
        # TLS still verifies the certificate against the URL's host name (httpcore passes it to start_tls)
        return super().connect_tcp(addresses[0], port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)


def _client() -> httpx.Client:
    transport = None
    if not private_targets_allowed():
        transport = httpx.HTTPTransport()
        # httpx has no public way to choose the network backend; a test guards this (test_delivery.py,
        # test_dns_rebinding_is_refused_at_connect_time)
        transport._pool._network_backend = _PublicOnlyBackend()
    return httpx.Client(timeout=timeout_seconds(), follow_redirects=False, transport=transport)


def _attempt(client: httpx.Client, delivery: Delivery) -> dict:
    """POST the stored body once; returns the outcome (never raises for the target's faults)."""
    sub = delivery.subscription
    body = delivery.payload.encode()
    outcome = {"status": None, "response": "", "error": "", "duration_ms": 0}
    host = urlsplit(sub.target_url).hostname or ""
    if not private_targets_allowed() and _resolves_private(host):
        outcome["error"] = PRIVATE_TARGET_ERROR
        return outcome
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "gridgov-webhooks/1",
        "X-Gridgov-Event": delivery.event,
        "X-Gridgov-Delivery": str(delivery.pk),
        "X-Gridgov-Timestamp": str(int(time.time())),
        "X-Gridgov-Signature": sign(body, secret_of(sub)),
    }
    started = time.monotonic()
    try:
        with client.stream("POST", sub.target_url, content=body, headers=headers) as response:
            outcome["status"] = response.status_code
            excerpt = b""
            # read at most the excerpt, and for at most the timeout once the status is known: neither a huge
            # answer nor one trickled a byte at a time (each read within the timeout) holds up the job
            deadline = time.monotonic() + timeout_seconds()
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES or time.monotonic() > deadline:
                    break
            outcome["response"] = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")
            if response.is_redirect:
                outcome["error"] = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
    except httpx.TimeoutException as exc:
        outcome["error"] = f"timeout ({type(exc).__name__}) after {timeout_seconds():g} s"
    except httpx.HTTPError as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"[:500]
    outcome["duration_ms"] = int((time.monotonic() - started) * 1000)
    return outcome


def _record(delivery: Delivery, outcome: dict, now: dt.datetime) -> str:
    status = outcome["status"]
    ok = status is not None and 200 <= status < 300
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = status
    delivery.last_response = outcome["response"]
    delivery.last_error = outcome["error"][:500] or ("" if ok else f"HTTP {status}")
    delivery.duration_ms = outcome["duration_ms"]
    if ok:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = DeliveryState.SUCCEEDED, now, None
    elif delivery.attempts > len(BACKOFF):
        delivery.state, delivery.next_attempt_at = DeliveryState.GAVE_UP, None
    else:
        delivery.state = DeliveryState.FAILED
        delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
    fields = ["attempts", "last_attempt_at", "last_status_code", "last_response", "last_error", "duration_ms",
              "state", "delivered_at", "next_attempt_at"]
    # an update, not save(): if the subscription (and so this row) was deleted during the attempt, there is
    # nothing to record, and the job goes on with the next delivery instead of failing
    Delivery.objects.filter(pk=delivery.pk).update(**{f: getattr(delivery, f) for f in fields})
    return delivery.state


def deliveries_send(*, limit: int = 50, now: dt.datetime | None = None, budget_seconds: float = 25.0) -> dict:
    """Send the due deliveries of active subscriptions, oldest first; stop claiming new ones after
    `budget_seconds` (the rest are due at the next run). Each row is claimed with a conditional update, so two
    runners never send the same attempt twice."""
    now = now or timezone.now()
    due = list(Delivery.objects.filter(state__in=DUE_STATES, next_attempt_at__lte=now, subscription__active=True)
               .order_by("next_attempt_at", "id").values_list("pk", "next_attempt_at")[:limit])
    counts = {"sent": 0, DeliveryState.SUCCEEDED: 0, DeliveryState.FAILED: 0, DeliveryState.GAVE_UP: 0}
    if not due:
        return counts
    started = time.monotonic()
    with _client() as client:
        for pk, due_at in due:
            if time.monotonic() - started > budget_seconds:
                break
            claimed = Delivery.objects.filter(pk=pk, state__in=DUE_STATES, next_attempt_at=due_at).update(
                next_attempt_at=now + LEASE)
            if not claimed:
                continue
            delivery = Delivery.objects.select_related("subscription").get(pk=pk)
            try:
                outcome = _attempt(client, delivery)
            except Exception as exc:  # noqa: BLE001 - e.g. an undecryptable secret: record it, go on
                logger.exception("webhook delivery %s", pk)
                outcome = {"status": None, "response": "", "error": f"{type(exc).__name__}: {exc}", "duration_ms": 0}
            state = _record(delivery, outcome, now)
            counts["sent"] += 1
            counts[state] += 1
    return counts
