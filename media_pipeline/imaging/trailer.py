"""Bounded look at a file's end: data appended after the image (polyglots) and cut-off files."""

from __future__ import annotations

from typing import BinaryIO

from .errors import CorruptImage, UnsupportedImageType
from .formats import FORMATS

TAIL_BYTES = 64 * 1024  # the most read from the end of a file
MAX_BOXES = 1024  # top-level ISO-BMFF boxes walked (AVIF/HEIC)
_PADDING = b"\x00 \t\r\n"  # tolerated after an end marker
_JPEG_EOI = b"\xff\xd9"
_JPEG_SOS = b"\xff\xda"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# Signatures of other file types that make an image a polyglot; matched lower-cased. Each is
# at least 4 bytes so that random compressed data practically never matches.
_FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"<html", "a web page"),
    (b"<!doctype", "a web page"),
    (b"<script", "a web page"),
    (b"<body", "a web page"),
    (b"<iframe", "a web page"),
    (b"javascript:", "a web page"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML document"),
    (b"<?php", "a program"),
    (b"%pdf", "a PDF document"),
    (b"pk\x03\x04", "a ZIP archive"),
    (b"pk\x05\x06", "a ZIP archive"),
)


def check_trailer(stream: BinaryIO, fmt: str, size: int) -> None:
    """Raise if the file does not end where its format says it ends.

    Data after the end marker (HTML, a ZIP, ...) raises UnsupportedImageType (code "polyglot");
    a missing end marker raises CorruptImage (code "truncated"). Reads at most TAIL_BYTES
    (plus a few box headers for AVIF/HEIC). TIFF has no end marker and is not checked here.
    """
    label = FORMATS[fmt].label
    if fmt in ("avif", "heic"):
        _check_iso_boxes(stream, size, label)
        return
    if fmt == "webp":
        _check_riff(stream, size, label)
        return
    checker = {"jpeg": _jpeg_extra, "png": _png_extra, "gif": _gif_extra}.get(fmt)
    if checker is None:
        return
    start = max(0, size - TAIL_BYTES)
    stream.seek(start)
    body = stream.read(size - start).rstrip(_PADDING)
    extra = checker(body)
    if extra is not None:
        _refuse_appended(extra, label)


def _jpeg_extra(body: bytes) -> bytes | None:
    """Bytes after the last EOI, b"" if it ends cleanly; raises if no EOI follows the last scan."""
    if body.endswith(_JPEG_EOI) or body.endswith(b"SEFT"):  # SEFT: Samsung camera trailer
        return None
    # An EOI before the last start-of-scan belongs to an embedded thumbnail, not to the image.
    last_scan = max(body.rfind(_JPEG_SOS), 0)
    eoi = body.rfind(_JPEG_EOI, last_scan)
    if eoi < 0:
        _refuse_cut(body[last_scan:], "JPEG")
    return body[eoi + 2 :]


def _png_extra(body: bytes) -> bytes | None:
    if body.endswith(_PNG_IEND):
        return None
    iend = body.rfind(b"IEND")
    if iend < 0:
        _refuse_cut(body[max(body.rfind(b"IDAT"), 0) :], "PNG")
    return body[iend + 8 :]


def _gif_extra(body: bytes) -> bytes | None:
    """GIF's trailer byte is often missing from real files, so only foreign data is refused here."""
    if not body.endswith(b";") and _foreign(body[-4096:]):
        _refuse_appended(body[-4096:], "GIF")
    return None


def _check_riff(stream: BinaryIO, size: int, label: str) -> None:
    stream.seek(4)
    riff_size = int.from_bytes(stream.read(4), "little")
    expected = 8 + riff_size + (riff_size & 1)
    if size < expected:
        raise _cut(label)
    if size > expected:
        stream.seek(expected)
        extra = stream.read(min(size - expected, TAIL_BYTES)).rstrip(_PADDING)
        if extra:
            _refuse_appended(extra, label)


def _check_iso_boxes(stream: BinaryIO, size: int, label: str) -> None:
    pos = 0
    for _ in range(MAX_BOXES):
        if pos >= size:
            break
        stream.seek(pos)
        header = stream.read(16)
        box_type = header[4:8]
        if len(header) < 8 or not all(
            c == 32 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 for c in box_type
        ):
            stream.seek(pos)
            extra = stream.read(min(size - pos, TAIL_BYTES)).rstrip(_PADDING)
            if extra:
                _refuse_appended(extra, label)
            return
        box_size = int.from_bytes(header[0:4], "big")
        if box_size == 0:  # runs to the end of the file
            return
        if box_size == 1:
            box_size = int.from_bytes(header[8:16], "big")
        if box_size < 8:
            raise CorruptImage(f"This {label} file is damaged and can't be read.", code="corrupt")
        pos += box_size
    else:
        raise CorruptImage(f"This {label} file is damaged and can't be read.", code="corrupt")
    if pos > size:
        raise _cut(label)


def _foreign(data: bytes) -> str | None:
    lowered = data.lower()
    for magic, what in _FOREIGN:
        if magic in lowered:
            return what
    return None


def _refuse_appended(extra: bytes, label: str) -> None:
    what = _foreign(extra)
    hidden = f" (it looks like {what})" if what else ""
    raise UnsupportedImageType(
        f"This {label} file has extra data hidden after the end of the picture{hidden}, "
        "so for safety it can't be accepted. Please open the image, save or export it again, "
        "and upload the new file.",
        code="polyglot",
    )


def _refuse_cut(last_data: bytes, label: str) -> None:
    """No end marker: foreign data in the last image data means a polyglot, else a cut-off file."""
    if _foreign(last_data):
        _refuse_appended(last_data, label)
    raise _cut(label)


def _cut(label: str) -> CorruptImage:
    return CorruptImage(
        f"This {label} file is incomplete: it seems to have been cut off, perhaps during the "
        "upload. Please upload it again.",
        code="truncated",
    )
