"""EXIF orientation and rendition sizes: long edge fitted, aspect kept, never upscaled."""

from __future__ import annotations

import struct

from PIL import Image

T = Image.Transpose
ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transpose that turns stored pixels into displayed pixels.
_TRANSPOSE = {
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_270,
    7: T.TRANSVERSE,
    8: T.ROTATE_90,
}


def read_orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 from the header; 1 when absent, invalid or unreadable.

    Only the EXIF block counts (the IFD tag for TIFF; for AVIF, Pillow puts the file's
    irot/imir turn there), never an XMP tiff:Orientation, which Pillow's getexif() would fall
    back to and browsers ignore. Never decodes pixels: for PNG only an eXIf chunk read with the
    header counts, as getexif() would load the whole image to look for one after the pixels.
    Bad EXIF never blocks an otherwise readable image.
    """
    try:
        if im.format == "TIFF":
            value = im.tag_v2.get(ORIENTATION_TAG, 1)
        else:
            exif = Image.Exif()
            if im.info.get("exif"):
                exif.load(im.info["exif"])
            value = exif.get(ORIENTATION_TAG, 1)
    except (SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def swaps_axes(orientation: int) -> bool:
    return orientation in (5, 6, 7, 8)


def displayed_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if swaps_axes(orientation) else size


def apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    op = _TRANSPOSE.get(orientation)
    return im.transpose(op) if op is not None else im


def fit_long_edge(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """Scale (w, h) so its longer side is long_edge, rounding the other side; never upscale."""
    width, height = size
    longest = max(width, height)
    if long_edge >= longest:
        return size
    if width >= height:
        return long_edge, max(1, round(height * long_edge / width))
    return max(1, round(width * long_edge / height)), long_edge
