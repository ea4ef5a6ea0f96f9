"""A benchmark's own Postgres database and RabbitMQ queues, made for one run and removed after.

Every benchmark that starts real workers gets a database and a queue namespace named after
its process id, so runs (and test runs) on one machine never see each other's rows or work.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
KINDS = ("default", "media", "email")  # every queue the product may declare in the namespace


class Throwaway:
    def __init__(self, *, database: str, namespace: str):
        self.database, self.namespace = database, namespace

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def drop_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def drop_queues(self) -> None:
        """Delete this run's queues and exchanges, and nothing else."""
        from kombu import Connection

        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            channel = conn.channel()
            for kind in KINDS:
                channel.queue_delete(f"{self.namespace}{kind}")
                channel.exchange_delete(f"{self.namespace}{kind}")

    def configure(self, folder: Path, **extra: str) -> None:
        """Environment of this process and of every process it starts: this run's only."""
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "DJANGO_DEBUG": "false",  # as in production: no SQL query log growing per task
                "DATABASE_URL": f"{POSTGRES_URL}/{self.database}",
                "BROKER_URL": RABBITMQ_URL,
                "CELERY_QUEUE_NAMESPACE": self.namespace,
                "MEDIA_ROOT": str(folder / "media"),
                "VAR_DIR": str(folder / "var"),
                "EMAIL_URL": "memory:",
                "LOG_LEVEL": "WARNING",  # this process; the workers log at INFO, as deployed
                **extra,
            }
        )

    def clean_up(self, *, database_created: bool, folder: Path) -> None:
        """Remove what the run made; a cleanup that fails is reported and the others still run."""
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        cleanups = [self.drop_queues]
        if database_created:
            cleanups.insert(0, self.drop_database)
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception as error:  # report and go on: the other cleanups still run
                print(f"cleanup {cleanup.__name__} failed: {error}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def migrate() -> None:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=dict(os.environ),
            check=True,
        )
