"""contract 4.1 / 4.4: the cloud storages API against the real emulators."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
from cvat_sdk.api_client.model.cloud_storage_content import CloudStorageContent
from cvat_sdk.api_client.model.cloud_storage_read import CloudStorageRead
from cvat_sdk.api_client.model.file_info import FileInfo

from cvat_lite.cloud.base import StorageConfig
from cvat_lite.engine.models import CloudStorage, Data, Task
from cvat_lite.engine.services import cloud_storages as services
from tests.fixtures.emulators import (
    AZURITE_ACCOUNT,
    EmulatedBucket,
    Emulator,
    free_port,
    unique_name,
)

pytestmark = pytest.mark.django_db

URL = "/api/cloudstorages"
READ_KEYS = set(CloudStorageRead.attribute_map.values())
CREDENTIAL_KEYS = {
    "key",
    "secret_key",
    "session_token",
    "account_name",
    "connection_string",
    "key_file",
    "key_file_path",
    "credentials",
}
S3_KEY, S3_SECRET = "AKIAS3CRETKEY0000042", "s3cr3t/Value+DoNotLeak-0042"

MANIFEST = b"\n".join(
    json.dumps(line).encode()
    for line in [
        {"version": "1.1"},
        {"type": "images"},
        {"name": "img1", "extension": ".jpg", "width": 4, "height": 3},
        {"name": "img10", "extension": ".jpg", "width": 4, "height": 3},
        {"name": "img2", "extension": ".jpg", "width": 4, "height": 3},
        {"name": "sub/x", "extension": ".png", "width": 4, "height": 3},
    ]
)


# --- helpers -----------------------------------------------------------------------------------


def _with_secrets(emulator: Emulator, config: StorageConfig) -> StorageConfig:
    """The S3 emulator checks no credentials: give it recognisable ones to look for."""
    if emulator.name == "s3":
        creds = dataclasses.replace(config.credentials, key=S3_KEY, secret_key=S3_SECRET)
        return dataclasses.replace(config, credentials=creds)
    return config


def _secrets(config: StorageConfig) -> list[str]:
    creds = config.credentials
    found = [v for v in (creds.key, creds.secret_key, creds.connection_string) if v]
    if creds.connection_string:
        found += [
            part.split("=", 1)[1]
            for part in creds.connection_string.split(";")
            if part.startswith("AccountKey=")
        ]
    return found


def _payload(config: StorageConfig, **overrides) -> dict:
    creds = {k: v for k, v in dataclasses.asdict(config.credentials).items() if v}
    payload = {
        "provider_type": str(config.provider_type),
        "resource": config.resource,
        "display_name": "My storage",
        "description": "media",
        "credentials_type": str(config.credentials_type),
        "specific_attributes": "&".join(f"{k}={v}" for k, v in config.attributes.items()),
        **creds,
    }
    payload.update(overrides)
    return payload


def _endpoint_config(emulator: Emulator, port: int, resource: str) -> StorageConfig:
    url = f"http://127.0.0.1:{port}"
    if emulator.name == "azure":
        url += f"/{AZURITE_ACCOUNT}"
    return emulator.config_at(url, resource)


def _delete_bucket(emulator: Emulator, config: StorageConfig) -> None:
    if emulator.name == "s3":
        emulator.client().delete_bucket(Bucket=config.resource)
    elif emulator.name == "azure":
        emulator.service().delete_container(config.resource)
    else:
        emulator.client().bucket(config.resource).delete()


def _create(api, config: StorageConfig, **overrides) -> dict:
    response = api.post(URL, _payload(config, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _assert_refused(response, code: str, message: str | None = None) -> dict:
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == code
    if message is not None:
        assert body["message"] == message
    assert CloudStorage.objects.count() == 0
    assert not list(services.key_files_dir().glob("*"))
    return body


def _assert_no_secrets(texts, secrets) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # the users of conftest.py are created with a password: PBKDF2 costs ~0.6 s per user
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def bucket(cloud_bucket: EmulatedBucket) -> EmulatedBucket:
    cloud_bucket.config = _with_secrets(cloud_bucket.emulator, cloud_bucket.config)
    return cloud_bucket


@pytest.fixture
def silent_port() -> Iterator[tuple[int, socket.socket]]:
    """A listening socket: the test checks afterwards that nobody connected to it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener.getsockname()[1], listener


