"""Imaging render_renditions: sizes, orientation, colour, alpha, metadata, encoding."""

import io
import math

import pytest
from PIL import Image, ImageChops, ImageCms, JpegImagePlugin

from media_pipeline.imaging import (
    DEFAULT_RENDITIONS,
    CorruptImage,
    InvalidImageError,
    Limits,
    Rendered,
    RenditionSpec,
    color,
    inspect_image,
    render_renditions,
)
from media_pipeline.imaging import render as render_module
from media_pipeline.imaging import vips as vips_engine
from tests import imagecorpus as corpus

LIMITS = Limits()
BOTH = ("jpeg", "webp")


@pytest.fixture(params=["pillow", "vips"])
def engine(request):
    """Every behaviour below holds for both imaging engines."""
    return request.param


@pytest.fixture
def render(engine):
    def render(data, specs=DEFAULT_RENDITIONS):
        return render_renditions(io.BytesIO(data), specs, limits=LIMITS, engine=engine)

    return render


def render_pillow(data, specs=DEFAULT_RENDITIONS):
    """For the tests of the Pillow engine's own fast path."""
    return render_renditions(io.BytesIO(data), specs, limits=LIMITS, engine="pillow")


def opened(rendered: Rendered) -> Image.Image:
    im = Image.open(io.BytesIO(rendered.data))
    im.load()
    return im


def by_format(renditions, fmt):
    return next(r for r in renditions if r.format == fmt)


def close(actual, expected, tolerance=12):
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- every accepted kind -------------------------------------------------------------------------

KINDS = [
    corpus.photo_jpeg,
    corpus.jpeg_with_gps,
    corpus.cmyk_jpeg,
    corpus.greyscale_jpeg,
    corpus.png16_image,
    corpus.palette_png,
    corpus.rgba_png,
    corpus.greyscale_png,
    corpus.animated_gif,
    corpus.webp_image,
    corpus.tiff_image,
    lambda: corpus.webp_image(alpha=True),
    lambda: corpus.greyscale_png(alpha=True),
    lambda: corpus.palette_png(transparent=False),
    lambda: corpus.tiff_image(compression="jpeg"),
    corpus.avif_image,
]


@pytest.mark.parametrize("make", KINDS)
def test_every_accepted_kind_renders_every_spec_and_format(make, render):
    data = make()
    info, renditions = render(data)
    assert info == inspect_image(io.BytesIO(data), limits=LIMITS)
    # Sizes the source cannot fill are made once, under the smallest name (distinct_sizes).
    distinct = [s for s in DEFAULT_RENDITIONS if s.long_edge < max(info.width, info.height)]
    distinct += [next(s for s in DEFAULT_RENDITIONS if s not in distinct)]
    assert [(r.name, r.format) for r in renditions] == [
        (s.name, f) for s in distinct for f in s.formats
    ]
    for r in renditions:
        im = opened(r)
        assert im.format == r.format.upper()
        assert im.size == (r.width, r.height)
        assert im.mode in ("RGB", "RGBA")
        assert (r.content_type, r.extension) == {
            "jpeg": ("image/jpeg", "jpg"),
            "webp": ("image/webp", "webp"),
        }[r.format]
        assert max(im.size) == min(
            max(info.width, info.height), {"thumb": 320, "medium": 1024, "large": 2048}[r.name]
        )


def test_stream_left_at_zero_after_render(engine):
    stream = io.BytesIO(corpus.photo_jpeg(400, 300))
    render_renditions(stream, limits=LIMITS, engine=engine)
    assert stream.tell() == 0 and not stream.closed


# --- sizes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "long_edge"),
    [
        ((1200, 800), 320),
        ((800, 1200), 320),
        ((1000, 333), 320),
        ((333, 1000), 100),
        ((1201, 799), 1024),
        ((640, 480), 1),
    ],
)
def test_exact_rendition_size_long_edge_and_aspect(size, long_edge, render):
    _, (rendered,) = render(corpus.photo_jpeg(*size), [RenditionSpec("x", long_edge, ("jpeg",))])
    width, height = opened(rendered).size
    assert max(width, height) == long_edge
    if size[0] >= size[1]:
        assert abs(height - size[1] * long_edge / size[0]) <= 1
    else:
        assert abs(width - size[0] * long_edge / size[1]) <= 1
    assert min(width, height) >= 1


def test_never_upscales(render):
    _, renditions = render(corpus.photo_jpeg(300, 200))
    assert {(r.width, r.height) for r in renditions} == {(300, 200)}
    assert {opened(r).size for r in renditions} == {(300, 200)}


