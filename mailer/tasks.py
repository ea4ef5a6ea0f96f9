"""Email tasks: take a row id, call the service, own the retry policy."""

import random

from celery import shared_task
from django.conf import settings

from mailer import services


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with full jitter: 2, 4, 8 ... seconds, capped at 10 minutes."""
    return random.uniform(0, min(600, 2 ** (retries + 1)))


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=settings.MAILER_MAX_ATTEMPTS,
    rate_limit=settings.MAILER_RATE_LIMIT,
)
def send_email(self, email_id: int) -> str:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        email = services.send_email(email_id=email_id, reclaim=redelivered)
    except services.TemporaryDeliveryError as error:
        if self.request.retries >= self.max_retries:
            services.mark_failed(email_id=email_id, reason=f"Gave up after retries: {error}")
            return "failed"
        raise self.retry(exc=error, countdown=backoff_seconds(self.request.retries)) from error
    return email.status if email else "skipped"


@shared_task(ignore_result=True)
def sweep_stale_emails() -> int:
    return services.sweep_stale_emails()
