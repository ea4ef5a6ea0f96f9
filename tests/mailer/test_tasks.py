"""The send task's retry policy: exponential backoff with jitter, from settings."""

import pytest

from mailer.tasks import BACKOFF_CAP_SECONDS, backoff_seconds, send_email


@pytest.mark.parametrize(("attempts", "full"), [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0)])
def test_backoff_doubles_with_each_attempt_and_keeps_half_of_it_fixed(settings, attempts, full):
    settings.MAILER_RETRY_BACKOFF_SECONDS = 2.0
    delays = [backoff_seconds(attempts) for _ in range(200)]
    assert all(full / 2 <= delay <= full for delay in delays)
    assert len(set(delays)) > 1  # jittered: messages that failed together spread out


def test_backoff_is_capped(settings):
    settings.MAILER_RETRY_BACKOFF_SECONDS = 2.0
    assert all(backoff_seconds(n) <= BACKOFF_CAP_SECONDS for n in (20, 50, 1000))


def test_backoff_base_comes_from_settings(settings):
    settings.MAILER_RETRY_BACKOFF_SECONDS = 0.01
    assert backoff_seconds(1) <= 0.01


def test_send_task_is_routed_to_the_email_queue_and_acknowledged_late():
    from celery_app import app, queue_name

    route = app.amqp.router.route({}, send_email.name)
    assert route["queue"].name == queue_name("email")
    assert send_email.acks_late and send_email.ignore_result
