"""Reads: a user's uploads, and their JSON shape for the API and pages."""

from collections.abc import Iterable

from django.core.files.storage import FileSystemStorage
from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from media_pipeline.models import Rendition, Upload


def uploads_of(user) -> QuerySet[Upload]:
    """Only the user's own uploads: anybody else's simply does not exist for them."""
    return Upload.objects.filter(owner=user).prefetch_related(
        Prefetch("renditions", queryset=Rendition.objects.order_by("width", "format"))
    )


def needs_alt_text() -> Q:
    """An image shown without a text alternative: no alt text, and not a failed upload."""
    return Q(alt_text="") & ~Q(status=Upload.Status.FAILED)


def library_of(user, library_filter) -> QuerySet[Upload]:
    """The user's uploads narrowed by a `filters.LibraryFilter`, newest first."""
    uploads = uploads_of(user)
    for word in library_filter.q.split():  # every word, each in any of the texts
        uploads = uploads.filter(
            Q(caption__icontains=word)
            | Q(alt_text__icontains=word)
            | Q(description__icontains=word)
            | Q(original_name__icontains=word)
        )
    if library_filter.status:
        uploads = uploads.filter(status=library_filter.status)
    if library_filter.format:
        uploads = uploads.filter(original_format=library_filter.format)
    if library_filter.since:
        uploads = uploads.filter(created_at__gte=library_filter.since)
    if library_filter.until:
        uploads = uploads.filter(created_at__lte=library_filter.until)
    if library_filter.missing_alt:
        uploads = uploads.filter(needs_alt_text())
    return uploads


def missing_alt_text_count(user) -> int:
    return Upload.objects.filter(needs_alt_text(), owner=user).count()


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
        "alt_text": upload.alt_text,
        "description": upload.description,
        "needs_alt_text": not upload.alt_text and upload.status != Upload.Status.FAILED,
        "name": upload.original_name,
        "created_at": upload.created_at.isoformat(),
        # The renditions show an animation's first frame.
        "animated": upload.animated,
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
