"""What an account says about its email address: confirmed or not, and what mail it wants."""

from django.conf import settings
from django.db import models


class EmailPreferences(models.Model):
    """One per account. An account without a row was made by an operator (createsuperuser,
    the demo user, the admin): its address counts as confirmed (accounts.services)."""

    class Notifications(models.TextChoices):
        EVERY = "every", "An email for every finished upload"
        DIGEST = "digest", "One email per batch of uploads"
        NONE = "none", "No emails about uploads"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preferences"
    )
    notifications = models.CharField(
        max_length=8, choices=Notifications.choices, default=Notifications.DIGEST
    )
    # The address the owner proved to read; a changed address needs confirming again.
    verified_email = models.EmailField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "email preferences"
        verbose_name_plural = "email preferences"

    def __str__(self) -> str:
        return f"{self.user}: {self.notifications}"

    def is_verified(self) -> bool:
        email = self.user.email
        return bool(email) and self.verified_email.lower() == email.lower()
