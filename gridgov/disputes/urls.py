from django.urls import path

from . import views

app_name = "disputes"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("list/", views.dispute_list, name="list"),
    path("new/", views.register, name="new"),
    path("from-case/<int:case_pk>/", views.from_case, name="from_case"),
    path("warnings/", views.warnings_board, name="warnings"),
    path("measures/", views.measures, name="measures"),
    path("map/", views.map_page, name="map"),
    path("map.json", views.map_data, name="map_data"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.act, name="act"),
    path("<int:pk>/agreement.docx", views.agreement_docx, name="agreement_docx"),
    path("<int:pk>/agreement.pdf", views.agreement_pdf, name="agreement_pdf"),
]
