"""Media tasks: take an upload id, call the service, own the retry policy."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from media_pipeline import services

log = logging.getLogger(__name__)

# Errors worth another try: storage or database briefly unreachable.
TRANSIENT_ERRORS = (OSError, ConnectionError, TimeoutError, OperationalError, InterfaceError)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
)
def process_upload(self, upload_id: str) -> str:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        upload = services.process_upload(
            upload_id=upload_id, reclaim=redelivered or self.request.retries > 0
        )
    except SoftTimeLimitExceeded:
        services.fail_upload(upload_id=upload_id, reason="Processing took too long.")
        return "failed"
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= self.max_retries:
            services.fail_upload(
                upload_id=upload_id, reason="The image could not be stored; please try again."
            )
            raise
        log.warning("Upload %s: transient error, retrying: %s", upload_id, error)
        raise self.retry(exc=error, countdown=min(120, 2 ** (self.request.retries + 1))) from error
    return upload.status if upload else "skipped"


@shared_task(ignore_result=True)
def sweep_stale_uploads() -> int:
    return services.sweep_stale_uploads()
