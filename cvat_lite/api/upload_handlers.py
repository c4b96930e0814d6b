"""Bounds on the files of one multipart request (docs/security.md).

Django refuses a request with more than ``DATA_UPLOAD_MAX_NUMBER_FILES`` file parts (its guard
for CVE-2023-24580); a large request keeps each file in a temporary file that stays open until
the request ends, so an unbounded count exhausts the process's file descriptors (a 500, then
every request fails). Two limits apply here:

- every request: ``MAX_REQUEST_FILES`` (Django's default, 100), counted by ``FileCountLimit``,
  the first upload handler of every request;
- ``POST /api/tasks/{id}/data``, where CVAT's SDK sends up to 100 MiB of small images in one
  request: ``MAX_TASK_UPLOAD_FILES``, with ``task_data_upload_handlers``. Those files are written
  to temporary files that are closed as soon as each one is complete (``ClosedFileUploadHandler``),
  so the number of open descriptors does not grow with the number of files.

The count is checked as each file part begins, before anything is opened or stored for it.
``DATA_UPLOAD_MAX_NUMBER_FILES`` is the larger of the two: Django's own check stays a ceiling.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler

MSG_TOO_MANY_FILES = "A request may carry at most {limit} files."


class TooManyFiles(TooManyFilesSent):
    """Django's refusal (a ``SuspiciousOperation``: 400 in any view) with the limit applied."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(MSG_TOO_MANY_FILES.format(limit=limit))


class FileCountLimit(FileUploadHandler):
    """Refuses the file part past ``limit`` before any handler opens anything for it."""

    def __init__(self, request: Any = None, limit: int | None = None):
        super().__init__(request)
        self.limit = settings.MAX_REQUEST_FILES if limit is None else limit
        self.count = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        if self.count > self.limit:
            raise TooManyFiles(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ClosedUploadedFile(UploadedFile):
    """An upload on disk that holds no file descriptor: opened by ``chunks()`` or ``open()``
    while read, removed by ``close()`` (Django closes a request's uploads when it ends) or when
    the object is collected."""

    def __init__(self, path: str, **kwargs: Any):
        super().__init__(file=None, **kwargs)
        self._path = path
        self._finalizer = weakref.finalize(self, _remove, path)

    def temporary_file_path(self) -> str:
        return self._path

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> ClosedUploadedFile:
        self.file = open(self._path, mode or "rb")  # noqa: SIM115 - closed by close()
        return self

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        with open(self._path, "rb") as handle:
            while data := handle.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
                yield data

    def multiple_chunks(self, chunk_size: int | None = None) -> bool:
        return True

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        self._finalizer()


class ClosedFileUploadHandler(FileUploadHandler):
    """Each file goes to a temporary file that is closed once the file is complete."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        fd, path = tempfile.mkstemp(prefix="upload-", dir=settings.FILE_UPLOAD_TEMP_DIR)
        self.file = os.fdopen(fd, "wb")
        self.upload = ClosedUploadedFile(
            path,
            name=self.file_name,
            content_type=self.content_type,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> ClosedUploadedFile:
        self.file.close()
        self.upload.size = file_size
        return self.upload

    def upload_interrupted(self) -> None:
        if hasattr(self, "upload"):
            self.file.close()
            self.upload.close()


def task_data_upload_handlers(request: Any) -> list[FileUploadHandler]:
    """The handlers for ``POST /api/tasks/{id}/data``: its own file limit; small requests in
    memory (Django's 2.5 MiB threshold), larger ones on disk without open descriptors."""
    return [
        FileCountLimit(request, limit=settings.MAX_TASK_UPLOAD_FILES),
        MemoryFileUploadHandler(request),
        ClosedFileUploadHandler(request),
    ]