def _connections(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


# --- create --------------------------------------------------------------------------------------


def test_create_available_never_returns_credentials(api, bucket: EmulatedBucket, caplog):
    caplog.set_level(logging.DEBUG, logger="cvat_lite")
    secrets = _secrets(bucket.config)
    created = api.post(URL, _payload(bucket.config), format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == READ_KEYS
    assert not CREDENTIAL_KEYS & set(body)
    assert body["provider_type"] == bucket.config.provider_type
    assert body["resource"] == bucket.config.resource
    assert body["owner"]["username"] == "alice"
    assert body["organization"] is None
    assert body["manifests"] == []
    storage = CloudStorage.objects.get(pk=body["id"])
    # stored as separate keys, exactly the ones the type uses
    expected = {k: v for k, v in dataclasses.asdict(bucket.config.credentials).items() if v}
    assert storage.credentials == expected

    texts = [created.content.decode()]
    for path in (URL, f"{URL}/{body['id']}", f"{URL}/{body['id']}/status"):
        response = api.get(path)
        assert response.status_code == 200
        texts.append(response.content.decode())
    texts += [caplog.text, repr(storage)]
    _assert_no_secrets(texts, secrets)


def test_create_missing_bucket_is_refused(api, cloud_emulator: Emulator):
    response = api.post(URL, _payload(cloud_emulator.config(unique_name("gone"))), format="json")

    body = _assert_refused(
        response, "cloud_storage_not_available", "The cloud storage resource was not found."
    )
    assert body["extra"] == {"status": "NOT_FOUND"}


@pytest.mark.parametrize("cloud_emulator", ["s3", "azure"], indirect=True)
def test_create_wrong_credentials_is_forbidden(api, cloud_emulator: Emulator, caplog):
    caplog.set_level(logging.DEBUG, logger="cvat_lite")
    config = cloud_emulator.forbidden_config(cloud_emulator.create_bucket().resource)
    response = api.post(URL, _payload(config), format="json")

    body = _assert_refused(
        response, "cloud_storage_not_available", "Access to the cloud storage is forbidden."
    )
    assert body["extra"] == {"status": "FORBIDDEN"}
    _assert_no_secrets([response.content.decode(), caplog.text], _secrets(config))


def test_create_unreachable_endpoint_fails_fast(api, cloud_emulator: Emulator):
    config = _endpoint_config(cloud_emulator, free_port(), unique_name())
    started = time.monotonic()
    response = api.post(URL, _payload(config), format="json")

    assert time.monotonic() - started < 5
    body = _assert_refused(
        response, "cloud_storage_not_available", "The cloud storage endpoint cannot be reached."
    )
    assert body["extra"] == {"status": "NOT_FOUND"}


def test_create_endpoint_outside_allowlist_makes_no_connection(
    api, cloud_emulator: Emulator, settings, silent_port
):
    port, listener = silent_port
    settings.CLOUD_ENDPOINT_ALLOWLIST = ["127.0.0.1:1"]
    response = api.post(URL, _payload(_endpoint_config(cloud_emulator, port, "b1")), format="json")

    _assert_refused(
        response,
        "endpoint_not_allowed",
        f"The cloud storage endpoint '127.0.0.1:{port}' is not in the allowed list.",
    )
    assert _connections(listener) == 0


def test_allowlist_is_read_at_call_time(api, s3_emulator, settings):
    config = s3_emulator.create_bucket()
    settings.CLOUD_ENDPOINT_ALLOWLIST = []
    _assert_refused(api.post(URL, _payload(config), format="json"), "endpoint_not_allowed")
    settings.CLOUD_ENDPOINT_ALLOWLIST = ["127.0.0.1:*"]
    assert api.post(URL, _payload(config), format="json").status_code == 201


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        (
            "color=blue",
            "Unknown specific attribute 'color'. Allowed: endpoint_url, location, prefix, "
            "project, region.",
        ),
        ("region", "specific_attributes must look like 'key=value&key=value'."),
        ("region=a&region=b", "The specific attribute 'region' is given more than once."),
    ],
)
def test_create_bad_specific_attributes(api, s3_emulator, attributes, message, silent_port):
    port, listener = silent_port
    config = s3_emulator.config_at(f"http://127.0.0.1:{port}", "b1")
    response = api.post(
        URL,
        _payload(config, specific_attributes=f"endpoint_url=http://127.0.0.1:{port}&{attributes}"),
        format="json",
    )

    _assert_refused(response, "invalid", message)
    assert _connections(listener) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"credentials_type": "CONNECTION_STRING", "connection_string": "a=b"},
            "AWS_S3_BUCKET does not support credentials type CONNECTION_STRING.",
        ),
        ({"secret_key": ""}, "Credentials of type KEY_SECRET_KEY_PAIR require 'secret_key'."),
    ],
)
def test_create_bad_credentials_are_refused(api, s3_bucket, overrides, message):
    _assert_refused(
        api.post(URL, _payload(s3_bucket, **overrides), format="json"), "invalid", message
    )


