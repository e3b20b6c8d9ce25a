from django.urls import path

from . import views, views_admin, views_intake, views_queues

app_name = "cases"
urlpatterns = [
    path("", views_queues.case_list, name="list"),
    path("console/", views_queues.console, name="console"),
    path("console/map.json", views_queues.console_map, name="console_map"),
    path("console/<int:pk>/register-dispatch/", views_queues.console_dispatch, name="console_dispatch"),
    path("queue/", views_queues.department_queue, name="queue"),
    path("today/", views_queues.today, name="today"),
    path("report/", views_intake.report, name="report"),
    path("hotline/", views_intake.hotline, name="hotline"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", views.case_act, name="act"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("categories/import/", views_admin.category_import, name="category_import"),
    path("categories/import/template.xlsx", views_admin.category_template, name="category_template"),
]
