"""Size checks against Limits, made before any pixel is decoded, and Pillow's bomb guard."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator

from PIL import Image

from .errors import CorruptImage, ImageTooLarge
from .specs import Limits


def _mb(n: int, *, exact: bool = False) -> str:
    """'52.4 MB' (exact=True: one decimal, so a size never rounds down onto its limit), '50 MB'."""
    value = n / (1024 * 1024)
    if exact:
        return f"{value:.1f} MB"
    return f"{value:.0f} MB" if value == int(value) or value >= 10 else f"{value:.1f} MB"


def _mp(n: int) -> str:
    value = n / 1_000_000
    return (
        f"{value:.0f} megapixels"
        if value >= 10 or value == int(value)
        else f"{value:.1f} megapixels"
    )


def check_bytes(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise ImageTooLarge(
            f"This file is {_mb(size, exact=True)}, which is more than the "
            f"{_mb(limits.max_bytes)} limit. "
            "Please upload a smaller image.",
            code="too_many_bytes",
        )


def check_dimensions(width: int, height: int, frames: int, limits: Limits) -> None:
    """Refuse frames whose declared size, or whose total over all frames, exceeds the limits."""
    if width < 1 or height < 1:
        raise CorruptImage(
            "This image says it is 0 pixels wide or high, so it is damaged.", code="bad_size"
        )
    if max(width, height) > limits.max_dimension:
        raise ImageTooLarge(
            f"This image is {width} × {height} pixels; the most we accept is "
            f"{limits.max_dimension} pixels on either side. Please resize it and upload it again.",
            code="too_many_pixels",
        )
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"This image has {_mp(pixels)} ({width} × {height}); the most we accept is "
            f"{_mp(limits.max_pixels)}. Please resize it and upload it again.",
            code="too_many_pixels",
        )
    if frames * pixels > limits.max_total_pixels:
        raise ImageTooLarge(
            f"This image has {frames} frames of {width} × {height} pixels, which is too much "
            f"to process (the limit is {_mp(limits.max_total_pixels)} over all frames). "
            "Please upload a shorter or smaller animation.",
            code="too_many_frames",
        )


@contextlib.contextmanager
def pillow_bomb_guard(limits: Limits) -> Iterator[None]:
    """Turn Pillow's own decompression-bomb warning and error into ImageTooLarge.

    Pillow refuses images over 2 x ``Image.MAX_IMAGE_PIXELS`` while opening them, before our own
    checks run; this keeps its verdict but words it for people. Pillow's global limit (89.5
    megapixels by default) still applies on top of :class:`Limits`: raise it at start-up if
    ``Limits.max_pixels`` is configured above it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"has {_mp(int(found.group(1)))}, which" if found else "has too many pixels and"
            raise ImageTooLarge(
                f"This image {size} is too big to process safely (the most we accept is "
                f"{_mp(limits.max_pixels)}). Please resize it and upload it again.",
                code="too_many_pixels",
            ) from exc
