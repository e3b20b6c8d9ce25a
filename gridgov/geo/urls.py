from django.urls import path

from . import views, views_import

app_name = "geo"
urlpatterns = [
    path("", views.browser, name="browser"),
    path("areas/<str:code>/", views.area_detail, name="area"),
    path("areas/<str:code>/map.geojson", views.area_map_geojson, name="area_map"),
    path("areas/<str:code>/export.geojson", views.area_export, name="area_export"),
    path("grids/<str:code>/", views.grid_detail, name="grid"),
    path("search/", views.search, name="search"),
    path("import/", views_import.geojson_upload, name="import"),
]
