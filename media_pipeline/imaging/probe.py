"""Cheap, header-only inspection of an upload: sniff, limits, trailer, declared size and frames."""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from .errors import CorruptImage, InvalidImageError, UnsupportedImageType
from .formats import FORMATS, SNIFF_BYTES, can_decode, sniff, unsupported_format_message
from .geometry import displayed_size, read_orientation
from .heif_boxes import MalformedHeif, primary_declared_size
from .limits import check_bytes, check_dimensions, pillow_bomb_guard
from .specs import ImageInfo, Limits
from .trailer import check_trailer

# What Pillow raises on malformed input; mapped to CorruptImage.
DECODE_ERRORS = (
    UnidentifiedImageError,
    SyntaxError,
    OSError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)
_ANIMATED_FORMATS = frozenset({"gif", "png", "webp", "avif"})
# Pillow turns TIFFs upright itself: it reports the upright size on open and turns the pixels
# on load. Their orientation still describes the stored pixels (for the libvips engine).
# HEIC is turned by libheif (its irot/imir boxes) for both engines: its orientation is 1.
UPRIGHT_WHEN_OPENED = frozenset({"tiff", "heic"})


def seekable_stream(stream: BinaryIO, limits: Limits) -> BinaryIO:
    """The stream itself if it can seek, else an in-memory copy of at most max_bytes + 1 bytes."""
    try:
        if stream.seekable():
            return stream
    except (AttributeError, ValueError):
        pass
    return io.BytesIO(stream.read(limits.max_bytes + 1))


def byte_size(stream: BinaryIO) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def damaged(label: str) -> CorruptImage:
    return CorruptImage(
        f"This {label} file is damaged and can't be read. Please try saving it again, "
        "or upload a different file.",
        code="undecodable",
    )


def release(im: Image.Image) -> None:
    """Drop Pillow's hold on the file without closing the caller's stream (close() would)."""
    with im:
        pass


def open_checked(stream: BinaryIO, limits: Limits) -> tuple[ImageInfo, Image.Image, int]:
    """Run every pre-decode check and return (info, opened-but-not-loaded image, orientation).

    The caller owns the image (pass it to release()). Must run inside ``pillow_bomb_guard()``.
    """
    size = byte_size(stream)
    if size == 0:
        raise CorruptImage(
            "The file is empty (0 bytes), so there is no picture in it. Please upload it again.",
            code="empty",
        )
    check_bytes(size, limits)
    head = stream.read(SNIFF_BYTES)
    fmt = sniff(head)
    if not can_decode(fmt):
        raise UnsupportedImageType(unsupported_format_message(fmt), code="unsupported_format")
    check_trailer(stream, fmt, size)
    label = FORMATS[fmt].label
    if fmt == "heic":
        _check_heif_declared_size(stream, size, label, limits)
    stream.seek(0)
    try:
        im = Image.open(stream, formats=FORMATS[fmt].pillow_formats)
    except DECODE_ERRORS as exc:
        raise damaged(label) from exc
    try:
        width, height = im.size
        check_dimensions(width, height, 1, limits)
        frames = _frame_count(im, fmt)
        check_dimensions(width, height, frames, limits)
        # HEIF's EXIF orientation only repeats the irot/imir turn that libheif applies.
        orientation = 1 if fmt == "heic" else read_orientation(im)
    except InvalidImageError:
        release(im)
        raise
    except DECODE_ERRORS as exc:
        release(im)
        raise damaged(label) from exc
    if fmt in UPRIGHT_WHEN_OPENED:
        shown_w, shown_h = width, height
    else:
        shown_w, shown_h = displayed_size((width, height), orientation)
    info = ImageInfo(
        format=fmt,
        width=shown_w,
        height=shown_h,
        frames=frames,
        animated=frames > 1 and fmt in _ANIMATED_FORMATS,
        mime_type=FORMATS[fmt].mime_type,
    )
    return info, im, orientation


def _check_heif_declared_size(stream: BinaryIO, size: int, label: str, limits: Limits) -> None:
    """The limits on the primary picture's full coded size, before libheif reads anything.

    The size Pillow reports is after the file's crop, and may be far smaller (heif_boxes.py).
    """
    try:
        width, height = primary_declared_size(stream, size)
    except MalformedHeif as exc:
        raise damaged(label) from exc
    check_dimensions(width, height, 1, limits)


def _frame_count(im: Image.Image, fmt: str) -> int:
    """Frames (or pages) without decoding pixels: declared counts, or a block walk for GIF."""
    if fmt in ("jpeg", "heic"):
        # MPO side images and the other pictures of a HEIF container (a burst) are ignored:
        # the primary picture is the one decoded and rendered (seeking would leave it).
        return 1
    n = getattr(im, "n_frames", 1)
    if fmt != "gif":  # GIF's n_frames seeks back to frame 0 itself
        im.seek(0)
    return max(1, int(n))


def inspect_image(stream: BinaryIO, *, limits: Limits) -> ImageInfo:
    """Check an upload cheaply (web process): header only, no pixel decoding.

    Sniffs magic bytes (never the name or content type), enforces ``limits`` on bytes, declared
    dimensions, pixels and frames x pixels, and refuses files with data after their end marker.
    width/height are as displayed (after EXIF orientation). Raises an InvalidImageError subclass.
    Leaves a seekable stream at position 0.
    """
    source = seekable_stream(stream, limits)
    try:
        with pillow_bomb_guard(limits):
            info, im, _ = open_checked(source, limits)
            release(im)
        return info
    finally:
        if source is stream:
            stream.seek(0)
