"""Batches of rows per send task, and the kept connection, against a real SMTP server."""

import smtplib
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.test import override_settings

from mailer import connections, sending, services
from mailer.models import OutgoingEmail
from tests.servers import free_port
from tests.threads import run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_smtp(smtp_server, inbox):
    """Send through the real SMTP server, on a connection no earlier test left open."""
    from config.email_url import mailer_from_url

    connections.close()
    with override_settings(MAILERS={"default": mailer_from_url(smtp_server.url)}):
        yield inbox
    connections.close()


def queue(n: int) -> list[OutgoingEmail]:
    return [
        services.queue_email(
            kind="upload_failed", to=f"user{i}@example.com", context={"upload": None, "user": None}
        )
        for i in range(n)
    ]


def outcomes(email: OutgoingEmail) -> list[tuple[int, str, str]]:
    return list(email.delivery_attempts.values_list("number", "outcome", "detail"))


def test_a_task_sends_the_waiting_rows_with_its_own_and_the_others_skip(real_smtp):
    emails = queue(4)
    batch = sending.send_batch(email_id=emails[0].id, claimant="task-0", max_attempts=3, size=10)
    assert [email.id for email in batch.rows] == [email.id for email in emails]
    assert Counter(real_smtp.message_ids()) == Counter(email.message_id for email in emails)
    for email in OutgoingEmail.objects.filter(id__in=[email.id for email in emails]):
        assert (email.status, email.attempts, email.claimed_by) == ("sent", 1, "task-0")
        assert email.server_reply == "250 2.0.0 Message accepted" and email.sent_at
        assert outcomes(email) == [(1, "sent", "250 2.0.0 Message accepted")]
    # The messages of the rows taken along find them sent and end at once.
    for number, email in enumerate(emails[1:], start=1):
        skipped = sending.send_batch(
            email_id=email.id, claimant=f"task-{number}", max_attempts=3, size=10
        )
        assert skipped.rows == []
    assert len(real_smtp.messages) == 4


def test_batch_size_bounds_the_batch_and_one_sends_only_the_own_row(real_smtp):
    emails = queue(5)
    batch = sending.send_batch(email_id=emails[2].id, claimant="t", max_attempts=3, size=3)
    # Its own row first, then the oldest waiting ones.
    assert [email.id for email in batch.rows] == [emails[2].id, emails[0].id, emails[1].id]
    single = sending.send_batch(email_id=emails[4].id, claimant="u", max_attempts=3, size=1)
    assert [email.id for email in single.rows] == [emails[4].id]
    assert OutgoingEmail.objects.get(id=emails[3].id).status == "queued"


def test_a_row_waiting_for_its_retry_is_not_taken_into_a_batch(real_smtp):
    waiting, fresh = queue(2)
    real_smtp.replies = ["451 4.3.0 Try again later"]
    with pytest.raises(services.TemporaryDeliveryError):
        sending.send_batch(email_id=waiting.id, claimant="first", max_attempts=3, size=1)
    batch = sending.send_batch(email_id=fresh.id, claimant="second", max_attempts=3, size=10)
    assert [email.id for email in batch.rows] == [fresh.id]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("queued", 1)  # its backoff still holds


