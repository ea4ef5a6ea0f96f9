"""Format table and magic-byte sniffing: what a file really is, whatever its name says."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from PIL import Image, features

from . import heif
from .errors import UnsupportedImageType

SNIFF_BYTES = 1024  # how much of the head sniffing looks at


@dataclass(frozen=True)
class Format:
    name: str  # canonical: "jpeg"
    label: str  # for people: "JPEG"
    mime_type: str
    extension: str
    pillow_formats: tuple[str, ...]  # Pillow plugin ids allowed to open it
    pillow_module: str | None = None  # PIL.features module it needs, if any


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jpeg", "JPEG", "image/jpeg", "jpg", ("JPEG",)),
        Format("png", "PNG", "image/png", "png", ("PNG",)),
        Format("webp", "WebP", "image/webp", "webp", ("WEBP",), "webp"),
        Format("gif", "GIF", "image/gif", "gif", ("GIF",)),
        Format("tiff", "TIFF", "image/tiff", "tif", ("TIFF",)),
        Format("avif", "AVIF", "image/avif", "avif", ("AVIF",), "avif"),
        Format("heic", "HEIC", "image/heic", "heic", ("HEIF",)),
    )
}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Things people upload by mistake (or on purpose), for a message that says what the file is.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"BM", "a BMP image"),
    (b"8BPS", "a Photoshop document"),
    (b"\x00\x00\x01\x00", "an icon file"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
)
_TEXT_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"<svg", "an SVG drawing"),
    (b"<!doctype html", "a web page (HTML)"),
    (b"<html", "a web page (HTML)"),
    (b"<head", "a web page (HTML)"),
    (b"<body", "a web page (HTML)"),
    (b"<script", "a web page (HTML)"),
    (b"{\\rtf", "a text document"),
)


@functools.cache
def can_decode(name: str) -> bool:
    """Whether the installed Pillow can open this canonical format."""
    fmt = FORMATS[name]
    if name == "heic" and not heif.register():  # HEIC comes from the pillow-heif plugin
        return False
    if fmt.pillow_module and not features.check_module(fmt.pillow_module):
        return False
    Image.init()
    return all(p in Image.OPEN for p in fmt.pillow_formats)


def accepted_labels() -> str:
    """'JPEG, PNG, WebP, GIF, TIFF or AVIF' for the formats this installation reads."""
    labels = [f.label for f in FORMATS.values() if can_decode(f.name)]
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]


def sniff(head: bytes) -> str:
    """Return the canonical format name from the first bytes, or raise UnsupportedImageType."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = _iso_brand(head)
        if brand:
            return brand
    what = describe_non_image(head)
    opening = (
        f"This file is {what}, not a picture we can use."
        if what
        else ("This file is not an image we can read.")
    )
    raise UnsupportedImageType(f"{opening} Please upload a {accepted_labels()} image.")


def _iso_brand(head: bytes) -> str | None:
    """'avif' or 'heic' from an ISO-BMFF ftyp box (major brand, then compatible brands)."""
    box_size = int.from_bytes(head[0:4], "big")
    end = min(max(box_size, 16), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _AVIF_BRANDS:
            return "avif"
        if brand in _HEIC_BRANDS:
            return "heic"
    return None


def describe_non_image(head: bytes) -> str | None:
    """A few words saying what a non-image file is ('a PDF document'), or None if unknown."""
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return what
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for magic, what in _TEXT_MAGIC:
        if text.startswith(magic):
            return what
    if text.startswith(b"<?xml"):
        return "an SVG drawing" if b"<svg" in text else "an XML document"
    if head[4:8] == b"ftyp":
        return "a video or an unsupported photo format"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if printable >= 0.95 * min(len(head), 512):
        return "a text file"
    return None


def unsupported_format_message(name: str) -> str:
    """Message for an image format we recognise but this installation cannot decode."""
    if name == "heic":
        return (
            "HEIC photos (the iPhone's default format) can't be processed yet. "
            "Please convert the photo to JPEG (or set the iPhone camera to 'Most Compatible') "
            "and upload it again."
        )
    return (
        f"{FORMATS[name].label} images can't be processed here. "
        f"Please upload a {accepted_labels()} image."
    )
