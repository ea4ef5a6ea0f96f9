"""Finding rows whose task was lost, and publishing them again: nothing accepted is lost."""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone


def stale_work(*, queued: str, working: str, lease_seconds: int, now: datetime) -> Q:
    """Rows in need of a new message.

    `queued` rows that were never published after a grace period (broker down, or the web
    process died before on_commit ran), `queued` rows published long ago and still not
    claimed (the broker lost the message), and `working` rows whose claim is older than the
    lease (their worker died and no redelivery came).
    """
    unpublished = Q(
        status=queued,
        published_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.UNPUBLISHED_GRACE_SECONDS),
    )
    lost = Q(
        status=queued,
        published_at__lt=now - timedelta(seconds=settings.REPUBLISH_AFTER_SECONDS),
    )
    abandoned = Q(status=working, claimed_at__lt=now - timedelta(seconds=lease_seconds))
    return unpublished | lost | abandoned


def republish(ids: Iterable, publish: Callable[[object], bool]) -> int:
    """Publish each id; stop at the first failure (the broker is down: try next sweep)."""
    count = 0
    for row_id in ids:
        if not publish(row_id):
            break
        count += 1
    return count


def sweep(
    model,
    *,
    queued: str,
    working: str,
    lease_seconds: int,
    publish: Callable[[object], bool],
    now: datetime | None = None,
    batch: int = 1000,
) -> int:
    """Publish again, oldest first, up to `batch` rows whose message was lost.

    Returns how many were republished.
    """
    stale = stale_work(
        queued=queued, working=working, lease_seconds=lease_seconds, now=now or timezone.now()
    )
    ids = model.objects.filter(stale).order_by("created_at").values_list("id", flat=True)
    return republish(list(ids[:batch]), publish)
