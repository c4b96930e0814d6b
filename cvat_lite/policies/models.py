"""Backup policies: what to back up, how, where, when, and how many archives to keep.

A ``BackupPolicy`` is run by the RQ scheduler (``cvat_lite.policies.schedule``); each run is a
``PolicyRun`` (and a request in the requests API), each archive it wrote a ``PolicyArchive``.
Pruning deletes only what a ``PolicyArchive`` row of the same policy names.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cvat_lite.engine.choices import Location, choices_of


class Scope(models.TextChoices):
    ALL = "all"  # every project, and every task that is not in a project
    PROJECT = "project"
    TASK = "task"
    OWNER = "owner"  # the projects of a user, and their tasks that are not in one of those


class Mode(models.TextChoices):
    FULL = "full"
    LIGHTWEIGHT = "lightweight"
    WHENEVER_POSSIBLE = "whenever_possible"


# Where a policy writes (the API's PolicyLocationEnum): its folder or a cloud storage.
LOCATION_CHOICES = choices_of(Location)


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # the previous run was still going when the schedule fired


class Trigger(models.TextChoices):
    SCHEDULE = "schedule"
    MANUAL = "manual"


class BackupPolicy(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_policies"
    )
    name = models.CharField(max_length=256)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    project = models.ForeignKey(
        "engine.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    task = models.ForeignKey(
        "engine.Task", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    mode = models.CharField(max_length=32, choices=Mode.choices, default=Mode.FULL)
    location = models.CharField(max_length=16, choices=LOCATION_CHOICES)
    cloud_storage = models.ForeignKey(
        "engine.CloudStorage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prefix = models.CharField(max_length=512, blank=True, default="")
    cron = models.CharField(max_length=128)
    timezone = models.CharField(max_length=64, default="UTC")
    keep_last = models.PositiveIntegerField(default=0)
    keep_daily = models.PositiveIntegerField(default=0)
    keep_weekly = models.PositiveIntegerField(default=0)
    keep_monthly = models.PositiveIntegerField(default=0)
    verify_after_write = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class PolicyRun(models.Model):
    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="runs")
    request_id = models.CharField(max_length=256, blank=True, default="")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    created_date = models.DateTimeField(auto_now_add=True)
    started_date = models.DateTimeField(null=True, blank=True)
    finished_date = models.DateTimeField(null=True, blank=True)
    written = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    pruned = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # One entry per item: {kind, id, name, mode, status, archive, bytes, sha256, error}.
    report = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["policy", "status"])]


class PolicyArchive(models.Model):
    """One archive a policy wrote. The row is what allows pruning to delete it."""

    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="archives")
    run = models.ForeignKey(
        PolicyRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="archives"
    )
    kind = models.CharField(max_length=16)  # task | project
    object_id = models.BigIntegerField()
    mode = models.CharField(max_length=16)  # full | lightweight (what was written)
    name = models.CharField(max_length=512)
    location = models.CharField(max_length=16, choices=LOCATION_CHOICES)
    cloud_storage_id = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=1024)  # the object key, or the path under DATA_DIR
    bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    created_date = models.DateTimeField()
    verified = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["-created_date", "-id"]
        indexes = [models.Index(fields=["policy", "kind", "object_id"])]
