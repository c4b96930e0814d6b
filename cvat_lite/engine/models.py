"""The domain model (contract 2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Every value set is defined once, Django-free, in cvat_lite/engine/choices.py (the provider
# enums in the cloud package, a new provider is one enum member there); the names stay
# importable from here.
from cvat_lite.engine.choices import (
    CredentialsType,
    InputType,
    JobType,
    LabelType,
    ProviderType,
    SortingMethod,
    StageChoice,
    StateChoice,
    StatusChoice,
    StorageChoice,
    StorageMethod,
    choices_of,
)
from cvat_lite.media.selection import parse_frame_filter

__all__ = [
    "InputType",
    "JobType",
    "LabelType",
    "SortingMethod",
    "StageChoice",
    "StateChoice",
    "StatusChoice",
    "StorageChoice",
]

PROVIDER_TYPE_CHOICES = choices_of(ProviderType)
CREDENTIALS_TYPE_CHOICES = choices_of(CredentialsType)
# Named in settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] (an enum there would be
# labelled by its names, a different choice set for drf-spectacular).
LABEL_TYPE_CHOICES = choices_of(LabelType)
STATUS_CHOICES = choices_of(StatusChoice)
JOB_TYPE_CHOICES = choices_of(JobType)


class CloudStorage(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cloud_storages"
    )
    provider_type = models.CharField(max_length=32, choices=PROVIDER_TYPE_CHOICES)
    resource = models.CharField(max_length=222)
    display_name = models.CharField(max_length=63)
    description = models.TextField(blank=True, default="")
    credentials_type = models.CharField(max_length=32, choices=CREDENTIALS_TYPE_CHOICES)
    # Write-only: separate keys (key, secret_key, session_token, account_name,
    # connection_string, key_file_path), never returned, never in a backup, never logged.
    credentials = models.JSONField(default=dict, blank=True)
    specific_attributes = models.CharField(max_length=1024, blank=True, default="")
    manifests = models.JSONField(default=list, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __repr__(self) -> str:  # never show credentials
        return f"<CloudStorage {self.pk} {self.provider_type} {self.resource}>"


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=256)
    bug_tracker = models.CharField(max_length=2000, blank=True, default="")
    status = models.CharField(
        max_length=32, choices=choices_of(StatusChoice), default=StatusChoice.ANNOTATION.value
    )
    source_storage = models.JSONField(null=True, blank=True)
    target_storage = models.JSONField(null=True, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]


class Data(models.Model):
    storage = models.CharField(
        max_length=16, choices=choices_of(StorageChoice), default=StorageChoice.LOCAL.value
    )
    cloud_storage = models.ForeignKey(
        CloudStorage, null=True, blank=True, on_delete=models.SET_NULL, related_name="data"
    )
    storage_method = models.CharField(max_length=16, default=StorageMethod.CACHE.value)
    size = models.PositiveIntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=36)
    image_quality = models.PositiveSmallIntegerField(default=70)
    start_frame = models.PositiveIntegerField(default=0)
    stop_frame = models.PositiveIntegerField(default=0)
    frame_filter = models.CharField(max_length=256, blank=True, default="")
    sorting_method = models.CharField(
        max_length=16,
        choices=choices_of(SortingMethod),
        default=SortingMethod.LEXICOGRAPHICAL.value,
    )
    deleted_frames = models.JSONField(default=list, blank=True)
    chunks_updated_date = models.DateTimeField(auto_now_add=True)
    # Where the media were taken from in the bucket (a manifest's folder); informative, used as
    # the origin block of lightweight backups.
    cloud_prefix = models.CharField(max_length=1024, blank=True, default="")
    # The provider and bucket the media are in ({"provider_type", "resource"}), remembered
    # while the task is linked (see ``save``) so that a lightweight backup of a task whose
    # storage link is gone still names its origin. Never an id, never a credential.
    cloud_origin = models.JSONField(null=True, blank=True)

    @property
    def step(self) -> int:
        return parse_frame_filter(self.frame_filter)

    def save(self, *args, **kwargs):
        """Remember the linked storage's provider and bucket in ``cloud_origin``: a link can
        disappear without a save (``SET_NULL`` when the storage is deleted)."""
        try:
            storage = self.cloud_storage if self.cloud_storage_id is not None else None
        except CloudStorage.DoesNotExist:  # deleted meanwhile: SET_NULL is on its way
            storage = None
        if storage is not None:
            origin = {"provider_type": storage.provider_type, "resource": storage.resource}
            if origin != self.cloud_origin:
                self.cloud_origin = origin
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "cloud_origin"}
        super().save(*args, **kwargs)


class Image(models.Model):
    """One media file of a task. The rows of a task's Data are its media manifest."""

    data = models.ForeignKey(Data, on_delete=models.CASCADE, related_name="images")
    path = models.CharField(max_length=1024)
    frame = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # CVAT's manifest checksum: the MD5 of the image's decoded pixels (``pixel_md5``), "" when
    # unknown. Never an object's MD5 or ETag: those are the ``object_*`` evidence below.
    checksum = models.CharField(max_length=32, blank=True, default="")
    related_files = models.JSONField(default=list, blank=True)
    # What the bucket said about the object (``cvat_lite.cloud.evidence``): its size and the
    # provider's fingerprints, recorded from a listing (task creation, a verified relink, a
    # backup's cloud_objects.jsonl). null / "" when unknown.
    object_size = models.BigIntegerField(null=True, blank=True)
    object_md5 = models.CharField(max_length=32, blank=True, default="", db_default="")
    object_etag = models.CharField(max_length=128, blank=True, default="", db_default="")
    object_crc32c = models.CharField(max_length=8, blank=True, default="", db_default="")

    # The evidence columns, in ``Evidence``'s field order (size, md5, etag, crc32c).
    EVIDENCE_FIELDS = ("object_size", "object_md5", "object_etag", "object_crc32c")

    class Meta:
        ordering = ["frame"]
        constraints = [
            models.UniqueConstraint(fields=["data", "frame"], name="unique_image_frame"),
        ]


