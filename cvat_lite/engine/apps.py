from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "cvat_lite.engine"
    label = "engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The deflated backup manifests forget a task whose rows change (signal receivers).
        from cvat_lite.engine import manifest_store  # noqa: F401