def test_results_come_in_spec_order_even_when_sizes_are_not_sorted(render):
    specs = [
        RenditionSpec("a", 100, ("webp",)),
        RenditionSpec("b", 600, ("jpeg",)),
        RenditionSpec("c", 300, BOTH),
    ]
    _, renditions = render(corpus.photo_jpeg(1200, 800), specs)
    assert [(r.name, r.format, r.width) for r in renditions] == [
        ("a", "webp", 100),
        ("b", "jpeg", 600),
        ("c", "jpeg", 300),
        ("c", "webp", 300),
    ]


# --- orientation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_proven_by_pixels(orientation, render):
    info, renditions = render(
        corpus.oriented_jpeg(orientation, 120, 80), [RenditionSpec("x", 60, BOTH)]
    )
    assert (info.width, info.height) == (120, 80)
    for rendered in renditions:
        im = opened(rendered).convert("RGB")
        assert im.size == (60, 40)
        assert close(im.getpixel((4, 4)), corpus.RED), (
            orientation,
            rendered.format,
            im.getpixel((4, 4)),
        )
        assert close(im.getpixel((55, 4)), corpus.BLUE), (
            orientation,
            rendered.format,
            im.getpixel((55, 4)),
        )
        assert close(im.getpixel((4, 35)), corpus.GREY)
        assert close(im.getpixel((55, 35)), corpus.GREY)
        assert len(im.getexif()) == 0  # no orientation tag left to rotate it again


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_when_no_size_needs_resizing(orientation, render):
    """The largest rendition at the upload's own size, tall enough that a decoder reading top
    to bottom cannot hand the turn its rows in one piece."""
    data = corpus.oriented_jpeg(orientation, 1200, 800)
    _, renditions = render(data, [RenditionSpec("x", 2000)])
    for rendered in renditions:
        im = opened(rendered).convert("RGB")
        assert im.size == (1200, 800)
        assert close(im.getpixel((40, 40)), corpus.RED), (orientation, rendered.format)
        assert close(im.getpixel((1160, 40)), corpus.BLUE), (orientation, rendered.format)
        assert close(im.getpixel((40, 760)), corpus.GREY)


