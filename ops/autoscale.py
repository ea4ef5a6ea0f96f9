"""Queue age per queue, in the shapes Heroku autoscalers read, from Postgres alone.

HireFire polls `GET /hirefire/<HIREFIRE_TOKEN>/info` for `[{"name": <process>, "value": n}]`;
with its "Job Queue Latency" strategy the value is the age in seconds of the oldest waiting
job. Judoscale's adapters post `{"metrics": [[unix time, value, measurement, queue]], ...}`
to `$JUDOSCALE_URL/v3/reports`, queue time in milliseconds. Neither reads a message: the
ages come from the rows, so they work on CloudAMQP, Redis or anything else.
"""

import os
import platform

import requests
from django.utils import timezone

from ops import selectors

# The Procfile process that works each queue: what an autoscaler scales.
PROCESS_OF_QUEUE = {"media": "worker-media", "email": "worker-email"}


def hirefire_info() -> list[dict]:
    ages = selectors.queue_ages(timezone.now())
    return [
        {"name": PROCESS_OF_QUEUE[queue], "value": round(age, 1)} for queue, age in ages.items()
    ]


def judoscale_report() -> dict:
    now = timezone.now()
    at, queued = round(now.timestamp()), selectors.queued_counts()
    metrics = []
    for queue, age in selectors.queue_ages(now).items():
        metrics.append([at, round(age * 1000), "queue_time", queue])
        metrics.append([at, queued[queue], "queue_depth", queue])
    return {
        "container": os.environ.get("DYNO", platform.node()),
        "pid": os.getpid(),
        "config": {},
        "adapters": {"media-service": {"language_version": platform.python_version()}},
        "metrics": metrics,
    }


def post_judoscale_report(url: str, *, timeout: float = 5.0) -> dict:
    """Send one report to Judoscale (`url` is $JUDOSCALE_URL); raises on an HTTP error."""
    report = judoscale_report()
    response = requests.post(f"{url.rstrip('/')}/v3/reports", json=report, timeout=timeout)
    response.raise_for_status()
    return report


def text_lines() -> list[str]:
    queued = selectors.queued_counts()
    return [
        f"{queue}: oldest queued {age:.1f}s, {queued[queue]} queued"
        for queue, age in selectors.queue_ages(timezone.now()).items()
    ]
