"""Perceptual hashes: a 64-bit difference hash (dHash) and the distance between two of them.

The picture is shrunk to 9 x 8 grey pixels and each bit says whether a pixel is brighter
than its right neighbour, so re-encoding, resizing and small crops change few bits while a
different picture changes about half of them.
"""

from __future__ import annotations

from PIL import Image

HASH_BITS = 64


def dhash(image: Image.Image) -> int:
    """The 64-bit dHash of a Pillow image, as a signed integer (it fits a bigint column)."""
    grey = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    pixels = grey.tobytes()
    value = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            value = (value << 1) | (left > right)
    return value - (1 << 64) if value >= 1 << 63 else value


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ (Hamming distance)."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
