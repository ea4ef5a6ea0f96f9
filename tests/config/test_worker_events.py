"""The worker's monitoring events go out without publisher confirms; task messages keep them."""

from types import SimpleNamespace

from celery_app import app
from config.celery_worker import ServiceConsumer


def test_the_event_connection_has_no_confirms_and_keeps_the_other_options():
    consumer = SimpleNamespace(app=app, ensure_connected=lambda connection: connection)
    events = ServiceConsumer.connection_for_write(consumer, heartbeat=10)
    try:
        options = events.transport_options
        if app.conf.broker_url.startswith("amqp"):
            assert app.conf.broker_transport_options["confirm_publish"] is True
        assert options["confirm_publish"] is False
        for name, value in app.conf.broker_transport_options.items():
            if name != "confirm_publish":
                assert options[name] == value  # bounded retries and the rest kept
        assert events.heartbeat == 10
    finally:
        events.release()
    with app.connection_for_write() as tasks:
        assert tasks.transport_options.get("confirm_publish", True) is not False


def test_the_worker_uses_the_service_consumer():
    assert app.conf.worker_consumer == "config.celery_worker:ServiceConsumer"
