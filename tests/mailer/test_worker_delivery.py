"""Real email workers on the `email` queue: retries, permanent failures, two workers, resend."""

import os
from collections import Counter

import pytest
from django.db import transaction

from mailer import services
from mailer.models import OutgoingEmail
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Retries within a fraction of a second; a rate limit to see applied (far above the rate
# reached here, so it never slows these tests).
WORKER_SETTINGS = {"MAILER_RETRY_BACKOFF_SECONDS": "0.05", "MAILER_RATE_LIMIT": "500/s"}


@pytest.fixture(scope="module")
def email_worker(worker_env, purged_queues, tmp_path_factory):
    process = start_worker(
        queues="email",
        env={**worker_env, **WORKER_SETTINGS},
        log_dir=tmp_path_factory.mktemp("email-worker"),
        name=f"test-mailer-{os.getpid()}",
    )
    yield process
    process.stop()


def queue_one(to="alice@example.com") -> OutgoingEmail:
    return services.queue_email(kind="upload_failed", to=to, context={"upload": None, "user": None})


def finished(email: OutgoingEmail) -> OutgoingEmail:
    return wait_for(
        lambda: OutgoingEmail.objects.filter(id=email.id, status__in=["sent", "failed"]).first(),
        what=f"email {email.id} to be sent or failed",
    )


def test_451_twice_then_accepted_is_delivered_once_with_each_attempt_recorded(email_worker, inbox):
    inbox.replies = ["451 4.3.0 Mailbox busy, try later", "451 4.7.1 Greylisted"]
    email = finished(queue_one())
    assert email.status == "sent"
    assert inbox.message_ids() == [email.message_id]
    assert email.attempts == 3
    assert email.server_reply == "250 2.0.0 Message accepted" and email.sent_at
    attempts = list(email.delivery_attempts.values_list("number", "outcome", "detail"))
    assert attempts == [
        (1, "temporary", "451 4.3.0 Mailbox busy, try later"),
        (2, "temporary", "451 4.7.1 Greylisted"),
        (3, "sent", "250 2.0.0 Message accepted"),
    ]


def test_550_fails_at_once_and_is_never_retried(email_worker, inbox):
    inbox.replies = ["550 5.1.1 No such user here"]
    failed = finished(queue_one("nobody@example.com"))
    assert failed.status == "failed" and "550 5.1.1 No such user here" in failed.last_error
    # A later message goes through the same worker; by then a retry would have come too.
    later = finished(queue_one())
    assert later.status == "sent"
    assert inbox.message_ids() == [later.message_id]
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 1
    assert list(failed.delivery_attempts.values_list("outcome", flat=True)) == ["permanent"]


def test_rate_limit_setting_is_applied_to_the_send_task(email_worker):
    from celery.utils.nodenames import gethostname

    from celery_app import app

    name = email_worker.command[email_worker.command.index("-n") + 1].replace("%h", gethostname())
    replies = app.control.inspect(destination=[name], timeout=10).registered("rate_limit")
    assert replies, f"no answer from {name}"
    assert "mailer.tasks.send_email [rate_limit=500/s]" in replies[name]


def test_two_workers_deliver_200_messages_each_exactly_once(
    email_worker, worker_env, inbox, tmp_path
):
    second = start_worker(queues="email", env={**worker_env, **WORKER_SETTINGS}, log_dir=tmp_path)
    try:
        with transaction.atomic():
            emails = [queue_one(f"user{n}@example.com") for n in range(200)]
        wait_for(
            lambda: OutgoingEmail.objects.filter(status="sent").count() == 200,
            timeout=180,
            what="200 messages sent",
        )
        delivered = Counter(inbox.message_ids())
        assert delivered == Counter({email.message_id: 1 for email in emails})
        # Both workers took part.
        assert "mailer.tasks.send_email" in second.output()
        assert "mailer.tasks.send_email" in email_worker.output()
    finally:
        second.stop()


def test_admin_resend_sends_again_through_the_worker_with_the_same_message_id(
    email_worker, inbox, admin_client
):
    email = finished(queue_one())
    response = admin_client.post(
        "/admin/mailer/outgoingemail/",
        {"action": "resend_selected", "_selected_action": [email.id]},
    )
    assert response.status_code == 302
    wait_for(lambda: len(inbox.message_ids()) == 2, what="the resent message")
    assert inbox.message_ids() == [email.message_id] * 2
    again = finished(email)
    assert list(again.delivery_attempts.values_list("outcome", flat=True)) == ["sent", "sent"]
