"""Sign-up with an email address, and password reset through the outbox."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm

from accounts.models import EmailPreferences
from accounts.services import is_verified
from mailer.redaction import MASK
from mailer.services import queue_email


class SignUpForm(UserCreationForm):
    email = forms.EmailField(help_text="We send a message here when your images are ready.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending through the outbox instead of SMTP directly."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        # The stored message shows the link with its token masked (the admin never shows a
        # live reset link); the worker puts the token back when it builds the message.
        reset_url = "{}://{}/accounts/reset/{}/{}/".format(
            context["protocol"], context["domain"], context["uid"], MASK
        )
        queue_email(
            kind="password_reset",
            to=to_email,
            context={**context, "reset_url": reset_url, "site_name": settings.SITE_NAME},
            secret=context["token"],
        )

    def get_users(self, email):
        """Only accounts whose address is confirmed: an unconfirmed address gets nothing
        but its confirmation link."""
        return (user for user in super().get_users(email) if is_verified(user))


class NotificationsForm(forms.Form):
    notifications = forms.ChoiceField(
        label="Email me about my uploads",
        choices=EmailPreferences.Notifications.choices,
        widget=forms.RadioSelect,
    )
