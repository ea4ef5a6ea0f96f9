"""Digest tasks: close one digest when its window ends; close any left behind (beat)."""

from celery import shared_task

from mailer import digests


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def close_digest(self, digest_id: int) -> None:
    left = digests.close(digest_id=digest_id)
    if left:  # ran early (clocks differ a little): come back when the window ends
        digests.publish_close(digest_id, countdown=left)


@shared_task(ignore_result=True, send_events=False)
def close_due_digests() -> int:
    return digests.close_due()
