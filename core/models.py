"""Rate-limit windows kept in the database, so every web process counts the same attempts."""

from django.db import models


class RateLimitWindow(models.Model):
    """The attempts of one client (a user, an IP address, a user name) under one limit.

    One row per key, reused: the window it counts is a number (seconds since the epoch
    divided by the window's length), and an attempt in a later window starts the count again.
    """

    key = models.CharField(max_length=255, unique=True)  # "login-user:alice"
    window_index = models.BigIntegerField()
    attempts = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.attempts} in window {self.window_index}"
