"""Work a request hands off instead of waiting for it: publishing to the broker.

A confirmed publish costs broker round trips and CPU; inside a request that time is the
uploader's. A request hands the publish to one background thread per process and answers.
If the process dies before the thread has published, the row is still `queued` and the
sweep publishes it; outside a request (a Celery task, a shell) the work runs at once.
"""

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable
from contextvars import ContextVar

from django.db import connections

log = logging.getLogger(__name__)
_in_request: ContextVar[bool] = ContextVar("in_request", default=False)


class BackgroundThread:
    """One daemon thread per process running submitted callables in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def submit(self, func: Callable[[], object]) -> None:
        with self._lock:
            # A forked child (gunicorn's workers) inherits no running thread: start its own.
            if self._pid != os.getpid() or not (self._thread and self._thread.is_alive()):
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="background", daemon=True
                )
                self._thread.start()
            self._queue.put(func)

    @staticmethod
    def _run(jobs: queue.SimpleQueue) -> None:
        while (func := jobs.get()) is not None:
            try:
                func()
            except Exception:  # one failure must not stop the thread; the sweep covers it
                log.exception("Background work %r failed", func)
            finally:
                # This thread's own database connection, if the work opened one, must not
                # linger between jobs (it would outlive a database restart).
                connections.close_all()

    def drain(self, timeout: float = 5.0) -> None:
        """Finish what is queued (at exit, so a graceful stop publishes everything)."""
        with self._lock:
            thread, pid = self._thread, self._pid
            if thread is None or pid != os.getpid() or not thread.is_alive():
                return
            self._queue.put(None)
        thread.join(timeout)


_background = BackgroundThread()
atexit.register(_background.drain)


def in_background(func: Callable[[], object]) -> None:
    """Run `func` on the background thread during a request; elsewhere, now."""
    if _in_request.get():
        _background.submit(func)
    else:
        func()


class BackgroundWorkMiddleware:
    """Marks the request, so the work it hands off goes to the background thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _in_request.set(True)
        try:
            return self.get_response(request)
        finally:
            _in_request.reset(token)
