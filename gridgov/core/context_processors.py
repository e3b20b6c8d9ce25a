from django.conf import settings


def site(request):
    return {
        "GRIDGOV_MAP_TILES": settings.GRIDGOV_MAP_TILES,
        "GRIDGOV_MAP_ATTRIBUTION": settings.GRIDGOV_MAP_ATTRIBUTION,
    }


def unread_notifications(request):
    """The user's unread notification count for the nav, counted only if a template asks for it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    from .notifications import unread_count

    cache = []

    def count() -> int:  # templates call callables: one query per request, on first use
        if not cache:
            cache.append(unread_count(user=user))
        return cache[0]

    return {"unread_notifications": count}
