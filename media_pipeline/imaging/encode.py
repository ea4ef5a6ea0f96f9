"""Rendition encoders: settings per format and size, alpha, the sRGB profile, no metadata."""

from __future__ import annotations

import functools
import io
from typing import Any

from PIL import Image, features

from .color import srgb_profile_bytes
from .formats import FORMATS

SMALL_EDGE = (
    480  # at or below: full-resolution chroma for JPEG, slower-but-smaller WebP (cheap here)
)
JPEG_QUALITY = 82
WEBP_QUALITY = 80
# WebP method 1 is ~3x faster than the default 4 on large renditions for <1 % more bytes and the
# same PSNR (see bench/bench_imaging.py); on thumbnails method 4 saves ~5 % at ~5 ms.
WEBP_METHOD_LARGE = 1
WEBP_METHOD_SMALL = 4
AVIF_QUALITY = 60
AVIF_SPEED = 8
WHITE = (255, 255, 255)


def encoder_settings(fmt: str, long_edge: int) -> dict[str, Any]:
    """Pillow save() keyword arguments for a rendition of this format and long edge."""
    small = long_edge <= SMALL_EDGE
    if fmt == "jpeg":
        return {
            "quality": JPEG_QUALITY,
            "subsampling": "4:4:4" if small else "4:2:0",
            "progressive": True,
            "optimize": True,
        }
    if fmt == "webp":
        return {
            "quality": WEBP_QUALITY,
            "method": WEBP_METHOD_SMALL if small else WEBP_METHOD_LARGE,
        }
    if fmt == "avif":
        return {"quality": AVIF_QUALITY, "speed": AVIF_SPEED}
    raise ValueError(f"unknown rendition format {fmt!r}")


@functools.cache
def can_encode(fmt: str) -> bool:
    if fmt in ("jpeg",):
        return features.check_codec("jpg")
    if fmt in ("webp", "avif"):
        return features.check_module(fmt)
    return False


def flatten_on_white(im: Image.Image) -> Image.Image:
    """RGBA -> RGB composited over white (JPEG has no transparency)."""
    if im.mode != "RGBA":
        return im
    background = Image.new("RGB", im.size, WHITE)
    background.paste(im, mask=im.getchannel("A"))
    return background


def encode(im: Image.Image, fmt: str, long_edge: int) -> bytes:
    """Encode an sRGB RGB/RGBA image (its info already emptied) with only the sRGB ICC profile."""
    if fmt == "jpeg":
        im = flatten_on_white(im)
    buffer = io.BytesIO()
    im.save(
        buffer,
        FORMATS[fmt].pillow_formats[0],
        icc_profile=srgb_profile_bytes(),
        **encoder_settings(fmt, long_edge),
    )
    return buffer.getvalue()
