"""Email workers meeting faults: an SMTP server that is not up yet, a worker killed mid-send
or mid-batch."""

import signal
from collections import Counter

import pytest
from django.db import transaction

from mailer import services
from mailer.models import OutgoingEmail
from tests.servers import SMTPServer, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def queue_one() -> OutgoingEmail:
    return services.queue_email(
        kind="upload_failed", to="alice@example.com", context={"upload": None, "user": None}
    )


def test_connection_refused_until_the_server_starts_then_delivered_once(
    worker_env, purged_queues, tmp_path
):
    server = SMTPServer()  # its port is chosen; nothing listens there yet
    env = {
        **worker_env,
        "EMAIL_URL": server.url,
        "MAILER_RETRY_BACKOFF_SECONDS": "0.2",
        "MAILER_MAX_ATTEMPTS": "30",
    }
    worker = start_worker(queues="email", env=env, log_dir=tmp_path, concurrency=1)
    started = False
    try:
        email = queue_one()
        wait_for(
            lambda: email.delivery_attempts.filter(outcome="temporary").exists(),
            what="a refused attempt",
        )
        assert "Connection refused" in OutgoingEmail.objects.get(id=email.id).last_error
        server.start()
        started = True
        sent = wait_for(
            lambda: OutgoingEmail.objects.filter(id=email.id, status="sent").first(),
            what="delivery once the server is up",
        )
        assert server.inbox.message_ids() == [email.message_id]
        outcomes = list(sent.delivery_attempts.values_list("outcome", "detail"))
        assert outcomes[-1] == ("sent", "250 2.0.0 Message accepted")
        assert len(outcomes) == sent.attempts >= 2
        assert all(
            outcome == "temporary" and "Connection refused" in detail
            for outcome, detail in outcomes[:-1]
        )
    finally:
        worker.stop()
        if started:
            server.stop()


def email_queue_depth() -> int:
    from celery_app import app, queue_name

    queue = app.amqp.queues[queue_name("email")]
    with app.connection_for_write() as conn:
        return queue.bind(conn.default_channel).queue_declare(passive=True).message_count


def purge_email_queue() -> None:
    from celery_app import app, queue_name

    with app.connection_for_write() as conn:
        app.amqp.queues[queue_name("email")].bind(conn.default_channel).purge()


@pytest.mark.parametrize("broker_keeps_the_message", [True, False], ids=["redelivered", "lost"])
def test_worker_killed_mid_send_is_delivered_after_the_sweep_at_most_twice(
    worker_env, purged_queues, inbox, tmp_path, settings, broker_keeps_the_message
):
    """SIGKILL while the server holds its reply: the server has the message, the row
    says `sending`. The broker redelivers the task (or, worse, has lost it) and the sweep
    republishes it; a second worker sends it. Same Message-ID, at most one duplicate."""
    purge_email_queue()  # a digest's countdown task an earlier test left would come back too
    doomed = start_worker(queues="email", env=worker_env, log_dir=tmp_path, concurrency=1)
    inbox.delay = 60
    email = queue_one()
    wait_for(lambda: inbox.message_ids(), what="the server to take the message")
    assert OutgoingEmail.objects.get(id=email.id).status == "sending"
    doomed.signal(signal.SIGKILL)
    wait_for(lambda: not doomed.alive(), what="the worker to die")
    doomed.stop()
    inbox.delay = 0
    # The dead worker's unacknowledged message goes back to the queue.
    wait_for(lambda: email_queue_depth() >= 1, what="the task back in the queue")
    if not broker_keeps_the_message:
        purge_email_queue()

    rescuer = start_worker(
        queues="email", env={**worker_env, "MAILER_SENDING_LEASE": "1"}, log_dir=tmp_path
    )
    try:
        settings.MAILER_SENDING_LEASE = 1
        wait_for(
            lambda: (
                services.sweep_stale_emails()
                or OutgoingEmail.objects.get(id=email.id).status == "sent"
            ),
            what="the sweep to republish the abandoned message",
        )
        sent = wait_for(
            lambda: OutgoingEmail.objects.filter(id=email.id, status="sent").first(),
            what="the message sent after the sweep",
        )
        deliveries = Counter(inbox.message_ids())
        assert set(deliveries) == {email.message_id}
        assert 1 <= deliveries[email.message_id] <= 2
        outcomes = list(sent.delivery_attempts.values_list("outcome", flat=True))
        assert outcomes[0] == "interrupted" and outcomes[-1] == "sent"
        assert outcomes.count("sent") == 1
    finally:
        rescuer.stop()


