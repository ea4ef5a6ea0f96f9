"""Run a Celery worker for named queues: `manage.py worker media`, `manage.py worker email default`.

The one way every deployment starts a worker (both Procfiles, docker compose, the image), so
each consumes the queue names the publisher uses, CELERY_QUEUE_NAMESPACE included.
"""

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from celery_app import QUEUES, worker_command


class Command(BaseCommand):
    help = "Start a Celery worker consuming the named queues (media, email, default)."

    def add_arguments(self, parser):
        parser.add_argument("queues", nargs="+", choices=QUEUES)
        parser.add_argument("-c", "--concurrency", type=int, default=None)
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, queues, concurrency, loglevel, **options):
        command = worker_command(queues, concurrency=concurrency, loglevel=loglevel)
        # SIGTERM (a dyno's or a container's stop, honcho's Ctrl-C) reaches the pool
        # processes too; a warm shutdown then waits on the dead ones. A cold shutdown
        # returns the unfinished task to the queue at once and exits.
        os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
        if "email" in queues:
            # Many quick tasks: one Postgres connection kept for 100 of them instead of a new
            # one per task (mailer/tasks.py drops a broken one before each task).
            os.environ.setdefault("CELERY_DB_REUSE_MAX", "100")
        try:
            os.execv(sys.executable, command)  # noqa: S606 (replaces this process)
        except OSError as error:
            raise CommandError(f"Could not start the worker: {error}") from error
