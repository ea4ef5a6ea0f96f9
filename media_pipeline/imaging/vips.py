"""The libvips engine: the same renditions as the Pillow engine, decoded and resized by libvips.

Chosen with ``render_renditions(..., engine="vips")``. Every check before decoding (sniffing,
limits, trailer, declared frames, EXIF orientation) is the shared Pillow header probe, so both
engines accept and refuse exactly the same files; only decoding, colour, resizing and encoding
happen here. pyvips is imported on first use, so processes on the Pillow engine never load
libvips.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from PIL import Image

from . import heif
from .cascade import encode_cascade
from .color import is_srgb, srgb_profile_bytes
from .encode import WHITE, encoder_settings
from .errors import CorruptImage, InvalidImageError
from .formats import FORMATS
from .geometry import displayed_size
from .probe import damaged
from .specs import ImageInfo, Rendered, RenditionSpec
from .timing import PhaseTimer

# "truncated" refuses a file that ends early, as Pillow does; lesser decoder warnings pass.
FAIL_ON = "truncated"
# The resampling kernel of every resize after the decode (see _resample).
RESAMPLE_KERNEL = "cubic"
log = logging.getLogger(__name__)
# libvips' name for the embedded ICC profile: the only metadata a rendition keeps.
ICC_FIELD = "icc-profile-data"
# libheif turns AVIF and HEIC upright itself (from the file's irot/imir boxes, which are what
# the probe reports as their orientation): turning them again would be once too many.
# libvips' own libheif reads AVIF; HEIC (HEVC) is decoded by pillow-heif (heif.py).
UPRIGHT_WHEN_DECODED = frozenset({"avif", "heic"})
# What pillow-heif raises for a file libheif cannot decode.
HEIF_ERRORS = (ValueError, RuntimeError, EOFError, SyntaxError, OSError)
# Formats decoded whole by their loader (no shrink while decoding), then resized.
_WHOLE_LOADS = UPRIGHT_WHEN_DECODED | {"tiff"}
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
    # pyvips forwards every libvips log line to Python through a C callback. A signal that
    # comes while libvips works is handled at the first Python line that runs, which is then
    # that callback, where an exception cannot travel: Celery's warm and cold shutdowns
    # (SystemExit from its SIGTERM handler) were swallowed and the task ran on. Without it,
    # libvips' warnings go to stderr (GLib's default) and a signal takes effect as soon as
    # the libvips call returns. For the same reason the upload reaches libvips as bytes, not
    # through a source that calls back into Python.
    remove_log_handler = getattr(pyvips, "_remove_log_handler", None)
    if remove_log_handler is None:
        log.warning("pyvips has no _remove_log_handler: a shutdown signal may be swallowed")
    else:
        remove_log_handler()
    return pyvips


@functools.cache
def available() -> bool:
    """True when pyvips loads a libvips that reads JPEG, PNG, WebP, GIF, TIFF and AVIF."""
    try:
        vips = _pyvips()
    except Exception:  # not installed, or libvips failed to start (pyvips raises Exception)
        return False
    needed = [f"{name}load_source" for name in ("jpeg", "png", "webp", "gif", "tiff", "heif")]
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
    *,
    timer: PhaseTimer,
    on_decoded: Callable[[Image.Image], None] | None = None,
) -> list[Rendered]:
    """Decode the (already probed) upload once at the largest target, then encode every size.

    ``targets`` are the displayed sizes per spec; ``orientation`` is the EXIF orientation of
    the stored pixels. The stream must be seekable and at 0; its size is already checked
    against the byte limit. An error reading it (storage, disk) is raised as it is, for the
    task to retry; a failure while encoding is a pyvips.Error (not the uploader's fault).
    """
    vips = _pyvips()
    with timer.phase("decode"):
        data = stream.read()
        largest = max(targets, key=lambda size: size[0] * size[1])
        if info.format in UPRIGHT_WHEN_DECODED:
            orientation = 1
        try:
            base = _decode_to(vips, data, info, orientation, largest)
        except vips.Error as exc:
            raise damaged(FORMATS[info.format].label) from exc
    if on_decoded is not None:
        on_decoded(to_pillow(base))
    return encode_cascade(
        base,
        specs,
        targets,
        resize=timer.timed("resize", _resized),
        encode=timer.timed("encode", encode),
    )


def _decode_to(
    vips: Any, data: bytes, info: ImageInfo, orientation: int, size: tuple[int, int]
) -> Any:
    """sRGB 8-bit RGB or RGBA pixels of `size`, as displayed, held in memory.

    Raises CorruptImage if the picture libvips finds is not the size the probe checked (a file
    holding several images that the two libraries pick differently): the limits were checked
    on the probe's.
    """
    stored_w, stored_h = displayed_size(size, orientation)
    resize: dict[str, Any] = {
        "size": "force",  # exactly the size the Pillow engine makes (fit_long_edge's rounding)
        "no_rotate": True,  # the probe's orientation is applied below, as in the Pillow engine
    }
    if info.format == "heic":
        header = _open_heic(vips, data, info)
    else:
        header = _open(vips, info.format, data)
    checked = (info.width, info.height)
    if info.format not in UPRIGHT_WHEN_DECODED:
        checked = displayed_size(checked, orientation)  # the stored size
    if (header.width, header.height) != checked:
        raise CorruptImage(
            f"This {FORMATS[info.format].label} file holds more than one picture and they "
            "don't agree, so it can't be processed safely. Please save it again as a single "
            "image, or upload a different file.",
            code="inconsistent",
        )
    if header.interpretation == "cmyk":
        # CMYK becomes sRGB inside thumbnail; the intent counts only with an output profile.
        resize.update(intent="perceptual", output_profile="srgb")
    if info.format in _WHOLE_LOADS:
        image = header
        if image.format not in ("uchar", "ushort"):
            image = _to_eight_bits(image)
        image = image.thumbnail_image(stored_w, height=stored_h, **resize)
    elif info.format == "jpeg":
        # Resized as it is decoded, a strip at a time; CMYK becomes sRGB after (_to_srgb).
        image = _resample(
            vips.Image.new_from_source(
                vips.Source.new_from_memory(data),
                "",
                access="sequential",
                fail_on=FAIL_ON,
                shrink=jpeg_shrink((header.width, header.height), (stored_w, stored_h)),
            ),
            (stored_w, stored_h),
        )
    else:
        image = vips.Image.thumbnail_source(
            vips.Source.new_from_memory(data),
            stored_w,
            height=stored_h,
            # For the loader itself: thumbnail's own fail_on argument does not reach it
            # (libvips 8.18 then fills a cut-off file with grey and reports success).
            option_string=f"fail_on={FAIL_ON}",
            **resize,
        )
    # One decode: every rendition is made from these pixels, largest first. The loader reads
    # top to bottom once, so whatever needs another order (turning, looking at all the
    # pixels) comes after this copy.
    decoded = image.copy_memory()
    pixels = _to_srgb(decoded)
    if pixels.bands == 4 and pixels[3].min() == 255:
        pixels = pixels[:3]  # an alpha that hides nothing: store RGB, as the Pillow engine does
    pixels = _orient(pixels, orientation)
    return pixels if pixels is decoded else pixels.copy_memory()


def to_pillow(image: Any) -> Image.Image:
    """Decoded 8-bit sRGB pixels (3 or 4 bands, in memory) as a Pillow image."""
    mode = "RGBA" if image.bands == 4 else "RGB"
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def jpeg_shrink(stored: tuple[int, int], size: tuple[int, int]) -> int:
    """The largest DCT-domain shrink (8, 4, 2) that still decodes at least `size`, else 1.

    thumbnail keeps a margin of 2 above the target before it shrinks while decoding, so a
    48 MP photo was decoded whole for a 2048 px rendition (measured: 30 % of the decode and
    resize time saved at 48 MP with this, resize quality 46 dB PSNR against LANCZOS from the
    full decode; bench/bench_imaging.py). Lanczos then resizes from at least the target size.
    """
    for shrink in (8, 4, 2):
        if stored[0] // shrink >= size[0] and stored[1] // shrink >= size[1]:
            return shrink
    return 1


def _open(vips: Any, fmt: str, data: bytes) -> Any:
    """The upload opened by libvips: its header read, its pixels not yet decoded.

    The bytes are read where they are (a buffer would be copied), with no Python callback.
    """
    source = vips.Source.new_from_memory(data)
    if fmt in UPRIGHT_WHEN_DECODED:
        # The primary image itself: thumbnail_source would take an embedded thumbnail when it
        # is big enough, and refuses AVIF sequences ("avis") outright.
        return vips.Image.heifload_source(source, thumbnail=False, fail_on=FAIL_ON)
    if fmt == "tiff":
        # Page 0, as the Pillow engine renders (thumbnail would pick a smaller page of pages
        # that look like a pyramid). Random access: float and 32-bit samples are measured
        # before thumbnail_image, which would cut them to 8 bits unscaled.
        return vips.Image.new_from_source(source, "", fail_on=FAIL_ON)
    return vips.Image.new_from_source(source, "", access="sequential", fail_on=FAIL_ON)


def _open_heic(vips: Any, data: bytes, info: ImageInfo) -> Any:
    """A HEIC's primary picture decoded by pillow-heif, as a libvips image over its buffer."""
    label = FORMATS[info.format].label
    try:
        pixels = heif.decode_primary(data, (info.width, info.height), label)
    except InvalidImageError:
        raise
    except HEIF_ERRORS as exc:
        raise damaged(label) from exc
    image = vips.Image.new_from_memory(
        pixels.data, pixels.width, pixels.height, pixels.bands, "uchar"
    ).copy(interpretation="srgb" if pixels.bands >= 3 else "b-w")
    if pixels.icc_profile:
        image.set_type(vips.GValue.blob_type, ICC_FIELD, pixels.icc_profile)
    return image


def _to_srgb(image: Any) -> Any:
    """Any decoded image (in memory) -> 8-bit sRGB, 3 bands or 4 with alpha."""
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


def _to_eight_bits(image: Any) -> Any:
    """Float and 32-bit samples onto 0..255, as color.py does for Pillow.

    0..1 floats and 0..255 or 0..65535 integers are scaled as such; anything else is
    stretched from its own minimum to its maximum.
    """
    low, high = image.min(), image.max()
    if image.format in ("float", "double") and 0 <= low and high <= 1:
        scaled = image * 255
    elif 0 <= low and high <= 255:
        scaled = image
    elif 0 <= low and high <= 65535:
        scaled = image * (255 / 65535)
    else:
        scaled = (image - low) * (255 / (high - low) if high > low else 1.0)
    interpretation = "srgb" if image.bands >= 3 else "b-w"
    return scaled.cast("uchar").copy(interpretation=interpretation)


def _orient(image: Any, orientation: int) -> Any:
    angle, flip = _ORIENT.get(orientation, (None, False))
    if angle:
        image = image.rot(angle)
    if flip:
        image = image.fliphor()
    return image


def _resample(image: Any, size: tuple[int, int]) -> Any:
    """`image` resized to exactly `size` with the bicubic kernel, lazily; itself if it is that size.

    Bicubic, as the Pillow engine resamples: 47 dB PSNR against Lanczos from the full decode
    at 2048 px, for a third less resizing than thumbnail_image's Lanczos 3 (measured at 12 MP,
    the decode and every size: 184 ms CPU against 202; bench/bench_imaging.py). ``resize``
    with scale = target / source gives exactly the target size (the tests check it on
    hundreds of sizes). Alpha is premultiplied around the resize, as thumbnail_image does, so
    transparent pixels' colours do not bleed into the edges of visible ones.
    """
    if (image.width, image.height) == size:
        return image
    scale, vscale = size[0] / image.width, size[1] / image.height
    if not image.hasalpha():
        return image.resize(scale, vscale=vscale, kernel=RESAMPLE_KERNEL)
    premultiplied = image.premultiply().resize(scale, vscale=vscale, kernel=RESAMPLE_KERNEL)
    return premultiplied.unpremultiply().cast(image.format)


def _resized(image: Any, size: tuple[int, int]) -> Any:
    resized = _resample(image, size)
    return resized if resized is image else resized.copy_memory()


def encode(image: Any, fmt: str, long_edge: int) -> bytes:
    """Encode with the Pillow engine's settings, keeping only the same sRGB ICC profile."""
    settings = encoder_settings(fmt, long_edge)
    if fmt == "jpeg" and image.bands == 4:
        image = image.flatten(background=list(WHITE))
    image = image.copy()  # metadata is set on a copy: `image` is shared by the next format
    image.set_type(_pyvips().GValue.blob_type, ICC_FIELD, srgb_profile_bytes())
    if image.get_typeof("orientation"):
        image.remove("orientation")  # heifsave writes it as a turn, keep="icc" or not
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
