"""Outbox use cases: queue a message (a row first, a task on commit), send it, sweep."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, make_msgid
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.sweeping import republish, stale_work
from mailer.errors import PermanentDeliveryError, TemporaryDeliveryError, classify
from mailer.models import OutgoingEmail

log = logging.getLogger(__name__)
Status = OutgoingEmail.Status


def render_message(*, kind: str, context: dict) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a message kind, from mailer/<kind>/ templates."""
    subject = render_to_string(f"mailer/{kind}/subject.txt", context)
    # One line, whatever the user typed into a caption or file name: no header injection.
    subject = " ".join(subject.split())[:255]
    body_text = render_to_string(f"mailer/{kind}/body.txt", context)
    body_html = render_to_string(f"mailer/{kind}/body.html", context)
    return subject, body_text, body_html


def queue_email(
    *, kind: str, to: str, context: dict, dedupe_key: str | None = None
) -> OutgoingEmail:
    """Write the rendered message as a row in the caller's transaction; publish on commit.

    With a dedupe_key the same event queues at most one message, however often it runs.
    """
    subject, body_text, body_html = render_message(kind=kind, context=context)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or None
    try:
        with transaction.atomic():
            email = OutgoingEmail.objects.create(
                kind=kind,
                to=to,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                message_id=make_msgid(domain=domain),
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if dedupe_key is None:
            raise
        return OutgoingEmail.objects.get(dedupe_key=dedupe_key)
    transaction.on_commit(lambda: publish_send(email.id))
    return email


def publish_send(email_id: int) -> bool:
    """Hand the send task to the broker; if it is down, leave the row for the sweep."""
    from mailer.tasks import send_email as send_email_task

    try:
        send_email_task.apply_async(args=[email_id])
    except Exception:  # broker unreachable after bounded retries: the sweep publishes later
        log.warning("Could not publish email %s; the sweep will retry", email_id, exc_info=True)
        return False
    OutgoingEmail.objects.filter(id=email_id).update(published_at=timezone.now())
    return True


def claim(*, email_id: int, reclaim: bool = False) -> bool:
    """Take the row for sending (queued -> sending) so no other worker sends it.

    A row still `sending` is taken again only when its lease has run out, or when the
    broker says this delivery is a redelivery (its previous worker died mid-send).
    """
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.MAILER_SENDING_LEASE),
    )
    if reclaim:
        claimable |= Q(status=Status.SENDING)
    return bool(
        OutgoingEmail.objects.filter(claimable, id=email_id).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def build_message(email: OutgoingEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return message


def send_email(*, email_id: int, reclaim: bool = False) -> OutgoingEmail | None:
    """Send one queued message and record the outcome.

    Raises TemporaryDeliveryError (the row is back to `queued`) so the task can retry;
    a permanent failure is recorded as `failed` and not raised.
    """
    if not claim(email_id=email_id, reclaim=reclaim):
        log.info("Email %s is not claimable (already sent, or another worker has it)", email_id)
        return None
    email = OutgoingEmail.objects.get(id=email_id)
    try:
        build_message(email).send(using="default")
    except Exception as error:  # sorted into temporary or permanent just below
        outcome = classify(error)
        if isinstance(outcome, PermanentDeliveryError):
            return mark_failed(email_id=email_id, reason=str(outcome))
        OutgoingEmail.objects.filter(id=email_id, status=Status.SENDING).update(
            status=Status.QUEUED, last_error=str(outcome), published_at=timezone.now()
        )
        raise outcome from error
    OutgoingEmail.objects.filter(id=email_id).update(
        status=Status.SENT, sent_at=timezone.now(), last_error=""
    )
    return OutgoingEmail.objects.get(id=email_id)


def mark_failed(*, email_id: int, reason: str) -> OutgoingEmail:
    """Give up on a message: it ends `failed` with the reason, never sent twice."""
    OutgoingEmail.objects.filter(id=email_id).exclude(status=Status.SENT).update(
        status=Status.FAILED, last_error=reason
    )
    log.warning("Email %s failed: %s", email_id, reason)
    return OutgoingEmail.objects.get(id=email_id)


def sweep_stale_emails(*, now=None) -> int:
    """Publish again messages whose task was lost; returns how many were republished."""
    stale = stale_work(
        queued=Status.QUEUED,
        working=Status.SENDING,
        lease_seconds=settings.MAILER_SENDING_LEASE,
        now=now or timezone.now(),
    )
    ids = OutgoingEmail.objects.filter(stale).values_list("id", flat=True)[:1000]
    return republish(list(ids), publish_send)


__all__ = [
    "PermanentDeliveryError",
    "TemporaryDeliveryError",
    "queue_email",
    "send_email",
    "mark_failed",
    "sweep_stale_emails",
]
