"""Credentials are write-only and never leave the service (contract 2, 4.1, 8).

Storages are created with distinctive credentials — an S3 key pair with a session token on
moto, an Azure connection string and an Azure SAS on an Azurite account of our own (its key is
a canary too), GCS key files — and every endpoint that touches a storage is exercised: create
(and with wrong credentials), list, retrieve, patch, status, content, task data creation,
frames, chunks, previews, full and lightweight exports (to a download and to the bucket),
imports (multipart and from the bucket, with auto-relink), relink success and failure, the
requests API, and the errors of a storage whose credentials were revoked. All loggers run at
DEBUG (the worker runs in this process). Then the canaries are looked for in every response
body and header, every member of every ZIP served, every log record, the process output, every
database row (but the credentials column), every file under DATA_DIR and every Redis value.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from cvat_lite.cloud import redaction
from cvat_lite.cloud.base import Credentials, CredentialsType, ProviderType, StorageConfig
from cvat_lite.cloud.registry import get_provider
from cvat_lite.engine.models import CloudStorage
from tests.api.media_helpers import create_data, manifest_bytes
from tests.backup.export_helpers import MANIFEST_ENTRIES, cloud_objects, make_labelled_task
from tests.fixtures.emulators import (
    LOOPBACK_ALLOWLIST,
    MotoS3,
    _azurite_binary,
    _Process,
    free_port,
    unique_name,
)
from tests.security.exposure import Exposure, RecordingClient

pytestmark = pytest.mark.django_db(transaction=True)

S3_KEY = "AKIASECRETCANARY1"
S3_SECRET = "canary-secret-XYZ-s3-0123456789"
S3_SESSION = "canary-session-token-XYZ-0123456789"
S3_WRONG_KEY = "AKIACANARYWRONGKEY2"
S3_WRONG_SECRET = "canary-wrong-secret-XYZ-98765"
AZ_ACCOUNT = "canaryacct"
# base64 without '+', '/' or '=': the canary is the same in a URL, JSON or a log line
AZ_KEY = base64.b64encode(b"canary-azure-account-key-XYZ-000001").decode()
AZ_WRONG_KEY = base64.b64encode(b"canary-azure-WRONG-account-key-XYZ2").decode()
AZ_FORGED_SIG = "canaryForgedSasSignatureXYZ0001"
GCS_KEY_ID = "canarygcskeyidXYZ0001"
GCS_PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\ncanaryGcsPrivateKeyXYZ0001\n-----END PRIVATE KEY-----\n"
)
LOGGERS = ("", "cvat_lite", "botocore", "boto3", "s3transfer", "azure", "urllib3", "google")
LOGGERS += ("django", "rq", "rq.worker")
ENTRIES = [{k: v for k, v in e.items() if k != "checksum"} for e in MANIFEST_ENTRIES]


@pytest.fixture(scope="module")
def canary_azurite(tmp_path_factory) -> str:
    """An Azurite whose only account has a canary key; yields its blob endpoint."""
    port = free_port()
    cmd = [str(_azurite_binary()), "--skipApiVersionCheck", "--loose", "--disableTelemetry"]
    cmd += ["--silent", "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    cmd += ["--location", str(tmp_path_factory.mktemp("azurite-canary"))]
    accounts = {"AZURITE_ACCOUNTS": f"{AZ_ACCOUNT}:{AZ_KEY}"}
    process = _Process("Azurite (canary)", cmd, port, accounts)
    yield f"http://127.0.0.1:{port}/{AZ_ACCOUNT}"
    process.stop()


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _connection_string(endpoint: str, key: str = AZ_KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZ_ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint};"
    )


def _sas(container: str) -> str:
    permission = ContainerSasPermissions(read=True, write=True, delete=True, list=True, add=True)
    expiry = datetime.now(UTC) + timedelta(days=1)
    return generate_container_sas(
        AZ_ACCOUNT, container, account_key=AZ_KEY, permission=permission, expiry=expiry
    )


def _signature(sas: str) -> str:
    return next(part[4:] for part in sas.split("&") if part.startswith("sig="))


@dataclass
class Flavour:
    """One way to hold credentials: the API bodies (with canaries), the credentials the
    emulator refuses, where the objects go, and the canaries to look for."""

    credentials: dict  # credentials_type, credential fields, specific_attributes
    wrong: dict  # the same with credentials the emulator refuses (also what "revoked" means)
    provider_type: str
    new_bucket: Callable[[], str]  # a fresh bucket / container
    put: Callable[[str, str, bytes], None]  # (bucket, key, data)
    canaries: tuple[str, ...]

    def body(self, bucket: str, name: str, *, wrong: bool = False) -> dict:
        return {
            "provider_type": self.provider_type,
            "resource": bucket,
            "display_name": name,
            **(self.wrong if wrong else self.credentials),
        }


def _s3(s3: MotoS3) -> Flavour:
    enforcing = s3.forbidden_config("any").attributes["endpoint_url"]  # moto checking keys
    return Flavour(
        credentials={
            "credentials_type": "KEY_SECRET_KEY_PAIR",
            "key": S3_KEY,
            "secret_key": S3_SECRET,
            "session_token": S3_SESSION,
            "specific_attributes": f"endpoint_url={quote(s3.endpoint_url, safe='')}",
        },
        wrong={
            "credentials_type": "KEY_SECRET_KEY_PAIR",
            "key": S3_WRONG_KEY,
            "secret_key": S3_WRONG_SECRET,
            "session_token": S3_SESSION,
            "specific_attributes": f"endpoint_url={quote(enforcing, safe='')}",
        },
        provider_type="AWS_S3_BUCKET",
        new_bucket=lambda: s3.create_bucket().resource,
        put=lambda bucket, key, data: s3.client().put_object(Bucket=bucket, Key=key, Body=data),
        canaries=(S3_KEY, S3_SECRET, S3_SESSION, S3_WRONG_KEY, S3_WRONG_SECRET),
    )


def _azure(endpoint: str, *, sas: bool) -> Flavour:
    service = BlobServiceClient.from_connection_string(_connection_string(endpoint))
    container = unique_name()
    service.create_container(container)
    token = _sas(container)
    attributes = f"endpoint_url={quote(endpoint, safe='')}"
    if sas:
        credentials = {
            "credentials_type": "ACCOUNT_NAME_TOKEN_PAIR",
            "account_name": AZ_ACCOUNT,
            "session_token": token,
            "specific_attributes": attributes,
        }
        forged = token.replace(_signature(token), AZ_FORGED_SIG)
        wrong = {**credentials, "session_token": forged}
    else:
        credentials = {
            "credentials_type": "CONNECTION_STRING",
            "connection_string": _connection_string(endpoint),
        }
        wrong = {**credentials, "connection_string": _connection_string(endpoint, AZ_WRONG_KEY)}

    def new_bucket() -> str:
        if sas:
            return container  # a container SAS opens that container only
        name = unique_name()
        service.create_container(name)
        return name

    def put(bucket: str, key: str, data: bytes) -> None:
        service.get_blob_client(bucket, key).upload_blob(data, overwrite=True)

    signature = _signature(token)
    return Flavour(
        credentials=credentials,
        wrong=wrong,
        provider_type="AZURE_CONTAINER",
        new_bucket=new_bucket,
        put=put,
        canaries=(AZ_KEY, AZ_WRONG_KEY, AZ_FORGED_SIG, signature, quote(signature, safe="")),
    )


# --- the flows ---------------------------------------------------------------------------------


def _ok(response, status: int = 200):
    assert response.status_code == status, response.content[:500]
    return response.json() if response.get("Content-Type") == "application/json" else response


def _run(api, drain, url: str, queue: str, **kwargs) -> dict:
    response = api.post(url, **kwargs)
    assert response.status_code == 202, response.content
    drain(queue)
    return _ok(api.get(f"/api/requests/{response.json()['rq_id']}"))


def exercise(api, drain, flavour: Flavour) -> None:
    bucket = flavour.new_bucket()
    for key, data in {**cloud_objects(), "ds/manifest.jsonl": manifest_bytes(ENTRIES)}.items():
        flavour.put(bucket, key, data)

    # storages: create, refuse wrong credentials, read, change, check, browse
    created = api.post("/api/cloudstorages", flavour.body(bucket, "canary"), format="json")
    storage = _ok(created, 201)
    detail = f"/api/cloudstorages/{storage['id']}"
    refused = api.post("/api/cloudstorages", flavour.body(bucket, "w", wrong=True), format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "cloud_storage_not_available"
    _ok(api.get("/api/cloudstorages"))
    _ok(api.get(detail))
    _ok(api.patch(detail, {"display_name": "renamed"}, format="json"))
    _ok(api.patch(detail, flavour.credentials, format="json"))  # re-checked against the bucket
    assert api.patch(detail, flavour.wrong, format="json").status_code == 400
    assert _ok(api.get(f"{detail}/status")) == "AVAILABLE"
    _ok(api.get(f"{detail}/content-v2?prefix=ds/"))
    _ok(api.get(f"{detail}/content-v2?manifest_path=ds/manifest.jsonl"))

    # a task from it, and its media
    task = make_labelled_task(api, name="canary task")
    body = {"server_files": ["ds/manifest.jsonl"], "cloud_storage_id": storage["id"]}
    assert create_data(api, task, body, drain)["status"] == "finished"
    base = f"/api/tasks/{task.id}"
    for query in (
        "type=frame&number=0&quality=original",
        "type=frame&number=1&quality=compressed",
        "type=chunk&number=0&quality=original",
        "type=chunk&number=0&quality=compressed",
        "type=context_image&number=1",
    ):
        _ok(api.get(f"{base}/data?{query}"))
    _ok(api.get(f"{base}/preview"))
    _ok(api.get(f"{base}/data/meta"))
    job = _ok(api.get(f"/api/jobs?task_id={task.id}"))["results"][0]["id"]
    _ok(api.get(f"/api/jobs/{job}/data?type=frame&number=0&quality=original"))

    # backups: full and lightweight downloads, to and from the bucket, auto-relink on import
    archives = {}
    for query in ("", "?lightweight=true"):
        request = _run(api, drain, f"{base}/backup/export{query}", "export")
        assert request["status"] == "finished", request["message"]
        download = _ok(api.get(request["result_url"]))
        archives[query] = b"".join(download.streaming_content)
    to_bucket = f"location=cloud_storage&cloud_storage_id={storage['id']}&filename=backups/t.zip"
    request = _run(api, drain, f"{base}/backup/export?lightweight=true&{to_bucket}", "export")
    assert request["status"] == "finished", request["message"]
    request = _run(api, drain, f"/api/tasks/backup?{to_bucket}", "import")
    assert request["status"] == "finished", request["message"]
    upload = SimpleUploadedFile("light.zip", archives["?lightweight=true"])
    request = _run(api, drain, "/api/tasks/backup", "import", data={"task_file": upload})
    assert request["status"] == "finished", request["message"]
    assert "connected to the cloud storage" in request["message"]
    restored = f"/api/tasks/{request['result_id']}/data/meta"

    # relink: success, then a storage that lacks the media
    _ok(api.patch(restored, {"cloud_storage_id": storage["id"]}, format="json"))
    empty = _ok(
        api.post("/api/cloudstorages", flavour.body(flavour.new_bucket(), "e"), format="json"),
        201,
    )
    if empty["resource"] != bucket:  # (a container SAS has one container: no empty one)
        refused = api.patch(restored, {"cloud_storage_id": empty["id"]}, format="json")
        assert refused.status_code == 400, refused.content

    # credentials revoked: every read fails with an error body
    wrong = dict(flavour.wrong)
    del wrong["credentials_type"]
    attributes = wrong.pop("specific_attributes", "")
    CloudStorage.objects.filter(pk=storage["id"]).update(
        credentials=wrong, specific_attributes=attributes
    )
    assert _ok(api.get(f"{detail}/status")) == "FORBIDDEN"
    assert api.get(f"{base}/data?type=frame&number=2&quality=original").status_code == 409
    assert api.get(f"{detail}/content-v2").status_code in (400, 409)
    request = _run(api, drain, f"{base}/backup/export", "export")
    assert request["status"] == "failed", request
    refused = api.patch(restored, {"cloud_storage_id": storage["id"]}, format="json")
    assert refused.status_code == 400, refused.content
    _ok(api.get("/api/requests?page_size=100"))
    _ok(api.delete(detail), 204)


def _scan_all(exposure: Exposure, caplog, capfd) -> None:
    exposure.records(caplog.get_records("setup") + caplog.get_records("call"))
    exposure.output(*capfd.readouterr())
    exposure.everything_stored()
    exposure.assert_clean()


@pytest.mark.parametrize("kind", ["s3", "azure_connection_string", "azure_sas"])
def test_credentials_never_leave_the_service(
    kind, user, drain, s3_emulator, canary_azurite, debug_logs, capfd
):
    azure = kind != "s3" and _azure(canary_azurite, sas=kind == "azure_sas")
    flavour = azure or _s3(s3_emulator)
    exposure = Exposure(flavour.canaries)
    exercise(RecordingClient(exposure, user), drain, flavour)
    _scan_all(exposure, debug_logs, capfd)
    assert exposure.scanned["archive member"] > 0 and exposure.scanned["log record"] > 0


def _key_file(token_uri: str) -> bytes:
    info = {
        "type": "service_account",
        "project_id": "canary-project",
        "private_key_id": GCS_KEY_ID,
        "private_key": GCS_PRIVATE_KEY,
        "client_email": "canary@canary-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }
    return json.dumps(info).encode()


def test_gcs_key_files_never_leave_the_service(user, gcs_emulator, debug_logs, capfd):
    """Key files that cannot work (a token host that is not Google's; a private key that does
    not parse) are refused before any request, on create and on PATCH; the staged file is
    removed and its content is nowhere."""
    exposure = Exposure((GCS_KEY_ID, "canaryGcsPrivateKeyXYZ0001"))
    api = RecordingClient(exposure, user)
    bucket = gcs_emulator.create_bucket().resource
    attributes = f"endpoint_url={quote(gcs_emulator.endpoint_url, safe='')}&project=test"
    anonymous = {
        "provider_type": "GOOGLE_CLOUD_STORAGE",
        "resource": bucket,
        "display_name": "gcs",
        "credentials_type": "ANONYMOUS_ACCESS",
        "specific_attributes": attributes,
    }
    storage = _ok(api.post("/api/cloudstorages", anonymous, format="json"), 201)
    before = CloudStorage.objects.values().get(pk=storage["id"])
    for token_uri in ("https://tokens.example.com/token", "https://oauth2.googleapis.com/token"):
        key_file = SimpleUploadedFile("key.json", _key_file(token_uri))
        body = {**anonymous, "credentials_type": "KEY_FILE_PATH", "key_file": key_file}
        refused = api.post("/api/cloudstorages", body, format="multipart")
        assert refused.status_code == 400, refused.content
        key_file = SimpleUploadedFile("key.json", _key_file(token_uri))
        body = {"credentials_type": "KEY_FILE_PATH", "key_file": key_file}
        refused = api.patch(f"/api/cloudstorages/{storage['id']}", body, format="multipart")
        assert refused.status_code == 400, refused.content
    assert CloudStorage.objects.values().get(pk=storage["id"]) == before
    keys = settings.DATA_DIR / "cloud_keys"
    assert not keys.exists() or list(keys.iterdir()) == []
    _scan_all(exposure, debug_logs, capfd)


# --- the fix: SDK debug logs -------------------------------------------------------------------


def test_sdk_debug_logs_of_a_provider_hold_no_credentials(s3_emulator, canary_azurite, caplog):
    """botocore logs the signed request (access key id, session token) and urllib3 the request
    line (an Azure SAS signature) at DEBUG: the providers have them redacted."""
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "urllib3", "azure"):
        caplog.set_level(logging.DEBUG, logger=name)
    s3 = s3_emulator.config_at(s3_emulator.endpoint_url, s3_emulator.create_bucket().resource)
    s3 = StorageConfig(
        ProviderType.AWS_S3_BUCKET,
        s3.resource,
        CredentialsType.KEY_SECRET_KEY_PAIR,
        Credentials(key=S3_KEY, secret_key=S3_SECRET, session_token=S3_SESSION),
        s3.attributes,
    )
    container = unique_name()
    BlobServiceClient.from_connection_string(_connection_string(canary_azurite)).create_container(
        container
    )
    token = _sas(container)
    sas = StorageConfig(
        ProviderType.AZURE_CONTAINER,
        container,
        CredentialsType.ACCOUNT_NAME_TOKEN_PAIR,
        Credentials(account_name=AZ_ACCOUNT, session_token=token),
        {"endpoint_url": canary_azurite},
    )
    for config in (s3, sas):
        provider = get_provider(config, allowlist=LOOPBACK_ALLOWLIST)
        provider.upload("k.txt", io.BytesIO(b"abc"), 3)
        assert provider.download("k.txt") == b"abc"
        assert [item.key for item in provider.list_page("").objects] == ["k.txt"]
    assert any(r.name.startswith("botocore") for r in caplog.records)
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    exposure = Exposure((S3_KEY, S3_SECRET, S3_SESSION, _signature(token)))
    exposure.records(caplog.records)
    exposure.assert_clean()
    assert any(redaction.REDACTED in r.getMessage() for r in caplog.records)


def test_redaction_covers_message_arguments_and_exception_text(caplog):
    secret = "redaction-canary-" + unique_name()
    redaction.register(secret, "short")
    logger = logging.getLogger("tests.security.redaction")
    caplog.set_level(logging.DEBUG, logger=logger.name)
    logger.debug("headers: %s", {"Authorization": f"Key {secret}"})
    try:
        raise ValueError(f"failed with {quote(secret, safe='')}")
    except ValueError:
        logger.exception("boom")
    logger.info("a short value stays: short")

    first, second, third = caplog.records
    assert first.getMessage() == "headers: {'Authorization': 'Key [REDACTED]'}"
    text = caplog.text
    assert secret not in text and quote(secret, safe="") not in text
    assert "ValueError: failed with [REDACTED]" in second.exc_text
    assert third.getMessage() == "a short value stays: short"
