"""The Celery app: settings from Django (CELERY_ namespace), one queue per kind of work."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("media_service")
app.config_from_object("django.conf:settings", namespace="CELERY")

# One direct exchange and routing key per kind of work, so each queue gets its own
# workers and scales alone. Durable queues, persistent messages (kombu's default).
QUEUES = ("default", "media", "email")
app.conf.task_queues = [
    Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)
    for name in QUEUES
]
app.conf.task_default_queue = "default"
app.conf.task_default_exchange = "default"
app.conf.task_default_routing_key = "default"
app.conf.task_routes = {
    "media_pipeline.tasks.process_upload": {"queue": "media", "routing_key": "media"},
    "mailer.tasks.send_email": {"queue": "email", "routing_key": "email"},
    "media_pipeline.tasks.sweep_stale_uploads": {"queue": "default", "routing_key": "default"},
    "mailer.tasks.sweep_stale_emails": {"queue": "default", "routing_key": "default"},
}

app.autodiscover_tasks()
