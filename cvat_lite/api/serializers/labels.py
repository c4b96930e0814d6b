"""CVAT's ``Label`` / ``Attribute`` read models and their nested write shape."""

from __future__ import annotations

from rest_framework import serializers

from cvat_lite.engine.choices import choices_of
from cvat_lite.engine.models import InputType, LabelType


class AttributeSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=64)
    mutable = serializers.BooleanField()
    input_type = serializers.ChoiceField(choices_of(InputType))
    default_value = serializers.CharField(max_length=128, required=False, allow_blank=True)
    values = serializers.ListField(child=serializers.CharField(allow_blank=True, max_length=200))
    deleted = serializers.BooleanField(write_only=True, required=False)


class SublabelSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=64, required=False)
    color = serializers.CharField(max_length=8, required=False, allow_blank=True)
    attributes = AttributeSerializer(many=True, required=False)
    type = serializers.ChoiceField(choices_of(LabelType), required=False)
    has_parent = serializers.SerializerMethodField()
    deleted = serializers.BooleanField(write_only=True, required=False)

    def get_has_parent(self, label) -> bool:
        return True


class LabelSerializer(serializers.Serializer):
    """A label as read (``GET /api/labels``) and as written nested in a task or project
    (``id`` to update, ``deleted: true`` to delete, no ``id`` to create)."""

    id = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=64, required=False)
    color = serializers.CharField(max_length=8, required=False, allow_blank=True)
    attributes = AttributeSerializer(many=True, required=False)
    type = serializers.ChoiceField(choices_of(LabelType), required=False)
    svg = serializers.CharField(required=False, allow_blank=True)
    sublabels = SublabelSerializer(many=True, required=False)
    project_id = serializers.IntegerField(read_only=True, allow_null=True)
    task_id = serializers.IntegerField(read_only=True, allow_null=True)
    parent_id = serializers.IntegerField(read_only=True, allow_null=True)
    has_parent = serializers.SerializerMethodField()
    deleted = serializers.BooleanField(write_only=True, required=False)

    def get_has_parent(self, label) -> bool:
        return label.parent_id is not None


def label_queryset_prefetch(queryset):
    return queryset.prefetch_related("attributes", "sublabels__attributes")
