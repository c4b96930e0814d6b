"""The domain error hierarchy.

Domain code raises these and never imports DRF. Each class declares its HTTP status, a
snake_case ``code`` and a fixed human-readable ``message``; ``cvat_lite.api.exception_handler``
turns them into the one error body ``{"code", "message", "extra"}``. Messages are constants or
built from the request's own values, never from exception text, server paths or credentials.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CvatLiteError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal server error."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, extra: dict | None = None
    ):
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.extra: dict[str, Any] = extra or {}
        super().__init__(self.message)


class BadRequest(CvatLiteError):
    status = 400
    code = "invalid"
    default_message = "Invalid input."


class NotAuthenticated(CvatLiteError):
    status = 401
    code = "not_authenticated"
    default_message = "Authentication credentials were not provided."


class PermissionDenied(CvatLiteError):
    status = 403
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class NotFound(CvatLiteError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(CvatLiteError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class Gone(CvatLiteError):
    status = 410
    code = "gone"
    default_message = "This endpoint has been removed."


class TooLarge(CvatLiteError):
    status = 413
    code = "too_large"
    default_message = "The request is too large."


class InsufficientStorage(CvatLiteError):
    status = 507
    code = "insufficient_storage"
    default_message = "The server does not have the space to store this. Try again later."


class ServiceUnavailable(CvatLiteError):
    status = 503
    code = "service_unavailable"
    default_message = "A backing service is unavailable. Try again later."


# --- cloud storage -----------------------------------------------------------------------------
# Raised by the provider modules in cvat_lite/cloud/ (and nowhere else is an SDK exception
# translated). Their HTTP status (409) is the answer when a media read hits them: the storage
# was good and has gone. A storage named in a request's input that cannot be read is invalid
# input instead: CloudStorageNotAvailable (400), raised where the input is checked.


class CloudStorageError(Conflict):
    code = "cloud_storage_unavailable"
    default_message = "The cloud storage is not available."
    # The provider status (cvat_lite.cloud.base.Status) this failure stands for: an
    # unreachable endpoint or any other failure reads as NOT_FOUND, as status() says.
    availability: ClassVar[str] = "NOT_FOUND"


class CloudStorageNotFound(CloudStorageError):
    """The bucket / container does not exist (or the endpoint cannot be reached)."""

    default_message = "The cloud storage resource was not found."


class CloudStorageForbidden(CloudStorageError):
    """The credentials are wrong or lack permission."""

    default_message = "Access to the cloud storage is forbidden."
    availability = "FORBIDDEN"


class CloudStorageNotAvailable(BadRequest):
    """A cloud storage given in a request (created, updated, named for task data or a relink)
    cannot be read: the request is refused with 400, as CVAT's check of a storage's status
    refuses it, and ``extra.status`` says why (``NOT_FOUND``, ``FORBIDDEN``)."""

    code = "cloud_storage_not_available"
    default_message = "The cloud storage is not available."

    @classmethod
    def because(
        cls, cause: CloudStorageError, message: str | None = None
    ) -> CloudStorageNotAvailable:
        """The refusal of a storage whose check failed with ``cause`` (its fixed message unless
        ``message`` is given, never SDK text)."""
        return cls(message or cause.message, extra={"status": cause.availability})


class CloudStorageUnreachable(CloudStorageNotFound):
    """The endpoint did not answer (connection refused, timeout, DNS)."""

    default_message = "The cloud storage endpoint cannot be reached."


class CloudObjectNotFound(CvatLiteError):
    status = 404
    code = "cloud_object_not_found"
    default_message = "The object was not found in the cloud storage."

    def __init__(self, key: str, **kwargs: Any):
        super().__init__(
            f"The object '{key}' was not found in the cloud storage.",
            extra={"key": key},
            **kwargs,
        )
        self.key = key


class CloudObjectExists(Conflict):
    """An upload that must not replace an object found one at its key (a conditional put
    refused, or the object was there before)."""

    code = "cloud_object_exists"

    def __init__(self, key: str, **kwargs: Any):
        super().__init__(
            f"The object '{key}' already exists in the cloud storage; it was not replaced.",
            extra={"key": key},
            **kwargs,
        )
        self.key = key


class EndpointNotAllowed(BadRequest):
    code = "endpoint_not_allowed"
    default_message = "The cloud storage endpoint is not in the allowed list."


class CloudStorageUnlinked(Conflict):
    code = "cloud_storage_unlinked"
    MESSAGE = (
        "This task is not connected to a cloud storage. "
        "Attach one with PATCH /api/tasks/{id}/data/meta."
    )

    def __init__(self, task_id: int):
        super().__init__(self.MESSAGE.format(id=task_id), extra={"task_id": task_id})


# --- input -------------------------------------------------------------------------------------


class ImageTooLarge(BadRequest):
    """An image with more pixels than the decoder's limit (the message names the limit)."""

    code = "image_too_large"
    default_message = "The image is too large."


class ManifestError(BadRequest):
    code = "invalid_manifest"
    default_message = "The manifest is invalid."


class ArchiveError(BadRequest):
    code = "invalid_backup"
    default_message = "The backup archive is invalid."


# --- uploads -----------------------------------------------------------------------------------


class UploadOffsetConflict(Conflict):
    """TUS: a chunk does not start at the upload's offset, or another chunk is being written.
    ``offset`` is the real one; the API sends it back in ``Upload-Offset``."""

    code = "upload_offset_conflict"

    def __init__(self, message: str, *, offset: int, code: str | None = None):
        super().__init__(message, code=code, extra={"offset": offset})
        self.offset = offset