def test_create_bad_fields_are_refused(api, s3_bucket):
    response = api.post(URL, _payload(s3_bucket, provider_type="FTP"), format="json")
    body = _assert_refused(response, "invalid")
    assert "provider_type" in body["extra"]["fields"]
    response = api.post(URL, _payload(s3_bucket, key="K" * 41), format="json")
    assert "key" in _assert_refused(response, "invalid")["extra"]["fields"]


def test_create_with_manifests(api, bucket: EmulatedBucket):
    bucket.put("set1/manifest.jsonl", MANIFEST)
    body = _create(api, bucket.config, manifests=["set1/manifest.jsonl"])
    assert body["manifests"] == ["set1/manifest.jsonl"]


def test_create_with_missing_manifest_is_refused(api, bucket: EmulatedBucket):
    bucket.put("set1/manifest.jsonl", MANIFEST)
    payload = _payload(bucket.config, manifests=["set1/manifest.jsonl", "set2/manifest.jsonl"])
    body = _assert_refused(
        api.post(URL, payload, format="json"),
        "manifest_not_found",
        "The manifest 'set2/manifest.jsonl' was not found in the cloud storage.",
    )
    assert body["extra"] == {"key": "set2/manifest.jsonl"}


def test_create_with_bad_manifest_path_is_refused(api, s3_bucket):
    response = api.post(URL, _payload(s3_bucket, manifests=["../manifest.jsonl"]), format="json")
    _assert_refused(response, "invalid_path")


def test_create_multipart(api, s3_bucket):
    payload = _payload(s3_bucket, manifests=[])
    del payload["manifests"]
    response = api.post(URL, payload, format="multipart")
    assert response.status_code == 201, response.json()
    assert CloudStorage.objects.get().credentials["key"] == s3_bucket.credentials.key


# --- key files (GCS) ------------------------------------------------------------------------------


def _gcs_key_file_payload(config: StorageConfig, content: bytes) -> dict:
    import io

    payload = _payload(config, credentials_type="KEY_FILE_PATH")
    payload["key_file"] = io.BytesIO(content)
    payload["key_file"].name = "key.json"
    return payload


def test_key_file_must_be_json(api, gcs_bucket):
    response = api.post(URL, _gcs_key_file_payload(gcs_bucket, b"not json"), format="multipart")
    _assert_refused(
        response,
        "invalid_key_file",
        "The key file must be a JSON service-account key file of at most 65536 bytes.",
    )


def test_key_file_naming_other_hosts_is_refused_and_removed(api, gcs_bucket):
    secret = "-----BEGIN PRIVATE KEY-----secret-----END PRIVATE KEY-----"
    key = {
        "type": "service_account",
        "token_uri": "http://127.0.0.1:1/token",
        "private_key": secret,
    }
    response = api.post(
        URL, _gcs_key_file_payload(gcs_bucket, json.dumps(key).encode()), format="multipart"
    )
    _assert_refused(response, "cloud_storage_not_available")
    assert secret not in response.content.decode()


def test_key_file_is_required_for_key_file_credentials(api, gcs_bucket):
    response = api.post(URL, _payload(gcs_bucket, credentials_type="KEY_FILE_PATH"), format="json")
    _assert_refused(
        response,
        "invalid",
        "Credentials of type KEY_FILE_PATH require a 'key_file' upload.",
    )


def _storage_with_key_file(user, key_dir) -> CloudStorage:
    key_dir.mkdir(parents=True, exist_ok=True)
    storage = CloudStorage.objects.create(
        owner=user,
        provider_type="GOOGLE_CLOUD_STORAGE",
        resource="b",
        display_name="gcs",
        credentials_type="KEY_FILE_PATH",
    )
    path = key_dir / f"{storage.pk}.json"
    path.write_text("{}")
    storage.credentials = {"key_file_path": str(path)}
    storage.save()
    return storage


