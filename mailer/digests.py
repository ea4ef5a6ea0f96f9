"""Digests: one message per owner for a batch of uploads, however many it holds.

A batch is the outcomes that follow each other less than MAILER_DIGEST_WINDOW_SECONDS
apart: each outcome moves the digest's send time to a window after it (never past
MAILER_DIGEST_MAX_WAIT_SECONDS after the first, so a steady stream still gets mail). So a
200-photo batch is one message even when its processing takes longer than the window.

The first outcome opens the owner's digest (a row) in the transaction that finished the
upload and, on commit, publishes a task to close it a window later; a closer that finds
the send time moved on publishes itself again for then. Closing locks the row, queues one
message with every outcome it holds and marks it closed, in one transaction: a closer that
dies rolls back and is redelivered (or the beat sweep closes the digest), and a second
closer finds it closed. So no outcome is lost and none is mailed twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import preferences_for
from mailer import unsubscribe
from mailer.models import Digest, DigestItem
from mailer.recipients import skip_reason
from mailer.services import queue_email
from ops import counters

log = logging.getLogger(__name__)
KIND = "upload_digest"
# Uploads named in a digest per outcome; the rest are counted and linked to the gallery.
LIST_LIMIT = 25


def window() -> timedelta:
    return timedelta(seconds=settings.MAILER_DIGEST_WINDOW_SECONDS)


def add(*, user, upload, kind: str) -> Digest:
    """Put one upload outcome in the owner's open digest (opening one if needed), in the
    caller's transaction. The digest row stays locked until that transaction ends, so a
    closer waits for this outcome rather than mailing without it."""
    digest = open_digest(user)
    _, added = DigestItem.objects.get_or_create(
        upload=upload, kind=kind, defaults={"digest": digest}
    )
    if added:
        latest = digest.opened_at + timedelta(seconds=settings.MAILER_DIGEST_MAX_WAIT_SECONDS)
        digest.send_after = min(timezone.now() + window(), latest)
        digest.save(update_fields=["send_after"])
    return digest


def open_digest(user) -> Digest:
    digest = Digest.objects.select_for_update().filter(user=user, closed_at=None).first()
    if digest is not None:
        return digest
    now = timezone.now()
    try:
        with transaction.atomic():
            digest = Digest.objects.create(user=user, opened_at=now, send_after=now + window())
    except IntegrityError:  # another transaction opened it first (one open per owner)
        return Digest.objects.select_for_update().get(user=user, closed_at=None)
    seconds = window().total_seconds()
    transaction.on_commit(lambda: publish_close(digest.id, countdown=seconds))
    return digest


def publish_close(digest_id: int, *, countdown: float) -> bool:
    """Ask a worker to close the digest when its window ends; if the broker is down, the
    beat sweep (close_due) closes it instead."""
    from mailer.digest_tasks import close_digest

    try:
        close_digest.apply_async(args=[digest_id], countdown=max(0.0, countdown))
    except Exception:  # broker unreachable after bounded retries: the sweep closes it
        log.warning("Could not publish the close of digest %s", digest_id, exc_info=True)
        return False
    return True


def close(*, digest_id: int, now=None) -> float:
    """Close the digest if its window has ended: queue its message, or record why none
    goes out. Returns 0 when it is closed (now or before), else the seconds left."""
    now = now or timezone.now()
    with transaction.atomic():
        digest = (
            Digest.objects.select_for_update()
            .select_related("user")
            .filter(id=digest_id, closed_at=None)
            .first()
        )
        if digest is None:
            return 0.0
        if digest.send_after > now:
            return (digest.send_after - now).total_seconds()
        user = digest.user
        items = list(digest.items.select_related("upload"))
        reason = skip_reason(user, preferences_for(user), KIND) if items else "empty"
        if reason:
            digest.skipped_reason = reason
            counters.increment("notifications_skipped", {"kind": KIND, "reason": reason})
        else:
            link = unsubscribe.url_for(user)
            digest.email = queue_email(
                kind=KIND,
                to=user.email,
                context={**message_context(user, items), "unsubscribe_url": link},
                dedupe_key=f"{KIND}:{digest.id}",
                headers=unsubscribe.headers_for(link),
            )
        digest.closed_at = now
        digest.save(update_fields=["closed_at", "email", "skipped_reason"])
    log.info("Digest %s closed: %s", digest_id, reason or f"{len(items)} outcome(s) queued")
    return 0.0


def message_context(user, items: list[DigestItem]) -> dict:
    limit = LIST_LIMIT
    ready = [item.upload for item in items if item.kind == "upload_ready"]
    failed = [item.upload for item in items if item.kind == "upload_failed"]
    return {
        "user": user,
        "site_name": settings.SITE_NAME,
        "gallery_url": f"{settings.SITE_URL}/",
        "ready": [(u, f"{settings.SITE_URL}/uploads/{u.id}/") for u in ready[:limit]],
        "failed": [(u, f"{settings.SITE_URL}/uploads/{u.id}/") for u in failed[:limit]],
        "ready_count": len(ready),
        "failed_count": len(failed),
        "ready_more": max(0, len(ready) - limit),
        "failed_more": max(0, len(failed) - limit),
    }


def close_due(*, now=None, batch: int = 500) -> int:
    """Close every digest whose window has ended (their task was lost or its worker
    died); returns how many were closed."""
    now = now or timezone.now()
    due = Digest.objects.filter(closed_at=None, send_after__lte=now).values_list("id", flat=True)
    closed = 0
    for digest_id in list(due[:batch]):
        close(digest_id=digest_id, now=now)
        closed += 1
    return closed