class Task(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    name = models.CharField(max_length=256)
    mode = models.CharField(max_length=32, default="annotation")
    segment_size = models.PositiveIntegerField(default=0)
    overlap = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=32, choices=choices_of(StatusChoice), default=StatusChoice.ANNOTATION.value
    )
    subset = models.CharField(max_length=64, blank=True, default="")
    bug_tracker = models.CharField(max_length=2000, blank=True, default="")
    dimension = models.CharField(max_length=2, default="2d")
    data = models.OneToOneField(
        Data, null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    source_storage = models.JSONField(null=True, blank=True)
    target_storage = models.JSONField(null=True, blank=True)
    # Kept from CVAT backups so that a restore never drops data (contract 2).
    validation_layout = models.JSONField(null=True, blank=True)
    consensus_replicas = models.PositiveIntegerField(default=0)
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]


class Label(models.Model):
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sublabels"
    )
    name = models.CharField(max_length=64)
    color = models.CharField(max_length=8, blank=True, default="")
    type = models.CharField(
        max_length=32, choices=choices_of(LabelType), default=LabelType.ANY.value
    )
    # A skeleton's layout (CVAT's ``svg``); empty for other label types.
    svg = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]


class Attribute(models.Model):
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=64)
    mutable = models.BooleanField(default=False)
    input_type = models.CharField(max_length=16, choices=choices_of(InputType))
    default_value = models.CharField(max_length=128, blank=True, default="")
    values = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]


class Segment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="segments")
    start_frame = models.PositiveIntegerField()
    stop_frame = models.PositiveIntegerField()
    # An explicit frame list (ground-truth jobs, custom segments); null means the whole range.
    frames = models.JSONField(null=True, blank=True)
    type = models.CharField(max_length=16, default="range")

    class Meta:
        ordering = ["id"]


class Job(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="jobs")
    parent_job = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replicas"
    )
    status = models.CharField(
        max_length=32, choices=choices_of(StatusChoice), default=StatusChoice.ANNOTATION.value
    )
    stage = models.CharField(
        max_length=32, choices=choices_of(StageChoice), default=StageChoice.ANNOTATION.value
    )
    state = models.CharField(
        max_length=32, choices=choices_of(StateChoice), default=StateChoice.NEW.value
    )
    type = models.CharField(
        max_length=32, choices=choices_of(JobType), default=JobType.ANNOTATION.value
    )
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class JobAnnotations(models.Model):
    """A job's annotations in CVAT's JSON shape (labels by id), stored to round-trip exactly."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="annotations")
    version = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=list)
    shapes = models.JSONField(default=list)
    tracks = models.JSONField(default=list)
    # The next id handed to a new tag/shape/track/track shape.
    next_id = models.PositiveBigIntegerField(default=1)


class AccessToken(models.Model):
    """A personal access token (``Authorization: Bearer``). Only its hash is stored."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=256)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_date = models.DateTimeField(auto_now_add=True)
    updated_date = models.DateTimeField(auto_now=True)
    expiry_date = models.DateTimeField(null=True, blank=True)
    last_used_date = models.DateTimeField(null=True, blank=True)
    read_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