def test_a_failure_mid_batch_is_settled_and_the_rows_not_tried_are_given_back(
    real_smtp, purged_queues
):
    own, refused, later, last = queue(4)
    real_smtp.replies = ["250 2.0.0 Ok: queued as A1", "451 4.7.1 Greylisted"]
    batch = sending.send_batch(email_id=own.id, claimant="t", max_attempts=3, size=10)
    own.refresh_from_db()
    assert (own.status, own.server_reply) == ("sent", "250 2.0.0 Ok: queued as A1")
    assert outcomes(own) == [(1, "sent", "250 2.0.0 Ok: queued as A1")]
    # The refused row keeps its attempt; the task publishes its retry (its own message
    # may have gone already).
    refused.refresh_from_db()
    assert (refused.status, refused.attempts, refused.last_error) == (
        "queued",
        1,
        "451 4.7.1 Greylisted",
    )
    assert outcomes(refused) == [(1, "temporary", "451 4.7.1 Greylisted")]
    assert batch.retry_email_id == refused.id and batch.retry.attempts == 1
    # Not tried: queued again as if never claimed, and published again.
    for email in (later, last):
        email.refresh_from_db()
        assert (email.status, email.attempts, email.claimed_by) == ("queued", 0, "")
        assert outcomes(email) == []
        assert email.published_at is not None
    assert len(batch.rows) == 2 and batch.failed == []


def test_a_permanent_failure_of_a_row_taken_along_fails_that_row_only(real_smtp):
    own, refused = queue(2)
    real_smtp.replies = ["250 2.0.0 Ok", "550 5.1.1 No such user"]
    batch = sending.send_batch(email_id=own.id, claimant="t", max_attempts=3, size=10)
    assert [email.id for email in batch.failed] == [refused.id]
    assert "550 5.1.1 No such user" in batch.failed[0].last_error
    assert OutgoingEmail.objects.get(id=own.id).status == "sent"
    assert outcomes(refused) == [(1, "permanent", "550 5.1.1 No such user")]


def test_a_redelivered_task_takes_over_every_row_of_its_batch(real_smtp):
    """Its worker died mid-batch: the rows stay `sending` in the message's name."""
    emails = queue(3)
    assert sending.claim_batch(email_id=emails[0].id, claimant="task-1", size=10)
    # Another message (republished by the sweep) keeps off while the lease runs.
    assert (
        sending.send_batch(email_id=emails[1].id, claimant="task-2", max_attempts=3, size=10).rows
        == []
    )
    batch = sending.send_batch(email_id=emails[0].id, claimant="task-1", max_attempts=3, size=10)
    assert sorted(email.id for email in batch.rows) == sorted(email.id for email in emails)
    for email in emails:
        sent = OutgoingEmail.objects.get(id=email.id)
        assert (sent.status, sent.attempts) == ("sent", 2)
        assert [(n, outcome) for n, outcome, _ in outcomes(sent)] == [
            (1, "interrupted"),
            (2, "sent"),
        ]
    assert Counter(real_smtp.message_ids()) == Counter(email.message_id for email in emails)


@pytest.mark.django_db(transaction=True)
def test_two_workers_batching_at_once_never_claim_the_same_row():
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("batches need SELECT ... FOR UPDATE SKIP LOCKED")
    emails = queue(60)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def worker(name: str) -> None:
        for email in emails:
            rows = sending.claim_batch(email_id=email.id, claimant=f"{name}-{email.id}", size=7)
            claimed[name] += [row.id for row in rows]

    assert not run_at_once(worker, list(claimed))
    every = claimed["a"] + claimed["b"]
    assert sorted(every) == sorted(email.id for email in emails)  # each exactly once
    assert OutgoingEmail.objects.filter(status="sending", attempts=1).count() == 60


def test_a_kept_connection_the_server_closed_is_reopened_without_costing_an_attempt(inbox):
    from config.email_url import mailer_from_url

    # A server that drops clients idle for a second (as providers do after 30 s or so).
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port, timeout=1)
    server.start()
    connections.close()
    try:
        url = f"smtp://127.0.0.1:{port}?timeout=5"
        with override_settings(MAILERS={"default": mailer_from_url(url)}):
            first, second = queue(2)
            assert services.send_email(email_id=first.id).status == "sent"
            assert connections.is_kept()
            time.sleep(2)  # the server says 421 and closes the kept connection
            sent = services.send_email(email_id=second.id)
        assert sent.status == "sent" and sent.attempts == 1
        assert outcomes(sent) == [(1, "sent", "250 2.0.0 Message accepted")]
        assert inbox.message_ids() == [first.message_id, second.message_id]
    finally:
        connections.close()
        server.stop()


