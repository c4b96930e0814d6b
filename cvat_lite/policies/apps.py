from django.apps import AppConfig


def _backup_policies_subcommand():
    from cvat_lite.policies import cli

    return cli


class PoliciesConfig(AppConfig):
    name = "cvat_lite.policies"
    label = "policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cvat_lite.backup.management.extensions import subcommand_register

        # ``cvat-lite backup policies`` (cvat_lite/policies/cli.py).
        subcommand_register("policies", _backup_policies_subcommand)
