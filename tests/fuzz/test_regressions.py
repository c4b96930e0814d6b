"""Plain, deterministic tests for each 5xx (and each answer that broke contract 8) the schemathesis
run found. Each names what it used to do; all run on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token

from cvat_lite.api.parsers import MSG_TOO_DEEP, MSG_UNSTORABLE_VALUE
from cvat_lite.engine.models import CloudStorage, Job, JobAnnotations, Task
from tests.engine.factories import make_task

UNSTORABLE = {"code": "unstorable_value", "message": MSG_UNSTORABLE_VALUE, "extra": {}}
NOT_FOUND = {"code": "not_found", "message": "Not found.", "extra": {}}


@pytest.fixture
def task(user) -> Task:
    return make_task(user, size=4)


@pytest.fixture
def job(task) -> Job:
    return Job.objects.filter(segment__task=task).first()


def _saved_annotations() -> int:
    """Tags, shapes and tracks stored in all jobs."""
    return sum(
        len(row.tags) + len(row.shapes) + len(row.tracks) for row in JobAnnotations.objects.all()
    )


def _post_json(api, url: str, text: str, method: str = "POST"):
    return api.generic(method, url, text, content_type="application/json")


def _tag(job: Job, **fields) -> dict:
    car = job.segment.task.labels.get(name="car")
    color = car.attributes.get(name="color")
    tag = {"frame": 0, "label_id": car.id, "attributes": [{"spec_id": color.id, "value": "red"}]}
    return {"version": 0, "tags": [{**tag, **fields}], "shapes": [], "tracks": []}


# --- NUL characters and unpaired surrogates ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/cloudstorages?resource=%00",  # PostgreSQL: 500 (DataError in the filter)
        "/api/tasks?name=a%00b",
        "/api/jobs?task_name=%00&page=1",
        "/api/tasks/{task}/backup/download?rq_id=nul%00inside",  # PostgreSQL: 500
        "/api/labels?name=%00",
        "/api/auth/access_tokens?page_size=1%00",
    ],
)
def test_a_nul_character_in_the_query_string_is_refused(api, task, url):
    response = api.get(url.format(task=task.id))
    assert response.status_code == 400
    assert response.json() == UNSTORABLE


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/requests/%00",  # PostgreSQL: 500 (DataError in the lookup)
        "/api/requests/x%00y/cancel",
        "/api/tasks/backup/%00",
    ],
)
def test_a_nul_character_in_the_path_names_nothing(api, url):
    response = api.get(url) if "cancel" not in url else api.post(url)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["a\\u0000b", "\\ud800", "x\\udfffy"])
def test_an_annotation_attribute_value_the_database_cannot_store_is_refused(api, job, value):
    """The values of annotation attributes reach the database unchecked by any field: NUL was a
    PostgreSQL DataError (500), an unpaired surrogate an encoding error on both databases."""
    body = json.dumps(_tag(job)).replace('"value": "red"', f'"value": "{value}"')
    response = _post_json(api, f"/api/jobs/{job.id}/annotations", body, method="PUT")
    assert response.status_code == 400
    assert response.json() == UNSTORABLE
    assert _saved_annotations() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["a\\u0000", "\\ud800"])
def test_an_unstorable_object_key_is_refused_too(api, job, key):
    body = json.dumps(_tag(job)).replace('"frame"', f'"{key}": 1, "frame"')
    response = _post_json(api, f"/api/jobs/{job.id}/annotations", body, method="PUT")
    assert response.status_code == 400
    assert _saved_annotations() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["form", "multipart"])
def test_a_nul_character_in_a_form_field_is_refused(api, fmt):
    if fmt == "form":
        response = api.post(
            "/api/tasks",
            "name=a%00b&labels=x",
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = api.post("/api/tasks", {"name": "a\x00b"}, format="multipart")
    assert response.status_code == 400
    assert response.json() == UNSTORABLE
    assert not Task.objects.exists()


# --- integers --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_in_a_json_body_is_refused(api, job):
    """SQLite's driver raised OverflowError (500); PostgreSQL refused it as out of range."""
    body = json.dumps(_tag(job, group=10**20))
    response = _post_json(api, f"/api/jobs/{job.id}/annotations", body, method="PUT")
    assert response.status_code == 400
    assert response.json() == UNSTORABLE
    assert _saved_annotations() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["segment_size", "overlap"])
@pytest.mark.parametrize("value", [2**31, 10**20])
def test_segment_size_and_overlap_stay_in_their_columns_range(api, field, value):
    """SQLite: 500 past 64 bits (OverflowError); PostgreSQL: DataError past 32 bits. A form
    body carries the number as text, past the JSON check."""
    response = api.post(
        "/api/tasks",
        f"name=t&{field}={value}&labels=",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_an_integer_at_the_64_bit_limit_is_not_refused_by_the_parser(api, job):
    body = json.dumps(_tag(job, group=2**63 - 1))
    response = _post_json(api, f"/api/jobs/{job.id}/annotations", body, method="PUT")
    assert response.status_code == 200, response.content
    assert _saved_annotations() == 1


# --- malformed JSON ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/tasks", "/api/tasks/{task}/annotations"])
def test_json_nested_too_deeply_is_a_parse_error(api, task, url):
    """json raised RecursionError past ~1000 levels: 500."""
    method = "PUT" if "annotations" in url else "POST"
    response = _post_json(api, url.format(task=task.id), "[" * 100_000 + "]" * 100_000, method)
    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": MSG_TOO_DEEP, "extra": {}}
    assert Task.objects.count() == 1
    assert _saved_annotations() == 0


# --- contract 8: one JSON error body everywhere ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/tasks/abc", "/api/projects/1x/backup", "/api/nothing"])
def test_a_path_no_route_matches_answers_the_json_404_body(api, url):
    """Django's HTML 404 page answered these."""
    response = api.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


@pytest.mark.django_db
def test_a_page_past_the_last_is_a_json_404(api, task):
    response = api.get("/api/tasks?page=999999")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_the_requests_list_is_paginated_as_the_schema_says(api):
    body = api.get("/api/requests").json()
    assert set(body) == {"count", "next", "previous", "results"}


@pytest.mark.django_db
def test_logout_with_a_token_that_is_gone_is_401(client, user):
    """Documented now: a logout after a logout (the token is deleted) is 401, not 200/403."""
    token = Token.objects.create(user=user).key
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.post("/api/auth/logout", **auth).status_code == 200
    response = client.post("/api/auth/logout", **auth)
    assert response.status_code == 401


# --- cloud storages ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("resource", ["\u00d7\x189", "-starts-with-a-dash", "ends-with-a-dot."])
def test_a_gcs_bucket_name_the_client_refuses_is_a_storage_not_found(api, settings, resource):
    """google-cloud-storage raises ValueError for such names before any request: 500."""
    settings.CLOUD_ENDPOINT_ALLOWLIST = ["127.0.0.1:*"]
    body = {
        "provider_type": "GOOGLE_CLOUD_STORAGE",
        "credentials_type": "ANONYMOUS_ACCESS",
        "resource": resource,
        "display_name": "gcs",
        # Nothing listens there: a request, if one were made, would fail at once.
        "specific_attributes": "endpoint_url=http://127.0.0.1:9&project=p",
    }
    response = api.post("/api/cloudstorages", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["message"] == "The cloud storage resource was not found."
    assert not CloudStorage.objects.exists()
