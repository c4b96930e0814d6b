from django.apps import AppConfig


class RequestsConfig(AppConfig):
    name = "cvat_lite.requests"
    label = "requests"
    default_auto_field = "django.db.models.BigAutoField"
