"""Engine parity: the Pillow and libvips engines on unusual but realistic inputs.

Every accepted input must give, from both engines, the same ImageInfo (the shared probe's) and
the same renditions (names, formats, sizes, modes), 8-bit RGB/RGBA with only an sRGB profile
and no EXIF, with pixels that look the same (PSNR over white) and, where the picture is known,
the right colours. Every refused input must be refused by both with the same exception class.
Cases marked xfail(strict=True) are disagreements or wrong results found with this module.
"""

import functools
import io
import math
import struct
from dataclasses import dataclass

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw

from media_pipeline.imaging import (
    DEFAULT_RENDITIONS,
    InvalidImageError,
    Limits,
    RenditionSpec,
    inspect_image,
    render_renditions,
)
from media_pipeline.imaging.geometry import fit_long_edge
from media_pipeline.imaging.render import distinct_sizes
from tests import imagecorpus as corpus

LIMITS = Limits()
ENGINES = ("pillow", "vips")
BOTH = ("jpeg", "webp")
MIN_PSNR = 28.0
TINY = 16  # renditions of at most this many pixels are also compared pixel by pixel
WHITE = (255, 255, 255)
RED, BLUE, GREEN, YELLOW, GREY = (
    corpus.RED,
    corpus.BLUE,
    corpus.GREEN,
    corpus.YELLOW,
    corpus.GREY,
)


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# --- helpers -------------------------------------------------------------------------------------


def render(data: bytes, specs, engine: str):
    return render_renditions(io.BytesIO(data), specs, limits=LIMITS, engine=engine)


def outcome(data: bytes, specs, engine: str):
    """(info, renditions), or the InvalidImageError raised; any other exception propagates."""
    try:
        return render(data, specs, engine)
    except InvalidImageError as exc:
        return exc


def decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def on_white(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    background = Image.new("RGB", im.size, WHITE)
    rgba = im.convert("RGBA")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def blend(colour, alpha: int):
    """`colour` at `alpha` (0..255) over white, as a JPEG rendition must show it."""
    return tuple(round(c * alpha / 255 + 255 * (1 - alpha / 255)) for c in colour)


def psnr(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a, b).histogram()
    squared = sum(count * (i % 256) ** 2 for i, count in enumerate(histogram))
    mse = squared / (a.size[0] * a.size[1] * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def close(actual, expected, tolerance) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def icc_description(im: Image.Image) -> str:
    icc = im.info.get("icc_profile")
    if not icc:
        return ""
    return ImageCms.getOpenProfile(io.BytesIO(icc)).profile.profile_description or ""


@dataclass(frozen=True)
class Spot:
    """Where the displayed picture has a known colour: fractions of width and height, the colour
    over white (what a JPEG rendition shows), and the alpha a WebP rendition keeps (None: either
    is not checked)."""

    fx: float
    fy: float
    colour: tuple[int, int, int] | None
    alpha: int | None = None


QUADRANT_SPOTS = (
    Spot(0.25, 0.25, RED),
    Spot(0.75, 0.25, BLUE),
    Spot(0.25, 0.75, GREEN),
    Spot(0.75, 0.75, YELLOW),
)


def check_spots(rendered, im: Image.Image, spots, tolerance: int, engine: str) -> None:
    white = on_white(im)
    for spot in spots:
        x = min(im.width - 1, int(spot.fx * im.width))
        y = min(im.height - 1, int(spot.fy * im.height))
        where = (engine, rendered.name, rendered.format, (x, y))
        if spot.colour is not None:
            assert close(white.getpixel((x, y)), spot.colour, tolerance), (
                *where,
                white.getpixel((x, y)),
                spot.colour,
            )
        if spot.alpha is not None and rendered.format == "webp":
            alpha = im.getpixel((x, y))[3] if im.mode == "RGBA" else 255
            assert abs(alpha - spot.alpha) <= 8, (*where, alpha, spot.alpha)


def assert_engines_agree(
    data: bytes,
    specs=DEFAULT_RENDITIONS,
    *,
    alpha: bool = False,
    spots=(),
    tolerance: int = 24,
    displayed: tuple[int, int] | None = None,
    min_psnr: float = MIN_PSNR,
):
    """Render with both engines and check everything the two must share (see module docstring).

    alpha: whether the source has non-opaque alpha (WebP renditions RGBA, else RGB).
    displayed: the picture's size as shown, if known (checks the probe's orientation).
    """
    info = inspect_image(io.BytesIO(data), limits=LIMITS)
    if displayed is not None:
        assert (info.width, info.height) == displayed
    results = {engine: render(data, specs, engine) for engine in ENGINES}
    for engine, (engine_info, _) in results.items():
        assert engine_info == info, engine
    listings = {
        engine: [(r.name, r.format, r.width, r.height) for r in renditions]
        for engine, (_, renditions) in results.items()
    }
    assert listings["pillow"] == listings["vips"]
    # Each size once per format: sizes a small source cannot tell apart are made once.
    specs, _ = distinct_sizes(
        specs, [fit_long_edge((info.width, info.height), s.long_edge) for s in specs]
    )
    assert [(name, fmt) for name, fmt, _, _ in listings["pillow"]] == [
        (s.name, f) for s in specs for f in s.formats
    ]
    longest = max(info.width, info.height)
    for (name, _, width, height), spec in zip(
        listings["pillow"], [s for s in specs for _ in s.formats], strict=True
    ):
        assert max(width, height) == min(spec.long_edge, longest), name
        assert min(width, height) >= 1
        if info.width >= info.height:
            assert abs(height - info.height * width / info.width) <= 1, name
        else:
            assert abs(width - info.width * height / info.height) <= 1, name
    images = {}
    for engine, (_, renditions) in results.items():
        for rendered in renditions:
            im = decoded(rendered.data)
            where = (engine, rendered.name, rendered.format)
            assert im.format == rendered.format.upper(), where
            assert im.size == (rendered.width, rendered.height), where
            assert im.mode in ("RGB", "RGBA"), where
            if rendered.format == "jpeg":
                assert im.mode == "RGB", where
            else:
                assert im.mode == ("RGBA" if alpha else "RGB"), where
            assert b"Exif" not in rendered.data, where
            assert "sRGB" in icc_description(im), where
            check_spots(rendered, im, spots, tolerance, engine)
            images[engine, rendered.name, rendered.format] = im
    for (engine, name, fmt), by_pillow in images.items():
        if engine != "pillow":
            continue
        by_vips = images["vips", name, fmt]
        assert by_pillow.mode == by_vips.mode, (name, fmt)
        a, b = on_white(by_pillow), on_white(by_vips)
        quality = psnr(a, b)
        assert quality > min_psnr, (name, fmt, round(quality, 1))
        if a.width * a.height <= TINY:  # PSNR says little about a few pixels: compare each
            for xy in ((x, y) for x in range(a.width) for y in range(a.height)):
                assert close(a.getpixel(xy), b.getpixel(xy), 16), (name, fmt, xy)
    return info, results


# --- inputs --------------------------------------------------------------------------------------

Q = corpus.quadrants_image
save = corpus.save_as


@functools.cache
def cmyk_profile() -> bytes:
    return corpus.vips_cmyk_profile()


@functools.cache
def p3_profile() -> bytes:
    return corpus.icc_profile(primaries=corpus.P3_PRIMARIES, description="Display P3 (test)")


@functools.cache
def adobe_profile() -> bytes:
    return corpus.icc_profile(
        primaries=corpus.ADOBE_RGB_PRIMARIES, gamma=563 / 256, description="Adobe RGB (test)"
    )


@functools.cache
def linear_grey_profile() -> bytes:
    return corpus.icc_profile("GRAY", gamma=1.0, description="Linear grey (test)")


@functools.cache
def photo(width: int, height: int, seed: int = 11) -> Image.Image:
    return corpus.photo_image(width, height, seed=seed)


def png_from(im: Image.Image, *, wide: bool = False, alpha=None, **kwargs) -> bytes:
    """raw_png of an RGB image: 8 or 16 bits (wide), optional alpha(x, y) in 0..255."""
    scale = 257 if wide else 1

    def pixel(x, y):
        samples = [v * scale for v in im.getpixel((x, y))]
        if alpha is not None:
            samples.append(alpha(x, y) * scale)
        return tuple(samples)

    colour_type = 6 if alpha is not None else 2
    return corpus.raw_png(
        im.width, im.height, pixel, bit_depth=16 if wide else 8, colour_type=colour_type, **kwargs
    )


def grey_key_png(bit_depth: int, width: int = 96, height: int = 64) -> bytes:
    """Grey PNG: left half the tRNS key value (mid grey, so transparent), right half black."""
    key = (1 << bit_depth) // 2 if bit_depth > 1 else 1
    return corpus.raw_png(
        width,
        height,
        lambda x, y: (key if x < width // 2 else 0,),
        bit_depth=bit_depth,
        colour_type=0,
        before_idat=((b"tRNS", struct.pack(">H", key)),),
    )


def top_rows_alpha(x, y, height=64):
    """0 in the top quarter, 128 in the second, opaque below."""
    return 0 if y < height // 4 else (128 if y < height // 2 else 255)


def rgba_quadrants(width: int = 120, height: int = 80) -> Image.Image:
    """quadrants_image with the red quadrant transparent and the blue one half-transparent."""
    im = Q(width, height).convert("RGBA")
    mask = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(mask)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=0)
    draw.rectangle((width // 2, 0, width - 1, height // 2 - 1), fill=128)
    im.putalpha(mask)
    return im


RGBA_QUADRANT_SPOTS = (
    Spot(0.25, 0.25, WHITE, 0),
    Spot(0.75, 0.25, blend(BLUE, 128), 128),
    Spot(0.25, 0.75, GREEN, 255),
    Spot(0.75, 0.75, YELLOW, 255),
)


def palette_png_partial_alpha() -> bytes:
    """Palette PNG in four vertical bands: indexes 0..3, tRNS alpha 0, 100, 200, (255)."""
    im = Image.new("P", (96, 64), 0)
    im.putpalette(list(RED + BLUE + GREEN + YELLOW) + [0] * (252 * 3))
    draw = ImageDraw.Draw(im)
    for index in range(1, 4):
        draw.rectangle((index * 24, 0, index * 24 + 23, 63), fill=index)
    return save(im, "PNG", transparency=bytes([0, 100, 200]))


PALETTE_SPOTS = (
    Spot(0.12, 0.5, WHITE, 0),
    Spot(0.37, 0.5, blend(BLUE, 100), 100),
    Spot(0.62, 0.5, blend(GREEN, 200), 200),
    Spot(0.87, 0.5, YELLOW, 255),
)


def rgba_photo_png() -> bytes:
    """A 1500 x 1000 RGBA photo (resized for every rendition): top-left quarter transparent over
    hidden black, top-right quarter at alpha 100, bottom half opaque."""
    im = photo(1500, 1000, seed=4).convert("RGBA")
    mask = Image.new("L", im.size, 255)
    draw = ImageDraw.Draw(mask)
    draw.rectangle((0, 0, 749, 499), fill=0)
    draw.rectangle((750, 0, 1499, 499), fill=100)
    im.putalpha(mask)
    im.paste((0, 0, 0, 0), (0, 0, 750, 500))
    return save(im, "PNG")


def four_bit_palette_png() -> bytes:
    """4-bit palette PNG, four vertical bands, tRNS 0, 128, 255 (written sample by sample)."""
    palette = bytes(RED + BLUE + GREEN + YELLOW)
    return corpus.raw_png(
        96,
        64,
        lambda x, y: (x * 4 // 96,),
        bit_depth=4,
        colour_type=3,
        before_idat=((b"PLTE", palette), (b"tRNS", bytes([0, 128, 255]))),
    )


def multipage(sizes) -> bytes:
    return corpus.multipage_tiff(sizes)


def animated_webp_with_alpha(**kwargs) -> bytes:
    first = rgba_quadrants()
    second = Image.new("RGBA", first.size, (0, 0, 255, 255))
    return save(first, "WEBP", save_all=True, append_images=[second], duration=100, **kwargs)


def gif_with_transparency() -> bytes:
    """Quadrants as a 4-colour GIF, the red quadrant's index transparent."""
    im = Image.new("P", (120, 80), 0)
    im.putpalette(list(RED + BLUE + GREEN + YELLOW))
    im.paste(Q(120, 80).quantize(palette=im, dither=Image.Dither.NONE))
    return save(im, "GIF", transparency=0)


def float_grey_tiff() -> bytes:
    """A 32-bit float greyscale TIFF, values 0.0..1.0 left to right (as HDR tools export)."""
    ramp = Image.linear_gradient("L").rotate(90).resize((128, 64))
    return save(Image.eval(ramp.convert("F"), lambda v: v / 255.0), "TIFF")


def int32_grey_tiff() -> bytes:
    """A 32-bit integer greyscale TIFF, values 0..65535 left to right."""
    ramp = Image.linear_gradient("L").rotate(90).resize((128, 64))
    return save(ramp.convert("I").point(lambda v: v * 257), "TIFF")


RAMP_SPOTS = (Spot(0.02, 0.5, (6, 6, 6)), Spot(0.5, 0.5, (129, 129, 129)), Spot(0.98, 0.5, WHITE))

# CMYK is where the engines' colour management differs by design: without a profile Pillow
# uses the plain formula and libvips a press profile (red ink prints as about (232, 30, 42),
# not (255, 0, 0)); with one, libvips' thumbnail converts with its own LittleCMS set-up and
# saturated colours land up to ~25 levels apart. The picture is the same; the bar is lower.
CMYK = {"min_psnr": 15.0, "spots": ()}


@dataclass(frozen=True)
class Case:
    make: object
    alpha: bool = False
    spots: tuple = ()
    specs: tuple = DEFAULT_RENDITIONS
    tolerance: int = 24
    min_psnr: float = MIN_PSNR


def case(id, make, *marks, **kwargs):
    return pytest.param(Case(make, **kwargs), id=id, marks=marks)


ACCEPTED = [
    # tiny
    case("1x1-jpeg", lambda: save(Q(1, 1), "JPEG", quality=95), spots=(Spot(0, 0, RED),)),
    case("1x1-png", lambda: save(Q(1, 1), "PNG"), spots=(Spot(0, 0, RED),)),
    case("1x1-webp", lambda: save(Q(1, 1), "WEBP", lossless=True), spots=(Spot(0, 0, RED),)),
    case("1x1-gif", lambda: save(Q(1, 1), "GIF"), spots=(Spot(0, 0, RED),)),
    case(
        "1x1-png-transparent",
        lambda: save(Image.new("RGBA", (1, 1), (0, 0, 0, 0)), "PNG"),
        alpha=True,
        spots=(Spot(0, 0, WHITE, 0),),
    ),
    case("1x1-avif", lambda: save(Q(1, 1), "AVIF", quality=95), spots=(Spot(0, 0, RED),)),
    # 2 x 2, four colours: lossy chroma subsampling mixes them, so only alpha is checked against
    # the picture; assert_engines_agree compares tiny renditions pixel by pixel
    case("2x2-png", lambda: save(Q(2, 2), "PNG")),
    case("2x2-jpeg-444", lambda: save(Q(2, 2), "JPEG", quality=95, subsampling=0)),
    case("2x2-webp", lambda: save(Q(2, 2), "WEBP", lossless=True)),
    case("2x2-gif", lambda: save(Q(2, 2), "GIF")),
    case(
        "2x2-png-rgba",
        lambda: save(rgba_quadrants(2, 2), "PNG"),
        alpha=True,
        spots=tuple(Spot(s.fx, s.fy, None, s.alpha) for s in RGBA_QUADRANT_SPOTS),
    ),
    # panoramas and tall strips: a side rounds to a few pixels or to 1
    case("12000x40-jpeg", lambda: save(corpus.smooth_image(12000, 40), "JPEG", quality=90)),
    case("12000x40-png", lambda: save(corpus.smooth_image(12000, 40), "PNG")),
    case("40x6000-jpeg", lambda: save(corpus.smooth_image(40, 6000), "JPEG", quality=90)),
    case("40x6000-webp", lambda: save(corpus.smooth_image(40, 6000), "WEBP", quality=90)),
    case("12000x1-png", lambda: save(corpus.smooth_image(12000, 1), "PNG")),
    case("1x12000-png", lambda: save(corpus.smooth_image(1, 12000), "PNG")),
    case(
        "12000x40-avif",
        lambda: save(corpus.smooth_image(12000, 40), "AVIF", quality=90),
    ),
    # exactly at a rendition's long edge, and one pixel above
    *[
        case(f"{w}x{h}-jpeg", lambda w=w, h=h: save(photo(w, h), "JPEG", quality=90))
        for w, h in [
            (320, 240),
            (321, 241),
            (240, 320),
            (241, 321),
            (1024, 683),
            (1025, 684),
            (2048, 1365),
            (2049, 1366),
        ]
    ],
    case("1024x768-png", lambda: save(photo(1024, 768), "PNG")),
    # PNG
    case("png-adam7-rgb", lambda: png_from(Q(96, 64), interlace=True), spots=QUADRANT_SPOTS),
    case(
        "png-adam7-smooth",
        lambda: png_from(corpus.smooth_image(200, 150), interlace=True),
    ),
    case(
        "png-adam7-rgba16",
        lambda: png_from(Q(96, 64), wide=True, alpha=top_rows_alpha, interlace=True),
        alpha=True,
        spots=(Spot(0.1, 0.1, WHITE, 0), Spot(0.1, 0.4, blend(RED, 128), 128)),
    ),
    case(
        "png-grey-alpha-16",
        lambda: corpus.raw_png(
            96,
            64,
            lambda x, y: (x * 65535 // 95, 0 if x < 32 else (32768 if x < 64 else 65535)),
            bit_depth=16,
            colour_type=4,
        ),
        alpha=True,
        spots=(Spot(0.1, 0.5, WHITE, 0), Spot(0.9, 0.5, (242, 242, 242), 255)),
    ),
    case(
        "png-rgba-16",
        lambda: png_from(Q(96, 64), wide=True, alpha=top_rows_alpha),
        alpha=True,
        spots=(
            Spot(0.1, 0.1, WHITE, 0),
            Spot(0.1, 0.4, blend(RED, 128), 128),
            Spot(0.25, 0.75, GREEN, 255),
            Spot(0.75, 0.75, YELLOW, 255),
        ),
    ),
    case("png-rgb-16", lambda: png_from(Q(96, 64), wide=True), spots=QUADRANT_SPOTS),
    case(
        "png-1-bit",
        lambda: save(Q(96, 64).convert("1", dither=Image.Dither.NONE), "PNG"),
    ),
    case(
        "png-2-bit-grey",
        lambda: corpus.raw_png(96, 64, lambda x, y: (x * 4 // 96,), bit_depth=2, colour_type=0),
        spots=(Spot(0.1, 0.5, (0, 0, 0)), Spot(0.9, 0.5, WHITE)),
    ),
    case(
        "png-4-bit-palette-trns",
        four_bit_palette_png,
        alpha=True,
        spots=(
            Spot(0.12, 0.5, WHITE, 0),
            Spot(0.37, 0.5, blend(BLUE, 128), 128),
            Spot(0.62, 0.5, GREEN, 255),
        ),
    ),
    case("png-palette-partial-trns", palette_png_partial_alpha, alpha=True, spots=PALETTE_SPOTS),
    case(
        "png-rgba-photo-resized",
        rgba_photo_png,
        alpha=True,
        spots=(Spot(0.1, 0.1, WHITE, 0), Spot(0.25, 0.9, None, 255), Spot(0.75, 0.25, None, 100)),
    ),
    case(
        "png-rgb-trns-key",
        lambda: save(Q(96, 64), "PNG", transparency=RED),
        alpha=True,
        spots=(Spot(0.25, 0.25, WHITE, 0), *QUADRANT_SPOTS[1:]),
    ),
    case(
        "png-rgb16-trns-key",
        lambda: png_from(
            Q(96, 64),
            wide=True,
            before_idat=((b"tRNS", struct.pack(">3H", *(257 * v for v in RED))),),
        ),
        alpha=True,
        spots=(Spot(0.25, 0.25, WHITE, 0), *QUADRANT_SPOTS[1:]),
    ),
    *(
        case(
            f"png-grey{bits}-trns-key",
            functools.partial(grey_key_png, bits),
            alpha=True,
            spots=(Spot(0.25, 0.5, WHITE, 0), Spot(0.75, 0.5, (0, 0, 0), 255)),
        )
        for bits in (1, 2, 4, 8, 16)
    ),
    case(
        "png-grey-linear-iccp",
        lambda: save(Image.new("L", (96, 64), 128), "PNG", icc_profile=linear_grey_profile()),
        spots=(Spot(0.5, 0.5, (188, 188, 188)),),
        tolerance=4,
    ),
    case(
        "png-grey16-linear-iccp",
        lambda: corpus.raw_png(
            96,
            64,
            lambda x, y: (32896,),
            bit_depth=16,
            colour_type=0,
            before_idat=(corpus.iccp_chunk(linear_grey_profile()),),
        ),
        spots=(Spot(0.5, 0.5, (188, 188, 188)),),
        tolerance=4,
    ),
    case(
        "png-grey-alpha-linear-iccp",
        lambda: save(
            Image.new("LA", (96, 64), (128, 200)), "PNG", icc_profile=linear_grey_profile()
        ),
        alpha=True,
        spots=(Spot(0.5, 0.5, blend((188, 188, 188), 200), 200),),
        tolerance=6,
    ),
    case("png-p3-iccp", lambda: save(Q(96, 64), "PNG", icc_profile=p3_profile())),
    case("png-adobe-rgb-iccp", lambda: save(Q(96, 64), "PNG", icc_profile=adobe_profile())),
    case(
        "png-rgb16-p3-iccp",
        lambda: png_from(Q(96, 64), wide=True, before_idat=(corpus.iccp_chunk(p3_profile()),)),
    ),
    case(
        "png-palette-p3-iccp",
        lambda: save(Q(96, 64).convert("P"), "PNG", icc_profile=p3_profile()),
    ),
    case(
        "png-opaque-rgba-p3-iccp",
        lambda: save(Q(96, 64).convert("RGBA"), "PNG", icc_profile=p3_profile()),
    ),
    case(
        "png-rgb-with-grey-iccp-ignored",
        lambda: save(Q(96, 64), "PNG", icc_profile=linear_grey_profile()),
        spots=QUADRANT_SPOTS,
    ),
    # JPEG
    case("jpeg-progressive", lambda: save(photo(640, 480), "JPEG", quality=90, progressive=True)),
    case(
        "jpeg-restart-markers",
        lambda: save(photo(640, 480), "JPEG", quality=90, restart_marker_blocks=4),
    ),
    case(
        "jpeg-progressive-restart-rows",
        lambda: save(photo(640, 480), "JPEG", quality=90, progressive=True, restart_marker_rows=1),
    ),
    case("jpeg-444", lambda: save(photo(640, 480), "JPEG", quality=90, subsampling="4:4:4")),
    case("jpeg-422", lambda: save(photo(640, 480), "JPEG", quality=90, subsampling="4:2:2")),
    case("jpeg-411", lambda: save(photo(640, 480), "JPEG", quality=90, subsampling="4:1:1")),
    case("jpeg-odd-33x17", lambda: save(Q(33, 17), "JPEG", quality=95)),
    case(
        "jpeg-mpo-first-image",
        lambda: save(
            Q(160, 120), "MPO", save_all=True, append_images=[Image.new("RGB", (160, 120), BLUE)]
        ),
        spots=QUADRANT_SPOTS,
    ),
    case(
        "jpeg-grey-linear-profile",
        lambda: save(
            Image.new("L", (160, 120), 128), "JPEG", quality=95, icc_profile=linear_grey_profile()
        ),
        spots=(Spot(0.5, 0.5, (188, 188, 188)),),
        tolerance=4,
    ),
    case(
        "jpeg-rgb-with-grey-profile-ignored",
        lambda: save(Q(160, 120), "JPEG", quality=95, icc_profile=linear_grey_profile()),
        spots=QUADRANT_SPOTS,
    ),
    case(
        "jpeg-rgb-with-cmyk-profile-ignored",
        lambda: save(Q(160, 120), "JPEG", quality=95, icc_profile=cmyk_profile()),
        spots=QUADRANT_SPOTS,
    ),
    case(
        "jpeg-garbage-icc-ignored",
        lambda: save(Q(160, 120), "JPEG", quality=95, icc_profile=b"not a profile" * 20),
        spots=QUADRANT_SPOTS,
    ),
    case("jpeg-cmyk-adobe-no-profile", lambda: corpus.cmyk_jpeg(160, 120), **CMYK),
    case("jpeg-cmyk-profile-by-vips", corpus.cmyk_jpeg_with_profile, **CMYK),
    case(
        "jpeg-cmyk-profile-by-pillow",
        lambda: save(
            Image.new("CMYK", (160, 120), (0, 255, 255, 0)),
            "JPEG",
            quality=95,
            icc_profile=cmyk_profile(),
        ),
        **CMYK,
    ),
    case(
        "jpeg-cmyk-with-rgb-profile",
        lambda: save(
            Image.new("CMYK", (160, 120), (0, 255, 255, 0)),
            "JPEG",
            quality=95,
            icc_profile=p3_profile(),
        ),
        **CMYK,
    ),
    # TIFF
    case(
        "tiff-cmyk-no-profile",
        lambda: save(Image.new("CMYK", (160, 120), (0, 255, 255, 0)), "TIFF"),
        **CMYK,
    ),
    case(
        "tiff-cmyk-profile",
        lambda: save(
            Image.new("CMYK", (160, 120), (0, 255, 255, 0)), "TIFF", icc_profile=cmyk_profile()
        ),
        **CMYK,
    ),
    case(
        "tiff-rgb16-deflate-predictor",
        lambda: corpus.vips_tiff(Q(160, 120), sixteen_bit=True, compression="deflate"),
        spots=QUADRANT_SPOTS,
    ),
    case(
        "tiff-grey16-lzw",
        lambda: corpus.vips_tiff(
            Image.linear_gradient("L").rotate(90).resize((128, 64)),
            sixteen_bit=True,
            compression="lzw",
        ),
        spots=RAMP_SPOTS,
        tolerance=8,
    ),
    case(
        "tiff-tiled",
        lambda: corpus.vips_tiff(
            photo(300, 200), tile=True, tile_width=64, tile_height=64, compression="lzw"
        ),
    ),
    case(
        "tiff-min-is-white",
        lambda: corpus.vips_tiff(Q(160, 120).convert("L"), miniswhite=True),
    ),
    case(
        "tiff-pyramid",
        lambda: corpus.vips_tiff(photo(1000, 800), tile=True, pyramid=True, compression="jpeg"),
    ),
    case(
        "tiff-multipage-first-page",
        lambda: multipage(((400, 300), (300, 300))),
        specs=(RenditionSpec("icon", 100, BOTH), *DEFAULT_RENDITIONS),
        spots=(Spot(0.5, 0.5, RED),),
    ),
    case(
        "tiff-multipage-halving-pages",
        lambda: multipage(((400, 300), (200, 150), (100, 75))),
        specs=(RenditionSpec("icon", 100, BOTH),),
        spots=(Spot(0.5, 0.5, RED),),
    ),
    case("tiff-lzw", lambda: save(photo(640, 480), "TIFF", compression="tiff_lzw")),
    case("tiff-deflate", lambda: save(photo(640, 480), "TIFF", compression="tiff_adobe_deflate")),
    case("tiff-packbits", lambda: save(photo(640, 480), "TIFF", compression="packbits")),
    case("tiff-uncompressed", lambda: save(photo(640, 480), "TIFF")),
    case(
        "tiff-1-bit-group4",
        lambda: save(
            Q(160, 120).convert("1", dither=Image.Dither.NONE), "TIFF", compression="group4"
        ),
    ),
    case(
        "tiff-rgba",
        lambda: save(rgba_quadrants(), "TIFF", compression="tiff_lzw"),
        alpha=True,
        spots=RGBA_QUADRANT_SPOTS,
    ),
    case(
        "tiff-associated-alpha",
        corpus.associated_alpha_tiff,
        alpha=True,
        spots=(
            Spot(0.1, 0.1, WHITE, 0),
            Spot(0.9, 0.1, (255, 0, 0), 255),
            Spot(0.1, 0.5, blend((0, 0, 255), 128), 128),
        ),
    ),
    case("tiff-p3-profile", lambda: save(Q(160, 120), "TIFF", icc_profile=p3_profile())),
    case("tiff-palette", lambda: save(Q(160, 120).convert("P"), "TIFF")),
    case(
        "tiff-grey-alpha",
        lambda: save(Image.new("LA", (160, 120), (100, 128)), "TIFF"),
        alpha=True,
        spots=(Spot(0.5, 0.5, blend((100, 100, 100), 128), 128),),
    ),
    case(
        "tiff-float-grey",
        float_grey_tiff,
        spots=RAMP_SPOTS,
        tolerance=8,
    ),
    case(
        "tiff-int32-grey",
        int32_grey_tiff,
        spots=RAMP_SPOTS,
        tolerance=8,
    ),
    # WebP
    case(
        "webp-lossless-alpha",
        lambda: save(rgba_quadrants(), "WEBP", lossless=True),
        alpha=True,
        spots=RGBA_QUADRANT_SPOTS,
    ),
    case(
        "webp-animated-lossless-alpha",
        lambda: animated_webp_with_alpha(lossless=True),
        alpha=True,
        spots=RGBA_QUADRANT_SPOTS,
    ),
    case(
        "webp-animated-lossy-alpha",
        lambda: animated_webp_with_alpha(quality=90),
        alpha=True,
        spots=RGBA_QUADRANT_SPOTS,
        tolerance=30,
    ),
    case("webp-p3-profile", lambda: save(Q(120, 80), "WEBP", quality=90, icc_profile=p3_profile())),
    # GIF
    case(
        "gif-transparency",
        gif_with_transparency,
        alpha=True,
        spots=(Spot(0.25, 0.25, WHITE, 0), *QUADRANT_SPOTS[1:]),
    ),
    case(
        "gif-87a",
        lambda: b"GIF87a" + save(Q(120, 80), "GIF")[6:],
        spots=QUADRANT_SPOTS,
    ),
    case(
        "gif-first-frame-smaller-than-screen",
        corpus.gif_with_offset_frame,
        xfail(
            "outside a GIF's first frame Pillow paints the background colour (grey), vips opaque "
            "black (browsers show it transparent)"
        ),
        spots=(Spot(0.5, 0.5, RED),),
    ),
    # AVIF
    case(
        "avif-alpha",
        lambda: save(rgba_quadrants(), "AVIF", quality=90),
        alpha=True,
        spots=RGBA_QUADRANT_SPOTS,
    ),
    case(
        "avif-p3-profile",
        lambda: save(photo(300, 200), "AVIF", quality=90, icc_profile=p3_profile()),
    ),
    case(
        "avif-10-bit",
        lambda: corpus.vips_image(photo(300, 200)).heifsave_buffer(
            compression="av1", bitdepth=10, Q=90
        ),
    ),
]


@pytest.mark.parametrize("case", ACCEPTED)
def test_engines_make_the_same_renditions(case):
    assert_engines_agree(
        case.make(),
        case.specs,
        alpha=case.alpha,
        spots=case.spots,
        tolerance=case.tolerance,
        min_psnr=case.min_psnr,
    )


# --- EXIF orientation per format -----------------------------------------------------------------

ORIENTED_FORMATS = {
    "jpeg": ("JPEG", {"quality": 95}),
    "png": ("PNG", {}),
    "webp": ("WEBP", {"lossless": True}),
    "tiff": ("TIFF", {}),
    "avif": ("AVIF", {"quality": 95}),
}


def oriented_cases():
    for name, (fmt, kwargs) in ORIENTED_FORMATS.items():
        for orientation in range(1, 9):
            yield pytest.param(fmt, kwargs, orientation, id=f"{name}-{orientation}")


@pytest.mark.parametrize(("fmt", "kwargs", "orientation"), list(oriented_cases()))
def test_exif_orientation_is_applied_once_by_both_engines(fmt, kwargs, orientation):
    """EXIF orientation (in TIFF the IFD tag, in PNG an eXIf chunk before the pixel data, in AVIF
    irot/imir boxes written by Pillow from the EXIF tag): the probe's ImageInfo and both engines'
    renditions show the picture as displayed."""
    stored = corpus.stored_for(Q(120, 80), orientation)
    data = save(stored, fmt, exif=corpus.orientation_exif(orientation), **kwargs)
    assert_engines_agree(data, spots=QUADRANT_SPOTS, displayed=(120, 80))


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize(
    "orientation",
    range(1, 9),
)
def test_exif_orientation_holds_for_every_rendition_size(fmt, orientation):
    """A phone-photo-like case: several renditions, each smaller than the upload."""
    stored = corpus.stored_for(Q(1200, 800), orientation)
    data = save(stored, fmt, quality=90, exif=corpus.orientation_exif(orientation))
    specs = (RenditionSpec("large", 600, BOTH), RenditionSpec("thumb", 60, BOTH))
    assert_engines_agree(data, specs, spots=QUADRANT_SPOTS, displayed=(1200, 800))


def test_png_exif_after_the_pixel_data_is_ignored_by_the_probe_and_both_engines():
    """read_orientation only looks at an eXIf chunk read with the header; one after IDAT is
    ignored (stored pixels shown as they are) by the probe and both engines alike."""
    stored = corpus.stored_for(Q(120, 80), 6)
    exif = corpus.orientation_exif(6)
    data = png_from(stored, after_idat=((b"eXIf", exif.removeprefix(b"Exif\x00\x00")),))
    assert_engines_agree(data, displayed=(80, 120), spots=(Spot(0.25, 0.25, BLUE),))


# --- refusals ------------------------------------------------------------------------------------

REFUSED = [
    pytest.param(lambda: save(Image.new("L", (12001, 4)), "PNG"), id="png-12001-wide"),
    pytest.param(lambda: save(Image.new("1", (12000, 12000)), "PNG"), id="png-144-megapixels"),
    pytest.param(lambda: corpus.vips_image(Q(64, 48)).tiffsave_buffer(bigtiff=True), id="bigtiff"),
    pytest.param(
        lambda: (
            (corpus.vips_image(Q(64, 48)).cast("float") / 255)
            .copy(interpretation="scrgb")
            .tiffsave_buffer()
        ),
        id="tiff-float-rgb",
    ),
]


@pytest.mark.parametrize("make", REFUSED)
def test_both_engines_refuse_with_the_same_error(make):
    data = make()
    errors = {}
    for engine in ENGINES:
        with pytest.raises(InvalidImageError) as caught:
            render(data, DEFAULT_RENDITIONS, engine)
        errors[engine] = caught.value
    assert type(errors["pillow"]) is type(errors["vips"])
    assert errors["pillow"].code == errors["vips"].code
    with pytest.raises(type(errors["pillow"])):
        inspect_image(io.BytesIO(data), limits=LIMITS)


# --- damaged bytes -------------------------------------------------------------------------------

DAMAGE_SEEDS = range(4)
DAMAGE_SPECS = (RenditionSpec("x", 128, BOTH),)
DAMAGED_SOURCES = {
    "jpeg-progressive": lambda: save(photo(320, 240), "JPEG", quality=90, progressive=True),
    "jpeg-restart-markers": lambda: save(
        photo(320, 240), "JPEG", quality=90, restart_marker_blocks=2
    ),
    "jpeg-cmyk": lambda: save(photo(320, 240).convert("CMYK"), "JPEG", quality=90),
    "png-adam7": lambda: png_from(photo(160, 120), interlace=True),
    "png-rgba-16": lambda: png_from(Q(96, 64), wide=True, alpha=top_rows_alpha),
    "webp-lossless-alpha": lambda: save(rgba_quadrants(), "WEBP", lossless=True),
    "webp-lossy": lambda: save(photo(320, 240), "WEBP", quality=80),
    "gif-transparency": lambda: save(photo(320, 240).convert("P"), "GIF", transparency=0),
    "tiff-lzw": lambda: save(photo(320, 240), "TIFF", compression="tiff_lzw"),
    "tiff-16-deflate": lambda: corpus.vips_tiff(
        photo(320, 240), sixteen_bit=True, compression="deflate"
    ),
    "tiff-uncompressed": lambda: save(photo(320, 240), "TIFF"),
    "avif": lambda: save(photo(320, 240), "AVIF", quality=80),
}
# Where the libraries' leniency differs on damaged data, both verdicts are fine (renditions, or
# a clear refusal: test_damaged_bytes_give_renditions_or_a_refusal); elsewhere they agree.
LENIENCY_DIFFERS = {
    "tiff-lzw": "Pillow refuses a damaged LZW TIFF, libvips renders what it can",
    "tiff-16-deflate": "Pillow refuses a damaged deflate TIFF, libvips renders what it can",
    "avif": "Pillow renders a damaged AVIF that libvips refuses",
}


@functools.cache
def damaged_outcome(name: str, seed: int, engine: str):
    return outcome(corpus.damaged(DAMAGED_SOURCES[name](), seed), DAMAGE_SPECS, engine)


def verdict(result) -> str:
    return type(result).__name__ if isinstance(result, InvalidImageError) else "renders"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", DAMAGE_SEEDS)
@pytest.mark.parametrize("name", DAMAGED_SOURCES)
def test_damaged_bytes_give_renditions_or_a_refusal(name, seed, engine):
    """Bytes overwritten after the first quarter: renditions or an InvalidImageError (raised as
    such by outcome()), never another exception."""
    result = damaged_outcome(name, seed, engine)
    if isinstance(result, InvalidImageError):
        assert str(result) and result.code
        return
    _, renditions = result
    for rendered in renditions:
        im = decoded(rendered.data)
        assert im.size == (rendered.width, rendered.height)
        assert im.mode in ("RGB", "RGBA")


@pytest.mark.parametrize(
    "name",
    [name for name in DAMAGED_SOURCES if name not in LENIENCY_DIFFERS],
)
def test_damaged_bytes_get_the_same_verdict_from_both_engines(name):
    verdicts = {
        seed: tuple(verdict(damaged_outcome(name, seed, engine)) for engine in ENGINES)
        for seed in DAMAGE_SEEDS
    }
    assert all(pillow == vips for pillow, vips in verdicts.values()), verdicts
