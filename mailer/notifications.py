"""Who is told what about a finished upload: at once, in a digest, or not at all (and why)."""

from django.db import transaction

from accounts.models import EmailPreferences
from accounts.services import preferences_for
from core.statelog import log as state_log
from core.statelog import logfmt
from mailer import digests, unsubscribe
from mailer.recipients import skip_reason
from mailer.services import queue_email
from ops import counters

Notifications = EmailPreferences.Notifications


def record_skip(*, upload_id, kind: str, reason: str) -> None:
    """The recorded reason a notification was not queued: a counter and a state line."""
    counters.increment("notifications_skipped", {"kind": kind, "reason": reason})
    transaction.on_commit(
        lambda: state_log.info(logfmt(upload=upload_id, notification=kind, skipped=reason))
    )


def upload_finished(*, upload, kind: str, context: dict) -> None:
    """Tell the owner that `upload` ended (`upload_ready` or `upload_failed`), as they
    chose; in the caller's transaction, once per upload and outcome however often it runs."""
    owner = upload.owner
    preferences = preferences_for(owner)
    if reason := skip_reason(owner, preferences, kind):
        record_skip(upload_id=upload.id, kind=kind, reason=reason)
        return
    if preferences.notifications == Notifications.DIGEST:
        digests.add(user=owner, upload=upload, kind=kind)
        return
    link = unsubscribe.url_for(owner)
    queue_email(
        kind=kind,
        to=owner.email,
        context={**context, "unsubscribe_url": link},
        dedupe_key=f"{kind}:{upload.id}",
        headers=unsubscribe.headers_for(link),
    )
