"""The ``{url, count…}`` summaries nested in CVAT's read models."""

from __future__ import annotations

from rest_framework import serializers

from cvat_lite.api.serializers.fields import UrlField, absolute_url
from cvat_lite.engine.models import Job, Project, Task


class LabelsSummarySerializer(serializers.Serializer):
    """``labels: {url}``: where to list the labels of a task, project or job."""

    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        key = {Task: "task_id", Project: "project_id", Job: "job_id"}[type(obj)]
        return absolute_url(self.context, f"/api/labels?{key}={obj.id}")


class JobsSummarySerializer(serializers.Serializer):
    """``jobs: {count, completed, validation, url}`` of a task (counts are annotations of the
    task queryset, see ``cvat_lite.api.tasks.task_queryset``)."""

    count = serializers.IntegerField(source="jobs_count")
    completed = serializers.IntegerField(source="jobs_completed", allow_null=True)
    validation = serializers.IntegerField(source="jobs_validation", allow_null=True)
    url = UrlField("/api/jobs?task_id={obj.id}")


class TasksSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(source="tasks_count")
    url = UrlField("/api/tasks?project_id={obj.id}")


class IssuesSummarySerializer(serializers.Serializer):
    """cvat_lite has no issues: always ``{url, count: 0}``."""

    url = UrlField("/api/issues?job_id={obj.id}")
    count = serializers.SerializerMethodField()

    def get_count(self, obj) -> int:
        return 0
