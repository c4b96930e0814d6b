"""`cvat-lite manifest create`: a CVAT manifest for a bucket prefix, checked against the
manifest CVAT's own tool wrote for the same 50 images (shared/interop/cvat-2.73/bucket)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from PIL import Image

from cvat_lite.cloud.base import ObjectInfo
from cvat_lite.media.manifest import read_manifest, write_manifest
from cvat_lite.media.manifest_scan import manifest_scan
from tests.api.media_helpers import create_data, make_task, storage_row
from tests.fixtures.emulators import LOOPBACK_ALLOWLIST, Azurite, EmulatedBucket, MotoS3
from tests.fixtures.interop import interop_dir

pytestmark = [pytest.mark.django_db, pytest.mark.interop]

CVAT_BUCKET = interop_dir() / "cvat-2.73" / "bucket"
CVAT_MANIFEST = CVAT_BUCKET / "manifest.jsonl"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    try:
        call_command("manifest", "create", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.CLOUD_ENDPOINT_ALLOWLIST = list(LOOPBACK_ALLOWLIST)


def _cvat_files() -> list[Path]:
    if not CVAT_MANIFEST.is_file():
        pytest.fail(f"CVAT's manifest is missing: expected {CVAT_MANIFEST}.")
    return sorted(CVAT_BUCKET.iterdir())


def _upload_cvat_bucket(bucket: EmulatedBucket, prefix: str = "") -> None:
    for path in _cvat_files():  # the manifest too: it is not an image and must be skipped
        bucket.put(prefix + path.name, path.read_bytes())


def _without_checksums(manifest: bytes) -> bytes:
    lines = []
    for line in manifest.decode().splitlines():
        value = json.loads(line)
        value.pop("checksum", None)
        lines.append(json.dumps(value, separators=(",", ":")) + "\n")
    return "".join(lines).encode()


def test_identical_to_cvats_manifest_on_each_provider(cloud_bucket, user, tmp_path):
    _upload_cvat_bucket(cloud_bucket, "set1/")
    cloud_bucket.put("set1/notes.txt", b"not an image")
    storage = storage_row(user, cloud_bucket.config)
    expected = CVAT_MANIFEST.read_bytes()

    output = tmp_path / "with.jsonl"
    code, _, err = run("--cloud-storage", str(storage.id), "--prefix", "set1", "--checksum",
                       "--output", str(output))  # fmt: skip
    assert code == 0, err
    assert output.read_bytes() == expected
    assert "50 image(s) written to" in err

    output = tmp_path / "without.jsonl"
    code, _, err = run(
        "--cloud-storage", str(storage.id), "--prefix", "set1/", "--output", str(output)
    )
    assert code == 0, err
    assert output.read_bytes() == _without_checksums(expected)
    assert b"checksum" not in output.read_bytes()


class CountingProvider:
    """Wraps a real provider and records what is read (not a mock: every call goes through)."""

    def __init__(self, provider):
        self._provider, self.ranges, self.downloads = provider, [], []

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def download_range(self, key, start, length):
        self.ranges.append((key, start, length))
        return self._provider.download_range(key, start, length)

    def download(self, key):
        self.downloads.append(key)
        return self._provider.download(key)

    def iter_objects(self, prefix=""):
        items: list[ObjectInfo] = list(self._provider.iter_objects(prefix))
        return iter(items)


def test_sizes_come_from_ranged_gets_not_whole_images(cloud_bucket):
    big = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 8  # rotated: CVAT reports width and height swapped
    Image.effect_noise((1200, 900), 80).convert("RGB").save(big, "JPEG", exif=exif.tobytes())
    cloud_bucket.put("p/big.jpg", big.getvalue())
    for path in _cvat_files()[:3]:
        cloud_bucket.put("p/" + path.name, path.read_bytes())
    provider = CountingProvider(cloud_bucket.provider())

    result = manifest_scan(provider, "p/", workers=4)
    first = result.entries[0]
    assert (first.path, first.width, first.height) == ("big.jpg", 900, 1200)
    assert provider.downloads == []
    read_of_big = sum(length for key, _, length in provider.ranges if key == "p/big.jpg")
    assert read_of_big < len(big.getvalue()) / 4

    provider = CountingProvider(cloud_bucket.provider())
    result = manifest_scan(provider, "p/", checksum=True, workers=2)
    assert sorted(provider.downloads) == ["p/big.jpg", *("p/" + p.name for p in _cvat_files()[:3])]
    assert all(e.checksum for e in result.entries)


def test_command_line_connection_for_each_provider(cloud_emulator, tmp_path, monkeypatch):
    bucket = EmulatedBucket(cloud_emulator, cloud_emulator.create_bucket())
    _upload_cvat_bucket(bucket)
    args = ["--resource", bucket.config.resource]
    if isinstance(cloud_emulator, MotoS3):
        args += ["--provider", "s3", "--endpoint-url", cloud_emulator.endpoint_url]
        args += ["--region", "us-east-1"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    elif isinstance(cloud_emulator, Azurite):
        args += ["--provider", "azure"]
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", cloud_emulator.connection_string)
    else:
        args += ["--provider", "gcs", "--endpoint-url", cloud_emulator.endpoint_url]
        args += ["--project", "test-project"]
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)

    code, _, err = run(*args, "--checksum", "--upload", "manifest-2.jsonl")
    assert code == 0, err
    provider = bucket.provider()
    assert provider.download("manifest-2.jsonl") == CVAT_MANIFEST.read_bytes()

    # an existing object is never replaced without --overwrite
    with pytest.raises(CommandError, match="already exists: pass --overwrite"):
        run(*args, "--upload", "manifest.jsonl")
    assert provider.download("manifest.jsonl") == CVAT_MANIFEST.read_bytes()
    code, _, err = run(*args, "--upload", "manifest.jsonl", "--overwrite")
    assert code == 0, err
    assert provider.download("manifest.jsonl") == _without_checksums(CVAT_MANIFEST.read_bytes())


def test_unreadable_images_fail_the_run_and_nothing_is_written(s3_emulator, user, tmp_path):
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    _upload_cvat_bucket(bucket)
    bucket.put("broken.jpg", b"\xff\xd8\xff\xe0 truncated")
    bucket.put("empty.png", b"")
    bucket.put("a//b.jpg", CVAT_BUCKET.joinpath("img_00000.jpg").read_bytes())  # no valid path
    bucket.put("icon.ico", b"\x00\x00\x01\x00")
    storage = storage_row(user, bucket.config)
    output = tmp_path / "m.jsonl"

    code, _, err = run("--cloud-storage", str(storage.id), "--output", str(output))
    assert code == 1
    assert not output.exists()
    assert "3 image(s) could not be read; no manifest was written:" in err
    assert "  broken.jpg: The file is not a supported image, or it is corrupt." in err
    assert "  empty.png: The file is not a supported image, or it is corrupt." in err
    assert "  a//b.jpg: The path 'a//b.jpg' contains an empty segment." in err
    assert "Left out 1 object(s) CVAT's tool would list but cvat_lite cannot serve" in err


def test_output_file_stdout_progress_and_refusals(s3_emulator, user, tmp_path):
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    _upload_cvat_bucket(bucket, "a/")
    storage = storage_row(user, bucket.config)
    sid = str(storage.id)

    code, out, err = run("--cloud-storage", sid, "--prefix", "a", "--output", "-")
    assert code == 0
    assert out.encode() == _without_checksums(CVAT_MANIFEST.read_bytes())
    assert "\r" not in err  # not a terminal: no bar, one summary line
    assert "manifest: 50 image(s) measured" in err

    tty = Tty()
    output = tmp_path / "m.jsonl"
    code, _, err = run("--cloud-storage", sid, "--prefix", "a", "--output", str(output), stderr=tty)
    assert code == 0
    assert "\rmanifest [" in err and "100% 50/50" in err

    with pytest.raises(CommandError, match="already exists: pass --overwrite"):
        run("--cloud-storage", sid, "--prefix", "a", "--output", str(output))
    with pytest.raises(CommandError, match="must be in the folder it describes \\('a/'\\)"):
        run("--cloud-storage", sid, "--prefix", "a", "--upload", "manifest.jsonl")
    with pytest.raises(CommandError, match="No image found under 'b/'"):
        run("--cloud-storage", sid, "--prefix", "b", "--output", str(tmp_path / "none.jsonl"))
    assert not (tmp_path / "none.jsonl").exists()
    with pytest.raises(CommandError, match=r"Cloud storage #0 does not exist\."):
        run("--cloud-storage", "0", "--output", "-")
    # the storage's own prefix attribute is the default folder
    config = bucket.config
    scoped_config = dataclasses.replace(config, attributes={**config.attributes, "prefix": "a"})
    scoped = storage_row(user, scoped_config)
    code, out, _ = run("--cloud-storage", str(scoped.id), "--output", "-")
    assert code == 0
    assert out.encode() == _without_checksums(CVAT_MANIFEST.read_bytes())

    with pytest.raises(CommandError, match=r"Cannot write .*: No such file or directory"):
        run("--cloud-storage", sid, "--prefix", "a", "--output", str(tmp_path / "no" / "m.jsonl"))
    with pytest.raises(CommandError, match="--provider needs --resource"):
        run("--provider", "s3", "--output", "-")
    missing = storage_row(user, s3_emulator.config("no-such-bucket"))
    with pytest.raises(CommandError, match="The bucket 'no-such-bucket' cannot be read"):
        run("--cloud-storage", str(missing.id), "--output", "-")


def test_many_objects_over_several_pages_keep_cvats_order(s3_emulator, tmp_path):
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    png = io.BytesIO()
    Image.new("RGB", (7, 5)).save(png, "PNG")
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]  # the in-process server's: no HTTP PUTs
    keys = [f"d{i % 7}/{i}.png" for i in range(300)]
    keys += ["d1.png", "d1/same.jpg", "d1/same.png", "d1-x.png"]  # same name, two extensions
    for key in keys:
        body = (
            CVAT_BUCKET.joinpath("img_00001.jpg").read_bytes()
            if key.endswith(".jpg")
            else png.getvalue()
        )
        backend.put_object(bucket.config.resource, key, body)
    provider = bucket.provider()
    provider.max_page_size = 80  # four pages

    result = manifest_scan(provider, "", workers=3)
    assert result.failures == [] and result.listed == len(keys)
    paths = [entry.path for entry in result.entries]
    assert paths == sorted(keys, key=lambda key: key.split("/"))
    assert paths.index("d1/same.jpg") < paths.index("d1-x.png") < paths.index("d1.png")
    out = io.BytesIO()
    write_manifest(result.entries, out, ascii_only=True)
    out.seek(0)
    sizes = {(e.path, e.width, e.height) for e in read_manifest(out)}
    assert ("d1/same.jpg", 64, 48) in sizes and ("d1/same.png", 7, 5) in sizes
    assert len(sizes) == len(keys)


@pytest.mark.django_db(transaction=True)
def test_a_task_created_from_the_manifest_matches_one_created_from_the_files(
    api, user, s3_emulator, drain
):
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    for path in _cvat_files()[:4]:
        bucket.put("set/" + path.name, path.read_bytes())
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = io.BytesIO()
    Image.effect_noise((90, 40), 50).convert("RGB").save(rotated, "JPEG", exif=exif.tobytes())
    bucket.put("set/sub/rotated.jpg", rotated.getvalue())
    lossless = io.BytesIO()
    Image.new("RGBA", (33, 21)).save(lossless, "WEBP", lossless=True)
    bucket.put("set/sub/w.webp", lossless.getvalue())
    bucket.put("set/sub/related_images/w_webp/ctx.png", _png(5, 5))
    storage = storage_row(user, bucket.config)

    code, _, err = run("--cloud-storage", str(storage.id), "--prefix", "set",
                       "--upload", "set/manifest.jsonl")  # fmt: skip
    assert code == 0, err
    from_manifest, from_files = make_task(user, "m"), make_task(user, "f")
    body = {"server_files": ["set/manifest.jsonl"], "cloud_storage_id": storage.id}
    assert create_data(api, from_manifest, body, drain)["status"] == "finished"
    body = {"server_files": ["set/"], "cloud_storage_id": storage.id}
    assert create_data(api, from_files, body, drain)["status"] == "finished"

    def frames(task):
        meta = api.get(f"/api/tasks/{task.id}/data/meta").json()
        return sorted((f["name"], f["width"], f["height"]) for f in meta["frames"])

    assert frames(from_manifest) == frames(from_files)
    assert ("set/sub/rotated.jpg", 40, 90) in frames(from_manifest)
    from_manifest.refresh_from_db()
    related = from_manifest.data.images.get(path="set/sub/w.webp").related_files
    assert list(related) == ["set/sub/related_images/w_webp/ctx.png"]


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "PNG")
    return out.getvalue()
