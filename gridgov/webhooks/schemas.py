from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

EVENTS_HELP = "a subset of case.created, case.state_changed, case.closed"


class SubscriptionIn(Schema):
    name: str = Field(..., max_length=100)
    target_url: str = Field(..., description="http:// or https:// URL that receives the POSTs")
    events: list[str] = Field(..., description=EVENTS_HELP)
    area: str | None = Field(None, description="code of an area inside your scope: only its cases are sent")
    active: bool = True


class SubscriptionPatch(Schema):
    """Only the fields given change; `"area": null` removes the narrowing."""

    name: str | None = Field(None, max_length=100)
    target_url: str | None = None
    events: list[str] | None = Field(None, description=EVENTS_HELP)
    area: str | None = None


class SubscriptionAreaOut(Schema):
    code: str
    name: str


class SubscriptionOut(Schema):
    id: int
    name: str
    target_url: str
    events: list[str]
    area: SubscriptionAreaOut | None = None
    owner: str = Field(..., description="username of the owner")
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SubscriptionSecretOut(SubscriptionOut):
    secret: str = Field(..., description="the signing secret (keep it on the receiving side)")


class DeliveryOut(Schema):
    id: int
    subscription_id: int
    event: str
    event_id: str
    tracking_code: str
    state: str = Field(..., description="pending | failed (will retry) | succeeded | gave_up")
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    duration_ms: int | None
    replay_of_id: int | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class DeliveryDetailOut(DeliveryOut):
    payload: str = Field(..., description="the exact body sent (JSON text)")
    last_response: str = Field(..., description="the first 2 KB of the last answer")


class DeliveryQuery(Schema):
    state: str | None = Field(None, description="pending | failed | succeeded | gave_up")
