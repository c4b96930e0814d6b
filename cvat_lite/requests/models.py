"""Background requests (contract 6): the typed, persistent state of every long operation."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RequestStatus(models.TextChoices):
    QUEUED = "queued"
    STARTED = "started"
    FAILED = "failed"
    FINISHED = "finished"


class RequestAction(models.TextChoices):
    CREATE = "create"
    EXPORT = "export"
    IMPORT = "import"
    UPDATE = "update"  # a relink that runs in the background (contract 7.5)


class Request(models.Model):
    """One background operation. The row is the source of truth for the requests API; the RQ job
    with the same id does the work and moves the row through its states."""

    id = models.CharField(primary_key=True, max_length=256)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="background_requests"
    )
    action = models.CharField(max_length=16, choices=RequestAction.choices)
    target = models.CharField(max_length=16)  # task | project
    subresource = models.CharField(max_length=32, blank=True, default="")  # backup | data
    target_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True)
    project_id = models.BigIntegerField(null=True, blank=True)
    format = models.CharField(max_length=64, blank=True, default="")
    lightweight = models.BooleanField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.QUEUED
    )
    message = models.TextField(blank=True, default="")
    progress = models.FloatField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    result_id = models.BigIntegerField(null=True, blank=True)
    result_file = models.CharField(max_length=1024, blank=True, default="")
    result_filename = models.CharField(max_length=512, blank=True, default="")
    # What a finished request answers that is not a file or an id (a relink's report), or a
    # failed one's error body {code, message, extra}; null otherwise.
    result = models.JSONField(null=True, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    started_date = models.DateTimeField(null=True, blank=True)
    finished_date = models.DateTimeField(null=True, blank=True)
    expiry_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_date"]
        indexes = [models.Index(fields=["owner", "status"])]
