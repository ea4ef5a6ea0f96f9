"""GET /healthz checks the database and the broker, and says quickly what is down."""

import time

import pytest

from conftest import require_services

pytestmark = pytest.mark.django_db


def test_healthy(client, settings):
    require_services()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["database"]["ok"]
    assert response.json()["checks"]["broker"]["ok"]


def test_broker_down_is_a_quick_503(client):
    from celery_app import app

    saved = app.conf.broker_url
    # A closed port on loopback: the broker is "down".
    app.conf.broker_url = "amqp://guest:guest@127.0.0.1:1//"
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        app.conf.broker_url = saved
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
    assert response.json()["checks"]["database"]["ok"]
    assert elapsed < 5
