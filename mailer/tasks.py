"""Email tasks: take a row id, call the service, own the retry policy."""

import random

from celery import shared_task
from django.conf import settings

from mailer import services

# However many attempts, never wait more than ten minutes for the next one.
BACKOFF_CAP_SECONDS = 600


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 ... times the base after each attempt.

    Half the delay is fixed and half random, so retries of many messages that failed
    together (a provider's outage) spread out instead of arriving in step.
    """
    base = settings.MAILER_RETRY_BACKOFF_SECONDS
    delay = min(BACKOFF_CAP_SECONDS, base * 2 ** min(max(attempts - 1, 0), 20))
    return delay / 2 + random.uniform(0, delay / 2)


@shared_task(
    bind=True,
    acks_late=True,
    # The row counts attempts, across retries, sweeps and redeliveries alike; the
    # service ends it `failed` after MAILER_MAX_ATTEMPTS.
    max_retries=None,
    # The outbox row and its delivery attempts are the record of what happened, with the
    # server's replies; a task result as well would add about as many writes again.
    ignore_result=True,
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
        raise self.retry(exc=error, countdown=backoff_seconds(error.attempts)) from error
    return email.status if email else "skipped"


@shared_task(ignore_result=True)
def sweep_stale_emails() -> int:
    return services.sweep_stale_emails()
