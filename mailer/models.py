"""The outbox: every message is a row, with its rendered content, before it is a task."""

from django.db import models
from django.utils import timezone


class OutgoingEmail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=64, db_index=True)
    to = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # Fixed when the row is created, so a resend after a crash is the same message.
    message_id = models.CharField(max_length=255, unique=True)
    # Makes queueing idempotent: the same event never queues a second message.
    dedupe_key = models.CharField(max_length=255, unique=True, null=True, blank=True)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    # Attempts since the message was queued (or resent); each one is a DeliveryAttempt.
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # What the mail server said when it took the message, e.g. "250 2.0.0 Ok: queued as X".
    server_reply = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When the row last entered `queued` (written, or resent): the age of the backlog.
    queued_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Who holds the claim: the id of the task message. A redelivery of that same message
    # (its worker died) may take the claim over at once; anyone else waits for the lease.
    claimed_by = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outgoing email"
        indexes = [
            models.Index(fields=["status", "queued_at"], name="email_status_queued_at"),
            models.Index(fields=["status", "sent_at"], name="email_status_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class DeliveryAttempt(models.Model):
    """One finished try at handing a message to the mail server, and what came of it.

    Written when the try ends; one in progress shows as the row's `sending` claim.
    """

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        TEMPORARY = "temporary", "Temporary failure"
        PERMANENT = "permanent", "Permanent failure"
        # Its worker died before it could say; recorded by the claim that took over.
        INTERRUPTED = "interrupted", "Interrupted (worker lost)"

    email = models.ForeignKey(
        OutgoingEmail, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # The server's reply, or the error that ended the attempt.
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of email {self.email_id}: {self.outcome}"