def test_delete_removes_key_file(api, user):
    storage = _storage_with_key_file(user, services.key_files_dir())
    assert api.delete(f"{URL}/{storage.pk}").status_code == 204
    assert not list(services.key_files_dir().glob("*"))


def test_changing_credentials_type_removes_key_file(api, user, gcs_emulator):
    storage = _storage_with_key_file(user, services.key_files_dir())
    config = gcs_emulator.create_bucket()
    response = api.patch(
        f"{URL}/{storage.pk}",
        _payload(config, display_name="gcs"),
        format="json",
    )
    assert response.status_code == 200, response.json()
    storage.refresh_from_db()
    assert storage.credentials_type == "ANONYMOUS_ACCESS"
    assert storage.credentials == {}
    assert not list(services.key_files_dir().glob("*"))


# --- status ------------------------------------------------------------------------------------


def test_status_available_then_not_found(api, bucket: EmulatedBucket):
    storage_id = _create(api, bucket.config)["id"]
    response = api.get(f"{URL}/{storage_id}/status")
    assert response.status_code == 200
    assert response.content == b'"AVAILABLE"'

    _delete_bucket(bucket.emulator, bucket.config)
    assert api.get(f"{URL}/{storage_id}/status/").json() == "NOT_FOUND"


def _row(user, config: StorageConfig) -> CloudStorage:
    """A storage saved directly (the API would refuse these configurations)."""
    creds = {k: v for k, v in dataclasses.asdict(config.credentials).items() if v}
    return CloudStorage.objects.create(
        owner=user,
        provider_type=config.provider_type,
        resource=config.resource,
        display_name="row",
        credentials_type=config.credentials_type,
        credentials=creds,
        specific_attributes="&".join(f"{k}={v}" for k, v in config.attributes.items()),
    )


@pytest.mark.parametrize("cloud_emulator", ["s3", "azure"], indirect=True)
def test_status_forbidden(api, user, cloud_emulator: Emulator, caplog):
    config = cloud_emulator.forbidden_config(cloud_emulator.create_bucket().resource)
    storage = _row(user, config)
    response = api.get(f"{URL}/{storage.pk}/status")
    assert response.json() == "FORBIDDEN"
    _assert_no_secrets([caplog.text], _secrets(config))


def test_status_unreachable_is_not_found_and_logged(api, user, cloud_emulator: Emulator, caplog):
    storage = _row(user, _endpoint_config(cloud_emulator, free_port(), unique_name()))
    caplog.set_level(logging.WARNING, logger="cvat_lite")
    started = time.monotonic()
    response = api.get(f"{URL}/{storage.pk}/status")
    assert time.monotonic() - started < 5
    assert response.json() == "NOT_FOUND"
    assert "unreachable" in caplog.text


# --- content-v2 ----------------------------------------------------------------------------------

TREE = ["a.jpg", "b.png", "manifest.jsonl", "dir1/c.jpg", "dir1/sub/d.jpg", "dir2/e.mp4"]


