"""Uploads from the browser straight to the media host: S3 multipart or one presigned POST.

The web process hands out short-lived presigned URLs for one random, server-chosen key under
the owner's prefix (`incoming/<owner id>/<random>`) and never holds the body. When the
browser says it is done, the multipart upload is completed and the upload is queued like
any other; the worker then checks the stored object (size against what the browser
claimed, sniffed type, pixels, trailer) before decoding it, since presigned conditions are
the media host's to enforce and nothing the browser said is trusted. Unfinished uploads are
aborted by their owner or, after MEDIA_DIRECT_UPLOAD_EXPIRY seconds, by the sweep.
"""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from datetime import timedelta

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from core.background import in_background
from core.statelog import state_changed
from media_pipeline import imaging
from media_pipeline.imaging.limits import _mb
from media_pipeline.models import DirectUpload, Upload
from media_pipeline.ranged import open_ranged

log = logging.getLogger(__name__)

INCOMING = "incoming/"  # keys written by browsers: checked by the worker before decoding
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's least part size (all but the last part)
MAX_PARTS = 10_000  # S3's most parts per upload
NOT_AN_IMAGE_TYPES = ("image/svg+xml",)


class Unavailable(Exception):
    """No S3 media host is configured: uploads go through POST /api/uploads/ (HTTP 501)."""


class Refused(ValueError):
    """The upload cannot start or finish as asked; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class StoredFileMismatch(imaging.InvalidImageError):
    """The stored object is not what the browser announced (size), or is gone."""

    default_code = "mismatch"


# --- the media host ---------------------------------------------------------------------------


def media_host():
    """The S3 storage of the media host, or raise Unavailable (local files, the default)."""
    from storages.backends.s3 import S3Storage

    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        raise Unavailable(
            "Direct uploads need an S3 media host, and none is configured here. "
            "Send the file to POST /api/uploads/ instead."
        )
    return storage


def available() -> bool:
    try:
        media_host()
    except Unavailable:
        return False
    return True


def s3_client(storage=None):
    """(boto3 client, bucket name) of the media host.

    The bucket's client, which the storage keeps for all threads (as its url() does): a
    client per thread would cost a web process about 12 MB each.
    """
    storage = storage or media_host()
    return storage.bucket.meta.client, storage.bucket_name


def max_bytes() -> int:
    return settings.MEDIA_DIRECT_MAX_UPLOAD_BYTES


def limits() -> imaging.Limits:
    """The worker's limits for a direct upload: today's, with the direct path's byte limit."""
    from media_pipeline.services import upload_limits

    base = upload_limits()
    return imaging.Limits(
        max_bytes=max_bytes(),
        max_pixels=base.max_pixels,
        max_dimension=base.max_dimension,
        max_total_pixels=base.max_total_pixels,
    )


def is_direct(upload: Upload) -> bool:
    """Whether the upload's original was written by a browser straight to the media host."""
    return upload.original.name.startswith(INCOMING)


def part_size(size: int) -> int:
    """MEDIA_DIRECT_PART_BYTES, at least S3's minimum and large enough for 10,000 parts."""
    wanted = max(settings.MEDIA_DIRECT_PART_BYTES, MIN_PART_BYTES)
    return max(wanted, math.ceil(size / MAX_PARTS))


# --- starting, resuming, completing, aborting -------------------------------------------------


