"""Finding rows whose task was lost, and publishing them again: nothing accepted is lost.

A row needs a new message when it was never published (the broker was down, or the web
process died before its publish), when its worker died (claimed longer ago than the lease,
and no redelivery came), or when the broker lost its message. The last one cannot be seen
from the row alone: a message may wait an hour in a long queue. So a `queued` row published
long ago is published again only when the broker can be shown not to hold it: the queue
holds fewer messages than there are published, unclaimed rows. Then the oldest of those
rows are published again, as many as are missing (the queue is first in, first out, so
the oldest rows are the ones whose messages are gone). A long queue is never multiplied;
a purged or deleted queue is refilled.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

log = logging.getLogger(__name__)

# A row's publish is recorded just before the message reaches the broker (in the same
# request, or by the web process's background thread, within milliseconds).
PUBLISH_SETTLE_SECONDS = 5


def publish_recorded(model, row_id, *, queued: str, send: Callable[[object], bool]) -> None:
    """Publish a row whose INSERT already records the publish (`published_at`, one write
    less than recording it afterwards). If the broker is away, clear that record: the sweep
    then publishes the row as soon as the broker is back, instead of after
    REPUBLISH_AFTER_SECONDS. A clear that fails too (this runs after commit) is logged:
    that later pass still finds the row."""
    if send(row_id):
        return
    try:
        model.objects.filter(id=row_id, status=queued).update(published_at=None)
    except DatabaseError:
        log.warning("Could not mark %s %s unpublished", model.__name__, row_id, exc_info=True)


def republish(ids: Iterable, publish: Callable[[object], bool]) -> int:
    """Publish each id; stop at the first failure (the broker is down: try next sweep)."""
    count = 0
    for row_id in ids:
        if not publish(row_id):
            break
        count += 1
    return count


def missing_messages(outstanding: int, held: int | None) -> int:
    """How many published, unclaimed rows have no message in the queue (0 when unknown).

    Messages a worker has taken but not yet claimed, or holds for a countdown, are not in
    the queue's count either: their rows may be published once more, which the claim
    makes harmless.
    """
    if held is None:  # the broker could not say: publish nothing on a guess
        return 0
    return max(0, outstanding - held)


def sweep(
    model,
    *,
    queued: str,
    working: str,
    lease_seconds: int,
    publish: Callable[[object], bool],
    messages_held: Callable[[], int | None],
    now: datetime | None = None,
    batch: int = 1000,
) -> dict[str, int]:
    """Publish again, oldest first, up to `batch` rows whose message is gone.

    `messages_held()` is how many messages the row's queue holds now (None if the broker
    cannot say). Returns how many were published again, by reason: "unpublished",
    "abandoned" and "lost".
    """
    now = now or timezone.now()
    rows = model.objects.order_by("created_at")
    unpublished = rows.filter(
        status=queued,
        published_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.UNPUBLISHED_GRACE_SECONDS),
    )
    abandoned = rows.filter(status=working, claimed_at__lt=now - timedelta(seconds=lease_seconds))
    done = {}
    for reason, query in (("unpublished", unpublished), ("abandoned", abandoned)):
        ids = list(query.values_list("id", flat=True)[: batch - sum(done.values())])
        done[reason] = republish(ids, publish)
    old = model.objects.filter(
        status=queued, published_at__lt=now - timedelta(seconds=settings.REPUBLISH_AFTER_SECONDS)
    )
    if old.exists():
        # The broker first, then the rows: a message consumed in between makes the rows
        # fewer (publish less, not more). Rows recorded as published in the last few
        # seconds may not have reached the broker yet: they are left out of the count.
        held = messages_held()
        settled = timezone.now() - timedelta(seconds=PUBLISH_SETTLE_SECONDS)
        outstanding = model.objects.filter(status=queued, published_at__lt=settled).count()
        limit = min(missing_messages(outstanding, held), batch - sum(done.values()))
        ids = list(old.order_by("published_at").values_list("id", flat=True)[:limit])
        done["lost"] = republish(ids, publish)
    return {reason: n for reason, n in done.items() if n}


__all__ = ["missing_messages", "publish_recorded", "republish", "sweep"]
