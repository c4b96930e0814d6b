"""``cvat-lite cleanup_uploads``: remove TUS uploads with no write for CVAT_LITE_UPLOAD_TTL
seconds, and files of the uploads area that no upload owns. Creating an upload also does this;
run it from cron so abandoned uploads free their space (and their users' quota) on idle
servers too."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from cvat_lite.uploads.services import uploads_expire


class Command(BaseCommand):
    help = "Remove abandoned TUS uploads (no write for CVAT_LITE_UPLOAD_TTL seconds)."

    def handle(self, *args, **options) -> None:
        removed = uploads_expire(older_than=timedelta(seconds=settings.UPLOAD_TTL))
        self.stdout.write(f"Removed {removed} abandoned upload(s).")
