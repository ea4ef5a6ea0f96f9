"""Media use cases: accept an upload, process it, edit it, sweep lost work."""

import functools
import logging
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core.background import in_background
from core.statelog import state_changed
from core.sweeping import publish_recorded, sweep
from mailer import notifications
from media_pipeline import direct, duplicates, imaging
from media_pipeline.models import Upload, record_rendition, rendition_key
from media_pipeline.texts import storable
from ops import broker, counters
from ops.selectors import LATENCY_BUCKETS, PROCESSING_BUCKETS

log = logging.getLogger(__name__)
Status = Upload.Status


TOO_SLOW = "Processing this image took too long, so it was stopped."
INTERNAL_ERROR = "Something went wrong on our side while processing this image. Please try again."
GAVE_UP = "We tried {attempts} times and could not process this image."


class UploadTooLarge(ValueError):
    """The file is over the byte limit (HTTP 413)."""


class QuotaExceeded(UploadTooLarge):
    """The upload would take the owner past UPLOAD_QUOTA_BYTES (HTTP 413, like too large)."""


class NotRetryable(ValueError):
    """Only a failed upload can be tried again (HTTP 409)."""


def upload_limits() -> imaging.Limits:
    return imaging.Limits(
        max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES,
        max_pixels=settings.MEDIA_MAX_PIXELS,
        max_dimension=settings.MEDIA_MAX_DIMENSION,
        max_total_pixels=settings.MEDIA_MAX_TOTAL_PIXELS,
    )


def rendition_specs() -> tuple[imaging.RenditionSpec, ...]:
    """Named renditions from MEDIA_RENDITIONS ("thumb:320,medium:1024") in
    MEDIA_RENDITION_FORMATS ("jpeg,webp"), else the defaults."""
    if not settings.MEDIA_RENDITIONS:
        return imaging.DEFAULT_RENDITIONS
    formats = tuple(settings.MEDIA_RENDITION_FORMATS)
    specs = []
    for item in settings.MEDIA_RENDITIONS:
        name, _, edge = item.partition(":")
        specs.append(imaging.RenditionSpec(name.strip(), int(edge), formats))
    return tuple(specs)


def render_file(
    stream,
    timer: imaging.PhaseTimer | None = None,
    limits: imaging.Limits | None = None,
    specs=None,
    on_decoded=None,
) -> tuple[imaging.ImageInfo, list[imaging.Rendered]]:
    """The configured renditions (or `specs`) of an image file, by the configured engine,
    under the limits; `on_decoded` sees the decoded pixels before any is encoded."""
    return imaging.render_renditions(
        stream,
        specs or rendition_specs(),
        limits=limits or upload_limits(),
        engine=settings.MEDIA_IMAGE_ENGINE,
        timer=timer,
        on_decoded=on_decoded,
    )


def check_quota(*, owner, incoming_bytes: int) -> None:
    """Raise QuotaExceeded if `incoming_bytes` more would pass the owner's storage quota.

    The sum of the owner's originals, read from Postgres, so every web process sees the same.
    Two uploads checked at the same moment can both pass: the quota can be overshot by what
    one user uploads at once (a few files of at most MEDIA_MAX_UPLOAD_BYTES), never more.
    """
    quota = settings.UPLOAD_QUOTA_BYTES
    if not quota:
        return
    used = Upload.objects.filter(owner=owner).aggregate(total=Sum("original_bytes"))["total"]
    if (used or 0) + incoming_bytes > quota:
        raise QuotaExceeded(
            f"This file ({incoming_bytes / 1_048_576:.1f} MB) would take your images past your "
            f"storage quota of {quota / 1_048_576:.0f} MB ({(used or 0) / 1_048_576:.1f} MB "
            "used). Delete some images to make room."
        )


