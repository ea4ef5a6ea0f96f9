"""Hold off a polite stop (SIGTERM, SIGQUIT) while a step that must not be cut in two runs.

Sending an email and recording that it was sent cannot be one atomic write: a worker
stopped between them leaves a row `sending` whose message the server already has, and it is
sent again. Celery stops a task that way whenever the worker loses its broker connection
(cancel_long_running_tasks_on_connection_loss) and at a Heroku shutdown. Blocked, the signal
waits until the record is written (at most one SMTP exchange) and then acts as it would
have. SIGKILL cannot be held off: that case stays the documented at-least-once resend.
"""

import signal
import threading
from contextlib import contextmanager

POLITE_STOPS = {signal.SIGTERM, signal.SIGQUIT}


@contextmanager
def termination_deferred():
    """Defer SIGTERM and SIGQUIT to the end of the block (main thread, POSIX; else no-op)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, POLITE_STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
