"""What the broker says of its queues: counts from a passive declare, or None when away."""

import time

import pytest

from celery_app import app, queue_name
from conftest import require_services
from ops import broker
from tests.servers import free_port

pytestmark = pytest.mark.integration


def test_a_dead_broker_is_said_within_the_timeout():
    started = time.monotonic()
    stats = broker.queue_stats(
        timeout=1.0, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    )
    assert stats is None
    assert time.monotonic() - started < 5


def test_messages_waiting_are_counted_without_being_touched(worker_env, purged_queues):
    require_services()
    with app.connection_for_write() as conn:
        for kind in ("email", "media"):  # what earlier tests left
            conn.default_channel.queue_purge(queue_name(kind))
        producer = conn.Producer()
        for n in range(4):
            producer.publish(
                {"n": n}, exchange=queue_name("email"), routing_key="email", serializer="json"
            )
    stats = broker.queue_stats()
    assert stats["email"]["queue"] == queue_name("email")
    assert stats["email"]["messages"] == 4
    assert stats["media"]["messages"] == 0
    # Asking again finds the same four: a passive declare consumes nothing.
    assert broker.queue_stats()["email"]["messages"] == 4
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue_name("email"))
