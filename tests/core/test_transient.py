"""Which errors are retried, and how long the retries wait."""

import errno

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.db import OperationalError

from core.transient import backoff_seconds, is_transient


@pytest.mark.parametrize(("attempt", "full"), [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0)])
def test_backoff_doubles_with_each_attempt_and_keeps_half_of_it_fixed(attempt, full):
    delays = [backoff_seconds(attempt, base=2.0) for _ in range(200)]
    assert all(full / 2 <= delay <= full for delay in delays)
    assert len(set(delays)) > 1  # jittered: work that failed together spreads out


def test_backoff_is_capped():
    assert all(backoff_seconds(n, base=2.0, cap=600) <= 600 for n in (20, 50, 1000))


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        OSError(errno.ENOSPC, "No space left on device"),
        OperationalError("server closed the connection unexpectedly"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ClientError(
            {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
            "PutObject",
        ),
    ],
)
def test_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(),
        ValueError("a bug"),
        KeyError("x"),
        ClientError(
            {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
            "PutObject",
        ),
    ],
)
def test_not_transient(error):
    assert not is_transient(error)
