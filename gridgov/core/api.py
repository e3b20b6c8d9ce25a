"""The inbox API (mounted at /api/v1/inbox/): my notifications, the unread count, marking read."""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from . import notifications
from .pagination import Pagination, ordered
from .schemas import ErrorOut

router = Router(tags=["inbox"])


class InboxQuery(Schema):
    unread: bool | None = Field(None, description="true: unread notifications only")
    ordering: Literal["created_at", "-created_at"] | None = Field(None, description="default: newest first")


class NotificationOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    url: str = Field(..., description="the page it is about, e.g. the case")
    object_type: str
    object_id: str
    created_at: datetime
    read_at: datetime | None
    unread: bool

    @staticmethod
    def resolve_kind_label(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_unread(obj):
        return obj.read_at is None


class UnreadOut(Schema):
    unread: int


class ReadIn(Schema):
    ids: list[int] | None = Field(None, description="the notifications to mark read; omit to mark all read")


class ReadOut(Schema):
    marked: int = Field(..., description="how many were unread and are now read")
    unread: int = Field(..., description="unread notifications left")


@router.get("", response={200: list[NotificationOut], 401: ErrorOut, 422: ErrorOut},
            summary="My notifications, newest first")
@paginate(Pagination)
def inbox_list(request, filters: Query[InboxQuery]):
    return ordered(notifications.inbox(user=request.auth, unread_only=bool(filters.unread)), filters.ordering,
                   {"created_at": "created_at"})


@router.get("/unread-count", response={200: UnreadOut, 401: ErrorOut}, summary="How many unread notifications")
def inbox_unread_count(request):
    return {"unread": notifications.unread_count(user=request.auth)}


@router.post("/read", response={200: ReadOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
             summary="Mark notifications read (all of them when `ids` is omitted)")
def inbox_mark_read(request, payload: ReadIn):
    marked = notifications.mark_read(user=request.auth, ids=payload.ids)
    return {"marked": marked, "unread": notifications.unread_count(user=request.auth)}
