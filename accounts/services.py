"""Account use cases: sign up, confirm the address, choose the notifications."""

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import EmailPreferences
from mailer import suppression
from mailer.redaction import MASK
from mailer.services import queue_email

CONFIRM_SALT = "accounts.confirm_email"
Notifications = EmailPreferences.Notifications


class InvalidConfirmation(ValueError):
    """A confirmation link that is forged, expired, or for an address no longer used."""


def preferences_for(user: AbstractBaseUser) -> EmailPreferences:
    """The account's preferences. Sign-up writes them unconfirmed; an account without them
    was made by an operator, who vouches for its address: it is confirmed on first use."""
    preferences, _ = EmailPreferences.objects.get_or_create(
        user=user, defaults={"verified_email": user.email, "verified_at": timezone.now()}
    )
    preferences.user = user
    return preferences


def is_verified(user: AbstractBaseUser) -> bool:
    return preferences_for(user).is_verified()


@transaction.atomic
def sign_up(*, form) -> AbstractBaseUser:
    """Create the account from a valid SignUpForm, its address unconfirmed, and send the
    confirmation link: until it is followed, no other mail goes to that address."""
    user = form.save()
    EmailPreferences.objects.create(user=user)
    send_confirmation(user=user)
    return user


def confirmation_token(user: AbstractBaseUser) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=CONFIRM_SALT)


def send_confirmation(*, user: AbstractBaseUser):
    """Queue the confirmation link; at most one per address per throttle period, so the
    button cannot be used to flood someone's inbox."""
    bucket = int(time.time() // settings.ACCOUNTS_CONFIRM_THROTTLE_SECONDS)
    token = confirmation_token(user)
    return queue_email(
        kind="confirm_email",
        to=user.email,
        context={
            "user": user,
            "site_name": settings.SITE_NAME,
            "confirm_url": f"{settings.SITE_URL}/accounts/confirm/{MASK}/",
            "valid_days": max(1, settings.ACCOUNTS_CONFIRM_MAX_AGE // 86400),
        },
        dedupe_key=f"confirm_email:{user.pk}:{user.email.lower()}:{bucket}",
        secret=token,
    )


def confirm_email(*, token: str) -> AbstractBaseUser:
    """Mark the address in a confirmation link as confirmed; InvalidConfirmation if not."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=settings.ACCOUNTS_CONFIRM_MAX_AGE)
    except signing.SignatureExpired as error:
        raise InvalidConfirmation(
            "This confirmation link has expired. Log in and ask for a new one."
        ) from error
    except signing.BadSignature as error:
        raise InvalidConfirmation("This confirmation link is not valid.") from error
    user = get_user_model().objects.filter(pk=data.get("u")).first()
    if user is None or user.email.lower() != str(data.get("e", "")).lower():
        raise InvalidConfirmation(
            "This link is for an address the account no longer uses. Log in and ask for a new one."
        )
    EmailPreferences.objects.update_or_create(
        user=user, defaults={"verified_email": user.email, "verified_at": timezone.now()}
    )
    return user


def set_notifications(*, user: AbstractBaseUser, notifications: str) -> EmailPreferences:
    """Choose the upload notifications. Choosing to get some again lifts an earlier
    unsubscribe of the address (never a bounce: that address does not take mail)."""
    preferences = preferences_for(user)
    preferences.notifications = Notifications(notifications)
    preferences.save(update_fields=["notifications"])
    if preferences.notifications != Notifications.NONE and user.email:
        suppression.lift_unsubscribe(user.email)
    return preferences


def unsubscribe(*, user: AbstractBaseUser, address: str) -> None:
    """Stop upload notifications to `address` (from a link in one of them)."""
    suppression.suppress(address, reason=suppression.Reason.UNSUBSCRIBED, detail="one-click link")
    if user.email.lower() == address.lower():
        preferences = preferences_for(user)
        preferences.notifications = Notifications.NONE
        preferences.save(update_fields=["notifications"])
