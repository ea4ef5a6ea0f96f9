"""Rate limits counted in the database: attempts per client in fixed windows, 429 past them.

Why the database and not Django's cache: the default cache is per process (locmem), so each
gunicorn worker and each dyno would count alone and a limit of 10 would let 10 × processes
through; a shared cache would need a Redis the deployment may not have. Postgres is always
there, and one upsert (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, as ops.counters
does) counts an attempt atomically across processes and hosts, in autocommit.

Windows are fixed (aligned on the epoch), so a client can make up to twice the limit across
the boundary of two windows; Retry-After says when the current one ends.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.models import RateLimitWindow

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


@dataclass(frozen=True)
class Rate:
    """At most `limit` attempts in each window of `seconds`."""

    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        """ "30/h", "10/5m" -> a Rate; empty -> None (no limit). ValueError otherwise."""
        if not text or not text.strip():
            return None
        match = RATE.match(text)
        if not match or int(match[1]) < 1 or match[2] == "0":
            raise ValueError(
                f"Rate limit {text!r}: write count/window, e.g. 30/h or 10/5m (s, m, h or d)."
            )
        return cls(int(match[1]), int(match[2] or 1) * UNITS[match[3]])


class RateLimited(Exception):
    """Too many attempts: try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def hit(key: str, rate: Rate | None, *, message: str, now: float | None = None) -> None:
    """Count one attempt under `key`; raise RateLimited when it is one too many.

    A refused attempt counts too (it does not move the window's end).
    """
    if rate is None:
        return
    now = time.time() if now is None else now
    window_end = (int(now // rate.seconds) + 1) * rate.seconds
    table = connection.ops.quote_name(RateLimitWindow._meta.db_table)
    # Only the quoted table name is formatted in; values are parameters.
    sql = (
        f"INSERT INTO {table} (key, window_end, attempts) VALUES (%s, %s, 1) "  # noqa: S608
        f"ON CONFLICT (key) DO UPDATE SET attempts = CASE "
        f"WHEN {table}.window_end = excluded.window_end THEN {table}.attempts + 1 ELSE 1 END, "
        f"window_end = excluded.window_end RETURNING attempts"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, window_end])
        (count,) = cursor.fetchone()
    if count == 1:
        # A window began: forget the windows that are over (their keys would start again
        # at 1 anyway), so rows of addresses and names seen once do not pile up.
        RateLimitWindow.objects.filter(window_end__lte=now).delete()
    if count > rate.limit:
        retry_after = max(1, math.ceil(window_end - now))
        raise RateLimited(f"{message} Please try again in {in_words(retry_after)}.", retry_after)


def in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry the trusted proxies appended.

    Each proxy appends the address it was reached from to X-Forwarded-For, so with N trusted
    proxies the client's is the N-th from the end; entries before it are the client's own
    to write, and never taken.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


# --- the limits of this service ------------------------------------------------------------


def check_upload(user) -> None:
    """One file uploaded by `user` (API or page)."""
    hit(
        f"upload:{user.pk}",
        Rate.parse(settings.UPLOAD_RATE_LIMIT),
        message="You have uploaded too many files in a short time.",
    )


def check_signup(request: HttpRequest) -> None:
    hit(
        f"signup:{client_ip(request)}",
        Rate.parse(settings.SIGNUP_RATE_LIMIT),
        message="Too many accounts were created from your address.",
    )


def check_login(request: HttpRequest, username: str) -> None:
    """A log-in attempt: counted per address, and per user name (guessing one account)."""
    hit(
        f"login-ip:{client_ip(request)}",
        Rate.parse(settings.LOGIN_RATE_LIMIT),
        message="Too many log-in attempts from your address.",
    )
    if username.strip():
        hit(
            f"login-user:{username.strip().lower()[:150]}",
            Rate.parse(settings.LOGIN_USER_RATE_LIMIT),
            message="Too many log-in attempts for this account.",
        )


# --- answers ------------------------------------------------------------------------------------


def too_many_json(limited: RateLimited) -> JsonResponse:
    response = JsonResponse({"error": str(limited)}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


def too_many_page(request: HttpRequest, limited: RateLimited) -> HttpResponse:
    response = render(request, "429.html", {"message": str(limited)}, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response
