"""The upload helpers document themselves: no drf-spectacular warnings, a valid schema."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from tests.uploads import urls


@pytest.fixture(scope="module")
def schema() -> dict:
    GENERATOR_STATS.reset()
    generated = SchemaGenerator(patterns=[urls.upload_routes[0]]).get_schema(public=True)
    assert not GENERATOR_STATS, "drf-spectacular emitted warnings for the upload views"
    validate_schema(generated)
    return generated


def test_endpoint_post_documents_every_form(schema):
    post = schema["paths"]["/api/tasks/backup/"]["post"]
    assert post["operationId"] == "tasks_create_backup"
    names = {(p["in"], p["name"]) for p in post["parameters"]}
    assert {("query", "filename"), ("query", "location"), ("query", "cloud_storage_id")} <= names
    assert {
        ("header", h) for h in ("Upload-Start", "Upload-Finish", "Tus-Resumable", "Upload-Length")
    } <= names
    body = post["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    assert body == "#/components/schemas/TaskFileUploadRequest"
    assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/RqId"
    )
    assert set(post["responses"]["201"]["headers"]) == {"Location", "Upload-Filename"}
    assert {"400", "401", "404", "413"} <= set(post["responses"])


def test_chunk_patch_is_documented(schema):
    [path] = [p for p in schema["paths"] if p.startswith("/api/tasks/backup/{")]
    patch = schema["paths"][path]["patch"]
    assert "application/offset+octet-stream" in patch["requestBody"]["content"]
    assert "Upload-Offset" in patch["responses"]["204"]["headers"]
    assert "Upload-Offset" in patch["responses"]["409"]["headers"]
    assert {"404", "409", "413"} <= set(patch["responses"])
