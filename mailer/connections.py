"""One mail-server connection per worker thread, kept open between messages for a while."""

import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.core import mail
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

log = logging.getLogger(__name__)

# Reuse a connection only if it was used this recently: mail servers drop idle clients
# (RFC 5321 lets them after 5 minutes, some providers after 30 s), and a send on a
# dropped connection costs an attempt.
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
    held = getattr(_local, "held", None)
    if held is not None and (
        held["config"] != config or time.monotonic() - held["used_at"] > IDLE_SECONDS
    ):
        close()
        held = None
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


def close() -> None:
    """Close this thread's kept connection, if any, quietly."""
    held = getattr(_local, "held", None)
    _local.held = None
    if held is not None:
        try:
            held["mailer"].close()
        except Exception:  # already broken: dropping it is all that is left to do
            log.debug("Closing the kept mail connection failed", exc_info=True)
