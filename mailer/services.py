"""Outbox use cases: queue a message (a row first, a task on commit), send it, sweep."""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, make_msgid
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.statelog import state_changed
from core.sweeping import publish_recorded, republish, sweep
from core.termination import termination_deferred
from mailer import connections, suppression
from mailer.errors import PermanentDeliveryError, TemporaryDeliveryError, classify, failure_kind
from mailer.models import DeliveryAttempt, OutgoingEmail
from mailer.redaction import unmask
from ops import broker, counters

log = logging.getLogger(__name__)
Status = OutgoingEmail.Status
Outcome = DeliveryAttempt.Outcome
# Messages carrying a one-time link: stored masked, never resent.
SECRET_LINK_KINDS = ("password_reset", "confirm_email")


def render_message(*, kind: str, context: dict) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a message kind, from mailer/<kind>/ templates."""
    subject = render_to_string(f"mailer/{kind}/subject.txt", context)
    # One line, whatever the user typed into a caption or file name: no header injection.
    subject = " ".join(subject.split())[:255]
    body_text = render_to_string(f"mailer/{kind}/body.txt", context)
    body_html = render_to_string(f"mailer/{kind}/body.html", context)
    return subject, body_text, body_html


def queue_email(
    *,
    kind: str,
    to: str,
    context: dict,
    dedupe_key: str | None = None,
    headers: dict[str, str] | None = None,
    secret: str = "",
) -> OutgoingEmail:
    """Write the rendered message as a row in the caller's transaction; publish on commit.

    With a dedupe_key the same event queues at most one message, however often it runs.
    `secret` is what the templates show as redaction.MASK (a link's token): the row keeps
    the parts masked, and the message gets the secret back only when it is built.
    """
    subject, body_text, body_html = render_message(kind=kind, context=context)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or None
    fields = {
        "kind": kind,
        "to": to,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "message_id": make_msgid(domain=domain),
        "headers": headers or {},
        "secret": secret,
        # Recorded in the INSERT, as for uploads: the publish on commit clears it if the
        # broker is away, so the sweep picks the row up within seconds (an UPDATE per
        # message saved: README, "Email throughput").
        "published_at": timezone.now(),
    }
    if dedupe_key is None:
        # One INSERT, atomic by itself: no savepoint's two round trips in the caller's
        # transaction.
        email = OutgoingEmail.objects.create(**fields)
    else:
        try:
            with transaction.atomic():
                email = OutgoingEmail.objects.create(**fields, dedupe_key=dedupe_key)
        except IntegrityError:
            return OutgoingEmail.objects.get(dedupe_key=dedupe_key)
    transaction.on_commit(lambda: publish_queued(email.id, kind=kind, dedupe_key=dedupe_key))
    return email


def publish_queued(email_id: int, *, kind: str, dedupe_key: str | None) -> None:
    """Publish a just-queued row, which already records the publish."""
    state_changed("email", email_id, Status.QUEUED, kind=kind, dedupe=dedupe_key)
    publish_recorded(OutgoingEmail, email_id, queued=Status.QUEUED, send=send_task)


def publish_send(email_id: int) -> bool:
    """Hand the send task to the broker and record it; if the broker is down, leave the row
    for the sweep."""
    if not send_task(email_id):
        return False
    OutgoingEmail.objects.filter(id=email_id).update(published_at=timezone.now())
    return True


def send_task(email_id: int) -> bool:
    """Publish the row's send task; False (logged) if the broker cannot be reached."""
    from mailer.tasks import send_email as send_email_task

    try:
        send_email_task.apply_async(args=[email_id])
    except Exception:  # broker unreachable after bounded retries: the sweep publishes later
        log.warning("Could not publish email %s; the sweep will retry", email_id, exc_info=True)
        return False
    return True


def claim(*, email_id: int, claimant: str = "") -> bool:
    """Take the row for sending (queued -> sending) so no other worker sends it.

    A row still `sending` is taken over only when its lease has run out, or by the
    claimant that holds it: the same task message, redelivered because its worker died
    mid-send. The attempt that was cut short is then recorded as interrupted.
    """
    now = timezone.now()
    take = {
        "status": Status.SENDING,
        "claimed_at": now,
        "claimed_by": claimant,
        "attempts": F("attempts") + 1,
    }
    if OutgoingEmail.objects.filter(id=email_id, status=Status.QUEUED).update(**take):
        state_changed("email", email_id, Status.SENDING)
        return True
    abandoned = Q(claimed_at__lt=now - timedelta(seconds=settings.MAILER_SENDING_LEASE))
    if claimant:
        abandoned |= Q(claimed_by=claimant)
    previous = (
        OutgoingEmail.objects.filter(abandoned, id=email_id, status=Status.SENDING)
        .values("claimed_at", "attempts")
        .first()
    )
    # The claim it read must still be there: of two workers taking over, one wins.
    if previous is None or not OutgoingEmail.objects.filter(
        id=email_id, status=Status.SENDING, claimed_at=previous["claimed_at"]
    ).update(**take):
        return False
    DeliveryAttempt.objects.create(
        email_id=email_id,
        number=previous["attempts"],
        started_at=previous["claimed_at"],
        finished_at=now,
        outcome=Outcome.INTERRUPTED,
        detail="The worker stopped before recording an outcome; the server may have the "
        "message already (sending again keeps its Message-ID).",
    )
    counters.increment("email_sends", {"outcome": Outcome.INTERRUPTED, "reason": "worker_lost"})
    state_changed("email", email_id, Status.SENDING, took_over_attempt=previous["attempts"])
    return True


def build_message(email: OutgoingEmail) -> EmailMultiAlternatives:
    """The message as it goes out: stored subject and parts, fixed Message-ID."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=unmask(email.body_text, email.secret),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id, **email.headers},
    )
    if email.body_html:
        message.attach_alternative(unmask(email.body_html, email.secret), "text/html")
    return message


def deliver(email: OutgoingEmail) -> str:
    """Hand one message to the default mailer; returns what the server answered."""
    return connections.send(build_message(email))


def send_email(
    *, email_id: int, claimant: str = "", max_attempts: int | None = None
) -> OutgoingEmail | None:
    """Send one queued message and record the outcome and the attempt.

    A permanent failure, or a temporary one on the last of `max_attempts`
    (MAILER_MAX_ATTEMPTS by default), ends the row `failed`. Another temporary failure
    puts the row back to `queued` and raises TemporaryDeliveryError for the task to retry.
    Returns None when the row was not claimable (sent already, or another worker has it).
    """
    if max_attempts is None:
        max_attempts = settings.MAILER_MAX_ATTEMPTS
    if not claim(email_id=email_id, claimant=claimant):
        log.info("Email %s is not claimable (already sent, or another worker has it)", email_id)
        return None
    email = OutgoingEmail.objects.get(id=email_id)
    if reason := suppression.blocking_reason(email.to, email.kind):
        return mark_failed(email_id=email_id, reason=reason)
    # A stop between the server's "250" and our record of it would send the message twice.
    with termination_deferred():
        try:
            reply = deliver(email)
        except Exception as error:  # sorted into temporary or permanent by settle_failure
            return settle_failure(email, error, max_attempts=max_attempts)
        mark_sent(email, reply)
    return email


def settle_failure(email: OutgoingEmail, error: Exception, *, max_attempts: int) -> OutgoingEmail:
    """Record a failed attempt; end the row `failed`, or queue it again and raise
    TemporaryDeliveryError for the task to retry."""
    email_id = email.id
    outcome = classify(error)
    kind = failure_kind(error)
    # The attempt and the row's new state commit together: one commit, and nobody reads
    # an attempt whose row does not show it yet.
    with transaction.atomic():
        if isinstance(outcome, PermanentDeliveryError):
            record_attempt(email, outcome=Outcome.PERMANENT, detail=str(outcome), reason=kind)
            suppression.note_failure(email.to, error)
            return mark_failed(email_id=email_id, reason=str(outcome))
        record_attempt(email, outcome=Outcome.TEMPORARY, detail=str(outcome), reason=kind)
        if email.attempts >= max_attempts:
            return mark_failed(
                email_id=email_id, reason=f"Gave up after {email.attempts} attempts: {outcome}"
            )
        now = timezone.now()
        OutgoingEmail.objects.filter(
            id=email_id, status=Status.SENDING, claimed_at=email.claimed_at
        ).update(status=Status.QUEUED, last_error=str(outcome), published_at=now, queued_at=now)
    state_changed("email", email_id, Status.QUEUED, retry_after=str(outcome))
    outcome.attempts = email.attempts
    raise outcome from error


def mark_sent(email: OutgoingEmail, reply: str) -> None:
    """Record that the server took the message, whoever else holds the row now."""
    email.status, email.sent_at, email.server_reply, email.last_error = (
        Status.SENT,
        timezone.now(),
        reply,
        "",
    )
    with transaction.atomic():  # one commit for the row, its attempt and the count
        # A sent link's secret is not kept: the row can never send it again.
        OutgoingEmail.objects.filter(id=email.id).update(
            status=email.status, sent_at=email.sent_at, server_reply=reply, last_error="", secret=""
        )
        record_attempt(email, outcome=Outcome.SENT, detail=reply)
    state_changed("email", email.id, Status.SENT, reply=reply)


def record_attempt(email: OutgoingEmail, *, outcome: str, detail: str, reason: str = "") -> None:
    """Log the attempt that started with the row's claim and ended just now, and count it."""
    counters.increment("email_sends", {"outcome": outcome, "reason": reason})
    DeliveryAttempt.objects.create(
        email=email,
        number=email.attempts,
        started_at=email.claimed_at,
        finished_at=timezone.now(),
        outcome=outcome,
        detail=detail,
    )


def mark_failed(*, email_id: int, reason: str) -> OutgoingEmail:
    """Give up on a message: it ends `failed` with the reason, never sent twice."""
    OutgoingEmail.objects.filter(id=email_id).exclude(status=Status.SENT).update(
        status=Status.FAILED, last_error=reason, failed_at=timezone.now()
    )
    state_changed("email", email_id, Status.FAILED, reason=reason)
    return OutgoingEmail.objects.get(id=email_id)


def resend(*, email_ids: Iterable[int]) -> int:
    """Send sent or failed messages again, as a new attempt with the same Message-ID.

    The rows go back to `queued` with a fresh attempt budget (their attempt history
    stays) and are published on commit, through the workers like any message. Rows
    `queued` or `sending` are on their way already and are left alone, and so are
    password-reset and confirmation messages: their link is the owner's to ask for again,
    never an operator's to send twice. Returns how many.
    """
    with transaction.atomic():
        ids = list(
            OutgoingEmail.objects.select_for_update()
            .filter(id__in=list(email_ids), status__in=[Status.SENT, Status.FAILED])
            .exclude(kind__in=SECRET_LINK_KINDS)
            .values_list("id", flat=True)
        )
        OutgoingEmail.objects.filter(id__in=ids).update(
            status=Status.QUEUED, attempts=0, last_error="", published_at=None,
            queued_at=timezone.now(), failed_at=None,
        )  # fmt: skip
        transaction.on_commit(lambda: republish(ids, publish_send))
    for email_id in ids:
        state_changed("email", email_id, Status.QUEUED, resent=True)
    return len(ids)


def sweep_stale_emails(*, now=None) -> int:
    """Publish again messages whose task was lost; returns how many were republished."""
    republished = sweep(
        OutgoingEmail,
        queued=Status.QUEUED,
        working=Status.SENDING,
        lease_seconds=settings.MAILER_SENDING_LEASE,
        publish=publish_send,
        messages_held=lambda: broker.messages_waiting("email"),
        now=now,
    )
    for reason, count in republished.items():
        counters.increment("sweep_republished", {"kind": "email", "reason": reason}, count)
        log.info("Sweep: %s email(s) published again (%s)", count, reason)
    return sum(republished.values())


__all__ = [
    "PermanentDeliveryError",
    "TemporaryDeliveryError",
    "queue_email",
    "send_email",
    "mark_failed",
    "resend",
    "sweep_stale_emails",
]