def check_claim(size, content_type) -> tuple[int, str]:
    """The browser's claimed size and type, or Refused (400, or 413 over the limit)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Refused("Send the file's size in bytes, a whole number above 0, as 'size'.")
    if size == 0:
        raise Refused(
            "The file is empty (0 bytes), so there is no picture in it. Please upload it again."
        )
    if size > max_bytes():
        raise Refused(
            f"The file is {_mb(size, exact=True)}; the limit is {_mb(max_bytes())}.", status=413
        )
    content_type = (content_type or "").strip().lower() if isinstance(content_type, str) else None
    if content_type is None or (
        content_type
        and (not content_type.startswith("image/") or content_type in NOT_AN_IMAGE_TYPES)
    ):
        raise Refused(
            f"This file is not a picture we can use ({content_type or 'no type'}). "
            f"Please upload a {imaging_labels()} image."
        )
    # No type at all (some browsers for some photo formats): the worker sniffs the bytes.
    return size, content_type or "application/octet-stream"


def imaging_labels() -> str:
    from media_pipeline.imaging.formats import accepted_labels

    return accepted_labels()


def start(*, owner, filename: str, size, content_type, caption: str = "") -> tuple:
    """Record an unfinished upload and presign where its bytes go: (row, instructions).

    The instructions are {"parts": [{"number", "url"}], "part_size"} for a multipart
    upload, or {"url", "fields"} for one presigned POST when the file fits in one part.
    """
    from media_pipeline.services import check_quota, clean_file_name

    storage = media_host()
    size, content_type = check_claim(size, content_type)
    # The claimed size counts against the quota now; the worker holds the stored object to
    # that claim, so a file cannot grow past it afterwards.
    check_quota(owner=owner, incoming_bytes=size)
    client, bucket = s3_client(storage)
    row = DirectUpload(
        id=uuid.uuid4(),
        owner=owner,
        key=f"{INCOMING}{owner.pk}/{secrets.token_urlsafe(18)}",
        original_name=clean_file_name(filename),
        claimed_bytes=size,
        claimed_type=content_type,
        caption=(caption or "")[:500],
    )
    expires = settings.MEDIA_DIRECT_URL_EXPIRE_SECONDS
    if size <= part_size(size):
        # Real S3 holds the POST to these conditions; the worker checks them again anyway.
        post = client.generate_presigned_post(
            bucket,
            row.key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires,
        )
        row.save(force_insert=True)
        return row, {"url": post["url"], "fields": post["fields"]}
    row.part_bytes = part_size(size)
    created = client.create_multipart_upload(Bucket=bucket, Key=row.key, ContentType=content_type)
    row.multipart_id = created["UploadId"]
    try:
        row.save(force_insert=True)
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=row.key, UploadId=row.multipart_id)
        raise
    numbers = range(1, part_count(row) + 1)
    return row, {"parts": part_urls(row, numbers), "part_size": row.part_bytes}


def part_count(row: DirectUpload) -> int:
    return max(1, math.ceil(row.claimed_bytes / row.part_bytes)) if row.part_bytes else 1


def part_urls(row: DirectUpload, numbers) -> list[dict]:
    """A fresh presigned PUT for each part number, valid MEDIA_DIRECT_URL_EXPIRE_SECONDS."""
    client, bucket = s3_client()
    return [
        {
            "number": number,
            "url": client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": bucket,
                    "Key": row.key,
                    "UploadId": row.multipart_id,
                    "PartNumber": number,
                },
                ExpiresIn=settings.MEDIA_DIRECT_URL_EXPIRE_SECONDS,
            ),
        }
        for number in numbers
    ]


def stored_parts(row: DirectUpload) -> list[dict]:
    """The parts the media host holds already (ListParts): [{"number", "etag", "size"}]."""
    if not row.multipart_id:
        return []
    client, bucket = s3_client()
    parts, marker = [], 0
    while True:
        try:
            page = client.list_parts(
                Bucket=bucket, Key=row.key, UploadId=row.multipart_id, PartNumberMarker=marker
            )
        except ClientError as error:
            if error_code(error) == "NoSuchUpload":
                raise Refused("This upload is no longer on the media host.", 410) from error
            raise
        parts += [
            {"number": p["PartNumber"], "etag": p["ETag"], "size": p["Size"]}
            for p in page.get("Parts", [])
        ]
        if not page.get("IsTruncated"):
            return parts
        marker = page["NextPartNumberMarker"]


def resume(row: DirectUpload) -> dict:
    """What a browser that lost its state needs: the stored parts, URLs for the others."""
    stored = stored_parts(row)
    have = {part["number"] for part in stored}
    missing = [n for n in range(1, part_count(row) + 1) if n not in have]
    return {
        "id": str(row.id),
        "size": row.claimed_bytes,
        "part_size": row.part_bytes,
        "parts": stored,
        "missing": part_urls(row, missing) if row.multipart_id else [],
    }


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def checked_parts(row: DirectUpload, parts) -> list[dict]:
    """The browser's part list as S3 wants it, or Refused: every part 1..n, once each."""
    if not isinstance(parts, list) or not all(
        isinstance(p, dict)
        and isinstance(p.get("number"), int)
        and isinstance(p.get("etag"), str)
        and p["etag"]
        for p in parts
    ):
        raise Refused('Send {"parts": [{"number": 1, "etag": "..."}, ...]}.')
    numbers = sorted(p["number"] for p in parts)
    if numbers != list(range(1, part_count(row) + 1)):
        raise Refused(f"This upload has {part_count(row)} parts; send each of them once.")
    return [{"PartNumber": p["number"], "ETag": p["etag"]} for p in sorted(parts, key=by_number)]


