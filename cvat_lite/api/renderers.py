from rest_framework.renderers import JSONRenderer


class CvatJSONRenderer(JSONRenderer):
    """CVAT's clients ask for ``Accept: application/vnd.cvat+json``; the body is plain JSON."""

    media_type = "application/vnd.cvat+json"
