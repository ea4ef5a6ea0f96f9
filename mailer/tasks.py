"""Email tasks: take a row id, call the service, own the retry policy."""

from celery import shared_task
from django.conf import settings

from core.transient import backoff_seconds
from mailer import services


class EmailFailed(Exception):
    """The message ended `failed`: the task ends FAILURE (acknowledged, not redelivered),
    so Flower and the task results show it, with the server's words."""


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
        # The task id names the claim: a redelivery of this message (its worker died
        # mid-send) takes over at once; a copy republished by the sweep has another id.
        email = services.send_email(
            email_id=email_id, claimant=self.request.id, max_attempts=settings.MAILER_MAX_ATTEMPTS
        )
    except services.TemporaryDeliveryError as error:
        raise self.retry(
            exc=error,
            countdown=backoff_seconds(error.attempts, base=settings.MAILER_RETRY_BACKOFF_SECONDS),
        ) from error
    if email is not None and email.status == services.Status.FAILED:
        raise EmailFailed(f"Email {email_id} to {email.to}: {email.last_error}")
    return email.status if email else "skipped"


@shared_task(ignore_result=True, send_events=False)
def sweep_stale_emails() -> int:
    return services.sweep_stale_emails()
