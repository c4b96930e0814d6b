"""A scratch folder is always one folder under DATA_DIR/scratch, whatever id it is given."""

from __future__ import annotations

import pytest

from cvat_lite.requests.scratch import scratch_dir


@pytest.mark.parametrize("bad", ["", ".", "..", "../etc", "a/b", "a\\b"])
def test_scratch_dir_refuses_what_is_not_one_path_segment(bad):
    with pytest.raises(ValueError, match="Not a request id"):
        scratch_dir(bad)


def test_scratch_dir_is_under_the_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert scratch_dir("export-task-1-backup") == tmp_path / "scratch" / "export-task-1-backup"
