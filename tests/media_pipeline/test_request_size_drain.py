"""A refused body is read and dropped only up to its bounds."""

import io

from django.test import RequestFactory

from media_pipeline.middleware import drain


def request_with_body(size: int):
    request = RequestFactory().post(
        "/api/uploads/", data=b"", content_type="application/octet-stream"
    )
    stream = io.BytesIO(b"x" * size)
    request._stream = stream
    request.META["CONTENT_LENGTH"] = str(size)
    return request, stream


def test_a_body_within_the_bound_is_read_through():
    request, stream = request_with_body(300_000)
    drain(request, max_bytes=1_000_000, max_seconds=10)
    assert stream.tell() == 300_000


def test_a_body_past_the_bound_is_left_to_the_server():
    request, stream = request_with_body(3_000_000)
    drain(request, max_bytes=1_000_000, max_seconds=10)
    assert stream.tell() == 1_000_000


def test_no_time_left_reads_nothing():
    request, stream = request_with_body(300_000)
    drain(request, max_bytes=1_000_000, max_seconds=0)
    assert stream.tell() == 0
