"""Outbox reads for operations."""

from django.db.models import Count

from mailer.models import OutgoingEmail


def status_counts() -> dict[str, int]:
    """How many messages are in each state, every state listed, zeros included."""
    found = dict(OutgoingEmail.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: found.get(status, 0) for status in OutgoingEmail.Status.values}
