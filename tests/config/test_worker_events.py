"""The worker's monitoring events go out without publisher confirms; task messages keep them."""

import functools
from types import SimpleNamespace

import pytest
from celery.worker.consumer.events import Events

from celery_app import app
from config.celery_worker import ServiceConsumer

AMQP = app.conf.broker_url.startswith("amqp")


def test_the_event_connection_has_no_confirms_and_keeps_the_other_options():
    consumer = SimpleNamespace(app=app, ensure_connected=lambda connection: connection)
    events = ServiceConsumer.connection_for_write(consumer, heartbeat=10)
    try:
        options = events.transport_options
        assert options["confirm_publish"] is False
        for name, value in app.conf.broker_transport_options.items():
            if name != "confirm_publish":
                assert options[name] == value  # bounded retries and the rest kept
        assert events.heartbeat == 10
    finally:
        events.release()
    if AMQP:
        assert app.conf.broker_transport_options["confirm_publish"] is True
        with app.connection_for_write() as tasks:
            assert tasks.transport_options["confirm_publish"] is True


@pytest.mark.integration
def test_celerys_events_step_publishes_on_that_connection():
    """Celery's own Events step, started as a worker starts it, on the consumer's method."""
    consumer = SimpleNamespace(
        app=app, hostname="events-test@localhost", hub=None, amqheartbeat=None,
        ensure_connected=lambda connection: connection,
    )  # fmt: skip
    consumer.connection_for_write = functools.partial(
        ServiceConsumer.connection_for_write, consumer
    )
    step = Events(consumer)
    step.start(consumer)
    try:
        dispatcher = consumer.event_dispatcher
        dispatcher.send("worker-heartbeat")  # publishes, on a channel of that connection
        assert dispatcher.connection.transport_options["confirm_publish"] is False
        if AMQP:  # what py-amqp itself was told, and its channel after a publish
            assert dispatcher.connection.connection.confirm_publish is False
            assert not dispatcher.producer.channel._confirm_selected
    finally:
        step.shutdown(consumer)


def test_the_worker_uses_the_service_consumer():
    assert app.conf.worker_consumer == "config.celery_worker:ServiceConsumer"
