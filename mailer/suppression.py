"""The suppression list: who gets no more mail, and which failures put an address on it.

A hard bounce (or an operator's entry) stops every message to the address, transactional
ones included: the address does not take mail, and sending on hurts the sender's standing.
An unsubscribe stops notifications only: a password reset or an address confirmation the
owner asks for still goes out.
"""

import smtplib

from django.db import transaction

from mailer.models import Suppression

Reason = Suppression.Reason

# Messages about uploads, which carry an unsubscribe link; the rest are transactional.
NOTIFICATION_KINDS = frozenset({"upload_ready", "upload_failed", "upload_digest"})


def normalise(address: str) -> str:
    return address.strip().lower()


def entry_for(address: str) -> Suppression | None:
    return Suppression.objects.filter(address=normalise(address)).first() if address else None


def blocking_reason(address: str, kind: str) -> str:
    """Why a message of `kind` must not go to `address`, or "" when it may."""
    return _reason(entry_for(address), kind)


def blocking_reasons(emails) -> dict[int, str]:
    """blocking_reason of several outbox rows in one query: {row id: reason}, blocked only."""
    addresses = {normalise(email.to) for email in emails if email.to}
    if not addresses:
        return {}
    entries = {entry.address: entry for entry in Suppression.objects.filter(address__in=addresses)}
    reasons = {email.id: _reason(entries.get(normalise(email.to)), email.kind) for email in emails}
    return {email_id: reason for email_id, reason in reasons.items() if reason}


def _reason(entry: Suppression | None, kind: str) -> str:
    if entry is None:
        return ""
    if entry.reason == Reason.UNSUBSCRIBED and kind not in NOTIFICATION_KINDS:
        return ""
    return f"Not sent: {entry.address} is on the suppression list ({entry.get_reason_display()})"


@transaction.atomic
def suppress(address: str, *, reason: str, detail: str = "") -> Suppression:
    """Put the address on the list; a bounce replaces an unsubscribe (it stops more)."""
    entry, created = Suppression.objects.select_for_update().get_or_create(
        address=normalise(address), defaults={"reason": reason, "detail": detail}
    )
    if not created and entry.reason == Reason.UNSUBSCRIBED and reason != Reason.UNSUBSCRIBED:
        entry.reason, entry.detail = reason, detail
        entry.save(update_fields=["reason", "detail", "updated_at"])
    return entry


def lift_unsubscribe(address: str) -> None:
    Suppression.objects.filter(address=normalise(address), reason=Reason.UNSUBSCRIBED).delete()


def hard_bounce(error: Exception) -> str:
    """The server's words when `error` says the recipient's address does not take mail: a
    5xx reply to RCPT TO or to the message itself. A 5xx about our side (login refused, our
    sender address refused) says nothing about the recipient: ""."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refusals = [
            reply(code, text) for code, text in error.recipients.values() if 500 <= code < 600
        ]
        return "; ".join(refusals)
    if isinstance(error, smtplib.SMTPDataError) and 500 <= error.smtp_code < 600:
        return reply(error.smtp_code, error.smtp_error)
    return ""


def reply(code: int, text) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def note_failure(address: str, error: Exception) -> None:
    """Suppress the address if the failure was a hard bounce."""
    if reply := hard_bounce(error):
        suppress(address, reason=Reason.BOUNCED, detail=reply)
