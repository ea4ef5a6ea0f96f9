"""Run work after the response has been sent, when there is a response to wait for.

Publishing a task costs a broker round trip or two (publisher confirms). Inside a request
that time is the user's; deferred until the server has sent the response, it is not. If the
process dies in between, the row stays `queued` with no publish recorded, and the sweep
publishes it: the same path as a broker that was down.
"""

import logging
from collections.abc import Callable
from contextvars import ContextVar

log = logging.getLogger(__name__)

_pending: ContextVar[list[Callable[[], object]] | None] = ContextVar("after_response", default=None)


def after_response(func: Callable[[], object]) -> None:
    """Call `func` once the current response is sent; outside a request, call it now."""
    pending = _pending.get()
    if pending is None:
        func()
    else:
        pending.append(func)


def _run(pending: list) -> None:
    for func in pending:
        try:
            func()
        except Exception:  # one failure must not stop the rest; the sweep covers publishes
            log.exception("Deferred work %r failed after the response", func)


class AfterResponseMiddleware:
    """Collect a request's deferred work and hand it to the response's close().

    WSGI servers call close() after the last byte is sent, so the work runs in the same
    worker once the client has its answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        pending: list = []
        token = _pending.set(pending)
        try:
            response = self.get_response(request)
        finally:
            _pending.reset(token)
        if pending:
            response._resource_closers.append(lambda: _run(pending))
        return response
