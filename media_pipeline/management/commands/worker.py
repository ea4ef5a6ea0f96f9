"""Run a Celery worker for named queues: `manage.py worker media`, `manage.py worker email`."""

import os
import sys

from django.core.management.base import BaseCommand, CommandError

from celery_app import QUEUES


class Command(BaseCommand):
    help = "Start a Celery worker consuming the named queues (media, email, default)."

    def add_arguments(self, parser):
        parser.add_argument("queues", nargs="+", choices=QUEUES)
        parser.add_argument("-c", "--concurrency", type=int, default=None)
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, queues, concurrency, loglevel, **options):
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "-Q",
            ",".join(queues),
            "-n",
            f"{'-'.join(queues)}@%h",
            f"--loglevel={loglevel}",
        ]
        if "media" in queues:
            # One message at a time per process: media work is long.
            command.append("--prefetch-multiplier=1")
        if concurrency:
            command.append(f"--concurrency={concurrency}")
        try:
            os.execv(sys.executable, command)  # noqa: S606 (replaces this process)
        except OSError as error:
            raise CommandError(f"Could not start the worker: {error}") from error
