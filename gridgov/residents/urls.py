from django.urls import path

from . import views, views_import

app_name = "residents"
urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("grids/<str:code>/", views.grid_detail, name="grid"),
    path("grids/<str:code>/quality/", views.grid_quality, name="quality"),
    path("houses/<int:pk>/", views.house_detail, name="house"),
    path("houses/<int:house_pk>/new/", views.resident_new, name="new"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("visits/", views.visits_due, name="visits_due"),
    path("visits/photos/<int:pk>/", views.visit_photo, name="visit_photo"),
    path("import/", views_import.import_page, name="import"),
    path("import/template.xlsx", views_import.import_template, name="import_template"),
    path("import/<int:pk>/", views_import.import_job, name="import_job"),
    path("import/<int:pk>/status/", views_import.import_status, name="import_status"),
    path("import/<int:pk>/errors.xlsx", views_import.import_errors, name="import_errors"),
    path("export.xlsx", views_import.export, name="export"),
    path("merge/<int:keep>/<int:duplicate>/", views.merge, name="merge"),
    path("<int:pk>/", views.resident_detail, name="detail"),
    path("<int:pk>/edit/", views.resident_edit, name="edit"),
    path("<int:pk>/confirm/", views.resident_confirm, name="confirm"),
    path("<int:pk>/unmask/<str:field>/", views.unmask, name="unmask"),
    path("<int:pk>/visit/", views.visit_new, name="visit"),
]
