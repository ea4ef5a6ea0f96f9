"""One-click unsubscribe links (RFC 8058): a signed token naming the account and address."""

from django.conf import settings
from django.core import signing

SALT = "mailer.unsubscribe"


class InvalidUnsubscribeLink(ValueError):
    """The token was not made by this service (or was altered)."""


def make_token(user) -> str:
    # No expiry: the link in a message read months later must still work.
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[int, str]:
    """The account id and the address a token was made for."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as error:
        raise InvalidUnsubscribeLink("This unsubscribe link is not valid.") from error
    return data["u"], data["e"]


def url_for(user) -> str:
    return f"{settings.SITE_URL}/accounts/unsubscribe/{make_token(user)}/"


def headers_for(url: str) -> dict[str, str]:
    """The headers that let mail clients offer a one-click unsubscribe (RFC 2369, 8058)."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
