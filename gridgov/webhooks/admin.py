"""Webhooks in the admin: read-only. Subscriptions change through their pages or the API (services: checks and
the audit log); deliveries are a log."""

from django.contrib import admin

from gridgov.core.admin_mixins import ReadOnlyAdmin

from .models import Delivery, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["name", "target_url", "owner", "area", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "target_url", "owner__username"]
    exclude = ["secret"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "subscription", "event", "tracking_code", "state", "attempts", "last_status_code",
                    "created_at", "delivered_at"]
    list_filter = ["state", "event"]
    search_fields = ["tracking_code", "event_id"]
    list_select_related = ["subscription"]