@pytest.mark.parametrize("broker_keeps_the_message", [True, False], ids=["redelivered", "lost"])
def test_worker_killed_mid_batch_loses_nothing(
    worker_env, purged_queues, inbox, tmp_path, settings, broker_keeps_the_message
):
    """The task claimed a batch of rows and the server holds its reply to the first: the
    rows stay `sending` in the name of the dead worker's message. The broker redelivers it
    and it takes them all over (or, lost, the sweep republishes them after the lease)."""
    purge_email_queue()  # a digest's countdown task an earlier test left would come back too
    inbox.delay = 60
    with transaction.atomic():
        emails = [queue_one() for _ in range(4)]
    ids = [email.id for email in emails]
    # Every publish recorded first: a row whose published_at is being written is locked,
    # and a batch skips locked rows (SKIP LOCKED; its own task sends it later).
    wait_for(
        lambda: not OutgoingEmail.objects.filter(id__in=ids, published_at=None).exists(),
        what="the four messages published",
    )
    doomed = start_worker(queues="email", env=worker_env, log_dir=tmp_path, concurrency=1)
    try:
        wait_for(lambda: inbox.message_ids(), what="the server to take the first message")
        claims = set(OutgoingEmail.objects.filter(id__in=ids).values_list("status", "claimed_by"))
        assert len(claims) == 1 and claims.pop()[0] == "sending"  # one batch, one claimant
        doomed.signal(signal.SIGKILL)
        wait_for(lambda: not doomed.alive(), what="the worker to die")
    finally:
        doomed.stop()
    inbox.delay = 0
    wait_for(lambda: email_queue_depth() >= 4, what="every task back in the queue")
    if not broker_keeps_the_message:
        purge_email_queue()

    # Redelivered, the message takes its rows over at once; lost, the rows wait for the
    # lease (1 s here) and the sweep. (A short lease with the message redelivered as well
    # would let another task take a row the redelivered one is sending: a third copy.)
    lease = {} if broker_keeps_the_message else {"MAILER_SENDING_LEASE": "1"}
    rescuer = start_worker(queues="email", env={**worker_env, **lease}, log_dir=tmp_path)
    try:

        def all_sent() -> bool:
            return OutgoingEmail.objects.filter(id__in=ids, status="sent").count() == 4

        if broker_keeps_the_message:
            wait_for(all_sent, what="every message of the batch sent")
        else:
            settings.MAILER_SENDING_LEASE = 1
            wait_for(
                lambda: (services.sweep_stale_emails() or all_sent()) and all_sent(),
                what="every message of the batch sent",
            )
        deliveries = Counter(inbox.message_ids())
        assert set(deliveries) == {email.message_id for email in emails}
        assert all(1 <= count <= 2 for count in deliveries.values())
        assert sum(deliveries.values()) <= 5  # only the message the server held went twice
        for email in emails:
            attempts = list(email.delivery_attempts.values_list("outcome", flat=True))
            assert attempts[0] == "interrupted" and attempts[-1] == "sent"
            assert attempts.count("sent") == 1
    finally:
        rescuer.stop()


def test_a_kept_database_connection_that_died_is_replaced_before_the_next_task(
    worker_env, purged_queues, inbox, tmp_path
):
    """The email worker keeps its Postgres connection across tasks (CELERY_DB_REUSE_MAX);
    one that died between tasks (here terminated by Postgres) is noticed before the next
    task, not by it."""
    from django.db import connection

    env = {**worker_env, "CELERY_DB_REUSE_MAX": "100"}
    worker = start_worker(queues="email", env=env, log_dir=tmp_path, concurrency=1)
    try:
        first = queue_one()
        wait_for(lambda: OutgoingEmail.objects.filter(id=first.id, status="sent").exists())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1  # the worker's kept connection
        second = queue_one()
        sent = wait_for(
            lambda: OutgoingEmail.objects.filter(id=second.id, status="sent").first(),
            what="the next message sent on a new connection",
        )
        assert sent.attempts == 1
        assert inbox.message_ids() == [first.message_id, second.message_id]
    finally:
        worker.stop()
