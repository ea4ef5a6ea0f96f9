"""HEIC photos (the iPhone's format): pillow-heif decodes them for both engines.

The libheif inside the prebuilt libvips reads AV1 (AVIF) but not HEVC, so HEIC is decoded
here, by pillow-heif's libheif and libde265, for the libvips engine too (which gets the
pixels without a copy): both engines render the same picture at the same size. libheif turns
the picture by the file's own irot/imir boxes; the EXIF orientation of a HEIF file only
describes those (pillow-heif resets it to 1), so nothing else turns it again. A file holding
several pictures (a burst, a Live Photo's still) renders its primary one.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from typing import Any

from .color import prepare_for_resize
from .errors import CorruptImage

# A worker runs one process per core: decoding threads would only compete with the others
# (as for libvips, which runs single-threaded here too).
DECODE_THREADS = 1
# Modes of decoded pixels that libvips takes as they are; others are converted by Pillow.
_VIPS_BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


@functools.cache
def register() -> bool:
    """Register pillow-heif's opener with Pillow once; False when pillow-heif is not installed.

    Embedded thumbnails, depth maps and auxiliary pictures are never read: only the picture
    that is rendered.
    """
    if importlib.util.find_spec("pillow_heif") is None:
        return False
    import pillow_heif

    pillow_heif.register_heif_opener(
        thumbnails=False, depth_images=False, aux_images=False, decode_threads=DECODE_THREADS
    )
    return True


@dataclass(frozen=True)
class Pixels:
    """A decoded picture for libvips: 8-bit samples, rows without padding."""

    data: Any  # a buffer (bytes-like)
    width: int
    height: int
    bands: int  # 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA
    icc_profile: bytes | None


def decode_primary(data: bytes, size: tuple[int, int], label: str) -> Pixels:
    """The primary picture's pixels, upright, in pillow-heif's own buffer (no copy).

    ``size`` is the (width, height) the probe checked; a primary picture of another size
    raises CorruptImage. pillow-heif's errors (a damaged file) are the caller's to map.
    """
    import pillow_heif

    heif_file = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, remove_stride=True)
    primary = heif_file[heif_file.primary_index]
    _check_size(primary.size, size, label)
    buffer, mode = primary.data, primary.mode
    _check_size(primary.size, size, label)  # libheif reports the final size once decoded
    bands = _VIPS_BANDS.get(mode)
    if bands is None:  # 16-bit grey and other rare modes: through Pillow to 8 bits
        converted = prepare_for_resize(primary.to_pillow())
        converted = converted.convert("RGB") if converted.mode == "CMYK" else converted
        buffer, bands = converted.tobytes(), _VIPS_BANDS[converted.mode]
    icc = primary.info.get("icc_profile")
    return Pixels(buffer, size[0], size[1], bands, bytes(icc) if icc else None)


def _check_size(found: tuple[int, int], checked: tuple[int, int], label: str) -> None:
    if found != checked:
        raise CorruptImage(
            f"This {label} file holds more than one picture and they don't agree, so it "
            "can't be processed safely. Please save it again as a single image, or upload a "
            "different file.",
            code="inconsistent",
        )
