from django.apps import AppConfig


class BackupConfig(AppConfig):
    """Archives: export, restore, verify; an app for its management commands (no models)."""

    name = "cvat_lite.backup"
    label = "backup"
