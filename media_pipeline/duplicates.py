"""Duplicates among one owner's uploads: near-same pictures are flagged, exact copies share files.

- A near-duplicate (a resized, re-encoded or slightly cropped copy) is found by the 64-bit
  perceptual hash of its look (taken by the web process when cheap, else from the worker's
  first decode): an earlier upload within MEDIA_DUPLICATE_DISTANCE differing bits becomes
  the new upload's `duplicate_of`, found by the worker as soon as it has the hash, until
  its owner keeps it (the flag is cleared) or drops it (the new upload is deleted).
- An exact copy (the same SHA-256 of the original) is not rendered again: its Rendition rows
  point at the files of the earlier upload's renditions. Files are therefore shared, so an
  upload's deletion removes only the files no remaining row points at (`unused_files`).
  The reuse locks the earlier upload's row while it copies the rows, and a deletion looks for
  other references after its own DELETE, in the same transaction: whichever comes second
  sees the other, so a file still pointed at is never removed. (Two copies deleted at the
  same moment may each keep the files for the other: a leftover file, never a lost one.)
"""

from __future__ import annotations

import base64
import hashlib
from typing import BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from media_pipeline import imaging
from media_pipeline.imaging.glance import Glance, glance, glance_at_image
from media_pipeline.imaging.phash import distance
from media_pipeline.models import Rendition, Upload, record_rendition

CHUNK = 1024 * 1024


def look(file: BinaryIO, info: imaging.ImageInfo, limits: imaging.Limits) -> Glance | None:
    """The upload-time glance (placeholder and perceptual hash) if it is cheap to take now,
    unless switched off; the worker takes it otherwise (record_glance)."""
    if not settings.MEDIA_PLACEHOLDERS:
        return None
    return glance(file, info, limits)


def glance_fields(seen: Glance) -> dict:
    """The Upload fields a glance fills."""
    return {
        "thumbhash": base64.b64encode(seen.thumbhash).decode("ascii"),
        "dominant_color": seen.colour,
        "phash": seen.phash,
    }


def nearest_earlier(upload: Upload, phash: int):
    """The id of the owner's upload made before `upload` whose perceptual hash is nearest
    `phash`, if within the threshold (the oldest among equals); None otherwise.

    Only earlier ones: the worker looks after later uploads may have their hash too, and
    two copies must not each be called the other's duplicate (dropping both would lose
    the picture).
    """
    uploads = Upload.objects.filter(
        owner_id=upload.owner_id, phash__isnull=False, created_at__lt=upload.created_at
    ).exclude(id=upload.id)
    limit = settings.MEDIA_DUPLICATE_DISTANCE
    if connection.vendor == "postgresql":  # counted in the database: one row comes back
        found = (
            uploads.annotate(bits=RawSQL("bit_count((phash # %s)::bit(64))", (phash,)))
            .filter(bits__lte=limit)
            .order_by("bits", "created_at")
            .values_list("id", flat=True)
            .first()
        )
        return found
    candidates = [
        (distance(phash, other), created, upload_id)
        for upload_id, other, created in uploads.values_list("id", "phash", "created_at")
    ]
    near = [item for item in candidates if item[0] <= limit]
    return min(near)[2] if near else None


def flag_near_duplicate(upload: Upload) -> None:
    """Point an upload whose look the web process took at the earlier one it duplicates."""
    found = nearest_earlier(upload, upload.phash)
    if found is not None:
        Upload.objects.filter(id=upload.id).update(duplicate_of_id=found, updated_at=timezone.now())
        upload.duplicate_of_id = found


def record_glance(upload: Upload, image) -> None:
    """The look the web process left out, from the worker's decoded pixels: stored with the
    near-duplicate it finds, unless one is stored already (a redelivered task does not flag
    again what its owner kept)."""
    seen = glance_at_image(image)
    fields = glance_fields(seen)
    fields["duplicate_of_id"] = nearest_earlier(upload, seen.phash)
    Upload.objects.filter(id=upload.id, phash__isnull=True).update(
        **fields, updated_at=timezone.now()
    )


def keep(*, upload: Upload) -> Upload:
    """The owner keeps a flagged upload: it is no longer called a duplicate."""
    Upload.objects.filter(id=upload.id).update(duplicate_of=None, updated_at=timezone.now())
    upload.duplicate_of_id = None
    return upload


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def reuse_renditions(*, upload: Upload, specs) -> bool:
    """Point the upload's renditions at those of an earlier ready upload of the same owner
    with the same bytes, if it has exactly the renditions `specs` give a source of its size
    (a small one skips sizes it cannot fill); True if it did."""
    if not upload.sha256:
        return False
    with transaction.atomic():
        source = (
            Upload.objects.select_for_update()
            .filter(owner_id=upload.owner_id, sha256=upload.sha256, status=Upload.Status.READY)
            .exclude(id=upload.id)
            .order_by("created_at")
            .first()
        )
        if source is None:
            return False
        planned = (
            imaging.planned_renditions((source.width, source.height), specs)
            if source.width and source.height
            else specs
        )
        wanted = {(spec.name, fmt) for spec in planned for fmt in spec.formats}
        renditions = [r for r in source.renditions.all() if (r.name, r.format) in wanted]
        if {(r.name, r.format) for r in renditions} != wanted:
            return False  # rendered under other settings: render this one afresh
        if upload.phash is None and source.phash is not None:
            # The same bytes: the same look, and a duplicate of its source if that came
            # first (never of a later one: see nearest_earlier).
            earlier = source.created_at < upload.created_at
            Upload.objects.filter(id=upload.id, phash__isnull=True).update(
                thumbhash=source.thumbhash, dominant_color=source.dominant_color,
                phash=source.phash, duplicate_of=source if earlier else None,
                updated_at=timezone.now(),
            )  # fmt: skip
        for rendition in renditions:
            record_rendition(
                upload.id, name=rendition.name, format=rendition.format, width=rendition.width,
                height=rendition.height, size=rendition.bytes, file=rendition.file.name,
            )  # fmt: skip
    return True


def unused_files(names) -> list[str]:
    """Those of the stored file names that no upload or rendition row points at any more.

    Call it inside the deleting transaction, after the DELETE (see the module's notes).
    """
    names = {name for name in names if name}
    used = set(Rendition.objects.filter(file__in=names).values_list("file", flat=True))
    used |= set(Upload.objects.filter(original__in=names).values_list("original", flat=True))
    return sorted(names - used)