def clean_file_name(name: str | None) -> str:
    """The user's file name as display metadata only: no folders, no control characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())
    return base.strip()[:255] or "upload"


def accept_upload(*, owner, file: UploadedFile, caption: str = "") -> Upload:
    """Check the file cheaply, store the original, record it `queued`, publish on commit.

    Raises UploadTooLarge (QuotaExceeded past the owner's quota) or imaging.InvalidImageError
    with a message for the user; in that case nothing is stored.
    """
    limits = upload_limits()
    if file.size is not None and file.size > limits.max_bytes:
        raise UploadTooLarge(
            f"The file is {file.size / 1_048_576:.1f} MB; the limit is "
            f"{limits.max_bytes / 1_048_576:.0f} MB."
        )
    check_quota(owner=owner, incoming_bytes=file.size or 0)
    info = imaging.inspect_image(file, limits=limits)
    seen = duplicates.look(file, limits=limits, info=info)
    # Shown from the first answer on. The duplicate lookup (a query over the owner's
    # library) is the worker's first step: it cost the 202 as much as the look itself.
    placeholder = duplicates.glance_fields(seen) if seen else {}
    upload = Upload(
        owner=owner,
        caption=storable(caption).strip()[:500],
        original_name=clean_file_name(file.name),
        original_format=info.format,
        original_bytes=file.size or 0,
        width=info.width,
        height=info.height,
        animated=info.animated,
        # Recorded now, in the INSERT: the publish itself happens off the request path and
        # clears this if the broker is away, so the sweep picks the row up within seconds.
        published_at=timezone.now(),
        **placeholder,
    )
    file.seek(0)
    upload.original.save(upload.original_name, file, save=False)
    try:
        # One INSERT is atomic by itself: no BEGIN/COMMIT round trips of its own. Inside a
        # caller's transaction, on_commit still waits for that transaction to commit.
        upload.save(force_insert=True)
    except BaseException:
        upload.original.delete(save=False)
        raise
    state_changed(
        "upload", upload.id, Status.QUEUED, owner=owner.pk, format=info.format,
        bytes=upload.original_bytes,
    )  # fmt: skip
    # After commit (the worker must find the row), and off the request's path (the broker's
    # round trips are not the uploader's to wait for).
    transaction.on_commit(lambda: in_background(lambda: publish_accepted(upload.id)))
    return upload


def send_processing_task(upload_id) -> bool:
    """Hand the processing task to the broker; False (logged) if it cannot be reached."""
    from media_pipeline.tasks import process_upload as process_upload_task

    try:
        process_upload_task.apply_async(args=[str(upload_id)])
    except Exception:  # broker unreachable after bounded retries: the sweep publishes later
        log.warning("Could not publish upload %s; the sweep will retry", upload_id, exc_info=True)
        return False
    return True


def publish_processing(upload_id) -> bool:
    """Publish the task and record when, or leave the row for the sweep."""
    if not send_processing_task(upload_id):
        return False
    Upload.objects.filter(id=upload_id).update(published_at=timezone.now())
    return True


def publish_accepted(upload_id) -> None:
    """Publish a just-accepted upload, whose row already records the publish."""
    publish_recorded(Upload, upload_id, queued=Status.QUEUED, send=send_processing_task)


class Claim:
    """What claiming an upload came to."""

    TAKEN = "taken"
    NOT_CLAIMABLE = "not claimable"  # done already, or another worker has it
    GAVE_UP = "gave up"  # claimed too often: it ended `failed`


def claim_upload(*, upload_id, reclaim: bool = False) -> str:
    """Take the upload for processing (queued -> processing); a Claim value.

    A row already `processing` is taken again when its lease ran out, or when this is a
    redelivery or retry of the same task (its previous attempt died or failed).
    """
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.PROCESSING,
        claimed_at__lt=now - timedelta(seconds=settings.MEDIA_PROCESSING_LEASE),
    )
    if reclaim:
        claimable |= Q(status=Status.PROCESSING)
    claimed = Upload.objects.filter(claimable, id=upload_id).update(
        status=Status.PROCESSING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    if not claimed:
        return Claim.NOT_CLAIMABLE
    # An input that kills its worker (out of memory, hard time limit) comes back by
    # redelivery each time; the attempt count is what stops it from looping forever.
    attempts = Upload.objects.values_list("attempts", flat=True).get(id=upload_id)
    if attempts > settings.MEDIA_MAX_ATTEMPTS:
        fail_upload(upload_id=upload_id, reason=GAVE_UP.format(attempts=attempts - 1))
        return Claim.GAVE_UP
    state_changed("upload", upload_id, Status.PROCESSING, attempt=attempts)
    return Claim.TAKEN


def thumbnail_spec() -> imaging.RenditionSpec:
    """The smallest rendition: made, stored and recorded before the others."""
    return min(rendition_specs(), key=lambda spec: spec.long_edge)


def process_upload(*, upload_id, reclaim: bool = False) -> Upload | None:
    """Make and store the renditions, then mark the upload ready (or failed) and tell the owner.

    The thumbnail comes first, recorded at once so that pages show it while the larger sizes
    are made; an exact copy of an earlier upload reuses its renditions instead.
    Writes only the fields the worker owns, so a caption edited meanwhile survives.
    Transient errors (storage, database) propagate for the task to retry. Returns None when
    the upload was not claimable (done already, or another worker has it).
    """
    claim = claim_upload(upload_id=upload_id, reclaim=reclaim)
    if claim == Claim.GAVE_UP:
        return Upload.objects.get(id=upload_id)
    if claim != Claim.TAKEN:
        log.info("Upload %s is not claimable (done, or another worker has it)", upload_id)
        return None
    upload = Upload.objects.select_related("owner").get(id=upload_id)
    timer = imaging.PhaseTimer()
    limits = None
    if direct.is_direct(upload):
        # Written by a browser straight to the media host: nothing it said is trusted.
        try:
            with timer.phase("check"):
                direct.check_stored(upload)
        except imaging.InvalidImageError as error:
            direct.discard_stored(upload)
            return fail_upload(upload_id=upload_id, reason=str(error))
        limits = direct.limits()
    specs = rendition_specs()
    first = thumbnail_spec()
    rest = tuple(spec for spec in specs if spec is not first)
    try:
        with upload.original.open("rb") as stream:
            if not upload.sha256:
                upload.sha256 = duplicates.sha256_of(stream)
                Upload.objects.filter(id=upload_id).update(sha256=upload.sha256)
            if duplicates.reuse_renditions(upload=upload, specs=specs):
                info = imaging.ImageInfo(
                    format=upload.original_format, width=upload.width, height=upload.height,
                    frames=1, animated=upload.animated, mime_type="",
                )  # fmt: skip
                return finish_ready(upload, info, upload.renditions.count(), timer, reused=True)
            # The look is taken from the thumbnail's decoded pixels and recorded before the
            # thumbnail is encoded: no decode of its own, and the pages show the
            # placeholder and any duplicate notice first. It is what the web process left
            # out (it would have slowed the 202), or what checks the web's (an EXIF
            # thumbnail may show another picture); duplicates are looked for then.
            look = None
            if settings.MEDIA_PLACEHOLDERS:
                look = timer.timed("glance", functools.partial(duplicates.record_glance, upload))
            info, rendered = render_file(stream, timer, limits, specs=(first,), on_decoded=look)
            store_renditions(upload, rendered, timer)
            if rest:
                stream.seek(0)
                info, more = render_file(stream, timer, limits, specs=rest)
                # A source no larger than the thumbnail gives the larger sizes its very
                # pixels: each size is stored once, under the smallest name (as one render
                # of every size does, imaging.render.distinct_sizes).
                made = {(item.width, item.height, item.format) for item in rendered}
                more = [item for item in more if (item.width, item.height, item.format) not in made]
                store_renditions(upload, more, timer)
                rendered += more
    except imaging.InvalidImageError as error:
        return fail_upload(upload_id=upload_id, reason=str(error))
    return finish_ready(upload, info, len(rendered), timer)


def store_renditions(upload: Upload, rendered: list[imaging.Rendered], timer) -> None:
    """Store the files and record their rows, committed at once (pages show them now)."""
    stored = []
    with timer.phase("store"):
        for item in rendered:
            key = rendition_key(upload.id, item.name, item.extension)
            name = upload.original.storage.save(key, ContentFile(item.data))
            stored.append((item, name))
    with transaction.atomic():
        for item, name in stored:
            record_rendition(
                upload.id, name=item.name, format=item.format, width=item.width,
                height=item.height, size=len(item.data), file=name,
            )  # fmt: skip
        # What the live pages watch: a new rendition is a change of its upload.
        Upload.objects.filter(id=upload.id).update(updated_at=timezone.now())


def finish_ready(upload: Upload, info, renditions: int, timer, *, reused: bool = False):
    """Mark the upload ready (if still ours), count it and tell the owner."""
    upload_id = upload.id
    with transaction.atomic():
        now = timezone.now()
        finished = Upload.objects.filter(id=upload_id, status=Status.PROCESSING).update(
            status=Status.READY, error="", width=info.width, height=info.height,
            animated=info.animated, original_format=info.format, finished_at=now,
            updated_at=now,
        )  # fmt: skip
        if finished:
            # The row as claimed (loaded just after the claim): no query of its own.
            count_outcome(Status.READY, upload.queued_at, upload.claimed_at, now)
            notify_owner(upload_id=upload_id, kind="upload_ready")
    if finished:
        extra = {"reused": "true"} if reused else {}
        state_changed(
            "upload", upload_id, Status.READY, renditions=renditions, **extra,
            **{f"{phase}_ms": ms for phase, ms in timer.milliseconds().items()},
        )  # fmt: skip
    return Upload.objects.get(id=upload_id)


def count_outcome(status: str, queued_at, claimed_at, now) -> None:
    """Count how an upload ended, and how long it took, in the metrics' counters."""
    counters.increment("uploads_finished", {"status": status})
    if claimed_at:
        seconds = (now - claimed_at).total_seconds()
        counters.observe("upload_processing_seconds", seconds, PROCESSING_BUCKETS)
    if status == Status.READY:
        seconds = (now - queued_at).total_seconds()
        counters.observe("upload_ready_latency_seconds", seconds, LATENCY_BUCKETS)


def fail_upload(*, upload_id, reason: str) -> Upload:
    """End the upload `failed` with a reason the owner can read, and tell them."""
    with transaction.atomic():
        duplicates.lock_owner_of(upload_id)  # before the row, as every duplicate lookup
        now = timezone.now()
        changed = (
            Upload.objects.filter(id=upload_id)
            .exclude(status__in=[Status.READY, Status.FAILED])
            .update(status=Status.FAILED, error=reason, finished_at=now, updated_at=now)
        )
        if changed:
            # A failed upload is nobody's original: its copies are flagged no more (or
            # against an earlier upload they look like), so dropping one loses nothing.
            duplicates.release_copies(upload_id)
            times = Upload.objects.values("queued_at", "claimed_at").get(id=upload_id)
            count_outcome(Status.FAILED, times["queued_at"], times["claimed_at"], now)
            notify_owner(upload_id=upload_id, kind="upload_failed")
    if changed:
        state_changed("upload", upload_id, Status.FAILED, reason=reason)
    return Upload.objects.get(id=upload_id)


def retry_upload(*, upload: Upload, by: str = "owner") -> Upload:
    """Put a failed upload back in the queue with a fresh set of attempts.

    The original stays; the renditions are written under the same keys (no duplicates);
    the owner hears of an outcome they were not told of yet (one email per outcome).
    Raises NotRetryable unless the upload is `failed`.
    """
    now = timezone.now()
    with transaction.atomic():
        changed = Upload.objects.filter(id=upload.id, status=Status.FAILED).update(
            status=Status.QUEUED, error="", attempts=0, claimed_at=None, finished_at=None,
            queued_at=now, published_at=now, updated_at=now,
        )  # fmt: skip
        if not changed:
            current = Upload.objects.filter(id=upload.id).values_list("status", flat=True)
            raise NotRetryable(
                f"Only a failed upload can be tried again; this one is {current.first()}."
            )
        counters.increment("uploads_retried", {"by": by})
        transaction.on_commit(lambda: in_background(lambda: publish_accepted(upload.id)))
    state_changed("upload", upload.id, Status.QUEUED, retried_by=by)
    upload.refresh_from_db()
    return upload


def retry_uploads(*, upload_ids, by: str) -> list:
    """Retry each failed upload among `upload_ids` (others are left alone); the ids retried."""
    retried = []
    for upload in Upload.objects.filter(id__in=list(upload_ids), status=Status.FAILED):
        try:
            retry_upload(upload=upload, by=by)
        except NotRetryable:  # it changed meanwhile (retried by its owner): nothing to do
            continue
        retried.append(upload.id)
    return retried


def notify_owner(*, upload_id, kind: str) -> None:
    """Tell the owner of this outcome as they chose (at once, in a digest, or not at all);
    once per upload and kind, however often it runs."""
    upload = Upload.objects.select_related("owner").get(id=upload_id)
    # The thumbnail link leads to the smallest JPEG, whichever names a small source kept.
    thumb = upload.renditions.filter(format="jpeg").exists()
    notifications.upload_finished(
        upload=upload,
        kind=kind,
        context={
            "upload": upload,
            "user": upload.owner,
            "site_name": settings.SITE_NAME,
            "page_url": f"{settings.SITE_URL}/uploads/{upload.id}/",
            "thumbnail_url": f"{settings.SITE_URL}/uploads/{upload.id}/thumbnail" if thumb else "",
        },
    )


def update_caption(*, upload: Upload, caption: str) -> Upload:
    """Change only the caption, whatever a worker is writing meanwhile."""
    caption = storable(caption).strip()[:500]
    Upload.objects.filter(id=upload.id).update(caption=caption, updated_at=timezone.now())
    upload.caption = caption
    return upload


# The texts an owner writes about an upload, and how long each may be.
TEXT_LIMITS = {"caption": 500, "alt_text": 250, "description": 5000}


class TextTooLong(ValueError):
    pass


def update_texts(*, upload: Upload, texts: dict[str, str]) -> Upload:
    """Change only the given texts (caption, alt text, description), whatever a worker
    is writing meanwhile. Raises TextTooLong, naming the field, and changes nothing then."""
    cleaned = {name: storable(value).strip() for name, value in texts.items()}
    for name, value in cleaned.items():
        if len(value) > TEXT_LIMITS[name]:
            label = name.replace("_", " ").capitalize()
            raise TextTooLong(f"{label} can be at most {TEXT_LIMITS[name]} characters.")
    Upload.objects.filter(id=upload.id).update(**cleaned, updated_at=timezone.now())
    for name, value in cleaned.items():
        setattr(upload, name, value)
    return upload


def delete_upload(*, upload: Upload) -> None:
    """Delete the rows now and the stored files once the deletion has committed."""
    names = [upload.original.name, *upload.renditions.values_list("file", flat=True)]
    storage = upload.original.storage
    with transaction.atomic():
        upload.delete()
        # Renditions of exact copies share files: only those nothing points at any more go.
        names = duplicates.unused_files(names)

        def remove_files() -> None:
            for name in names:
                if name:
                    storage.delete(name)

        transaction.on_commit(remove_files)


def sweep_stale_uploads(*, now=None) -> int:
    """Publish again uploads whose task was lost; returns how many were republished."""
    republished = sweep(
        Upload,
        queued=Status.QUEUED,
        working=Status.PROCESSING,
        lease_seconds=settings.MEDIA_PROCESSING_LEASE,
        publish=publish_processing,
        messages_held=lambda: broker.messages_waiting("media"),
        now=now,
    )
    for reason, count in republished.items():
        counters.increment("sweep_republished", {"kind": "upload", "reason": reason}, count)
        log.info("Sweep: %s upload(s) published again (%s)", count, reason)
    return sum(republished.values())
