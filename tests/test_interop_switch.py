"""Without the corpus of real CVAT artefacts (a user's clone) its tests are skipped with the
reason; with CVAT_LITE_REQUIRE_INTEROP=1 (CI, .ci/run) the same absence fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS_TEST = "tests/media/test_images.py::test_pixel_md5_is_cvats_manifest_checksum"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "CVAT_LITE_INTEROP_DIR": str(tmp_path / "absent"), **env}
    environ.pop("CVAT_LITE_REQUIRE_INTEROP", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", CORPUS_TEST, "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_absent_corpus_is_a_skip_with_its_reason_or_a_failure_in_ci(tmp_path):
    skipped = _run(tmp_path)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "1 skipped" in skipped.stdout
    assert "tests of real CVAT artefacts need shared/interop" in skipped.stdout

    required = _run(tmp_path, CVAT_LITE_REQUIRE_INTEROP="1")
    assert required.returncode == 1, required.stdout + required.stderr
    assert "CVAT_LITE_REQUIRE_INTEROP=1" in required.stdout
