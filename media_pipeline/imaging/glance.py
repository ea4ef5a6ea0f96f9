"""One cheap look at an upload: the placeholder (ThumbHash, dominant colour) and the dHash.

The web process takes it while checking an upload only where it costs about a millisecond,
since the 202 must not be slower for it (within 10 %, bench/bench_placeholder_latency.py):
from a JPEG's embedded EXIF thumbnail when it has one of the same shape (phones and cameras
write a 160 x 120 one), or from a file small enough to decode as fast (QUICK_BYTES and
QUICK_PIXELS; a JPEG at 1/8 of its size, by libjpeg's DCT scaling). Anything else would
cost more than the 202 itself: a 1/8 decode still reads every coefficient, about 6 ms of CPU
per megabyte of file (measured). The worker then takes the look from the pixels it decodes
for the thumbnail (glance_at_image), before it encodes them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image

from .color import prepare_for_resize, to_srgb_rgb, widen_grey_key
from .formats import FORMATS
from .geometry import apply_orientation, read_orientation
from .limits import pillow_bomb_guard
from .phash import dhash_detail, distance
from .placeholder import average_colour, colourfulness, dominant_colour, thumbhash
from .probe import DECODE_ERRORS, UPRIGHT_WHEN_OPENED, byte_size, release
from .specs import ImageInfo, Limits

# JPEGs are asked for this long edge at least; libjpeg then picks 1/8 for any photo.
DRAFT_EDGE = 64
# A file is decoded for its look only when it is this small (about 1 ms of CPU: a 640 x 480
# photo); a larger one's look is left to the worker.
QUICK_BYTES = 160 * 1024
QUICK_PIXELS = 320_000


@dataclass(frozen=True)
class Glance:
    """What the pages show before the renditions exist, and what finds duplicates."""

    thumbhash: bytes
    colour: str  # "#rrggbb"
    phash: int  # 64-bit dHash, signed
    detail: int  # how many of its comparisons tell (phash.dhash_detail): 0 to 64


def glance_at_image(image: Image.Image) -> Glance:
    """The glance of decoded pixels (an upright image, any size: it is shrunk first)."""
    small = image.copy()
    small.thumbnail((64, 64), Image.Resampling.BOX)  # all three need less
    phash, detail = dhash_detail(small)
    return Glance(
        thumbhash=thumbhash(small), colour=dominant_colour(small), phash=phash, detail=detail
    )


# Two looks are of one picture only if their hashes are near (the caller's number of bits),
# their average colours too (the dHash is of grey pixels: red, blue and white squares are
# all hash 0) and both pictures have colour or neither has: a greyscale copy of a colour
# photo is an edit, not a copy. Measured (tests/media_pipeline/test_placeholders.py): copies
# (resized, JPEG q30, cropped, PNG, CMYK) are 0 to 8 apart in average colour, different
# pictures of one hash 90 to 360; the photos' colourfulness is 5 to 17, a grey one's 0.
COLOUR_DISTANCE = 24.0  # Euclidean, in 0..255 RGB
GREY_COLOURFULNESS = 2  # at most this: a grey picture (or a photo that looks grey anyway)
# A hash with fewer comparisons that tell (phash.dhash_detail) does not make a duplicate on
# its own: flat pictures, vertical gradients and pages of text (at most 31) have hashes
# alike whatever they show; photos have 46 or more.
MIN_DETAIL = 40


def colours_agree(a: bytes, b: bytes) -> bool:
    """Whether two ThumbHashes have one average colour, and colour or grey alike."""
    if not a or not b:
        return False
    if (colourfulness(a) <= GREY_COLOURFULNESS) != (colourfulness(b) <= GREY_COLOURFULNESS):
        return False
    gap = math.dist(average_colour(a), average_colour(b))
    return gap <= COLOUR_DISTANCE


def alike(a: Glance, b: Glance, max_bits: int) -> bool:
    """Whether two looks are of one picture (however little detail it has)."""
    return distance(a.phash, b.phash) <= max_bits and colours_agree(a.thumbhash, b.thumbhash)


def detailed(detail: int | None) -> bool:
    """Whether a hash with this detail tells enough to find a duplicate by (None: a look
    recorded before detail was, compared by hash and colour only)."""
    return detail is None or detail >= MIN_DETAIL


def glance(stream: BinaryIO, info: ImageInfo, limits: Limits) -> Glance | None:
    """The glance of an upload that inspect_image accepted as `info`, if it is cheap to take;
    None when it is not, or the pixels cannot be read (the worker says why)."""
    small = byte_size(stream) <= QUICK_BYTES and info.width * info.height <= QUICK_PIXELS
    if not small and info.format != "jpeg":
        return None  # only a JPEG may carry a thumbnail to look at instead
    try:
        with pillow_bomb_guard(limits):
            im = Image.open(stream, formats=FORMATS[info.format].pillow_formats)
            try:
                orientation = 1 if info.format in UPRIGHT_WHEN_OPENED else read_orientation(im)
                embedded = _exif_thumbnail(im, info, orientation) if info.format == "jpeg" else None
                if embedded is not None:
                    return glance_at_image(embedded)
                if not small:
                    return None  # a decode that would slow the 202: left to the worker
                if info.format == "jpeg":
                    im.draft("RGB" if im.mode in ("RGB", "L") else None, (DRAFT_EDGE, DRAFT_EDGE))
                im.seek(0)
                widen_grey_key(im)
                im.load()
                # As the renditions are made: 16-bit and float samples scaled to 8 bits (a
                # plain convert("RGB") clips them: a 16-bit grey would look white), key
                # colours made alpha, embedded profiles converted to sRGB.
                pixels = to_srgb_rgb(prepare_for_resize(im))
                pixels = pixels.copy() if pixels is im else pixels  # im is released below
            finally:
                release(im)
    except (*DECODE_ERRORS, Image.DecompressionBombError):
        return None
    finally:
        stream.seek(0)
    return glance_at_image(apply_orientation(pixels, orientation))


THUMBNAIL_OFFSET, THUMBNAIL_LENGTH = 0x0201, 0x0202  # JPEGInterchangeFormat(Length), IFD1
EXIF_HEADER = b"Exif\x00\x00"  # before the TIFF structure whose offsets IFD1 counts from


def _exif_thumbnail(im: Image.Image, info: ImageInfo, orientation: int) -> Image.Image | None:
    """The embedded thumbnail, upright, if there is one of the picture's shape (some cameras
    pad a 16:9 photo's thumbnail to 4:3 with black bars, which would spoil the hashes)."""
    raw = im.info.get("exif")
    if not raw or not raw.startswith(EXIF_HEADER):
        return None
    try:
        exif = Image.Exif()
        exif.load(raw)
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        start, length = int(ifd1.get(THUMBNAIL_OFFSET, 0)), int(ifd1.get(THUMBNAIL_LENGTH, 0))
        data = raw[len(EXIF_HEADER) + start : len(EXIF_HEADER) + start + length]
        if not start or not length or len(data) != length:
            return None
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as thumb:
            if max(thumb.size) > 512:  # not a thumbnail: not worth decoding here
                return None
            thumb.load()
            upright = apply_orientation(thumb.convert("RGB"), orientation)
    except (*DECODE_ERRORS, Image.DecompressionBombError):
        return None
    if abs(upright.width / upright.height - info.width / info.height) > 0.03 * (
        info.width / info.height
    ):
        return None
    return upright
