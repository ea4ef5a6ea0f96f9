"""Fixtures of the fault suite: the real broker and database to break, fast sweeps, counts."""

import os
import sys
from urllib.parse import urlsplit

import pytest

from conftest import IN_CI
from tests.reliability.faults import Broker, Postgres, Tally, port_answers
from tests.servers import Process

# The cluster cases run in a pass of their own (scripts/test), with BROKER_URL listing the
# cluster's nodes; in every other pass they are not collected at all.
collect_ignore = [] if os.environ.get("RABBITMQ_CLUSTER_DIR") else ["test_cluster.py"]

# Short leases and sweeps, so lost work comes back within seconds instead of minutes.
FAST = {
    "SWEEP_INTERVAL_SECONDS": "1",
    "UNPUBLISHED_GRACE_SECONDS": "1",
    "REPUBLISH_AFTER_SECONDS": "20",
    "MEDIA_PROCESSING_LEASE": "20",
    "MAILER_SENDING_LEASE": "20",
    "MEDIA_RETRY_BACKOFF_SECONDS": "0.5",
    "MAILER_RETRY_BACKOFF_SECONDS": "0.5",
    "REDIS_VISIBILITY_TIMEOUT": "20",
}


def unavailable(reason: str | None):
    if reason:
        if IN_CI:
            pytest.fail(f"The fault suite cannot run: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def broker():
    url = os.environ.get("BROKER_URL", "")
    unavailable(None if url else "BROKER_URL is not set")
    controller = Broker(url)
    unavailable(controller.missing_tool)
    return controller


@pytest.fixture(scope="session")
def postgres():
    from django.db import connection

    settings = connection.settings_dict
    unavailable(None if "postgresql" in settings["ENGINE"] else "the database is not Postgres")
    controller = Postgres(settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432))
    unavailable(controller.missing_tool)
    return controller


@pytest.fixture(autouse=True)
def services_left_running(request):
    """Whatever a case did, the broker and the database are running after it."""
    yield
    if "broker" in request.fixturenames:
        controller = request.getfixturevalue("broker")
        if not port_answers(controller.host, controller.port):
            controller.start()
    if "postgres" in request.fixturenames:
        controller = request.getfixturevalue("postgres")
        if not port_answers(controller.host, controller.port):
            controller.restart()
        from django.db import connections

        connections.close_all()


@pytest.fixture
def fast_env(worker_env):
    return {**worker_env, **FAST}


@pytest.fixture
def report(request):
    """Print a case's counts where the reader of the test output sees them."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def emit(tally: Tally) -> Tally:
        with capture.global_and_fixture_disabled():
            print("\n" + tally.line(), flush=True)
        return tally

    return emit


def broker_kind() -> str:
    return urlsplit(os.environ.get("BROKER_URL", "")).scheme or "none"


@pytest.fixture
def beat_factory(fast_env, tmp_path):
    """Start beat (the sweeps, every second here) when the case is ready for it."""
    started = []

    def start() -> Process:
        process = Process(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp_path / 'beat-schedule'}",
            ],
            env=fast_env,
            log_path=tmp_path / "beat.log",
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
