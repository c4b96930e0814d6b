"""A resumable (TUS) upload in progress.

The bytes live in ``DATA_DIR/uploads/<id>``; the file's size is the upload's offset (the row
holds what does not change). ``upload_finish`` hands the file to its consumer and deletes the
row; ``uploads_expire`` removes abandoned ones.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Upload(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    # Which endpoint accepts it (e.g. "task_backup"): an upload is finished where it started.
    endpoint = models.CharField(max_length=64)
    # The server's opaque name (``<id hex><ext>``), sent as Upload-Filename and given back
    # in ``?filename=`` by Upload-Finish.
    filename = models.CharField(max_length=64, unique=True)
    original_name = models.CharField(max_length=255)
    length = models.BigIntegerField()
    created_date = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_date"]

    def __repr__(self) -> str:
        return f"<Upload {self.pk} {self.endpoint} {self.length}>"
