"""Send a small batch of queued rows per task, on the worker's kept mail connection.

Why: every queued row has its own task message, and a task that sends only its own row
pays, per message, Celery's task overhead, a new Postgres connection (Celery's Django fixup
closes them around every task), a claim and a read, and three writes committed one by one
(the row, its delivery attempt, the counter). Measured with cProfile, the database alone
was about 7 ms of the 32 ms a message took in the service. A task here claims its own row
and up to MAILER_BATCH_SIZE - 1 more rows waiting for their first attempt, sends them one
after the other on the kept connection and records the sent ones in one transaction. The
messages of the rows it took find them claimed and end at once (one query). Figures: README,
"Email throughput".

Every guarantee of the one-row path stays:
- The own row is taken by services.claim; the others by the same conditional update
  (`queued -> sending`, one sender per row), in one statement. The candidates are locked
  with SKIP LOCKED, so two workers batching at the same moment take different rows
  instead of waiting on each other.
- All the rows of a batch are claimed in the name of the task message. If its worker dies
  mid-batch, the broker redelivers that message (acks_late) and it takes all of them over at
  once, each cut-short attempt recorded `interrupted`; if the message was lost too, the
  sweep republishes every row after its lease. Nothing is lost; a row may go out twice,
  with its fixed Message-ID, as on the one-row path.
- Each sent row gets its delivery attempt with the server's reply. Only first attempts are
  batched: a row queued again after a temporary failure waits for its own retry and backoff.
- The batch stops at its first failure: what was sent is recorded, the failed row is
  settled as on the one-row path, and the rows not tried yet are given back (`queued`, the
  claim's attempt not counted) and published again, as their own messages may be gone.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.statelog import state_changed
from core.termination import termination_deferred
from mailer import services, suppression
from mailer.errors import TemporaryDeliveryError
from mailer.models import DeliveryAttempt, OutgoingEmail
from ops import counters

log = logging.getLogger(__name__)
Status = OutgoingEmail.Status
Outcome = DeliveryAttempt.Outcome
# A batch stops taking rows after this long (the rest are given back): well inside the
# task's soft time limit even when every exchange waits out its SMTP timeout.
BATCH_SECONDS = 60.0


@dataclass
class Batch:
    """What became of a task's rows, its own first; empty when its row was not claimable."""

    rows: list[OutgoingEmail] = field(default_factory=list)
    # A row of the batch (not the task's own) queued again after a temporary failure: its
    # own message may be gone, so the task publishes its retry.
    retry: TemporaryDeliveryError | None = None
    retry_email_id: int | None = None

    @property
    def failed(self) -> list[OutgoingEmail]:
        return [row for row in self.rows if row.status == Status.FAILED]


def batch_size() -> int:
    """Rows one task may send: MAILER_BATCH_SIZE, or 1 where a batch does not fit."""
    if settings.MAILER_RATE_LIMIT:
        # Celery's rate limit counts tasks: batches would let N times the rate through.
        return 1
    if not connection.features.has_select_for_update_skip_locked:
        return 1  # SQLite, the embedded default: one writer at a time, nothing to gain
    return max(1, settings.MAILER_BATCH_SIZE)


def claim_batch(*, email_id: int, claimant: str, size: int) -> list[OutgoingEmail]:
    """Claim the task's own row, then up to size - 1 rows waiting for their first attempt,
    all in the name of `claimant`; the rows, own first, or [] if the own row is not free."""
    if size > 1 and taken_elsewhere(email_id, claimant):
        return []  # the common case with batches: another task's batch has it
    if not services.claim(email_id=email_id, claimant=claimant):
        return []
    if size == 1 or not claimant:
        return [OutgoingEmail.objects.get(id=email_id)]
    # One transaction: the row locks keep other batches off these candidates, and the
    # claims commit together. The same conditional update as services.claim's first
    # branch (queued -> sending), for all of them in one statement.
    with transaction.atomic():
        candidates = list(
            OutgoingEmail.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED, attempts=0)
            .exclude(id=email_id)
            .order_by("queued_at", "id")
            .values_list("id", flat=True)[: size - 1]
        )
        OutgoingEmail.objects.filter(id__in=candidates, status=Status.QUEUED).update(
            status=Status.SENDING,
            claimed_at=timezone.now(),
            claimed_by=claimant,
            attempts=F("attempts") + 1,
        )
    for candidate in candidates:
        state_changed("email", candidate, Status.SENDING, batch_of=email_id)
    held = OutgoingEmail.objects.filter(status=Status.SENDING, claimed_by=claimant).order_by(
        "queued_at", "id"
    )
    rows = {row.id: row for row in held}
    own = rows.pop(email_id)
    for row in list(rows.values()):
        if row.claimed_at < own.claimed_at:
            # Claimed by this same message before its worker died: take it over now.
            services.claim(email_id=row.id, claimant=claimant)
            rows[row.id] = OutgoingEmail.objects.get(id=row.id)
    return [own, *rows.values()]


