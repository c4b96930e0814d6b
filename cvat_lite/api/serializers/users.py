from __future__ import annotations

from cvat_lite.api.auth import BasicUserSerializer
from cvat_lite.api.serializers.fields import UrlField


class OwnerSerializer(BasicUserSerializer):
    """CVAT's ``BasicUser`` with its ``url``: the owner of a task or project."""

    url = UrlField("/api/users/{obj.id}")