def _content(api, storage_id: int, **params) -> dict:
    response = api.get(f"{URL}/{storage_id}/content-v2", params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == set(CloudStorageContent.attribute_map.values())
    for item in body["content"]:
        assert set(item) == set(FileInfo.attribute_map.values())
    return body


def _names(body: dict) -> list[tuple[str, str, str]]:
    return [(i["name"], i["type"], i["mime_type"]) for i in body["content"]]


@pytest.fixture
def tree_storage(api, bucket: EmulatedBucket) -> int:
    for key in TREE:
        bucket.put(key, b"x")
    return _create(api, bucket.config)["id"]


def test_content_lists_one_level(api, tree_storage):
    assert _names(_content(api, tree_storage)) == [
        ("dir1", "DIR", "DIR"),
        ("dir2", "DIR", "DIR"),
        ("a.jpg", "REG", "image"),
        ("b.png", "REG", "image"),
        ("manifest.jsonl", "REG", "unknown"),
    ]
    body = _content(api, tree_storage, prefix="dir1/")
    assert _names(body) == [("sub", "DIR", "DIR"), ("c.jpg", "REG", "image")]
    assert body["next"] is None
    assert _names(_content(api, tree_storage, prefix="/dir2/")) == [("e.mp4", "REG", "video")]
    assert _names(_content(api, tree_storage, prefix="dir1/s")) == [("sub", "DIR", "DIR")]
    assert _content(api, tree_storage, prefix="nothing/")["content"] == []


def test_content_pages(api, tree_storage, bucket: EmulatedBucket):
    if not bucket.emulator.paginates:
        # gcp-storage-emulator ignores page sizes: the whole folder comes in one page.
        body = _content(api, tree_storage, page_size=500)
        assert body["next"] is None
        assert sorted(i["name"] for i in body["content"]) == [
            "a.jpg", "b.png", "dir1", "dir2", "manifest.jsonl",
        ]  # fmt: skip
        return
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"page_size": 2, **({"next_token": token} if token else {})}
        body = _content(api, tree_storage, **params)
        assert len(body["content"]) <= 2
        seen += [item["name"] for item in body["content"]]
        pages += 1
        token = body["next"]
        if not token:
            break
    assert pages >= 3
    assert sorted(seen) == ["a.jpg", "b.png", "dir1", "dir2", "manifest.jsonl"]


