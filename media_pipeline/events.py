"""The live pages' push channel: Server-Sent Events of the user's uploads as they change.

`GET /events/` answers `text/event-stream`. When an upload changes (on Postgres a trigger
NOTIFYs on commit and the stream LISTENs on its own database connection), and at the latest
every MEDIA_EVENTS_CHECK_SECONDS, the stream asks the database which of the user's uploads
changed (an index range scan on (owner, updated_at):
the worker bumps `updated_at` on each state change and on each rendition it records) and
sends those uploads in full, in the API's shape, as one `uploads` event. Each response lasts
MEDIA_EVENTS_STREAM_SECONDS, then ends; the browser's EventSource reconnects by itself,
sending the last event id (the newest change it saw), so nothing falls between two streams.

What holds what: under ASGI the stream is an async iterator and holds no thread between
checks; under WSGI (gunicorn's threads, runserver) it is a plain generator and holds one
thread of the web process for its lifetime, which is why the lifetime is bounded: a tab
costs at most one thread, and a dead tab frees it within the lifetime. Size gunicorn's
threads for the open tabs, or serve `/events/` from an ASGI process.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from media_pipeline import selectors
from media_pipeline.models import Upload

# A row is written with the time of its statement and seen when it commits: a change that
# commits late can carry a time just before the newest one already seen. Each check looks
# this far back and sends only (id, updated_at) pairs it has not sent yet.
OVERLAP = timedelta(seconds=2)
# A comment line now and then, so that proxies do not take a quiet stream for a dead one.
# A closed tab is noticed only when a write fails: this also bounds how long it holds on.
HEARTBEAT_SECONDS = 5.0
RECONNECT_MS = 1000
# How far back a reconnecting tab is caught up; a page older than that is out of date anyway.
MAX_RESUME = timedelta(days=1)
CHANNEL = "media_uploads"  # the trigger of migration 0003 notifies it with the owner's id


def start_time(request: HttpRequest) -> datetime:
    """Where the stream starts: the last event the browser saw, else `since` (the time the
    page was made, epoch seconds), else a few seconds ago."""
    now = datetime.now(tz=UTC)
    for raw in (request.headers.get("Last-Event-ID"), request.GET.get("since")):
        try:
            asked = datetime.fromtimestamp(float(raw), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            continue
        # Both come from the browser: a time ahead of the clock would keep every change
        # back for the whole stream, and one long past would send the whole library at once.
        return min(max(asked, now - MAX_RESUME), now)
    return now - timedelta(seconds=5)


class Changes:
    """What one stream has sent, and the check that finds what it has not."""

    def __init__(self, user, since: datetime):
        self.user = user
        self.since = since
        self.sent: dict = {}  # upload id -> updated_at sent

    def check(self) -> str:
        """The next event of the stream ("" when nothing changed)."""
        window = self.since - OVERLAP
        rows = Upload.objects.filter(owner=self.user, updated_at__gt=window).values_list(
            "id", "updated_at"
        )
        fresh = {upload_id: at for upload_id, at in rows if self.sent.get(upload_id) != at}
        self.sent = {k: v for k, v in self.sent.items() if v > window}
        if not fresh:
            return ""
        uploads = list(selectors.uploads_of(self.user).filter(id__in=list(fresh)))
        for upload in uploads:
            self.sent[upload.id] = upload.updated_at
        self.since = max(self.since, *fresh.values())
        body = json.dumps({"uploads": [selectors.upload_as_dict(u) for u in uploads]})
        return f"id: {self.since.timestamp():.6f}\nevent: uploads\ndata: {body}\n\n"


@contextmanager
def listening():
    """Wake as soon as any upload changes (Postgres NOTIFY, sent by a trigger on commit), or
    after the check interval otherwise; yields the function that waits `seconds`."""
    if connection.vendor != "postgresql":
        yield time.sleep
        return
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    raw = connection.connection

    def wait(seconds: float) -> None:
        for _ in raw.notifies(timeout=seconds, stop_after=1):
            pass  # any change wakes the check; the check itself is the owner's filter

    try:
        yield wait
    finally:  # the connection may serve other requests after this one
        try:
            with connection.cursor() as cursor:
                cursor.execute("UNLISTEN *")
        except DatabaseError:
            pass  # gone with its connection


def sync_events(changes: Changes, lifetime: float, interval: float):
    """The stream as a generator (WSGI): one thread, at most `lifetime` seconds."""
    yield f"retry: {RECONNECT_MS}\n\n"
    try:
        with listening() as wait:
            yield from _sync_loop(changes, lifetime, interval, wait)
    finally:
        # The stream is iterated outside the view's context, so the server's end-of-request
        # close (runserver closes each thread's connections) never sees this connection: it
        # stayed open, one per stream, until Postgres ran out of connections.
        connection.close()


def _sync_loop(changes: Changes, lifetime: float, interval: float, wait):
    started = last_sent = time.monotonic()
    while True:
        try:
            event = changes.check()
        except DatabaseError:  # the database is away: end here, the browser comes back
            return
        now = time.monotonic()
        if event or now - last_sent > HEARTBEAT_SECONDS:
            yield event or ": still here\n\n"
            last_sent = now
        if now - started >= lifetime:
            return
        wait(interval)


async def async_events(changes: Changes, lifetime: float, interval: float):
    """The same stream as an async iterator (ASGI): no thread held between checks."""
    check = sync_to_async(changes.check)
    yield f"retry: {RECONNECT_MS}\n\n"
    started = last_sent = time.monotonic()
    while True:
        try:
            event = await check()
        except DatabaseError:
            return
        now = time.monotonic()
        if event or now - last_sent > HEARTBEAT_SECONDS:
            yield event or ": still here\n\n"
            last_sent = now
        if now - started >= lifetime:
            return
        await asyncio.sleep(interval)


@require_GET
async def stream(request: HttpRequest) -> HttpResponse:
    """Server-Sent Events of the user's uploads (see the module's notes)."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponse("Log in to follow your uploads.", status=401, content_type="text/plain")
    changes = Changes(user, start_time(request))
    lifetime = settings.MEDIA_EVENTS_STREAM_SECONDS
    interval = settings.MEDIA_EVENTS_CHECK_SECONDS
    make = async_events if isinstance(request, ASGIRequest) else sync_events
    response = StreamingHttpResponse(
        make(changes, lifetime, interval), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and the like: pass each event on at once
    return response
