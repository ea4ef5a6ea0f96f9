"""One mail-server connection per worker thread, kept open between messages for a while."""

import logging
import smtplib
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.core import mail
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from mailer.errors import PermanentDeliveryError

log = logging.getLogger(__name__)

# Reuse a connection only if it was used this recently: mail servers drop idle clients
# (RFC 5321 lets them after 5 minutes, some providers after 30 s), and a send on a
# dropped connection costs a round trip and a reconnect (see send()).
IDLE_SECONDS = 10.0

_local = threading.local()


@contextmanager
def default_mailer():
    """The default mailer, an SMTP one kept connected across calls in this thread.

    Opening a connection (TCP, greeting, EHLO, STARTTLS, login) costs more round trips
    than sending a message on it. After any error the connection is closed, so the next
    message starts on a fresh one.
    """
    config = settings.MAILERS.get("default")
    held = _kept(config)
    if held is None:
        mailer = mail.mailers["default"]
        if not isinstance(mailer, SMTPBackend):
            # File, console and memory mailers: nothing worth keeping open.
            yield mailer
            return
        mailer.open()
        held = _local.held = {"config": config, "mailer": mailer}
    try:
        yield held["mailer"]
    except BaseException:
        close()
        raise
    held["used_at"] = time.monotonic()


def send(message) -> str:
    """Send one message on this thread's kept connection; returns what the server answered.

    A kept connection can have died while idle (the server timed it out, or restarted)
    without our knowing: the first command on it then fails. As long as the message text
    had not started on its way, the server cannot have it, so it goes once more, at once,
    on a new connection: a stale connection costs a reconnect, not an attempt and a
    backoff. A failure on a new connection, or after DATA, is the caller's to sort out.
    """
    reused = is_kept()
    try:
        return _send_once(message)
    except Exception as error:
        if not (reused and found_dead(error)):
            raise
        log.info("The kept mail connection was closed by the server; sending on a new one")
        return _send_once(message)


def _send_once(message) -> str:
    with default_mailer() as mailer:
        if not mailer.send_messages([message]):
            raise PermanentDeliveryError("The mailer sent nothing (no recipient it could use)")
    # Only SMTP has a reply; the file, console and memory mailers just take the message.
    return getattr(message, "server_reply", "") or f"Taken by {type(mailer).__module__}"


def is_kept() -> bool:
    """Whether the next message goes on a connection kept from an earlier one."""
    return _kept(settings.MAILERS.get("default")) is not None


def _kept(config):
    """This thread's kept connection if it may still be used; a stale one is closed."""
    held = getattr(_local, "held", None)
    if held is not None and (
        held["config"] != config or time.monotonic() - held["used_at"] > IDLE_SECONDS
    ):
        close()
        held = None
    return held


def found_dead(error: Exception) -> bool:
    """The connection was gone before the message text was sent: a closed socket, or the
    server's 421 ("closing transmission channel") in answer to MAIL FROM."""
    if getattr(error, "message_handed_over", True):
        return False
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421
    return isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError))


def close() -> None:
    """Close this thread's kept connection, if any, quietly."""
    held = getattr(_local, "held", None)
    _local.held = None
    if held is not None:
        try:
            held["mailer"].close()
        except Exception:  # already broken: dropping it is all that is left to do
            log.debug("Closing the kept mail connection failed", exc_info=True)
