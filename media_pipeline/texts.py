"""What users write (captions, alt texts, descriptions, searches), made storable.

Postgres refuses a NUL in text and UTF-8 cannot hold a lone surrogate (JSON's "\\ud800"):
either would end a request in a server error. Neither, nor any other control character,
is anything a reader sees, so they are dropped; line breaks and tabs stay.
"""

import unicodedata

KEPT_CONTROLS = frozenset("\n\r\t")
DROPPED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, surrogates


def storable(text: str) -> str:
    return "".join(
        ch
        for ch in text
        if ch in KEPT_CONTROLS or unicodedata.category(ch) not in DROPPED_CATEGORIES
    )
