from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "cvat_lite.web"
    label = "web"
