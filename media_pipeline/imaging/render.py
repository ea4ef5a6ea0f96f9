"""Rendition making for the worker: one bounded decode, then each size from the previous."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import BinaryIO

from PIL import Image

from . import vips
from .cascade import encode_cascade
from .color import prepare_for_resize, to_srgb_rgb, widen_grey_key
from .encode import can_encode, encode
from .formats import FORMATS
from .geometry import apply_orientation, displayed_size, fit_long_edge
from .limits import pillow_bomb_guard
from .probe import (
    DECODE_ERRORS,
    UPRIGHT_WHEN_OPENED,
    damaged,
    open_checked,
    release,
    seekable_stream,
)
from .specs import DEFAULT_RENDITIONS, ImageInfo, Limits, Rendered, RenditionSpec
from .timing import PhaseTimer

RESAMPLE = Image.Resampling.BICUBIC  # ~45 dB PSNR against LANCZOS here, at 2/3 of its cost
REDUCING_GAP = (
    3.0  # box-reduce first only when shrinking more than 3x (Pillow: "indistinguishable")
)
# JPEG DCT-domain downscale (1/2, 1/4, 1/8) is chosen so the decoded image keeps at least
# DRAFT_MARGIN x the largest rendition's size; the final resample then cleans up the DCT scaling.
DRAFT_MARGIN = 1.5
ENGINES = ("pillow", "vips")
VIPS_MISSING = "the vips imaging engine needs pyvips and libvips (pip install pyvips pyvips-binary)"


def render_renditions(
    stream: BinaryIO,
    specs: Sequence[RenditionSpec] = DEFAULT_RENDITIONS,
    *,
    limits: Limits,
    engine: str = "pillow",
    timer: PhaseTimer | None = None,
    on_decoded: Callable[[Image.Image], None] | None = None,
) -> tuple[ImageInfo, list[Rendered]]:
    """Decode the upload once, under ``limits``, and encode one Rendered per (spec, format).

    Runs every check of inspect_image first (nothing is decoded for a refused file), then decodes
    JPEGs straight at a reduced size when the renditions allow it. Renditions: EXIF orientation
    applied, converted to sRGB with only an sRGB ICC profile (no EXIF/GPS/XMP/comments), alpha
    kept in WebP/AVIF and flattened onto white in JPEG, never upscaled (a size the source cannot
    tell from a smaller one is made once, under the smaller name: distinct_sizes). GIFs and
    other animations render their first frame. The ImageInfo is the source's, as displayed.
    ``engine`` "vips" decodes, resizes and encodes with libvips instead (see vips.py); the
    checks and the results are the same. ``timer`` collects the time of each phase: decode
    (with the checks and any shrink while decoding), resize and encode (libvips resizes
    lazily, so with it most resizing is paid while encoding). ``on_decoded`` is called with
    the decoded pixels (sRGB RGB or RGBA, upright, the largest rendition's size) before any
    is encoded: what the worker takes its look at an upload from (placeholder, dHash).
    Raises an InvalidImageError subclass for refused or undecodable uploads; ValueError for an
    unknown engine, an engine that is not installed, or a format it cannot write.
    """
    check_engine(engine, specs)
    timer = timer or PhaseTimer()
    source = seekable_stream(stream, limits)
    try:
        with pillow_bomb_guard(limits), timer.phase("decode"):
            info, im, orientation = open_checked(source, limits)
            targets = [fit_long_edge((info.width, info.height), spec.long_edge) for spec in specs]
            specs, targets = distinct_sizes(specs, targets)
            if engine == "vips":
                release(im)
                source.seek(0)
        if engine == "vips":
            return info, vips.render(
                source, info, orientation, specs, targets, timer=timer, on_decoded=on_decoded
            )
        with pillow_bomb_guard(limits), timer.phase("decode"):
            try:
                largest = max(targets, key=lambda size: size[0] * size[1], default=None)
                if info.format in UPRIGHT_WHEN_OPENED:
                    orientation = 1  # Pillow turns these while loading them
                base = _decode_to(im, info, orientation, largest) if largest else None
            finally:
                release(im)
        if on_decoded is not None and base is not None:
            on_decoded(base)
        return info, encode_cascade(
            base,
            specs,
            targets,
            resize=timer.timed("resize", _resized),
            encode=timer.timed("encode", encode),
        )
    finally:
        if source is stream:
            stream.seek(0)


def planned_renditions(
    size: tuple[int, int], specs: Sequence[RenditionSpec]
) -> list[RenditionSpec]:
    """The renditions (names and formats) a source of `size` (upright) gets from `specs`."""
    targets = [fit_long_edge(size, spec.long_edge) for spec in specs]
    return distinct_sizes(specs, targets)[0]


def distinct_sizes(
    specs: Sequence[RenditionSpec], targets: list[tuple[int, int]]
) -> tuple[list[RenditionSpec], list[tuple[int, int]]]:
    """The specs (and their sizes) left once each size is made only once in each format.

    Renditions are never upscaled, so a source smaller than some long edges would give the
    same pixels under several names (a 300 px photo: thumb, medium and large all 300 px).
    Each size and format is kept under the smallest-edged spec that reaches it, so at least
    one rendition always is. Skipping rather than storing one file under several rows keeps
    what is listed true: the API, the page's table and its srcset (where two candidates of
    one width are an error) list each size once. A spec whose size is distinct stays, even
    when the source cannot fill its long edge (a 1500 px photo keeps large at 1500 px).
    """
    seen: set[tuple[tuple[int, int], str]] = set()
    kept: dict[int, RenditionSpec] = {}
    for index in sorted(range(len(specs)), key=lambda i: specs[i].long_edge):
        spec, size = specs[index], targets[index]
        formats = tuple(fmt for fmt in spec.formats if (size, fmt) not in seen)
        seen.update((size, fmt) for fmt in formats)
        if formats:
            kept[index] = replace(spec, formats=formats)
    order = sorted(kept)  # in the callers' order
    return [kept[i] for i in order], [targets[i] for i in order]


def check_engine(
    engine: str, specs: Sequence[RenditionSpec] = DEFAULT_RENDITIONS, *, load: bool = True
) -> None:
    """Raise ValueError unless `engine` is installed and can write every format in `specs`.

    load=False only looks for the vips engine's package, without starting libvips: for a
    process that forks workers afterwards (libvips must start in each of them, not before).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown imaging engine {engine!r}; choose from {ENGINES}")
    if engine == "vips" and not load:
        if importlib.util.find_spec("pyvips") is None:
            raise ValueError(VIPS_MISSING)
        return
    if engine == "vips" and not vips.available():
        raise ValueError(VIPS_MISSING)
    writable = vips.can_encode if engine == "vips" else can_encode
    for spec in specs:
        for fmt in spec.formats:
            if not writable(fmt):
                raise ValueError(
                    f"rendition format {fmt!r} is not available to the {engine} engine"
                )


