"""The libvips engine: the same renditions as the Pillow engine, decoded and resized by libvips.

Chosen with ``render_renditions(..., engine="vips")``. Every check before decoding (sniffing,
limits, trailer, declared frames, EXIF orientation) is the shared Pillow header probe, so both
engines accept and refuse exactly the same files; only decoding, colour, resizing and encoding
happen here. pyvips is imported on first use, so processes on the Pillow engine never load
libvips.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, BinaryIO

from .color import is_srgb, srgb_profile_bytes
from .encode import WHITE, encoder_settings
from .formats import FORMATS
from .geometry import displayed_size
from .probe import damaged
from .specs import ImageInfo, Rendered, RenditionSpec

CHUNK = 256 * 1024  # the upload is read in chunks this size, never copied whole
# "truncated" refuses a file that ends early, as Pillow does; lesser decoder warnings pass.
FAIL_ON = "truncated"
# libvips' name for the embedded ICC profile: the only metadata a rendition keeps.
ICC_FIELD = "icc-profile-data"
# EXIF orientation -> libvips steps that turn stored pixels into displayed pixels
# (libvips rotates clockwise; Pillow's table in geometry.py rotates anticlockwise).
_ORIENT: dict[int, tuple[str | None, bool]] = {
    2: (None, True),
    3: ("d180", False),
    4: ("d180", True),
    5: ("d90", True),
    6: ("d90", False),
    7: ("d270", True),
    8: ("d270", False),
}


@functools.cache
def _pyvips() -> Any:
    """Import pyvips once, single-threaded, without an operation cache.

    A worker runs one process per core, so libvips threads would only compete with the other
    processes; and each upload is rendered once, so cached operations would only hold memory.
    VIPS_CONCURRENCY in the environment still wins.
    """
    import pyvips

    if not os.environ.get("VIPS_CONCURRENCY"):
        pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    return pyvips


@functools.cache
def available() -> bool:
    """True when pyvips and a libvips with the JPEG, PNG, WebP, GIF and TIFF codecs load."""
    try:
        vips = _pyvips()
    except (ImportError, OSError):
        return False
    needed = ("jpegload_source", "pngload_source", "webpload_source", "gifload_source")
    return all(vips.type_find("VipsOperation", name) != 0 for name in needed)


@functools.cache
def can_encode(fmt: str) -> bool:
    saver = {"jpeg": "jpegsave_buffer", "webp": "webpsave_buffer", "avif": "heifsave_buffer"}
    return available() and _pyvips().type_find("VipsOperation", saver[fmt]) != 0


def render(
    stream: BinaryIO,
    info: ImageInfo,
    orientation: int,
    specs: Sequence[RenditionSpec],
    targets: list[tuple[int, int]],
) -> list[Rendered]:
    """Decode the (already probed) upload once at the largest target, then encode every size.

    ``targets`` are the displayed sizes per spec. The stream must be seekable and at 0.
    An error reading the stream itself (storage, disk) is raised as it is, not as damage.
    """
    vips = _pyvips()
    largest = max(targets, key=lambda size: size[0] * size[1])
    source = _StreamSource(vips, stream)
    try:
        base = _decode_to(vips, source, orientation, largest)
        return _encode_all(base, specs, targets)
    except vips.Error as exc:
        if source.error is not None:
            raise source.error from exc
        raise damaged(FORMATS[info.format].label) from exc


class _StreamSource:
    """A libvips source reading the upload's stream in chunks (never copied whole into memory).

    libvips calls back from C, where a Python exception cannot travel: it is kept here, libvips
    sees the end of the data, and render() raises the original error instead of "damaged".
    """

    def __init__(self, vips: Any, stream: BinaryIO) -> None:
        self.stream = stream
        self.error: Exception | None = None
        self.source = vips.SourceCustom()
        self.source.on_read(self._read)
        self.source.on_seek(self._seek)

    def _read(self, length: int) -> bytes:
        try:
            return self.stream.read(min(length, CHUNK))
        except Exception as exc:  # kept for render() to raise
            self.error = exc
            return b""

    def _seek(self, offset: int, whence: int) -> int:
        try:
            return self.stream.seek(offset, whence)
        except Exception as exc:  # kept for render() to raise
            self.error = exc
            return -1


def _decode_to(vips: Any, source: _StreamSource, orientation: int, size: tuple[int, int]) -> Any:
    """sRGB 8-bit RGB or RGBA pixels of `size`, as displayed, held in memory."""
    stored_w, stored_h = displayed_size(size, orientation)
    image = vips.Image.thumbnail_source(
        source.source,
        stored_w,
        height=stored_h,
        size="force",  # exactly the size the Pillow engine makes (fit_long_edge's rounding)
        no_rotate=True,  # the probe's orientation is applied below, as in the Pillow engine
        # For the loader itself: thumbnail's own fail_on argument does not reach it (libvips
        # 8.18 then fills a cut-off file with grey and reports success).
        option_string=f"fail_on={FAIL_ON}",
    )
    image = _orient(_to_srgb(image), orientation)
    # One decode: every rendition is made from these pixels, largest first. The source can be
    # read only once, so anything that looks at all the pixels comes after this.
    pixels = image.copy_memory()
    if pixels.bands == 4 and pixels[3].min() == 255:
        pixels = pixels[:3].copy_memory()  # opaque alpha: store RGB, as the Pillow engine does
    return pixels


def _to_srgb(image: Any) -> Any:
    """Any decoded image -> 8-bit sRGB, 3 bands or 4 with alpha."""
    icc = image.get(ICC_FIELD) if image.get_typeof(ICC_FIELD) else None
    if icc and not is_srgb(icc):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="perceptual")
        except _pyvips().Error:
            pass  # a profile that does not describe these pixels is ignored, as in color.py
    elif image.interpretation == "cmyk":
        image = image.icc_transform("srgb", input_profile="cmyk", intent="perceptual")
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image[:4] if image.bands > 4 else image


def _orient(image: Any, orientation: int) -> Any:
    angle, flip = _ORIENT.get(orientation, (None, False))
    if angle:
        image = image.rot(angle)
    if flip:
        image = image.fliphor()
    return image


def _encode_all(
    base: Any, specs: Sequence[RenditionSpec], targets: list[tuple[int, int]]
) -> list[Rendered]:
    """Largest first, each size from the previous one; results in spec order."""
    results: dict[int, list[Rendered]] = {}
    current = base
    for index in sorted(range(len(specs)), key=lambda i: -(targets[i][0] * targets[i][1])):
        spec, (width, height) = specs[index], targets[index]
        if (current.width, current.height) != (width, height):
            current = current.thumbnail_image(width, height=height, size="force").copy_memory()
        results[index] = [
            Rendered(
                name=spec.name,
                format=fmt,
                width=width,
                height=height,
                data=encode(current, fmt, max(width, height)),
                content_type=FORMATS[fmt].mime_type,
                extension=FORMATS[fmt].extension,
            )
            for fmt in spec.formats
        ]
    return [rendered for index in range(len(specs)) for rendered in results[index]]


def encode(image: Any, fmt: str, long_edge: int) -> bytes:
    """Encode with the Pillow engine's settings, keeping only the same sRGB ICC profile."""
    settings = encoder_settings(fmt, long_edge)
    if fmt == "jpeg" and image.bands == 4:
        image = image.flatten(background=list(WHITE))
    image = image.copy()  # metadata is set on a copy: `image` is shared by the next format
    image.set_type(_pyvips().GValue.blob_type, ICC_FIELD, srgb_profile_bytes())
    if fmt == "jpeg":
        return image.jpegsave_buffer(
            Q=settings["quality"],
            interlace=settings["progressive"],
            optimize_coding=settings["optimize"],
            subsample_mode="off" if settings["subsampling"] == "4:4:4" else "on",
            keep="icc",
        )
    if fmt == "webp":
        return image.webpsave_buffer(Q=settings["quality"], effort=settings["method"], keep="icc")
    # libavif's speed 0..10 runs the other way to libvips' effort 0..9.
    return image.heifsave_buffer(
        Q=settings["quality"],
        compression="av1",
        effort=max(0, 9 - settings["speed"]),
        keep="icc",
    )