def by_number(part: dict) -> int:
    return part["number"]


def complete(*, row: DirectUpload, parts=None) -> Upload:
    """Finish the upload on the media host and queue it like any accepted upload.

    The Upload takes the same id; the unfinished row goes. Refused (400/409) when the media
    host does not hold what the browser says it sent.
    """
    from media_pipeline.services import publish_accepted

    client, bucket = s3_client()
    if row.multipart_id:
        listed = checked_parts(row, parts)
        try:
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=row.key,
                UploadId=row.multipart_id,
                MultipartUpload={"Parts": listed},
            )
        except ClientError as error:
            code = error_code(error)
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"):
                raise Refused(
                    f"The media host does not hold these parts as sent ({code}): "
                    "send the missing parts again.",
                    409,
                ) from error
            raise
    else:
        try:
            client.head_object(Bucket=bucket, Key=row.key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                raise Refused("The file has not reached the media host yet.", 409) from error
            raise
    now = timezone.now()
    upload = Upload(
        id=row.id,
        owner_id=row.owner_id,
        caption=row.caption,
        original_name=row.original_name,
        # What the browser claimed, until the worker has checked the stored object.
        original_bytes=row.claimed_bytes,
        published_at=now,
    )
    upload.original.name = row.key
    with transaction.atomic():
        upload.save(force_insert=True)
        row.delete()
        transaction.on_commit(lambda: in_background(lambda: publish_accepted(upload.id)))
    state_changed(
        "upload", upload.id, Upload.Status.QUEUED, owner=row.owner_id, direct=True,
        bytes=row.claimed_bytes,
    )  # fmt: skip
    return upload


def abort(row: DirectUpload) -> None:
    """Drop an unfinished upload: its parts, any object under its key, and its row."""
    try:
        client, bucket = s3_client()
    except Unavailable:  # the media host was switched off since: only the row is left
        row.delete()
        return
    if row.multipart_id:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=row.key, UploadId=row.multipart_id)
        except ClientError as error:
            if error_code(error) != "NoSuchUpload":
                raise
    client.delete_object(Bucket=bucket, Key=row.key)
    row.delete()


def sweep_abandoned(*, now=None) -> int:
    """Abort unfinished uploads older than MEDIA_DIRECT_UPLOAD_EXPIRY; how many.

    Rows first, then any multipart upload under incoming/ the media host still holds past
    that age without a row (its abort failed, or the row went another way), so abandoned
    parts never cost storage for long.
    """
    if not available():
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MEDIA_DIRECT_UPLOAD_EXPIRY)
    aborted = 0
    for row in DirectUpload.objects.filter(created_at__lt=cutoff).order_by("created_at")[:1000]:
        abort(row)
        aborted += 1
    client, bucket = s3_client()
    known = set(DirectUpload.objects.values_list("multipart_id", flat=True))
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=INCOMING
    ):
        for item in page.get("Uploads", []):
            if item["UploadId"] in known or item["Initiated"] >= cutoff:
                continue
            client.abort_multipart_upload(Bucket=bucket, Key=item["Key"], UploadId=item["UploadId"])
            aborted += 1
    if aborted:
        log.info("Sweep: %s unfinished direct upload(s) aborted", aborted)
    return aborted


# --- the worker's check -----------------------------------------------------------------------


def check_stored(upload: Upload) -> imaging.ImageInfo:
    """Check the stored object exactly as the web process checks an upload, before decoding.

    Its size must be what the browser claimed (and within the limit); then the header checks
    (sniffed type, bytes, pixels, frames, trailer, polyglots) run on ranged reads of its head
    and tail. Raises an InvalidImageError with the reason for the owner.
    """
    client, bucket = s3_client(upload.original.storage)
    key = upload.original.name
    try:
        size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            raise StoredFileMismatch(
                "The uploaded file is no longer stored. Please upload it again.", code="missing"
            ) from error
        raise
    if size != upload.original_bytes:
        raise StoredFileMismatch(
            f"The stored file is {_mb(size, exact=True)}, but the upload announced "
            f"{_mb(upload.original_bytes, exact=True)}, so it was not accepted. "
            "Please upload it again.",
            code="size_mismatch",
        )
    with open_ranged(client, bucket, key, size) as stream:
        return imaging.inspect_image(stream, limits=limits())


def discard_stored(upload: Upload) -> None:
    """Delete a refused direct upload's object: nothing that failed the checks is kept."""
    upload.original.storage.delete(upload.original.name)
