from __future__ import annotations

from rest_framework import serializers

from cvat_lite.engine.choices import Location, values_of

LOCATIONS = values_of(Location)


class StorageSerializer(serializers.Serializer):
    """``{location, cloud_storage_id}``: where a task's or project's imports come from and
    exports go by default (CVAT's ``Storage``)."""

    location = serializers.ChoiceField(LOCATIONS, required=False)
    cloud_storage_id = serializers.IntegerField(required=False, allow_null=True)
