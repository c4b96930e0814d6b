"""``cvat-lite cleanup_exports``: remove expired export results (CVAT_LITE_EXPORT_TTL) and
partial or orphaned files left by dead exports. Exports and downloads also do this on their
own; run it from cron to reclaim space on idle servers."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cvat_lite.backup.export_results import exports_cleanup


class Command(BaseCommand):
    help = "Remove expired backup export results and files left by interrupted exports."

    def handle(self, *args, **options) -> None:
        removed = exports_cleanup()
        self.stdout.write(f"Removed {removed} export file(s).")
