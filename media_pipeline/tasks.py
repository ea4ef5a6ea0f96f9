"""Media tasks: take an upload id, call the service, own the retry policy."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings

from core import malloc
from core.transient import backoff_seconds, is_transient
from media_pipeline import direct, imaging, services

log = logging.getLogger(__name__)


@worker_process_init.connect
def load_imaging_engine(**kwargs) -> None:
    """Load the imaging engine in each pool process as it starts, not in its first task.

    Importing pyvips takes a moment of import machinery and callbacks, and Celery stops a
    process by raising SystemExit from its SIGTERM handler: landing in a callback, that
    exception is swallowed and the task runs on through a shutdown. (Loading libvips in the
    parent before the fork is not safe: its checks look for pyvips without starting it.)
    Before that, malloc is told to hand large freed buffers back (core.malloc), so that
    the process's memory stays flat from image to image.
    """
    malloc.return_freed_memory_promptly()
    try:
        imaging.check_engine(settings.MEDIA_IMAGE_ENGINE, services.rendition_specs())
    except ValueError as error:  # each upload then fails with this reason, clearly logged
        log.error("MEDIA_IMAGE_ENGINE=%s cannot work: %s", settings.MEDIA_IMAGE_ENGINE, error)


class UploadFailed(Exception):
    """The upload ended `failed`: the task ends FAILURE (acknowledged, never redelivered),
    so Flower and the task results show it, with the reason the owner reads."""


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.MEDIA_MAX_RETRIES,
)
def process_upload(self, upload_id: str) -> str:
    """Retry what is transient (storage or database away) with backoff; fail the rest.

    A redelivery (its worker died) or a retry may take back the row it left `processing`.
    """
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        upload = services.process_upload(
            upload_id=upload_id, reclaim=redelivered or self.request.retries > 0
        )
    except SoftTimeLimitExceeded:
        upload = services.fail_upload(upload_id=upload_id, reason=services.TOO_SLOW)
        raise UploadFailed(f"Upload {upload_id}: {upload.error}") from None
    except Exception as error:
        if is_transient(error) and self.request.retries < self.max_retries:
            log.warning("Upload %s: transient error, retrying: %r", upload_id, error)
            raise self.retry(
                exc=error,
                countdown=backoff_seconds(
                    self.request.retries + 1, base=settings.MEDIA_RETRY_BACKOFF_SECONDS
                ),
            ) from error
        # A bug or a service that stayed away: the upload ends `failed`, never loops.
        log.exception("Upload %s failed for good", upload_id)
        services.fail_upload(upload_id=upload_id, reason=services.INTERNAL_ERROR)
        raise UploadFailed(
            f"Upload {upload_id}: {services.INTERNAL_ERROR} ({type(error).__name__}: {error})"
        ) from error
    if upload is not None and upload.status == services.Status.FAILED:
        raise UploadFailed(f"Upload {upload_id}: {upload.error}")
    return upload.status if upload else "skipped"


@shared_task(ignore_result=True, send_events=False)
def sweep_stale_uploads() -> int:
    return services.sweep_stale_uploads()


@shared_task(ignore_result=True, send_events=False)
def sweep_direct_uploads() -> int:
    """Abort direct uploads left unfinished past MEDIA_DIRECT_UPLOAD_EXPIRY."""
    return direct.sweep_abandoned()
