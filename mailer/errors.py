"""Sorting delivery failures into temporary (retry later) and permanent (give up)."""

import smtplib
import socket


class TemporaryDeliveryError(Exception):
    """The message may go through later: a 4xx reply, a refused or broken connection."""

    # Attempts the message has had so far; the task's backoff grows with it.
    attempts: int = 0


class PermanentDeliveryError(Exception):
    """Retrying will not help: a 5xx reply or an address the server will never accept."""


def classify(error: Exception) -> Exception:
    """Wrap a sending error as temporary or permanent, keeping the server's words."""
    if isinstance(error, (TemporaryDeliveryError, PermanentDeliveryError)):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        text = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in error.recipients.items()
        )
        if codes and all(400 <= code < 500 for code in codes):
            return TemporaryDeliveryError(f"Recipient deferred: {text}")
        return PermanentDeliveryError(f"Recipient refused: {text}")
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        text = f"{error.smtp_code} {message}"
        if 400 <= error.smtp_code < 500:
            return TemporaryDeliveryError(text)
        return PermanentDeliveryError(text)
    if isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout)):
        return TemporaryDeliveryError(f"{type(error).__name__}: {error}")
    if isinstance(error, OSError):
        return TemporaryDeliveryError(f"{type(error).__name__}: {error}")
    if isinstance(error, ValueError):
        # Django raises ValueError for an address or header it cannot encode.
        return PermanentDeliveryError(f"Invalid message: {error}")
    return TemporaryDeliveryError(f"{type(error).__name__}: {error}")


def failure_kind(error: Exception) -> str:
    """A short label for the kind of failure, for the metrics: "4xx", "5xx", "connection",
    "recipient", "invalid" or "other"."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "recipient"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code // 100}xx"
    if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
        return "connection"
    if isinstance(error, ValueError):
        return "invalid"
    return "other"
