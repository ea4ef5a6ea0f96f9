"""Outbox reads for operations."""

from mailer.models import OutgoingEmail
from ops.selectors import status_counts as rows_per_status


def status_counts() -> dict[str, int]:
    """How many messages are in each state, every state listed, zeros included."""
    return rows_per_status(OutgoingEmail)
