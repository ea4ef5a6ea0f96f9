"""Rate-limit windows kept in the database, so every web process counts the same attempts."""

from django.db import models


class RateLimitWindow(models.Model):
    """The attempts of one client (a user, an IP address, a user name) under one limit.

    One row per key, reused: an attempt after its window's end starts the count again, and
    rows whose window is over are deleted as new windows begin (core.ratelimit.hit).
    """

    key = models.CharField(max_length=255, unique=True)  # "login-user:alice"
    # When the counted window ends, in seconds since the epoch (windows are aligned on it).
    window_end = models.BigIntegerField(db_index=True)
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.attempts} until {self.window_end}"
