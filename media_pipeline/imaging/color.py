"""Pixel modes and colour: any decoded mode to 8-bit RGB/RGBA, embedded ICC profiles to sRGB."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageCms, ImageMath

RESIZABLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_PROFILE_SPACE = {"RGB": "RGB", "RGBA": "RGB", "CMYK": "CMYK", "L": "GRAY", "LA": "GRAY"}
# Pillow widens 2- and 4-bit grey samples to 8 bits by these factors.
_LOW_BIT_GREY = {"L;2": 85, "L;4": 17}


def widen_grey_key(im: Image.Image) -> None:
    """Call before load(): a 2- or 4-bit grey PNG's tRNS key, widened as Pillow widens its
    samples (Pillow keeps the key as stored, so nothing would match it)."""
    key = im.info.get("transparency")
    args = im.tile[0].args if im.mode == "L" and im.tile else None
    if isinstance(key, int) and args in _LOW_BIT_GREY:
        im.info["transparency"] = key * _LOW_BIT_GREY[args]


@functools.cache
def srgb_profile_bytes() -> bytes:
    """The compact sRGB ICC profile embedded in every rendition (lcms built-in, ~600 bytes)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def prepare_for_resize(im: Image.Image) -> Image.Image:
    """Return an image in one of RESIZABLE_MODES, scaling 16-bit and float data to 8 bits."""
    mode = im.mode
    has_key_colour = mode in ("1", "L", "RGB") and im.info.get("transparency") is not None
    if mode in RESIZABLE_MODES and not has_key_colour:
        return im
    if mode in ("P", "PA") or has_key_colour:
        return im.convert("RGBA" if im.has_transparency_data else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode in _SIXTEEN_BIT:
        wide = im.convert("I")
        grey = _scale_to_l(wide, 0, 65535)
        key = im.info.get("transparency")
        if isinstance(key, int):  # a tRNS key colour: transparent where the sample equals it
            opaque = ImageMath.lambda_eval(lambda a: (a["im"] != key) * 255, im=wide)
            grey.putalpha(opaque.convert("L"))
        return grey
    if mode in ("I", "F"):
        low, high = im.getextrema()
        if mode == "F" and 0 <= low and high <= 1.0:
            return _scale_to_l(im, 0, 1.0)
        if 0 <= low and high <= 255:
            return im.convert("L")
        if mode == "I" and 0 <= low and high <= 65535:
            return _scale_to_l(im, 0, 65535)
        return _scale_to_l(im, low, high)
    if mode == "La":
        return im.convert("LA")
    if mode == "RGBa":
        return im.convert("RGBA")
    return im.convert("RGBA" if "A" in im.getbands() else "RGB")


def _scale_to_l(im: Image.Image, bottom: float, top: float) -> Image.Image:
    """Map [bottom, top] linearly onto 0..255 and return mode L (im is mode I or F)."""
    scale = 255 / (top - bottom) if top > bottom else 1.0
    offset = -bottom * scale
    return im.point(lambda v: v * scale + offset).convert("L")


def is_srgb(icc: bytes) -> bool:
    """True for sRGB profiles (and for unreadable ones, which are then ignored)."""
    profile = _open_profile(icc)
    if profile is None:
        return True
    return "srgb" in (profile.profile.profile_description or "").lower()


def _open_profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    return (_cached_profile if len(icc) <= CACHED_PROFILE_BYTES else _parse_profile)(icc)


def _parse_profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.getOpenProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _transform_to_srgb(
    icc: bytes, in_mode: str, out_mode: str
) -> ImageCms.ImageCmsTransform | None:
    build = _cached_transform if len(icc) <= CACHED_PROFILE_BYTES else _build_transform
    return build(icc, in_mode, out_mode)


def _build_transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    profile = _open_profile(icc)
    if profile is None:
        return None
    if profile.profile.xcolor_space.strip() != _PROFILE_SPACE[in_mode]:
        return None  # profile does not describe these pixels: ignore it
    try:
        return ImageCms.buildTransform(
            profile, _srgb_profile(), in_mode, out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
    except ImageCms.PyCMSError:
        return None


# Display profiles are small and recur (Display P3, Adobe RGB): worth keeping. Large ones
# (press profiles, or megabytes of junk in an upload) are parsed each time and never kept, so
# a long-lived worker cannot fill up with them.
CACHED_PROFILE_BYTES = 64 * 1024
_cached_profile = functools.lru_cache(maxsize=16)(_parse_profile)
_cached_transform = functools.lru_cache(maxsize=16)(_build_transform)


def to_srgb_rgb(im: Image.Image) -> Image.Image:
    """Convert an image in RESIZABLE_MODES to sRGB 'RGB' or 'RGBA' (alpha kept only if used).

    A non-sRGB embedded profile (Display P3, Adobe RGB, a CMYK press profile, a grey gamma) is
    converted with LittleCMS; without a usable profile the pixels are taken as sRGB. The result
    carries no metadata at all (``info`` is emptied), so nothing leaks into renditions.
    """
    alpha = im.getchannel("A") if im.mode in ("LA", "RGBA") else None
    if alpha is not None and alpha.getextrema() == (255, 255):
        alpha = None
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    icc = im.info.get("icc_profile")
    out = None
    if icc and not is_srgb(icc):
        base = im.convert("L") if im.mode == "LA" else im
        in_mode = base.mode
        transform = _transform_to_srgb(icc, in_mode, "RGBA" if in_mode == "RGBA" else "RGB")
        if transform is not None:
            try:
                out = ImageCms.applyTransform(base, transform)
            except ImageCms.PyCMSError:
                out = None
    if out is None:
        out = im
    if out.mode not in ("RGB", "RGBA"):
        out = out.convert("RGB")
    if alpha is not None and out.mode != "RGBA":
        out = out.convert("RGBA")
        out.putalpha(alpha)
    elif alpha is None and out.mode == "RGBA":
        out = out.convert("RGB")
    out.info = {}
    return out
