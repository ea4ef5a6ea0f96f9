"""Housekeeping for operations: report the queue ages to Judoscale when it is set up."""

from celery import shared_task
from django.conf import settings

from ops import autoscale


@shared_task(ignore_result=True, send_events=False)
def report_queue_age() -> None:
    autoscale.post_judoscale_report(settings.JUDOSCALE_URL)
