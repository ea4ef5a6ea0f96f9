"""Reads: a user's uploads, and their JSON shape for the API and pages."""

from collections.abc import Iterable

from django.core.files.storage import FileSystemStorage
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from media_pipeline.models import Rendition, Upload


def uploads_of(user) -> QuerySet[Upload]:
    """Only the user's own uploads: anybody else's simply does not exist for them."""
    return Upload.objects.filter(owner=user).prefetch_related(
        Prefetch("renditions", queryset=Rendition.objects.order_by("width", "format"))
    )


def upload_of(user, upload_id) -> Upload:
    """The user's upload, or 404 (also for another user's upload, so nothing leaks)."""
    return get_object_or_404(uploads_of(user), id=upload_id)


def file_url(field_file) -> str:
    """Where a browser fetches a stored file.

    Local files go through an owner-checking view; object storage hands out its own
    (signed, or public CDN) URL.
    """
    if not field_file:
        return ""
    if isinstance(field_file.storage, FileSystemStorage):
        return reverse("media_pipeline:file", kwargs={"key": field_file.name})
    return field_file.url


def upload_as_dict(upload: Upload, *, renditions: Iterable[Rendition] | None = None) -> dict:
    """The upload as the API and pages show it.

    `renditions`, when the caller knows them already (a just-accepted upload has none),
    spare a query on the upload request's path.
    """
    if renditions is None:
        renditions = upload.renditions.all()
    return {
        "id": str(upload.id),
        "status": upload.status,
        "error": upload.error,
        "caption": upload.caption,
        "name": upload.original_name,
        "created_at": upload.created_at.isoformat(),
        "url": reverse("media_pipeline:api-upload", kwargs={"upload_id": upload.id}),
        "page": reverse("media_pipeline:upload", kwargs={"upload_id": upload.id}),
        "original": {
            "width": upload.width,
            "height": upload.height,
            "bytes": upload.original_bytes,
            "format": upload.original_format,
            "url": file_url(upload.original),
        },
        # Shown until the renditions exist: ThumbHash (base64, decoded by the browser) and
        # the dominant colour (#rrggbb); empty strings when not known (yet).
        "placeholder": {"thumbhash": upload.thumbhash, "color": upload.dominant_color},
        "duplicate_of": str(upload.duplicate_of_id) if upload.duplicate_of_id else None,
        "renditions": [
            {
                "name": rendition.name,
                "format": rendition.format,
                "width": rendition.width,
                "height": rendition.height,
                "bytes": rendition.bytes,
                "url": file_url(rendition.file),
            }
            for rendition in renditions
        ],
    }


def owned_file(user, key: str):
    """The stored file named `key` if it belongs to one of the user's uploads, else None."""
    upload = Upload.objects.filter(owner=user, original=key).first()
    if upload:
        return upload.original
    rendition = Rendition.objects.filter(upload__owner=user, file=key).first()
    return rendition.file if rendition else None
