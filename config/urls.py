from django.contrib import admin
from django.urls import include, path

from gridgov.core import views as core_views

from .api import api

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("accounts/", include("gridgov.accounts.urls")),
    path("geo/", include("gridgov.geo.urls")),
    path("cases/", include("gridgov.cases.urls")),
    path("", include("gridgov.cases.public_urls")),
    path("residents/", include("gridgov.residents.urls")),
    path("disputes/", include("gridgov.disputes.urls")),
    path("analytics/", include("gridgov.analytics.urls")),
    path("open311/", include("gridgov.open311.urls")),
    path("webhooks/", include("gridgov.webhooks.urls")),
    path("", include("gridgov.core.urls")),
]