def _decode_to(
    im: Image.Image, info: ImageInfo, orientation: int, size: tuple[int, int]
) -> Image.Image:
    """Decode (first frame only) and return sRGB RGB/RGBA pixels of `size`, as displayed."""
    stored_size = displayed_size(size, orientation)  # the same swap maps displayed -> stored
    box = None
    try:
        if info.format == "jpeg" and stored_size != im.size:
            request = (
                math.ceil(stored_size[0] * DRAFT_MARGIN),
                math.ceil(stored_size[1] * DRAFT_MARGIN),
            )
            drafted = im.draft(None, request)
            if drafted is not None:
                box = drafted[1]
        widen_grey_key(im)
        im.load()
        work = prepare_for_resize(im)
        if work.size != stored_size or (box is not None and box != (0, 0) + work.size):
            work = work.resize(stored_size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    except DECODE_ERRORS as exc:
        raise damaged(FORMATS[info.format].label) from exc
    pixels = apply_orientation(to_srgb_rgb(work), orientation)
    # Still the opened file (nothing needed changing): an encoder that looks for more frames
    # would seek it, and a HEIC burst's primary picture is not its first.
    return pixels.copy() if pixels is im else pixels


def _resized(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == size:
        return im
    smaller = im.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)
    smaller.info = {}
    return smaller
