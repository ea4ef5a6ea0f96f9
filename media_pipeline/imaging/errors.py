"""Errors for refused images; str(error) is a plain sentence that can be shown to the uploader."""

from __future__ import annotations


class InvalidImageError(ValueError):
    """The upload cannot be used as an image. ``str(err)`` is fit to show to a non-technical user.

    ``code`` is a short, stable machine-readable reason (e.g. ``"too_many_pixels"``) for logs,
    metrics and API error payloads.
    """

    default_code = "invalid_image"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class UnsupportedImageType(InvalidImageError):
    """Not an image type we accept: another kind of file, an unsupported format, or a polyglot."""

    default_code = "unsupported_type"


class ImageTooLarge(InvalidImageError):
    """Too many bytes, pixels, or frames for the configured :class:`Limits`."""

    default_code = "too_large"


class CorruptImage(InvalidImageError):
    """Recognised as an image, but empty, cut off, or undecodable."""

    default_code = "corrupt"
