"""Which errors are worth another try: a service briefly unreachable, not a bug or bad input."""

from django.db import InterfaceError, OperationalError

try:  # object storage errors, when django-storages' S3 backend is in use
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
except ImportError:  # pragma: no cover - boto3 is in requirements/base.txt
    ClientError = BotoConnectionError = HTTPClientError = ()

TRANSIENT_TYPES = (
    OSError,  # includes ConnectionError, TimeoutError, a full disk (ENOSPC)
    OperationalError,
    InterfaceError,
    BotoConnectionError,
    HTTPClientError,
)
TRANSIENT_S3_CODES = {
    "SlowDown",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
    "Throttling",
    "RequestTimeTooSkewed",
}


def is_transient(error: BaseException) -> bool:
    if isinstance(error, FileNotFoundError):
        return False  # a missing file does not come back by waiting
    if isinstance(error, TRANSIENT_TYPES):
        return True
    if ClientError and isinstance(error, ClientError):
        response = error.response or {}
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or response.get("Error", {}).get("Code") in TRANSIENT_S3_CODES
    return False


def backoff_seconds(attempt: int, *, base: float, cap: float = 600.0) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 ... times `base` after each attempt.

    Half the delay is fixed and half random, so retries of much work that failed together
    (a provider's outage, a broker restart) spread out instead of arriving in step.
    """
    import random

    delay = min(cap, base * 2 ** min(max(attempt - 1, 0), 20))
    return delay / 2 + random.uniform(0, delay / 2)
