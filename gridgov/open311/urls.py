"""Open311 GeoReport v2 at /open311/v2/…: the format is the path's suffix (.xml or .json)."""

from django.urls import re_path

from . import views

app_name = "open311"
FMT = r"\.(?P<fmt>xml|json)$"
urlpatterns = [
    re_path(r"^discovery" + FMT, views.discovery, name="root_discovery"),
    re_path(r"^v2/discovery" + FMT, views.discovery, name="discovery"),
    re_path(r"^v2/services" + FMT, views.service_list, name="services"),
    re_path(r"^v2/services/(?P<code>[^/]+?)" + FMT, views.service_definition, name="service"),
    re_path(r"^v2/requests" + FMT, views.requests, name="requests"),
    re_path(r"^v2/requests/(?P<code>[^/]+?)" + FMT, views.request_detail, name="request"),
    re_path(r"^v2/tokens/(?P<token>[^/]+?)" + FMT, views.token, name="token"),
    re_path(r"^v2/servicerequestupdates" + FMT, views.updates, name="updates"),
    # anything else under /open311/ answers in the specification's error form
    re_path(r"^(?P<path>.*)$", views.not_found, name="not_found"),
]
