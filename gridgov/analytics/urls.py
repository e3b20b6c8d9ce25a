from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("department/", views.department, name="department"),
    path("scorecard/", views.scorecard, name="scorecard"),
    path("map/nodes.json", views.map_nodes, name="map_nodes"),
    path("map/hotspots.json", views.hotspots, name="hotspots"),
    path("map/cases.json", views.cases_map, name="cases_map"),
    path("export.xlsx", views.export, name="export"),
    path("report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("report.pdf", views.report_pdf, name="report_pdf"),
]
