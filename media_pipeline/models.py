"""Uploads and their renditions: the domain state the UI and API read."""

import secrets
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone


def original_key(upload: "Upload", filename: str) -> str:
    """A random, non-guessable key; the user's file name is kept only as metadata."""
    extension = {"jpeg": "jpg"}.get(upload.original_format, upload.original_format)
    return f"originals/{secrets.token_urlsafe(18)}.{extension or 'bin'}"


def rendition_key(upload_id: uuid.UUID, name: str, extension: str) -> str:
    """Deterministic per upload and rendition, so a retry overwrites instead of adding."""
    return str(PurePosixPath("renditions", str(upload_id), f"{name}.{extension}"))


class Upload(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    caption = models.CharField(max_length=500, blank=True)
    # What a screen reader says in place of the picture (short), and a longer description.
    alt_text = models.CharField(max_length=250, blank=True)
    description = models.TextField(blank=True)

    original = models.FileField(upload_to=original_key, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    original_format = models.CharField(max_length=16, blank=True)
    original_bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # An animation (GIF, APNG, WebP, AVIF with several frames): renditions show its first frame.
    animated = models.BooleanField(default=False)

    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the row last entered `queued` (accepted, or retried): the age of the backlog.
    queued_at = models.DateTimeField(default=timezone.now)
    # When the task was last handed to the broker, and when a worker claimed the row:
    # the sweep republishes work whose message or worker was lost.
    published_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Seen at once, before any rendition: a ThumbHash (base64) and the dominant colour
    # (#rrggbb) for the placeholder, a 64-bit dHash that finds near-duplicates; the original's
    # SHA-256 (worker) finds exact copies, whose renditions are reused.
    thumbhash = models.CharField(max_length=64, blank=True)
    dominant_color = models.CharField(max_length=7, blank=True)
    phash = models.BigIntegerField(null=True, blank=True)
    # How many of the hash's 64 comparisons tell (imaging.phash.dhash_detail): a flat,
    # gradient or text-page picture's hash is alike whatever it shows, and finds no
    # duplicate on its own. Null: recorded before it was measured.
    phash_detail = models.SmallIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # The earlier upload this one looks like, until its owner keeps it (or drops it).
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The owner kept it although it looked like an earlier one: never flagged again.
    duplicate_kept = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # What operations read on every scrape: the oldest queued, recent outcomes.
            models.Index(fields=["status", "queued_at"], name="upload_status_queued_at"),
            models.Index(fields=["status", "finished_at"], name="upload_status_finished_at"),
            # The live stream's change check, and exact copies among an owner's uploads.
            models.Index(fields=["owner", "updated_at"], name="upload_owner_updated_at"),
            models.Index(fields=["owner", "sha256"], name="upload_owner_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name or self.id} ({self.status})"


class Rendition(models.Model):
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="renditions")
    name = models.CharField(max_length=32)
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()
    file = models.FileField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["width", "format"]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "name", "format"], name="one_rendition_per_name_and_format"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}.{self.format} {self.width}x{self.height}"


class DirectUpload(models.Model):
    """An upload on its way from the browser straight to the media host (S3).

    Kept apart from Upload: until the browser says it is done, nothing is queued and no
    status, sweep or metric of uploads sees it. Completing it creates the Upload with the
    same id (and removes this row); an unfinished one is aborted by its owner or, after
    MEDIA_DIRECT_UPLOAD_EXPIRY, by the sweep. The claimed size and type are only what the
    browser said: the worker checks the stored object before decoding it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="direct_uploads"
    )
    key = models.CharField(max_length=255, unique=True)  # incoming/<owner id>/<random>
    multipart_id = models.CharField(max_length=1024, blank=True)  # empty: one presigned POST
    part_bytes = models.PositiveBigIntegerField(default=0)
    original_name = models.CharField(max_length=255)
    claimed_bytes = models.PositiveBigIntegerField()
    claimed_type = models.CharField(max_length=100)
    caption = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.original_name} ({self.claimed_bytes} bytes, unfinished)"


def record_rendition(
    upload_id, *, name: str, format: str, width: int, height: int, size: int, file: str
):
    """The upload's rendition row of this name and format, written or overwritten (a retry
    or a reuse records the same rendition again, never a second row)."""
    return Rendition.objects.update_or_create(
        upload_id=upload_id,
        name=name,
        format=format,
        defaults={"width": width, "height": height, "bytes": size, "file": file},
    )[0]