def taken_elsewhere(email_id: int, claimant: str) -> bool:
    """Whether the row is sent or failed already, or being sent by another task's batch
    within its lease: one read instead of a claim's three (an UPDATE that finds nothing to
    take, then a look for an abandoned claim).

    Most tasks end here when batches run, so it is plain SQL: building the ORM query took
    8 % of the worker's CPU (py-spy). A row it calls free is claimed by services.claim,
    whose conditional updates decide; this read only spares the ones that cannot be.
    """
    table = connection.ops.quote_name(OutgoingEmail._meta.db_table)
    # The lease is compared in the database, which holds claimed_at as it wrote it.
    leased_since = timezone.now() - timedelta(seconds=settings.MAILER_SENDING_LEASE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status, claimed_by, claimed_at >= %s FROM {table} WHERE id = %s",  # noqa: S608
            [leased_since, email_id],
        )
        row = cursor.fetchone()
    if row is None:
        return False  # services.claim says it is gone
    status, holder, within_lease = row
    if status in (Status.SENT, Status.FAILED):
        return True
    return status == Status.SENDING and holder != claimant and bool(within_lease)


def send_batch(*, email_id: int, claimant: str, max_attempts: int, size: int) -> Batch:
    """Send the task's row and the others it could claim; record each outcome.

    Raises TemporaryDeliveryError when the task's own row is to be retried (the rest of
    the batch given back first).
    """
    rows = claim_batch(email_id=email_id, claimant=claimant, size=size)
    if not rows:
        # Sent already, or claimed by another worker's batch: routine with batches.
        log.debug("Email %s is not claimable (already sent, or another worker has it)", email_id)
        return Batch()
    batch = Batch(rows=rows)
    sent: list[tuple[OutgoingEmail, str]] = []
    # A stop between the server's "250" and our record of it would send the message
    # twice: polite stops wait for the batch's record, at most `size` SMTP exchanges.
    # Checked at the claim, as for one row: suppressed since queued (a bounce, an
    # unsubscribe) means never sent. One query for the whole batch.
    blocked = suppression.blocking_reasons(rows)
    deadline = time.monotonic() + BATCH_SECONDS
    with termination_deferred():
        for index, email in enumerate(rows):
            if index and time.monotonic() > deadline:
                # A slow server: the rest go back, well inside the task's time limits.
                give_back(rows[index:], claimant=claimant)
                batch.rows = rows[:index]
                break
            if reason := blocked.get(email.id):
                rows[index] = services.mark_failed(email_id=email.id, reason=reason)
                continue
            try:
                reply = services.deliver(email)
            except Exception as error:  # settled as on the one-row path, below
                record_sent(sent)
                give_back(rows[index + 1 :], claimant=claimant)
                batch.rows = rows[: index + 1]
                settle(batch, index, error, own=email.id == email_id, max_attempts=max_attempts)
                return batch
            email.status, email.sent_at = Status.SENT, timezone.now()
            sent.append((email, reply))
        record_sent(sent)
    return batch


def settle(batch: Batch, index: int, error: Exception, *, own: bool, max_attempts: int) -> None:
    """Record the failed attempt of batch.rows[index]; the task's own row raises for a retry."""
    email = batch.rows[index]
    if own:
        batch.rows[index] = services.settle_failure(email, error, max_attempts=max_attempts)
        return
    try:
        batch.rows[index] = services.settle_failure(email, error, max_attempts=max_attempts)
    except TemporaryDeliveryError as retry:
        email.status = Status.QUEUED
        batch.retry, batch.retry_email_id = retry, email.id


def record_sent(sent: list[tuple[OutgoingEmail, str]]) -> None:
    """Mark the rows sent and write their attempts and count, in one transaction.

    As services.mark_sent does for one row: whoever else holds a row now, it was sent.
    """
    if not sent:
        return
    for email, reply in sent:
        email.server_reply, email.last_error = reply, ""
    # One UPDATE per row, sent in a single round trip (psycopg pipelines executemany):
    # bulk_update's CASE expression took a quarter of the task's CPU to build.
    table = connection.ops.quote_name(OutgoingEmail._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany(
                # A sent link's secret is not kept: the row can never send it again.
                f"UPDATE {table} SET status = %s, sent_at = %s, server_reply = %s, "  # noqa: S608
                "last_error = '', secret = '' WHERE id = %s",
                [(Status.SENT, email.sent_at, reply, email.id) for email, reply in sent],
            )
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                email=email,
                number=email.attempts,
                started_at=email.claimed_at,
                finished_at=email.sent_at,
                outcome=Outcome.SENT,
                detail=reply,
            )
            for email, reply in sent
        )
        counters.increment("email_sends", {"outcome": Outcome.SENT, "reason": ""}, len(sent))
    for email, reply in sent:
        state_changed("email", email.id, Status.SENT, reply=reply)


def give_back(rows: list[OutgoingEmail], *, claimant: str) -> None:
    """Rows claimed but never tried: `queued` again without the claim's attempt, and
    published again (their own messages may have been consumed and skipped already)."""
    if not rows:
        return
    ids = [email.id for email in rows]
    OutgoingEmail.objects.filter(id__in=ids, status=Status.SENDING, claimed_by=claimant).update(
        status=Status.QUEUED, attempts=F("attempts") - 1, claimed_by=""
    )
    for email_id in ids:
        state_changed("email", email_id, Status.QUEUED, given_back=True)
        services.publish_send(email_id)
