"""The shared store's two backends behave alike: the data directory, and a bucket on each
provider's emulator, configured by ``CVAT_LITE_SHARED_STORE`` as an operator would."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from urllib.parse import urlencode

import pytest

from cvat_lite.cloud.base import Credentials, CredentialsType, ProviderType
from cvat_lite.store import LocalStore, ObjectStore, SharedStore, shared_store
from cvat_lite.store.config import parse_store_url
from tests.fixtures.emulators import EMULATOR_FIXTURES, Emulator

SCHEMES = {
    ProviderType.AWS_S3_BUCKET: "s3",
    ProviderType.AZURE_CONTAINER: "azure",
    ProviderType.GOOGLE_CLOUD_STORAGE: "gs",
}
DATA = bytes(range(256)) * 100


@pytest.fixture(params=["local", *EMULATOR_FIXTURES])
def any_store(request, settings, tmp_path) -> SharedStore:
    if request.param == "local":
        return LocalStore(tmp_path / "data")
    emulator: Emulator = request.getfixturevalue(EMULATOR_FIXTURES[request.param])
    config = emulator.create_bucket()
    query = urlencode(config.attributes)
    settings.SHARED_STORE = f"{SCHEMES[config.provider_type]}://{config.resource}/shared?{query}"
    settings.SHARED_STORE_CREDENTIALS = {
        f.name: getattr(config.credentials, f.name) or "" for f in fields(Credentials)
    }
    store = shared_store()
    assert isinstance(store, ObjectStore)
    return store


def test_files_in_and_out(any_store: SharedStore, tmp_path: Path):
    source = tmp_path / "upload.zip"
    source.write_bytes(DATA)
    any_store.put_file("scratch/r1/archive.zip", source)
    assert not source.exists()
    assert any_store.size("scratch/r1/archive.zip") == len(DATA)
    assert b"".join(any_store.iter_chunks("scratch/r1/archive.zip", 1000)) == DATA
    assert any_store.read_head("scratch/r1/archive.zip", 2) == DATA[:2]
    with any_store.staged("scratch/r1/archive.zip", tmp_path / "scratch") as path:
        assert path.read_bytes() == DATA
    assert any_store.size("scratch/r1/archive.zip") == len(DATA)  # staging keeps the key

    any_store.put_chunks("tasks/8/raw/3.jpg", iter([b"th", b"", b"ree"]), 5)
    assert any_store.read_head("tasks/8/raw/3.jpg", 100) == b"three"
    any_store.delete_prefix("tasks/8/")

    folder = tmp_path / "staged"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.jpg").write_bytes(b"one")
    (folder / "2.jpg").write_bytes(b"two")
    any_store.put_tree("tasks/7/raw/", folder)
    assert sorted(any_store.list("tasks/7/")) == [
        ("tasks/7/raw/2.jpg", 3),
        ("tasks/7/raw/a/1.jpg", 3),
    ]
    any_store.delete_prefix("tasks/7/")
    any_store.delete("scratch/r1/archive.zip")
    any_store.delete("scratch/r1/archive.zip")  # a missing key is not an error
    assert list(any_store.list("tasks/")) == []
    assert any_store.size("scratch/r1/archive.zip") is None
    with pytest.raises(FileNotFoundError):
        list(any_store.iter_chunks("scratch/r1/archive.zip"))
    with pytest.raises(FileNotFoundError), any_store.staged("nope.zip", tmp_path / "s"):
        pass


def test_a_result_never_replaces_another(any_store: SharedStore, tmp_path: Path):
    first, second = tmp_path / "1", tmp_path / "2"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    any_store.put_file("exports/a.zip", first, replace=False)
    with pytest.raises(FileExistsError):
        any_store.put_file("exports/a.zip", second, replace=False)
    assert second.exists() and b"".join(any_store.iter_chunks("exports/a.zip")) == b"first"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://bucket/p",
        "s3://",
        "s3://user:secret@bucket/p",
        "s3://bucket/p?prefix=x",
        "s3://bucket/p?colour=blue",
    ],
)
def test_bad_store_urls_are_refused(url):
    with pytest.raises(ValueError, match="CVAT_LITE_SHARED_STORE must look like"):
        parse_store_url(url, {})


def test_store_url_and_credentials():
    location = parse_store_url(
        "s3://bucket/some/prefix/?endpoint_url=http://minio:9000&region=eu-west-1",
        {"key": "k", "secret_key": "s", "connection_string": ""},
    )
    assert location.prefix == "some/prefix"
    assert location.config.resource == "bucket"
    assert location.config.credentials_type == CredentialsType.KEY_SECRET_KEY_PAIR
    assert location.config.attributes == {
        "endpoint_url": "http://minio:9000",
        "region": "eu-west-1",
    }
    azure = parse_store_url("azure://container", {"connection_string": "x"})
    assert azure.config.credentials_type == CredentialsType.CONNECTION_STRING
    assert azure.prefix == ""
    anonymous = parse_store_url("gs://bucket/p", {})
    assert anonymous.config.credentials_type == CredentialsType.ANONYMOUS_ACCESS
