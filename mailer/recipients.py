"""Whether an account may get a notification now: the one rule every notification obeys."""

from accounts.models import EmailPreferences
from mailer import suppression

Notifications = EmailPreferences.Notifications


def skip_reason(user, preferences: EmailPreferences, kind: str) -> str:
    """Why `user` gets no notification of `kind` now, or "" when they may."""
    if not user.email:
        return "no_address"
    if not preferences.is_verified():
        # Until the owner proves the address is theirs, it gets nothing but the
        # confirmation link: an account cannot be used to mail a stranger.
        return "unverified"
    if preferences.notifications == Notifications.NONE:
        return "opted_out"
    if suppression.blocking_reason(user.email, kind):
        return "suppressed"
    return ""
