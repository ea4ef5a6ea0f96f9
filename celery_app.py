"""The Celery app: settings from Django (CELERY_ namespace), one queue per kind of work."""

import os
import sys

from celery import Celery
from celery.signals import beat_init
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("media_service")
app.config_from_object("django.conf:settings", namespace="CELERY")

# One direct exchange and routing key per kind of work, so each queue gets its own
# workers and scales alone. Durable queues, persistent messages (kombu's default).
QUEUES = ("default", "media", "email")
# A prefix for queue and exchange names, so several deployments (staging beside review
# apps, or parallel test runs) can share one broker without taking each other's work.
NAMESPACE = os.environ.get("CELERY_QUEUE_NAMESPACE", "")


def queue_name(kind: str) -> str:
    return f"{NAMESPACE}{kind}"


# CELERY_QUEUE_TYPE=quorum declares quorum queues, replicated across a RabbitMQ cluster.
# Retries with a countdown then go through Celery's native delayed delivery, which needs
# topic exchanges, so the exchanges become topic ones (routing keys stay the same). Quorum
# queues cannot be redeclared as classic ones: switching means new queue names (see
# CELERY_QUEUE_NAMESPACE) or deleting the old queues once drained.
QUEUE_TYPE = os.environ.get("CELERY_QUEUE_TYPE", "classic")
if QUEUE_TYPE not in ("classic", "quorum"):
    raise ValueError(f"CELERY_QUEUE_TYPE must be classic or quorum, not {QUEUE_TYPE!r}")
QUORUM = QUEUE_TYPE == "quorum"

app.conf.task_queues = [
    Queue(
        queue_name(kind),
        Exchange(queue_name(kind), type="topic" if QUORUM else "direct", durable=True),
        routing_key=kind,
        durable=True,
        queue_arguments={"x-queue-type": "quorum"} if QUORUM else None,
    )
    for kind in QUEUES
]
app.conf.task_default_queue = queue_name("default")
app.conf.task_default_exchange = queue_name("default")
app.conf.task_default_routing_key = "default"
ROUTES = {
    "media_pipeline.tasks.process_upload": "media",
    "mailer.tasks.send_email": "email",
    "media_pipeline.tasks.sweep_stale_uploads": "default",
    "media_pipeline.tasks.sweep_direct_uploads": "default",
    "mailer.tasks.sweep_stale_emails": "default",
    "mailer.digest_tasks.close_digest": "email",
    "mailer.digest_tasks.close_due_digests": "default",
    "ops.tasks.report_queue_age": "default",
}
app.conf.task_routes = {
    task: {"queue": queue_name(kind), "routing_key": kind} for task, kind in ROUTES.items()
}

# A broker URL listing a cluster's nodes is one broker to fail over along, and the worker's
# events go out unconfirmed (config/celery_worker.py).
app.conf.worker_consumer = "config.celery_worker:ServiceConsumer"

app.autodiscover_tasks()


@beat_init.connect
def quiet_housekeeping(sender, **kwargs) -> None:
    """Beat publishes only housekeeping (the sweeps): no task-sent event for Flower.

    The tasks themselves send no worker events (`send_events=False`), so the sweeps, about
    240 an hour, stay out of Flower's task list; the uploads and emails they republish are
    published by the worker, with their events.
    """
    sender.app.conf.task_send_sent_event = False


def worker_command(
    kinds, *, name: str | None = None, concurrency: int | None = None, loglevel: str = "INFO"
) -> list[str]:
    """The command line of a worker for the given kinds of work, in this queue namespace."""
    kinds = list(kinds)
    command = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker",
        "-Q", ",".join(queue_name(kind) for kind in kinds),
        "-n", f"{name or '-'.join(kinds)}@%h",
        f"--loglevel={loglevel}",
    ]  # fmt: skip
    if "media" in kinds:
        command.append("--prefetch-multiplier=1")  # one long job at a time per process
    elif "email" in kinds:
        # Short tasks: a few messages held per process keep it busy (acks stay late, so a
        # dead worker's held messages go back to the queue).
        command.append("--prefetch-multiplier=4")
    if concurrency:
        command.append(f"--concurrency={concurrency}")
    return command
