"""A download of a file in the shared store: the file itself on the default store (Django's
``FileResponse``, as before), streamed from the bucket otherwise (a worker wrote it; this web
node never had it). Bytes are proxied, not redirected to a presigned URL: ``cvat-sdk`` 2.80
would follow one (urllib3 drops ``Authorization`` on a redirect to another host), but the bucket
may be reachable from the nodes only (contract 1)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header

from cvat_lite.store import LocalStore, shared_store

BLOCK_SIZE = 1024 * 1024


class _BlockFileResponse(FileResponse):
    """Sent in blocks of 1 MiB (Django's default, 4 KiB, made a 2 GB backup 500,000 reads)."""

    block_size = BLOCK_SIZE


def stored_file_response(
    key: str, size: int, *, filename: str, content_type: str = "application/zip"
) -> HttpResponseBase:
    store = shared_store()
    if isinstance(store, LocalStore):
        return _BlockFileResponse(
            store.path(key).open("rb"),
            as_attachment=True,
            filename=filename,
            content_type=content_type,
        )
    response = StreamingHttpResponse(store.iter_chunks(key), content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response
