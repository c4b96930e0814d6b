"""The web UI's routes: outside ``api/`` (the API's route list and schema stay the API's).
Both trailing-slash spellings are accepted, as for the API."""

from __future__ import annotations

from django.urls import re_path

from cvat_lite.web import views

urlpatterns = [
    re_path(r"^$", views.page, {"name": "index"}, name="web-index"),
    re_path(r"^login/?$", views.page, {"name": "login"}, name="web-login"),
    re_path(r"^tasks/(?P<task_id>\d+)/?$", views.page, {"name": "task"}, name="web-task"),
    re_path(r"^cloudstorages/?$", views.page, {"name": "cloudstorages"}, name="web-storages"),
    re_path(r"^requests/?$", views.page, {"name": "requests"}, name="web-requests"),
    re_path(r"^restore/?$", views.page, {"name": "restore"}, name="web-restore"),
    re_path(r"^account/?$", views.page, {"name": "account"}, name="web-account"),
    re_path(r"^backup-policies/?$", views.page, {"name": "backuppolicies"}, name="web-policies"),
    re_path(r"^static/(?P<path>.+)$", views.static_file, name="web-static"),
]
