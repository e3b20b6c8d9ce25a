"""The webhooks API: subscriptions (create, read, change, pause, resume, rotate the secret, delete), their
delivery log (paginated; `count` is the total) and replays. Thin: the selectors read, the services write.

Administrators manage every subscription; a dispatcher or leader manages their own (other roles: 403). A
subscription that is not yours is a 404. Bad input (a URL that is not http(s), an unknown event, an area
outside your scope) is a 422 naming the field; nothing is written then.
"""

from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from gridgov.core.pagination import Pagination
from gridgov.core.schemas import ErrorOut

from . import selectors, services
from .schemas import (
    DeliveryDetailOut,
    DeliveryOut,
    DeliveryQuery,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    SubscriptionSecretOut,
)

router = Router(tags=["webhooks"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _out(sub, secret: str | None = None) -> dict:
    body = {"id": sub.pk, "name": sub.name, "target_url": sub.target_url, "events": list(sub.events),
            "area": {"code": sub.area.code, "name": sub.area.name} if sub.area_id else None,
            "owner": sub.owner.username, "active": sub.active, "created_at": sub.created_at,
            "updated_at": sub.updated_at}
    return body | ({"secret": secret} if secret is not None else {})


@router.get("/subscriptions", response={200: list[SubscriptionOut], **ERRORS},
            summary="My webhook subscriptions (administrators: all)")
@paginate(Pagination)
def subscription_list(request):
    return [_out(s) for s in selectors.subscription_list(user=request.auth)]


@router.post("/subscriptions", response={201: SubscriptionSecretOut, **ERRORS},
             summary="Subscribe a URL to case events; the answer holds the signing secret")
def subscription_create(request, payload: SubscriptionIn):
    area = selectors.area_by_code(user=request.auth, code=payload.area)
    sub, secret = services.subscription_create(by=request.auth, name=payload.name, target_url=payload.target_url,
                                               events=payload.events, area=area, active=payload.active)
    return Status(201, _out(sub, secret))


@router.get("/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS},
            summary="One subscription")
def subscription_get(request, subscription_id: int):
    return _out(selectors.subscription_get(user=request.auth, pk=subscription_id))


@router.patch("/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS},
              summary="Change a subscription's name, URL, events or area")
def subscription_update(request, subscription_id: int, payload: SubscriptionPatch):
    given = payload.model_fields_set
    kwargs = {f: getattr(payload, f) for f in ("name", "target_url", "events") if f in given}
    if "area" in given:
        kwargs["area"] = selectors.area_by_code(user=request.auth, code=payload.area)
    sub = services.subscription_update(subscription_id=subscription_id, by=request.auth, **kwargs)
    return _out(sub)


@router.delete("/subscriptions/{subscription_id}", response={204: None, **ERRORS},
               summary="Delete a subscription and its delivery log")
def subscription_delete(request, subscription_id: int):
    services.subscription_delete(subscription_id=subscription_id, by=request.auth)
    return Status(204, None)


@router.post("/subscriptions/{subscription_id}/pause", response={200: SubscriptionOut, **ERRORS},
             summary="Pause: deliveries keep being queued and wait until resumed")
def subscription_pause(request, subscription_id: int):
    return _out(services.subscription_pause(subscription_id=subscription_id, by=request.auth))


@router.post("/subscriptions/{subscription_id}/resume", response={200: SubscriptionOut, **ERRORS},
             summary="Resume: the waiting deliveries go out with the next job run")
def subscription_resume(request, subscription_id: int):
    return _out(services.subscription_resume(subscription_id=subscription_id, by=request.auth))


@router.post("/subscriptions/{subscription_id}/rotate-secret", response={200: SubscriptionSecretOut, **ERRORS},
             summary="Replace the signing secret; the answer holds the new one")
def subscription_rotate_secret(request, subscription_id: int):
    sub, secret = services.subscription_rotate_secret(subscription_id=subscription_id, by=request.auth)
    return _out(sub, secret)


@router.get("/subscriptions/{subscription_id}/deliveries", response={200: list[DeliveryOut], **ERRORS},
            summary="A subscription's deliveries, newest first (`count` is the total)",
            description="An unknown `state` is a 422 `invalid_filter`.")
@paginate(Pagination)
def delivery_list(request, subscription_id: int, params: Query[DeliveryQuery]):
    return selectors.delivery_list(user=request.auth, subscription_id=subscription_id, state=params.state)


@router.get("/deliveries/{delivery_id}", response={200: DeliveryDetailOut, **ERRORS},
            summary="One delivery with the exact body sent and the last answer's excerpt")
def delivery_get(request, delivery_id: int):
    return selectors.delivery_get(user=request.auth, pk=delivery_id)


@router.post("/deliveries/{delivery_id}/replay", response={201: DeliveryOut, **ERRORS},
             summary="Send a delivery's body again, as a new delivery (by the next job run)")
def delivery_replay(request, delivery_id: int):
    return Status(201, services.delivery_replay(delivery_id=delivery_id, by=request.auth))