@pytest.mark.parametrize("orientation", [3, 5, 6, 8])
def test_exif_orientation_with_a_reduced_size_jpeg_decode(orientation, monkeypatch):
    decoded = []
    real_prepare = render_module.prepare_for_resize
    monkeypatch.setattr(
        render_module, "prepare_for_resize", lambda im: decoded.append(im.size) or real_prepare(im)
    )
    _, renditions = render_pillow(
        corpus.oriented_jpeg(orientation, 1600, 1200), [RenditionSpec("x", 160, ("jpeg",))]
    )
    stored = (1600, 1200) if orientation == 3 else (1200, 1600)
    assert decoded == [(stored[0] // 4, stored[1] // 4)]  # DCT-domain 1/4 decode
    im = opened(renditions[0])
    assert im.size == (160, 120)
    assert close(im.getpixel((10, 10)), corpus.RED) and close(im.getpixel((150, 10)), corpus.BLUE)
    assert close(im.getpixel((10, 110)), corpus.GREY)


@pytest.mark.parametrize("make", [corpus.animated_png, corpus.animated_webp])
def test_other_animations_render_their_first_frame(make, render):
    info, renditions = render(make(), [RenditionSpec("x", 32, BOTH)])
    assert info.animated and info.frames == 3
    for rendered in renditions:
        assert close(opened(rendered).convert("RGB").getpixel((16, 12)), (255, 0, 0))


# --- metadata and colour -------------------------------------------------------------------------


def test_all_metadata_is_stripped_from_every_rendition(render):
    source = corpus.jpeg_with_gps()
    assert b"Exif" in source and b"xmpmeta" in source and corpus.JPEG_COMMENT in source
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(corpus.GPS_IFD_TAG)
    _, renditions = render(source)
    for rendered in renditions:
        im = opened(rendered)
        exif = im.getexif()
        assert len(exif) == 0 and not exif.get_ifd(corpus.GPS_IFD_TAG)
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment"} & set(im.info)
        for needle in (
            b"Exif",
            b"GPS",
            b"xmpmeta",
            b"SecretCam",
            b"Secret Photographer",
            corpus.JPEG_COMMENT,
        ):
            assert needle not in rendered.data, (rendered.name, rendered.format, needle)


@pytest.mark.parametrize(
    "make", [corpus.photo_jpeg, corpus.rgba_png, corpus.cmyk_jpeg, corpus.png16_image]
)
def test_every_rendition_embeds_an_srgb_icc_profile(make, render):
    _, renditions = render(make())
    for rendered in renditions:
        icc = opened(rendered).info.get("icc_profile")
        assert icc, (rendered.name, rendered.format)
        profile = ImageCms.getOpenProfile(io.BytesIO(icc)).profile
        assert "sRGB" in profile.profile_description
        assert profile.xcolor_space.strip() == "RGB"


def test_non_srgb_profile_is_converted_to_srgb(render):
    linear = rgb_pixel(render, corpus.jpeg_with_icc(128))  # 50 % linear light
    untagged = rgb_pixel(render, corpus.jpeg_with_icc(128, icc=b""))
    assert close(untagged, (128, 128, 128), 3)
    assert close(linear, (188, 188, 188), 4), linear  # the same light, sRGB-encoded


def rgb_pixel(render, data):
    _, renditions = render(data, [RenditionSpec("x", 64, BOTH)])
    pixels = {opened(r).convert("RGB").getpixel((32, 20)) for r in renditions}
    first = pixels.pop()
    assert all(close(p, first, 3) for p in pixels)
    return first


def test_cmyk_is_converted_to_rgb(render):
    """Magenta + yellow ink is red. Without an embedded profile Pillow uses the plain formula
    (255, 0, 0) and libvips a press profile (about (232, 30, 42), red as printed)."""
    _, renditions = render(corpus.cmyk_jpeg(colour=(0, 255, 255, 0)))
    for rendered in renditions:
        red, green, blue = opened(rendered).convert("RGB").getpixel((100, 75))
        assert red >= 220 and green <= 50 and blue <= 60, (red, green, blue)


def test_16_bit_png_is_scaled_not_clipped(render):
    _, renditions = render(corpus.png16_image(256, 64), [RenditionSpec("x", 256, BOTH)])
    for rendered in renditions:
        im = opened(rendered).convert("L")
        left, middle, right = (im.getpixel((x, 32)) for x in (2, 128, 253))
        assert left <= 8 and right >= 247
        assert 110 <= middle <= 146, middle  # clipping would make it 255


def test_greyscale_jpeg_becomes_neutral_rgb(render):
    _, renditions = render(corpus.greyscale_jpeg(200, 150, value=100))
    for rendered in renditions:
        im = opened(rendered)
        assert im.mode == "RGB"
        assert close(im.getpixel((100, 75)), (255, 255, 255), 6)
        r, g, b = im.getpixel((10, 10))
        assert abs(r - 100) <= 6 and max(r, g, b) - min(r, g, b) <= 3


@pytest.mark.parametrize(
    ("make", "opaque_colour"),
    [
        (corpus.rgba_png, (255, 0, 0)),
        (corpus.palette_png, (0, 160, 0)),
        (lambda: corpus.greyscale_png(alpha=True), None),
        (lambda: corpus.webp_image(alpha=True), None),
    ],
)
def test_transparency_kept_in_webp_and_flattened_on_white_in_jpeg(make, opaque_colour, render):
    info, renditions = render(make(), [RenditionSpec("x", 1024, BOTH)])
    width, height = info.width, info.height
    webp = opened(by_format(renditions, "webp"))
    jpeg = opened(by_format(renditions, "jpeg"))
    assert webp.mode == "RGBA" and jpeg.mode == "RGB"
    assert webp.getpixel((2, height // 2))[3] == 0  # left half: transparent
    assert webp.getpixel((width - 3, height // 2))[3] == 255
    assert close(jpeg.getpixel((2, height // 2)), (255, 255, 255), 4)  # white, not black
    if opaque_colour:
        assert close(webp.getpixel((width - 3, height // 2))[:3], opaque_colour)
        assert close(jpeg.getpixel((width - 3, height // 2)), opaque_colour)


def test_opaque_rgba_is_stored_without_an_alpha_channel(render):
    im = corpus.photo_image(200, 100).convert("RGBA")
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    _, renditions = render(buffer.getvalue())
    assert {opened(r).mode for r in renditions} == {"RGB"}


def test_animated_gif_renders_its_first_frame(render):
    info, renditions = render(corpus.animated_gif(frames=3, size=(64, 48)))
    assert (info.format, info.frames, info.animated) == ("gif", 3, True)
    for rendered in renditions:
        assert close(opened(rendered).convert("RGB").getpixel((32, 24)), (255, 0, 0))


# --- encoding ------------------------------------------------------------------------------------


def test_jpeg_renditions_are_progressive_with_chroma_subsampling_only_when_large(render):
    _, renditions = render(corpus.photo_jpeg(1600, 1200))
    for rendered in renditions:
        if rendered.format != "jpeg":
            continue
        im = opened(rendered)
        assert im.info.get("progressive") == 1 and im.info.get("progression") == 1
        assert JpegImagePlugin.get_sampling(im) == (
            0 if rendered.name == "thumb" else 2
        )  # 4:4:4 / 4:2:0


def test_renditions_are_compact(render):
    _, renditions = render(corpus.photo_jpeg(2400, 1600))
    sizes = {(r.name, r.format): len(r.data) for r in renditions}
    assert sizes[("thumb", "jpeg")] < 40_000 and sizes[("thumb", "webp")] < 30_000
    large = by_format([r for r in renditions if r.name == "large"], "jpeg")
    plain = io.BytesIO()
    opened(large).save(plain, "JPEG", quality=90)  # what an untuned save would write
    assert len(large.data) < 0.8 * len(plain.getvalue())


def test_avif_output_when_pillow_can_write_it(render):
    _, (rendered,) = render(corpus.photo_jpeg(800, 600), [RenditionSpec("x", 400, ("avif",))])
    assert (rendered.content_type, rendered.extension, rendered.format) == (
        "image/avif",
        "avif",
        "avif",
    )
    assert opened(rendered).size == (400, 300)


def test_a_format_pillow_cannot_write_is_a_programming_error(monkeypatch):
    monkeypatch.setattr(render_module, "can_encode", lambda fmt: fmt != "avif")
    with pytest.raises(ValueError, match="avif") as caught:
        render_pillow(corpus.photo_jpeg(300, 200), [RenditionSpec("x", 100, ("avif",))])
    assert type(caught.value) is ValueError


# --- the fast path keeps quality and memory bounded ----------------------------------------------


def psnr(a: Image.Image, b: Image.Image) -> float:
    histogram = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    squared = sum(count * (i % 256) ** 2 for i, count in enumerate(histogram))
    mse = squared / (a.size[0] * a.size[1] * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_jpeg_is_decoded_at_reduced_size_and_still_matches_a_full_lanczos_resize(monkeypatch):
    data = corpus.photo_jpeg(3200, 2400, quality=92)
    decoded_sizes, captured = [], []
    real_prepare = render_module.prepare_for_resize
    monkeypatch.setattr(
        render_module,
        "prepare_for_resize",
        lambda im: decoded_sizes.append(im.size) or real_prepare(im),
    )
    monkeypatch.setattr(
        render_module, "encode", lambda im, fmt, edge: captured.append(im.copy()) or b""
    )
    render_pillow(data, [RenditionSpec("m", 640, ("webp",)), RenditionSpec("t", 200, ("webp",))])
    assert decoded_sizes == [(1600, 1200)]  # DCT-domain 1/2 scale, not 3200 x 2400
    full = Image.open(io.BytesIO(data)).convert("RGB")
    for im in captured:
        reference = full.resize(im.size, Image.Resampling.LANCZOS)
        assert psnr(im, reference) > 35, im.size


# --- the two engines ------------------------------------------------------------------------------


def test_both_engines_make_the_same_renditions():
    data = corpus.photo_jpeg(1600, 1200)
    _, by_pillow = render_renditions(io.BytesIO(data), limits=LIMITS, engine="pillow")
    _, by_vips = render_renditions(io.BytesIO(data), limits=LIMITS, engine="vips")
    assert [(r.name, r.format, r.width, r.height) for r in by_pillow] == [
        (r.name, r.format, r.width, r.height) for r in by_vips
    ]
    for a, b in zip(by_pillow, by_vips, strict=True):
        assert psnr(opened(a), opened(b)) > 30, (a.name, a.format)
        assert 0.7 < len(a.data) / len(b.data) < 1.4, (a.name, a.format, len(a.data), len(b.data))


def test_every_size_matches_a_full_lanczos_resize(render):
    data = corpus.photo_jpeg(3200, 2400, quality=92)
    full = Image.open(io.BytesIO(data)).convert("RGB")
    _, renditions = render(
        data, [RenditionSpec("m", 640, ("webp",)), RenditionSpec("t", 200, ("webp",))]
    )
    for rendered in renditions:
        im = opened(rendered)
        assert psnr(im, full.resize(im.size, Image.Resampling.LANCZOS)) > 30, rendered.name


@pytest.mark.parametrize(
    "make",
    [corpus.photo_jpeg, corpus.rgba_png, corpus.webp_image, corpus.tiff_image, corpus.animated_gif],
)
@pytest.mark.parametrize("seed", range(6))
def test_damaged_bytes_give_renditions_or_a_clear_refusal(make, seed, render):
    """Bytes overwritten in the middle of the data: either the file still decodes, or the
    refusal is CorruptImage (or another InvalidImageError), never another exception."""
    import random

    data = bytearray(make())
    rng = random.Random(seed)
    for _ in range(8):
        at = rng.randrange(len(data) // 4, len(data))
        data[at] = rng.randrange(256)
    try:
        _, renditions = render(bytes(data))
    except InvalidImageError:
        return
    for rendered in renditions:
        assert opened(rendered).size == (rendered.width, rendered.height)


def test_a_storage_error_while_vips_reads_is_raised_as_it_is(monkeypatch):
    """A read that fails (storage, disk) is that error, for the task to retry; not "damaged"."""

    class FailingStream(io.BytesIO):
        failing = False

        def read(self, size=-1):
            if self.failing:
                raise ConnectionResetError("storage went away")
            return super().read(size)

    real_render = vips_engine.render

    def render_then_fail(stream, *args, **kwargs):
        stream.failing = True  # the probe has read what it needs; the engine's read fails
        return real_render(stream, *args, **kwargs)

    monkeypatch.setattr(vips_engine, "render", render_then_fail)
    with pytest.raises(ConnectionResetError, match="storage went away"):
        render_renditions(
            FailingStream(corpus.photo_jpeg(1600, 1200)), limits=LIMITS, engine="vips"
        )


XMP_TURNED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "TIFF"])
def test_an_orientation_only_in_xmp_is_ignored_as_browsers_do(fmt, render):
    buffer = io.BytesIO()
    corpus.quadrants_image(120, 80).save(buffer, fmt, xmp=XMP_TURNED)
    info, renditions = render(buffer.getvalue(), [RenditionSpec("x", 500, BOTH)])
    assert (info.width, info.height) == (120, 80)
    for rendered in renditions:
        im = opened(rendered).convert("RGB")
        assert im.size == (120, 80)
        assert close(im.getpixel((8, 8)), corpus.RED), (fmt, rendered.format)


def test_an_animated_avif_renders_its_first_frame(render):
    frames = [Image.new("RGB", (64, 48), colour) for colour in (corpus.RED, corpus.BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "AVIF", save_all=True, append_images=frames[1:])
    info, renditions = render(buffer.getvalue(), [RenditionSpec("x", 32, BOTH)])
    assert info.animated and info.frames == 2
    for rendered in renditions:
        assert close(opened(rendered).convert("RGB").getpixel((16, 12)), corpus.RED, 16)


def test_avif_renditions_of_a_turned_photo_carry_no_turn_of_their_own(render):
    _, (rendered,) = render(corpus.oriented_jpeg(6, 120, 80), [RenditionSpec("x", 100, ("avif",))])
    im = opened(rendered)
    assert im.size == (100, 67) and im.getexif().get(0x0112) is None
    assert close(im.convert("RGB").getpixel((4, 4)), corpus.RED)


def test_vips_refuses_a_file_whose_picture_is_not_the_one_the_limits_checked(monkeypatch):
    """A container holding several images that Pillow and libvips pick differently: the limits
    were checked on Pillow's, so libvips' must be the same size or nothing is decoded."""
    real_open = vips_engine._open
    monkeypatch.setattr(
        vips_engine,
        "_open",
        lambda vips, fmt, data: real_open(vips, fmt, data).embed(0, 0, 3000, 3000),
    )
    with pytest.raises(CorruptImage, match="more than one picture") as caught:
        render_renditions(io.BytesIO(corpus.photo_jpeg(400, 300)), limits=LIMITS, engine="vips")
    assert caught.value.code == "inconsistent"


def test_large_icc_profiles_are_not_kept_in_memory(render):
    """An upload can carry megabytes of "profile": a long-lived worker must not keep them."""
    color._cached_profile.cache_clear()
    color._cached_transform.cache_clear()
    buffer = io.BytesIO()
    corpus.photo_image(200, 150).save(buffer, "JPEG", icc_profile=bytes(range(256)) * 2000)
    render(buffer.getvalue(), [RenditionSpec("x", 100, BOTH)])
    assert color._cached_profile.cache_info().currsize == 0
    assert color._cached_transform.cache_info().currsize == 0
