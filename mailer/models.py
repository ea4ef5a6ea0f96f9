"""The outbox: every message is a row, with its rendered content, before it is a task."""

from django.conf import settings
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
    # Extra headers, e.g. List-Unsubscribe on notifications.
    headers = models.JSONField(default=dict, blank=True)
    # The secret part of a link (a password-reset or confirmation token): the stored parts
    # hold mailer.redaction.MASK in its place, so the admin never shows a live link; it is
    # put back only when the message is built, and cleared once the message is sent.
    secret = models.TextField(blank=True)

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


class Suppression(models.Model):
    """An address that gets no more notifications: it hard-bounced (then no mail at all)
    or its owner unsubscribed. Operators add, edit and remove entries in the admin."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Hard bounce (no mail at all)"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed (no notifications)"
        MANUAL = "manual", "Added by an operator (no mail at all)"

    # Stored lower-cased: one entry per address however it is spelled.
    address = models.EmailField(unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    # The server's reply to a bounce, or where an unsubscribe came from.
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"

    def save(self, *args, **kwargs):
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)

    def clean(self):
        # Before the uniqueness check: "Bob@X" is the entry "bob@x" already there.
        self.address = self.address.strip().lower()


class Digest(models.Model):
    """A batch of upload outcomes for one owner, mailed as one message when its window
    closes. At most one is open per owner; closing it queues the message (or records why
    none was sent) in the same transaction."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_digests"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    email = models.OneToOneField(
        OutgoingEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="digest"
    )
    # Why a closed digest sent nothing (owner opted out, address suppressed, ...).
    skipped_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(closed_at=None), name="one_open_digest_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"digest {self.id} for {self.user}"


class DigestItem(models.Model):
    """One upload outcome waiting in a digest; at most one per upload and outcome."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items")
    upload = models.ForeignKey("media_pipeline.Upload", on_delete=models.CASCADE)
    kind = models.CharField(max_length=64)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "kind"], name="one_digest_item_per_outcome")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of upload {self.upload_id} in digest {self.digest_id}"
