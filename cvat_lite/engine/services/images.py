"""Writing a task's Image rows (its media manifest) in bulk.

``images_create`` inserts plain tuples with one ``executemany`` per batch. ``bulk_create``
built a model instance per row and compiled a statement per few hundred rows: that was most of
the time of creating a 100,000-image task, from a manifest or from a backup. The columns are
listed in ``_COLUMNS``: a field added to ``Image`` must be added there too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Field

from cvat_lite.cloud.evidence import Evidence
from cvat_lite.engine.models import Data, Image

BATCH_SIZE = 10_000
# (path, width, height, checksum, related_files); the frame is the row's position.
ImageRow = tuple[str, int, int, str, Sequence[str]]
_COLUMNS = (
    "data",
    "path",
    "frame",
    "width",
    "height",
    "checksum",
    "related_files",
    *Image.EVIDENCE_FIELDS,
)
_NO_EVIDENCE = Evidence()


def _fields() -> dict[str, Field]:
    return {field.name: field for field in Image._meta.concrete_fields}


def _insert_sql(names: Sequence[str] = _COLUMNS) -> str:
    quote = connection.ops.quote_name
    fields = _fields()
    columns = ", ".join(quote(fields[name].column) for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    table = quote(Image._meta.db_table)
    # Names from the model's metadata, quoted; every value is a parameter.
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608


def images_create(
    *,
    data: Data,
    rows: Iterable[ImageRow],
    progress: Callable[[int], None] | None = None,
    evidence: Mapping[str, Evidence] | None = None,
) -> int:
    """Insert ``rows`` as the frames 0, 1, ... of ``data`` and return how many were inserted;
    ``evidence`` is what the bucket said of each object, by path (``cloud.evidence``).
    ``progress(n)`` is called after each batch with the rows inserted so far. Call inside a
    transaction (a failure half-way must roll back the earlier batches)."""
    known = evidence or {}
    related = _fields()["related_files"]
    no_related = related.get_db_prep_save([], connection)
    # Without evidence, the evidence columns take their defaults (null, ""): 4 fewer values
    # per row to bind.
    sql = _insert_sql() if known else _insert_sql(_COLUMNS[: -len(Image.EVIDENCE_FIELDS)])
    data_id = data.pk
    rows = iter(rows)
    done = 0
    with connection.cursor() as cursor:
        while batch := list(islice(rows, BATCH_SIZE)):
            values: list[tuple[Any, ...]] = [
                (
                    data_id,
                    path,
                    frame,
                    width,
                    height,
                    checksum,
                    related.get_db_prep_save(list(files), connection) if files else no_related,
                )
                for frame, (path, width, height, checksum, files) in enumerate(batch, done)
            ]
            if known:
                values = [
                    (*row, *_evidence_values(known.get(row[1], _NO_EVIDENCE))) for row in values
                ]
            cursor.executemany(sql, values)
            done += len(batch)
            if progress is not None:
                progress(done)
    return done


def _evidence_values(evidence: Evidence) -> tuple[int | None, str, str, str]:
    return evidence.size, evidence.md5, evidence.etag, evidence.crc32c
