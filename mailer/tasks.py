"""Email tasks: take a row id, call the service, own the retry policy."""

import logging

from celery import shared_task
from celery.signals import task_prerun
from django.conf import settings
from django.db import close_old_connections

from core.transient import backoff_seconds
from mailer import sending, services

log = logging.getLogger(__name__)


class EmailFailed(Exception):
    """The message ended `failed`: the task ends FAILURE (acknowledged, not redelivered),
    so Flower and the task results show it, with the server's words."""


def retry_countdown(error: services.TemporaryDeliveryError) -> float:
    return backoff_seconds(error.attempts, base=settings.MAILER_RETRY_BACKOFF_SECONDS)


@shared_task(
    bind=True,
    acks_late=True,
    # The row counts attempts, across retries, sweeps and redeliveries alike; the
    # service ends it `failed` after MAILER_MAX_ATTEMPTS.
    max_retries=None,
    # The outbox row and its delivery attempts are the record of what happened, with the
    # server's replies; a task result as well would add about as many writes again.
    ignore_result=True,
    # ...but a failure is stored, so the task results show what did not go out.
    store_errors_even_if_ignored=True,
    rate_limit=settings.MAILER_RATE_LIMIT,
)
def send_email(self, email_id: int) -> str:
    try:
        # The task id names the claim of every row of the batch: a redelivery of this
        # message (its worker died mid-send) takes them over at once; a copy republished by
        # the sweep has another id. mailer/sending.py says why a task sends a batch.
        batch = sending.send_batch(
            email_id=email_id,
            claimant=self.request.id,
            max_attempts=settings.MAILER_MAX_ATTEMPTS,
            size=sending.batch_size(),
        )
    except services.TemporaryDeliveryError as error:
        raise self.retry(exc=error, countdown=retry_countdown(error)) from error
    if batch.retry is not None:
        # A row of the batch that met a temporary failure: its own message may be gone.
        try:
            send_email.apply_async(
                args=[batch.retry_email_id], countdown=retry_countdown(batch.retry)
            )
        except Exception:  # broker unreachable: the row is `queued`, the sweep publishes it
            log.warning("Could not publish the retry of email %s", batch.retry_email_id)
    if batch.failed:
        raise EmailFailed(
            "; ".join(
                f"Email {email.id} to {email.to}: {email.last_error}" for email in batch.failed
            )
        )
    return f"sent {len(batch.rows)}" if batch.rows else "skipped"


@task_prerun.connect
def check_kept_database_connection(**kwargs) -> None:
    """With CELERY_DB_REUSE_MAX, before each task as Django does before each request: drop
    a connection that broke (Postgres restarted) or is older than CONN_MAX_AGE, and have
    the next query check it first (CONN_HEALTH_CHECKS). Without it Celery closes them."""
    if settings.CELERY_DB_REUSE_MAX:
        close_old_connections()


@shared_task(ignore_result=True, send_events=False)
def sweep_stale_emails() -> int:
    return services.sweep_stale_emails()