@pytest.mark.parametrize("page_size", ["501", "0", "x"])
def test_content_page_size_is_limited(api, user, page_size):
    storage = CloudStorage.objects.create(
        owner=user,
        provider_type="AWS_S3_BUCKET",
        resource="b",
        display_name="s",
        credentials_type="ANONYMOUS_ACCESS",
    )
    response = api.get(f"{URL}/{storage.pk}/content-v2", {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()["extra"]["fields"]


def test_content_from_manifest(api, bucket: EmulatedBucket):
    bucket.put("set1/manifest.jsonl", MANIFEST)  # no media in the bucket: only the manifest
    storage_id = _create(api, bucket.config)["id"]
    manifest = {"manifest_path": "set1/manifest.jsonl"}

    assert _names(_content(api, storage_id, **manifest)) == [("set1", "DIR", "DIR")]
    first = _content(api, storage_id, prefix="set1/", page_size=2, **manifest)
    assert _names(first) == [("sub", "DIR", "DIR"), ("img1.jpg", "REG", "image")]
    assert first["next"] == "2"
    second = _content(api, storage_id, prefix="set1/", next_token="2", page_size=2, **manifest)
    assert _names(second) == [("img2.jpg", "REG", "image"), ("img10.jpg", "REG", "image")]
    assert second["next"] is None
    assert _names(_content(api, storage_id, prefix="set1/sub/", **manifest)) == [
        ("x.png", "REG", "image")
    ]


def test_content_from_missing_manifest_is_404(api, s3_bucket):
    storage_id = _create(api, s3_bucket)["id"]
    response = api.get(f"{URL}/{storage_id}/content-v2", {"manifest_path": "none.jsonl"})
    assert response.status_code == 404
    assert response.json()["code"] == "cloud_object_not_found"
    assert (
        response.json()["message"] == "The object 'none.jsonl' was not found in the cloud storage."
    )


def test_content_respects_the_storage_prefix(api, s3_emulator):
    config = s3_emulator.create_bucket()
    for key in TREE:
        s3_emulator.put(config, key, b"x")
    storage_id = _create(
        api, config, specific_attributes=f"endpoint_url={s3_emulator.endpoint_url}&prefix=dir1/"
    )["id"]

    assert _names(_content(api, storage_id)) == [("dir1", "DIR", "DIR")]
    assert _names(_content(api, storage_id, prefix="dir1/")) == [
        ("sub", "DIR", "DIR"),
        ("c.jpg", "REG", "image"),
    ]
    assert _content(api, storage_id, prefix="dir2/")["content"] == []


def test_content_of_deleted_bucket_is_409(api, bucket: EmulatedBucket):
    storage_id = _create(api, bucket.config)["id"]
    _delete_bucket(bucket.emulator, bucket.config)
    response = api.get(f"{URL}/{storage_id}/content-v2")
    assert response.status_code == 409
    assert response.json()["message"] == "The cloud storage resource was not found."


# --- update ------------------------------------------------------------------------------------


def test_patch_description_makes_no_connection(api, s3_bucket, settings):
    storage_id = _create(api, s3_bucket)["id"]
    settings.CLOUD_ENDPOINT_ALLOWLIST = ["127.0.0.1:1"]  # any check would now be refused
    response = api.patch(f"{URL}/{storage_id}", {"display_name": "renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["display_name"] == "renamed"


@pytest.mark.parametrize("cloud_emulator", ["s3", "azure"], indirect=True)
def test_patch_credentials_are_rechecked(api, cloud_emulator: Emulator, caplog):
    config = cloud_emulator.create_bucket()
    storage_id = _create(api, config)["id"]
    before = CloudStorage.objects.get(pk=storage_id).credentials
    wrong = cloud_emulator.forbidden_config(config.resource)
    patch = _payload(wrong)
    for name in ("provider_type", "resource", "display_name", "description", "credentials_type"):
        del patch[name]

    response = api.patch(f"{URL}/{storage_id}", patch, format="json")

    assert response.status_code == 400
    assert response.json()["extra"] == {"status": "FORBIDDEN"}
    storage = CloudStorage.objects.get(pk=storage_id)
    assert storage.credentials == before
    assert storage.specific_attributes == _payload(config)["specific_attributes"]
    _assert_no_secrets([response.content.decode(), caplog.text], _secrets(wrong))


def test_patch_resource_is_rechecked(api, bucket: EmulatedBucket):
    storage_id = _create(api, bucket.config)["id"]
    response = api.patch(f"{URL}/{storage_id}", {"resource": unique_name("gone")}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "cloud_storage_not_available"
    assert CloudStorage.objects.get(pk=storage_id).resource == bucket.config.resource

    other = bucket.emulator.create_bucket().resource
    response = api.patch(f"{URL}/{storage_id}", {"resource": other}, format="json")
    assert response.status_code == 200
    assert CloudStorage.objects.get(pk=storage_id).resource == other


def test_patch_endpoint_outside_allowlist(api, s3_bucket, settings, silent_port):
    port, listener = silent_port
    storage_id = _create(api, s3_bucket)["id"]
    settings.CLOUD_ENDPOINT_ALLOWLIST = [s3_bucket.attributes["endpoint_url"][7:]]
    response = api.patch(
        f"{URL}/{storage_id}",
        {"specific_attributes": f"endpoint_url=http://127.0.0.1:{port}"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "endpoint_not_allowed"
    assert _connections(listener) == 0
    assert (
        CloudStorage.objects.get(pk=storage_id).specific_attributes
        == _payload(s3_bucket)["specific_attributes"]
    )


def test_patch_manifests_are_checked(api, bucket: EmulatedBucket):
    storage_id = _create(api, bucket.config)["id"]
    response = api.patch(f"{URL}/{storage_id}", {"manifests": ["m.jsonl"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "manifest_not_found"
    assert CloudStorage.objects.get(pk=storage_id).manifests == []

    bucket.put("m.jsonl", MANIFEST)
    response = api.patch(f"{URL}/{storage_id}", {"manifests": ["m.jsonl"]}, format="json")
    assert response.status_code == 200
    assert response.json()["manifests"] == ["m.jsonl"]


def test_patch_merges_credentials(api, s3_emulator):
    config = _with_secrets(s3_emulator, s3_emulator.create_bucket())
    storage_id = _create(api, config)["id"]
    response = api.patch(f"{URL}/{storage_id}", {"session_token": "tok"}, format="json")
    assert response.status_code == 200, response.json()
    assert CloudStorage.objects.get(pk=storage_id).credentials == {
        "key": S3_KEY,
        "secret_key": S3_SECRET,
        "session_token": "tok",
    }
    assert "tok" not in response.content.decode()


# --- delete, visibility, list --------------------------------------------------------------------


def _plain_row(owner, **fields) -> CloudStorage:
    defaults = {
        "provider_type": "AWS_S3_BUCKET",
        "resource": "bucket",
        "display_name": "s3",
        "credentials_type": "KEY_SECRET_KEY_PAIR",
        "credentials": {"key": S3_KEY, "secret_key": S3_SECRET},
    }
    return CloudStorage.objects.create(owner=owner, **{**defaults, **fields})


def test_delete_unlinks_task_data(api, user):
    storage = _plain_row(user)
    data = Data.objects.create(storage="cloud_storage", cloud_storage=storage)
    task = Task.objects.create(owner=user, name="t", data=data)

    assert api.delete(f"{URL}/{storage.pk}/").status_code == 204

    assert not CloudStorage.objects.exists()
    data.refresh_from_db()
    assert data.cloud_storage_id is None
    assert data.storage == "cloud_storage"
    assert Task.objects.get(pk=task.pk).data_id == data.pk


def test_other_users_storage_is_404(api, other_api, user):
    storage = _plain_row(user)
    base = f"{URL}/{storage.pk}"
    for response in (
        other_api.get(base),
        other_api.patch(base, {"display_name": "x"}, format="json"),
        other_api.delete(base),
        other_api.get(f"{base}/status"),
        other_api.get(f"{base}/content-v2"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert other_api.get(URL).json()["count"] == 0
    assert CloudStorage.objects.get(pk=storage.pk).display_name == "s3"


def test_superuser_sees_every_storage(admin_api, user, other_user):
    mine, theirs = _plain_row(user), _plain_row(other_user)
    body = admin_api.get(URL).json()
    assert {item["id"] for item in body["results"]} == {mine.pk, theirs.pk}
    assert admin_api.get(f"{URL}/{theirs.pk}").status_code == 200


def test_anonymous_is_401(anon_api):
    assert anon_api.get(URL).status_code == 401


def test_list_is_paginated_and_filtered(api, user, other_user):
    s3 = _plain_row(user, display_name="one")
    azure = _plain_row(
        user,
        provider_type="AZURE_CONTAINER",
        resource="container",
        credentials_type="CONNECTION_STRING",
        credentials={"connection_string": "x"},
    )
    _plain_row(other_user)

    body = api.get(URL, {"page_size": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [azure.pk]
    assert set(body["results"][0]) == READ_KEYS

    def ids(**params):
        return [item["id"] for item in api.get(URL, params).json()["results"]]

    assert ids(provider_type="AWS_S3_BUCKET") == [s3.pk]
    assert ids(credentials_type="CONNECTION_STRING") == [azure.pk]
    assert ids(resource="container") == [azure.pk]
    assert ids(display_name="one") == [s3.pk]
    assert ids(name="one") == [s3.pk]
    assert ids(search="CONTAIN") == [azure.pk]
    response = api.get(URL, {"provider_type": "FTP"})
    assert response.status_code == 400
    assert response.json()["message"] == "Unknown value 'FTP' for the 'provider_type' filter."
    _assert_no_secrets([api.get(URL).content.decode()], [S3_KEY, S3_SECRET])


# --- the official client -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sdk_drives_the_api(live_server, user, s3_emulator):
    from cvat_sdk import make_client
    from cvat_sdk.api_client import models

    from tests.conftest import PASSWORD

    config = s3_emulator.create_bucket()
    s3_emulator.put(config, "dir/img.jpg", b"x")
    s3_emulator.put(config, "m.jsonl", MANIFEST)
    with make_client(live_server.url, credentials=("alice", PASSWORD)) as client:
        api = client.api_client.cloudstorages_api
        created, _ = api.create(
            models.CloudStorageWriteRequest(
                provider_type=models.ProviderTypeEnum("AWS_S3_BUCKET"),
                resource=config.resource,
                display_name="sdk",
                credentials_type=models.CredentialsTypeEnum("KEY_SECRET_KEY_PAIR"),
                key=S3_KEY,
                secret_key=S3_SECRET,
                specific_attributes=f"endpoint_url={s3_emulator.endpoint_url}",
                manifests=["m.jsonl"],
            )
        )
        assert created.manifests == ["m.jsonl"]
        assert api.retrieve(created.id)[0].display_name == "sdk"
        assert [s.id for s in api.list()[0].results] == [created.id]
        assert api.retrieve_status(created.id)[0] == "AVAILABLE"
        content, _ = api.retrieve_content_v2(created.id, prefix="dir/")
        assert [(f.name, str(f.type)) for f in content.content] == [("img.jpg", "REG")]
        listed, _ = api.retrieve_content_v2(created.id, manifest_path="m.jsonl", page_size=1)
        assert (listed.content[0].name, listed.next) == ("sub", "1")
        updated, _ = api.partial_update(
            created.id,
            patched_cloud_storage_write_request=models.PatchedCloudStorageWriteRequest(
                description="changed"
            ),
        )
        assert updated.description == "changed"
        api.destroy(created.id)
    assert not CloudStorage.objects.exists()