@pytest.mark.parametrize(
    ("error", "handed_over", "dead"),
    [
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False, True),
        (BrokenPipeError(), False, True),
        (smtplib.SMTPSenderRefused(421, b"Timeout", "a@b"), False, True),
        # Broken while the message text was on its way: the server may have it.
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True, False),
        (smtplib.SMTPSenderRefused(451, b"Try later", "a@b"), False, False),
        (smtplib.SMTPRecipientsRefused({"a@b": (550, b"unknown")}), False, False),
    ],
)
def test_only_a_connection_found_dead_before_data_is_retried_at_once(error, handed_over, dead):
    error.message_handed_over = handed_over
    assert connections.found_dead(error) is dead


def test_no_batches_under_a_rate_limit(settings):
    settings.MAILER_RATE_LIMIT = "10/s"
    assert sending.batch_size() == 1
    settings.MAILER_RATE_LIMIT = None
    settings.MAILER_BATCH_SIZE = 7
    expected = 7 if connection.features.has_select_for_update_skip_locked else 1
    assert sending.batch_size() == expected


def test_a_batch_costs_a_bounded_number_of_queries(real_smtp, django_assert_max_num_queries):
    emails = queue(8)
    # A batch of 8 costs a bounded number of queries, not a few per row.
    with django_assert_max_num_queries(14):
        sending.send_batch(email_id=emails[0].id, claimant="t", max_attempts=3, size=10)
    assert OutgoingEmail.objects.filter(status="sent").count() == 8


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_row_another_batch_holds_ends_after_one_read(
    real_smtp, settings, django_assert_num_queries
):
    emails = queue(2)
    assert sending.claim_batch(email_id=emails[0].id, claimant="task-1", size=10)
    with django_assert_num_queries(1):  # being sent by task-1's batch, within its lease
        skipped = sending.send_batch(
            email_id=emails[1].id, claimant="task-2", max_attempts=3, size=10
        )
    assert skipped.rows == []
    # Once the lease has run out, the row is the next task's to take over.
    settings.MAILER_SENDING_LEASE = 0
    taken = sending.send_batch(email_id=emails[1].id, claimant="task-3", max_attempts=3, size=10)
    assert [email.id for email in taken.rows] == [emails[1].id]
    assert OutgoingEmail.objects.get(id=emails[1].id).status == "sent"


def test_a_batch_past_its_time_gives_the_rest_back(real_smtp, monkeypatch):
    emails = queue(3)
    monkeypatch.setattr(sending, "BATCH_SECONDS", 0.0)  # every exchange "too slow"
    batch = sending.send_batch(email_id=emails[0].id, claimant="t", max_attempts=3, size=10)
    assert [email.id for email in batch.rows] == [emails[0].id]  # the own row always goes
    assert OutgoingEmail.objects.get(id=emails[0].id).status == "sent"
    for email in emails[1:]:
        email.refresh_from_db()
        assert (email.status, email.attempts, email.claimed_by) == ("queued", 0, "")
    assert len(real_smtp.messages) == 1


def test_a_batch_skips_an_address_suppressed_since_it_was_queued(real_smtp):
    from mailer import suppression

    emails = queue(3)
    suppression.suppress("USER1@example.com", reason="bounced", detail="550 no such user")
    batch = sending.send_batch(email_id=emails[0].id, claimant="t", max_attempts=3, size=10)
    assert sorted(m["To"] for m in real_smtp.messages) == ["user0@example.com", "user2@example.com"]
    blocked = OutgoingEmail.objects.get(id=emails[1].id)
    assert blocked.status == "failed" and "suppression list" in blocked.last_error
    assert outcomes(blocked) == []  # never tried: no attempt recorded
    assert [email.id for email in batch.failed] == [emails[1].id]
