"""Refuse an oversized request body before anything parses it."""

import time

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

# Room for the multipart envelope and the other form fields around the file.
ENVELOPE_BYTES = 256 * 1024
# How much of a refused body is read and dropped before answering, at most (see drain()).
DRAIN_MAX_BYTES_FACTOR = 2
DRAIN_MAX_SECONDS = 10.0
DRAIN_CHUNK_BYTES = 64 * 1024


class RequestSizeLimitMiddleware:
    """Answer 413 from Content-Length alone, so a huge upload is never parsed or spooled.

    It must come before the CSRF middleware, which parses the body of every POST.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MEDIA_MAX_UPLOAD_BYTES + ENVELOPE_BYTES
        if length <= limit:
            return self.get_response(request)
        message = (
            f"The upload is {length / 1_048_576:.1f} MB; the limit is "
            f"{settings.MEDIA_MAX_UPLOAD_BYTES / 1_048_576:.0f} MB per file."
        )
        drain(request, max_bytes=DRAIN_MAX_BYTES_FACTOR * limit, max_seconds=DRAIN_MAX_SECONDS)
        # No `Connection: close`: it is hop-by-hop, which a WSGI application must not set
        # (PEP 3333; runserver turns it into a 500). Whatever of the body is left unread is
        # the server's: runserver reads it, gunicorn closes the connection.
        if request.path.startswith("/api/"):
            return JsonResponse({"error": message}, status=413)
        return render(request, "media_pipeline/error.html", {"message": message}, status=413)


def drain(request, *, max_bytes: int, max_seconds: float) -> None:
    """Read and drop the refused body, bounded in bytes and time.

    A client sends its whole body before it reads the answer (browsers, requests, curl).
    A server that closes the connection while body bytes are still arriving makes the
    kernel reset it, and the client then sees a dropped connection, not the 413 and its
    message (gunicorn drops at most 64 KB before it closes). Reading the body through costs
    what accepting an upload of that size would; past the bounds the body is left to the
    server, so a client declaring gigabytes cannot hold a worker thread for long.
    """
    deadline = time.monotonic() + max_seconds
    read = 0
    try:
        while read < max_bytes and time.monotonic() < deadline:
            chunk = request.read(min(DRAIN_CHUNK_BYTES, max_bytes - read))
            if not chunk:
                return
            read += len(chunk)
    except OSError:  # the client went away: nothing left to answer
        return
