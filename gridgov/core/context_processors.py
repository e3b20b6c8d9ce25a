from django.conf import settings


def site(request):
    return {
        "GRIDGOV_MAP_TILES": settings.GRIDGOV_MAP_TILES,
        "GRIDGOV_MAP_ATTRIBUTION": settings.GRIDGOV_MAP_ATTRIBUTION,
    }
