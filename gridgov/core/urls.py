from django.urls import path

from . import views, views_inbox

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/read/", views_inbox.inbox_read, name="inbox_read"),
]
