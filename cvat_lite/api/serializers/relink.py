"""The relink options of ``PATCH /api/tasks/{id}/data/meta`` and
``PATCH /api/projects/{id}/cloud_storage``, and the verification report they answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cvat_lite.engine.services.relink import ALL_OBJECTS, RelinkOptions

ALL = "all"
MSG_CONTENT_SAMPLE = 'content_sample must be a number of objects (0 or more) or "all".'
MSG_PREFIX_FROM_ALONE = "prefix_from needs prefix (the folder that replaces it)."
MSG_WITHOUT_STORAGE = "{field} only applies to a relink: give a cloud_storage_id."
RELINK_FIELDS = ("prefix", "prefix_from", "content_sample", "dry_run")


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "enum": [ALL]}],
        "description": (
            "How many objects known only by CVAT's pixel checksum to download and compare "
            '(a random sample): a number, 0 for none, or "all". Default: the server\'s '
            "CVAT_LITE_RELINK_CONTENT_SAMPLE (20)."
        ),
    }
)
class ContentSampleField(serializers.Field):
    def to_internal_value(self, data: Any) -> int:
        if data == ALL:
            return ALL_OBJECTS
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise serializers.ValidationError(MSG_CONTENT_SAMPLE)
        try:
            value = int(data)
        except ValueError:
            raise serializers.ValidationError(MSG_CONTENT_SAMPLE) from None
        if value < 0:
            raise serializers.ValidationError(MSG_CONTENT_SAMPLE)
        return value

    def to_representation(self, value: int) -> int | str:
        return ALL if value == ALL_OBJECTS else value


class RelinkOptionsSerializer(serializers.Serializer):
    prefix = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1024,
        help_text=(
            "The folder the media are in now: it replaces prefix_from in every object key "
            "(default prefix_from: the folder of the task's manifest). '' for the bucket's root."
        ),
    )
    prefix_from = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1024,
        help_text="The folder prefix replaces; every object key of the task must be in it.",
    )
    content_sample = ContentSampleField(required=False)
    dry_run = serializers.BooleanField(
        default=False,
        help_text="Verify and answer the report; save nothing (200 even when it fails).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "prefix_from" in attrs and "prefix" not in attrs:
            raise serializers.ValidationError({"prefix_from": [MSG_PREFIX_FROM_ALONE]})
        return attrs

    def relink_options(self) -> RelinkOptions:
        v = self.validated_data
        return RelinkOptions(
            prefix=v.get("prefix"),
            prefix_from=v.get("prefix_from"),
            content_sample=v.get("content_sample"),
            dry_run=v.get("dry_run", False),
        )


class VerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    method = serializers.ListField(
        child=serializers.ChoiceField(choices=["listing", "size", "fingerprint", "content_sample"]),
        help_text="What was used: always one listing; then sizes, fingerprints, content.",
    )
    prefix = serializers.CharField(allow_blank=True, help_text="The prefix listed.")
    listed = serializers.IntegerField(help_text="Objects the listing returned.")
    expected = serializers.IntegerField(help_text="Distinct object keys of the task.")
    present = serializers.IntegerField()
    missing_count = serializers.IntegerField()
    missing = serializers.ListField(child=serializers.CharField(), help_text="The first 100.")
    mismatched_count = serializers.IntegerField()
    mismatched = serializers.ListField(child=serializers.CharField(), help_text="The first 100.")
    sizes_compared = serializers.IntegerField()
    fingerprints_compared = serializers.IntegerField(
        help_text="Objects compared by MD5, CRC32C or ETag (recorded and listed of one kind)."
    )
    fingerprints_matched = serializers.IntegerField()
    content_candidates = serializers.IntegerField(
        help_text="Present objects known only by CVAT's pixel checksum."
    )
    content_sampled = serializers.IntegerField(
        help_text="Of those, downloaded and decoded (a random sample)."
    )
    content_matched = serializers.IntegerField()
    unverified = serializers.IntegerField(
        help_text="Present objects checked by presence (and size) only."
    )
    summary = serializers.CharField(help_text="The same in a sentence.")


MSG_QUEUED = (
    "The relink of {images} images runs in the background (more than {limit}): follow "
    "GET /api/requests/{rq_id} until its status is finished or failed; its progress says how "
    "far it is, and its result holds the verification report{dry_run}."
)


class RelinkQueuedSerializer(serializers.Serializer):
    """The 202 answer of a relink that runs in the background (docs/relink.md)."""

    rq_id = serializers.CharField(help_text="The request to follow.")
    request_url = serializers.CharField(
        help_text="GET it (the requests API) until status is finished or failed."
    )
    images = serializers.IntegerField(help_text="The images the relink verifies.")
    dry_run = serializers.BooleanField()
    message = serializers.CharField(help_text="How to follow the request, in words.")


def relink_queued_body(request, rq_id: str, images: int, limit: int, dry_run: bool) -> dict:
    return RelinkQueuedSerializer(
        {
            "rq_id": rq_id,
            "request_url": request.build_absolute_uri(f"/api/requests/{rq_id}"),
            "images": images,
            "dry_run": dry_run,
            "message": MSG_QUEUED.format(
                images=images,
                limit=limit,
                rq_id=rq_id,
                dry_run=" (a dry run: nothing is saved)" if dry_run else "",
            ),
        }
    ).data
