"""The residents' public pages (no account needed): report a problem and follow it with a tracking code."""

from django.urls import path

from . import views_public as views

app_name = "public"
urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/fields/", views.report_fields, name="report_fields"),
    path("report/locate/", views.report_locate, name="report_locate"),
    path("report/area/", views.report_area, name="report_area"),
    path("report/done/<str:code>/", views.reported, name="reported"),
    path("track/", views.track_lookup, name="track_lookup"),
    path("track/<str:code>/", views.track, name="track"),
    path("track/<str:code>/verify/", views.track_verify, name="verify"),
    path("track/<str:code>/rate/", views.track_rate, name="rate"),
]
