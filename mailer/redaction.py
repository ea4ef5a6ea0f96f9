"""Secret links in stored messages: masked in the row, put back only in the sent message."""

import re

# What a stored message shows where the token of a password-reset or confirmation link is.
MASK = "REDACTED-LINK-TOKEN"


def unmask(text: str, secret: str) -> str:
    return text.replace(MASK, secret) if secret else text


# Password-reset links written before messages were stored masked: /reset/<uid>/<token>/.
_RESET_LINK = re.compile(r"(/accounts/reset/[^/\s\"'<>]+/)([^/\s\"'<>]+)(/)")


def mask_reset_links(text: str) -> str:
    return _RESET_LINK.sub(rf"\g<1>{MASK}\g<3>", text)


def reset_link_token(text: str) -> str:
    """The token of the first password-reset link in `text`, or "" if it has none."""
    found = _RESET_LINK.search(text)
    return found.group(2) if found else ""
