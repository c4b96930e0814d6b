"""CVAT's ``LabeledData`` shape, for the OpenAPI description only: the annotation services
validate documents themselves (backups feed them too), see
``cvat_lite.engine.services.annotations.schema``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cvat_lite.engine.services.annotations.schema import SHAPE_TYPES


class AttributeValSerializer(serializers.Serializer):
    spec_id = serializers.IntegerField()
    value = serializers.CharField(max_length=4096, allow_blank=True)


@extend_schema_field(
    {"type": "string", "description": "The shape type: " + " | ".join(sorted(SHAPE_TYPES))}
)
class ShapeTypeField(serializers.ChoiceField):
    """A shape type. Described without ``enum``: drf-spectacular would name it after the field,
    ``type``, which the label type enum already uses."""

    def __init__(self, **kwargs):
        super().__init__(sorted(SHAPE_TYPES), **kwargs)


class _Object(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True)
    frame = serializers.IntegerField(min_value=0)
    label_id = serializers.IntegerField(min_value=0)
    group = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    source = serializers.CharField(required=False, default="manual")
    attributes = AttributeValSerializer(many=True, required=False)


class _Geometry(serializers.Serializer):
    type = ShapeTypeField()
    occluded = serializers.BooleanField(required=False, default=False)
    outside = serializers.BooleanField(required=False, default=False)
    z_order = serializers.IntegerField(required=False, default=0)
    rotation = serializers.FloatField(min_value=0, max_value=360, required=False, default=0.0)
    points = serializers.ListField(child=serializers.FloatField(), required=False)


class LabeledImageSerializer(_Object):
    pass


class SubLabeledShapeSerializer(_Object, _Geometry):
    score = serializers.FloatField(min_value=0, max_value=1, required=False)


class LabeledShapeSerializer(SubLabeledShapeSerializer):
    elements = SubLabeledShapeSerializer(many=True, required=False)


class TrackedShapeSerializer(_Geometry):
    id = serializers.IntegerField(required=False, allow_null=True)
    frame = serializers.IntegerField(min_value=0)
    attributes = AttributeValSerializer(many=True, required=False)


class SubLabeledTrackSerializer(_Object):
    shapes = TrackedShapeSerializer(many=True)


class LabeledTrackSerializer(SubLabeledTrackSerializer):
    elements = SubLabeledTrackSerializer(many=True, required=False)


class LabeledDataSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False)
    tags = LabeledImageSerializer(many=True, required=False)
    shapes = LabeledShapeSerializer(many=True, required=False)
    tracks = LabeledTrackSerializer(many=True, required=False)
