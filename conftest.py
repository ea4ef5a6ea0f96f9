"""Fixtures shared by every test: users, real SMTP, real Celery workers on real services."""

import os
from pathlib import Path

import pytest

from tests.servers import SMTPServer, database_url, start_worker, wait_for

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _flush_retrying_deadlocks():
    """Let the flush between transactional tests outlast a worker's last writes.

    Worker processes share the test database; one may still be writing its task result or
    an email's outcome when a test ends. Postgres then breaks the deadlock between that
    write and the flush's TRUNCATE by aborting one of them: if it is the flush, run it again.
    """
    import time

    from django.db import OperationalError
    from django.db.backends.base.operations import BaseDatabaseOperations

    flush = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        for attempt in range(5):
            try:
                return flush(self, sql_list)
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.5)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush


_flush_retrying_deadlocks()


def require_services():
    """Integration tests need a real broker; in CI a missing one is a failure, not a skip."""
    if os.environ.get("BROKER_URL"):
        return
    message = "BROKER_URL is not set: integration tests need a real broker (e.g. RabbitMQ)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def user(django_user_model):
    """Alice, with a confirmed address, told of every upload as it finishes (one email per
    upload and outcome, which many tests count; the default is a digest)."""
    from accounts.models import EmailPreferences

    alice = django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password="correct-horse-battery"
    )
    EmailPreferences.objects.create(user=alice, notifications="every", verified_email=alice.email)
    return alice


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(
        username="bob", email="bob@example.com", password="correct-horse-battery"
    )


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, smtp_server, tmp_path_factory):
    """The environment of a worker process: same database, broker, media root and SMTP."""
    require_services()
    from django.conf import settings
    from django.db import connection

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EMAIL_URL": smtp_server.url,
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture(scope="session")
def purged_queues(worker_env):
    """Start with empty queues; a namespaced run deletes its own queues at the end."""
    from celery_app import NAMESPACE, app

    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue.bind(conn.default_channel).declare()
            queue.bind(conn.default_channel).purge()
    yield
    if NAMESPACE:
        with app.connection_for_write() as conn:
            for queue in app.amqp.queues.values():
                bound = queue.bind(conn.default_channel)
                bound.delete()
                bound.exchange.delete()


@pytest.fixture(scope="module")
def celery_worker(worker_env, purged_queues, tmp_path_factory):
    """One real worker consuming every queue, shared by the tests of a module."""
    log_dir = tmp_path_factory.mktemp("worker-logs")
    process = start_worker(queues="media,email,default", env=worker_env, log_dir=log_dir)
    yield process
    process.stop()


@pytest.fixture
def inbox(smtp_server):
    smtp_server.inbox.clear()
    return smtp_server.inbox


@pytest.fixture
def logs_dir(tmp_path) -> Path:
    return tmp_path


__all__ = ["wait_for"]
