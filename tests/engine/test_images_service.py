"""``images_create`` writes Image rows with its own INSERT: it must name every column."""

from __future__ import annotations

import pytest

from cvat_lite.engine.models import Image
from cvat_lite.engine.services import images
from tests.engine.factories import make_task


def test_the_insert_names_every_column_of_the_model():
    # A field added to Image without a place in the INSERT would be left to a database default
    # that Django never creates (NOT NULL fails) or silently stay empty.
    fields = {field.name for field in Image._meta.concrete_fields} - {"id"}
    assert set(images._COLUMNS) == fields


@pytest.mark.django_db
def test_rows_become_frames_in_order_across_batches(user, monkeypatch):
    monkeypatch.setattr(images, "BATCH_SIZE", 2)
    task = make_task(user, size=1)
    data = task.data
    data.images.all().delete()
    seen = []
    rows = [(f"img{i}.jpg", 10 + i, 20 + i, "", ("ctx/a.png",) if i == 3 else ()) for i in range(5)]

    assert images.images_create(data=data, rows=iter(rows), progress=seen.append) == 5

    assert seen == [2, 4, 5]
    stored = list(data.images.order_by("frame").values_list("frame", "path", "width", "height"))
    assert stored == [(i, f"img{i}.jpg", 10 + i, 20 + i) for i in range(5)]
    assert data.images.get(frame=3).related_files == ["ctx/a.png"]
    assert data.images.get(frame=0).related_files == []
