"""Duplicates among one owner's uploads: near-same pictures are flagged, exact copies share files.

- A near-duplicate (a resized, re-encoded or slightly cropped copy) is found by its look
  (taken by the web process when cheap, else from the worker's first decode): an earlier
  upload within MEDIA_DUPLICATE_DISTANCE differing bits of its 64-bit perceptual hash, of
  the same average colour (the hash is of grey pixels) and with a hash that tells enough
  (a flat picture's is 0 whatever its colour), or with the same bytes, becomes the new
  upload's `duplicate_of`, until its owner keeps it (the flag is cleared for good) or drops
  it (the new upload is deleted). Only an earlier upload, and never a failed one: two
  copies must never each be called the other's, nor a copy be dropped for a picture that
  was never made (dropping would lose it). An upload that fails hands its copies to the
  earlier upload they look like, if any.
- Looks arrive in any order (several workers; the web's look at once, the worker's later),
  so whenever an upload's look becomes known its worker looks both ways: for an earlier
  upload it duplicates, and for later uploads, looked at before it had a look, that
  duplicate it. Both lookups run with the owner's row locked: two uploads whose looks are
  recorded at the same moment are looked at one after the other, the second seeing the
  first's. The worker checks the web's look against the pixels it decodes (a JPEG's EXIF
  thumbnail can show another picture) and replaces it when it is of another picture: the
  flags made from it are looked for again, except what the owner kept.
- An exact copy (the same SHA-256 of the original) is not rendered again: its Rendition rows
  point at the files of the oldest ready copy's renditions. Files are therefore shared, so an
  upload's deletion removes only the files no remaining row points at (`unused_files`).
  The reuse locks that copy's row while it copies the rows, and a deletion looks for
  other references after its own DELETE, in the same transaction: whichever comes second
  sees the other, so a file still pointed at is never removed. (Two copies deleted at the
  same moment may each keep the files for the other: a leftover file, never a lost one.)
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from media_pipeline import imaging
from media_pipeline.imaging.glance import (
    Glance,
    alike,
    colours_agree,
    detailed,
    glance,
    glance_at_image,
)
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
        "phash_detail": seen.detail,
    }


LOOK_FIELDS = ("phash", "phash_detail", "thumbhash", "sha256")


@dataclass(frozen=True)
class Look:
    """What an upload is compared by: its hash (and how much it tells), its ThumbHash's
    colours and its bytes."""

    phash: int
    detail: int | None
    thumbhash: bytes
    sha256: str

    @classmethod
    def of(cls, phash: int, detail: int | None, thumbhash: str, sha256: str) -> Look:
        return cls(phash, detail, base64.b64decode(thumbhash) if thumbhash else b"", sha256)


def is_copy(a: Look, b: Look) -> bool:
    """Whether two looks within the hash distance are of one picture: the same bytes, or
    hashes that tell enough (a flat, gradient or text-page hash is near any other such)
    and the same colours."""
    if a.sha256 and a.sha256 == b.sha256:
        return True
    if not (detailed(a.detail) and detailed(b.detail)):
        return False
    return colours_agree(a.thumbhash, b.thumbhash)


def copies_among(uploads, look: Look) -> list:
    """The ids of `uploads` that are copies of `look`'s picture, nearest first (the oldest
    among equals): within the threshold of its hash (counted in the database, so only those
    come back), then compared by colour and detail."""
    uploads = uploads.filter(phash__isnull=False)
    limit = settings.MEDIA_DUPLICATE_DISTANCE
    fields = ("id", "phash", "phash_detail", "thumbhash", "sha256")
    if connection.vendor == "postgresql":
        near = list(
            uploads.annotate(bits=RawSQL("bit_count((phash # %s)::bit(64))", (look.phash,)))
            .filter(bits__lte=limit)
            .order_by("bits", "created_at")
            .values_list(*fields)
        )
    else:
        rows = uploads.values_list(*fields, "created_at")
        near = [
            row[:5]
            for bits, _, row in sorted((distance(look.phash, row[1]), row[5], row) for row in rows)
            if bits <= limit
        ]
    return [row[0] for row in near if is_copy(look, Look.of(*row[1:]))]


def look_of(upload_id) -> Look | None:
    row = Upload.objects.filter(id=upload_id).values_list(*LOOK_FIELDS).first()
    return Look.of(*row) if row and row[0] is not None else None


def nearest_earlier(upload: Upload, look: Look):
    """The id of the owner's upload made before `upload` that looks nearest it, if any.
    A failed upload is never one: dropping the copy would lose the picture."""
    earlier = Upload.objects.filter(
        owner_id=upload.owner_id, created_at__lt=upload.created_at
    ).exclude(status=Upload.Status.FAILED)
    found = copies_among(earlier, look)
    return found[0] if found else None


def flag_both_ways(upload: Upload) -> None:
    """With `upload`'s look known (and committed with this transaction): flag it as the
    duplicate of the earlier upload it looks like, and flag the owner's later uploads that
    look like it, unless flagged or kept already. Run under lock_owner."""
    now = timezone.now()
    look = look_of(upload.id)
    if look is None:
        return
    # Each UPDATE filters on this again: a "keep" (which takes no lock) that commits after
    # the lookup read the rows is not undone.
    unsettled = Upload.objects.filter(
        owner_id=upload.owner_id, duplicate_of__isnull=True, duplicate_kept=False
    )
    if unsettled.filter(id=upload.id).exists():
        found = nearest_earlier(upload, look)
        if found is not None and unsettled.filter(id=upload.id).update(
            duplicate_of_id=found, updated_at=now
        ):
            upload.duplicate_of_id = found
    later = copies_among(unsettled.filter(created_at__gt=upload.created_at), look)
    if later:
        unsettled.filter(id__in=later).update(duplicate_of_id=upload.id, updated_at=now)


def lock_owner(owner_id) -> None:
    """Lock the owner's row until the transaction ends: one duplicate lookup at a time per
    owner. (SQLite has no row locks, but its transactions here take the write lock as they
    begin (`transaction_mode` IMMEDIATE): one at a time, all owners together.)

    FOR NO KEY UPDATE: rows that point at the user (a new upload, a digest, preferences)
    take a KEY SHARE lock on it as they are inserted, which a plain FOR UPDATE would block
    (and a worker finishing a later upload that then opens the owner's digest would
    deadlock with a lookup flagging that upload).
    """
    owner = get_user_model().objects.select_for_update(no_key=True).filter(id=owner_id)
    list(owner.values_list("id"))


def lock_owner_of(upload_id) -> None:
    """lock_owner for the owner of an upload (first thing in a transaction that then
    changes the upload's row: the owner is always locked before an upload's row)."""
    owner_id = Upload.objects.filter(id=upload_id).values_list("owner_id", flat=True).first()
    if owner_id is not None:
        lock_owner(owner_id)


def release_copies(upload_id) -> None:
    """The uploads flagged as copies of this one are looked at again: it failed (a failed
    upload is nobody's original) or its look changed. Each gets the earlier upload it now
    looks like, or no flag. Run under lock_owner."""
    copies = Upload.objects.filter(duplicate_of_id=upload_id)
    for copy in copies.only("id", "owner_id", "created_at", *LOOK_FIELDS):
        found = nearest_earlier(copy, Look.of(*(getattr(copy, name) for name in LOOK_FIELDS)))
        if found != upload_id:
            copies.filter(id=copy.id).update(duplicate_of_id=found, updated_at=timezone.now())


def _replace_look(upload: Upload, fields: dict, *, had_one: bool) -> None:
    """Record a look in place of the upload's (under lock_owner); flags made from the old
    one are looked at again, except what the owner kept."""
    Upload.objects.filter(id=upload.id).update(**fields, updated_at=timezone.now())
    upload.phash = fields["phash"]
    if had_one:
        Upload.objects.filter(id=upload.id).update(duplicate_of=None)
        upload.duplicate_of_id = None
        release_copies(upload.id)
    flag_both_ways(upload)


def record_glance(upload: Upload, image) -> None:
    """The worker's look, from the pixels it decoded, checked against the web process's:
    that one may come from a JPEG's EXIF thumbnail, which an editor can leave showing
    another picture. The same picture: the stored look stays. Else (or none was taken) the
    worker's is recorded and duplicates looked for again both ways. Run on every attempt:
    what the owner kept stays kept."""
    seen = glance_at_image(image)
    with transaction.atomic():
        lock_owner(upload.owner_id)
        row = Upload.objects.filter(id=upload.id).values(*LOOK_FIELDS, "dominant_color")
        row = row.first()
        if row is None:
            return
        if row["phash"] is not None:
            stored = Glance(
                thumbhash=base64.b64decode(row["thumbhash"] or ""),
                colour=row["dominant_color"],
                phash=row["phash"],
                detail=row["phash_detail"],
            )
            if alike(stored, seen, settings.MEDIA_DUPLICATE_DISTANCE):
                upload.phash = stored.phash
                flag_both_ways(upload)
                return
        _replace_look(upload, glance_fields(seen), had_one=row["phash"] is not None)


def keep(*, upload: Upload) -> Upload:
    """The owner keeps a flagged upload: it is no longer called a duplicate, nor ever again."""
    Upload.objects.filter(id=upload.id).update(
        duplicate_of=None, duplicate_kept=True, updated_at=timezone.now()
    )
    upload.duplicate_of_id, upload.duplicate_kept = None, True
    return upload


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def reuse_renditions(*, upload: Upload, specs) -> bool:
    """Point the upload's renditions at those of another ready upload of the same owner
    with the same bytes, if it has exactly the renditions `specs` give a source of its size
    (a small one skips sizes it cannot fill); True if it did."""
    if not upload.sha256:
        return False
    with transaction.atomic():
        lock_owner(upload.owner_id)  # the owner first, as every duplicate lookup locks
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
        # The same bytes: the same look, the source's (its worker checked it against its
        # pixels). Duplicates both ways, as for any look: the source is the oldest ready
        # copy, which may have been uploaded after this one.
        current = Upload.objects.values("phash", "thumbhash").get(id=upload.id)
        if source.phash is not None and (current["phash"], current["thumbhash"]) != (
            source.phash, source.thumbhash,
        ):  # fmt: skip
            fields = {"thumbhash": source.thumbhash, "dominant_color": source.dominant_color}
            fields.update(phash=source.phash, phash_detail=source.phash_detail)
            _replace_look(upload, fields, had_one=current["phash"] is not None)
        elif current["phash"] is not None:
            flag_both_ways(upload)
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
