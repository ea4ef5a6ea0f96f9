"""Imaging: cheap inspection, and every refusal by inspect_image and render_renditions."""

import io
import re

import pytest
from PIL import Image, ImageFile

from media_pipeline import imaging
from media_pipeline.imaging import (
    DEFAULT_RENDITIONS,
    CorruptImage,
    ImageTooLarge,
    InvalidImageError,
    Limits,
    RenditionSpec,
    UnsupportedImageType,
    inspect_image,
    render_renditions,
)
from tests import imagecorpus as corpus

LIMITS = Limits()


def render(data, **kwargs):
    return render_renditions(io.BytesIO(data), limits=kwargs.pop("limits", LIMITS), **kwargs)


def inspect(data, limits=LIMITS):
    return inspect_image(io.BytesIO(data), limits=limits)


def assert_reads_well(message: str) -> None:
    """A sentence for people: capitalised, ends with a full stop, no internals leaking."""
    assert message[0].isupper() and message.rstrip().endswith("."), message
    assert 30 < len(message) < 400, message
    for leak in ("Traceback", "Error", "errno", "PIL", "DecompressionBomb", "\\x", "b'", "None"):
        assert leak not in message, f"{leak!r} in {message!r}"


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail loudly if anything decodes pixel data."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"pixel data of a {self.format} was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- the API itself ------------------------------------------------------------------------------


def test_error_hierarchy_and_defaults():
    for cls in (UnsupportedImageType, ImageTooLarge, CorruptImage):
        assert issubclass(cls, InvalidImageError)
    assert issubclass(InvalidImageError, ValueError)
    assert Limits() == Limits(50 * 1024 * 1024, 64_000_000, 12_000, 256_000_000)
    assert [(s.name, s.long_edge, s.formats) for s in DEFAULT_RENDITIONS] == [
        ("thumb", 320, ("jpeg", "webp")),
        ("medium", 1024, ("jpeg", "webp")),
        ("large", 2048, ("jpeg", "webp")),
    ]
    assert set(imaging.__all__) >= {"inspect_image", "render_renditions", "ImageInfo", "Rendered"}


@pytest.mark.parametrize(
    "kwargs", [{"long_edge": 0}, {"formats": ()}, {"formats": ("png",)}, {"name": ""}]
)
def test_bad_rendition_spec_is_a_programming_error(kwargs):
    with pytest.raises(ValueError) as caught:
        RenditionSpec(**{"name": "x", "long_edge": 10, **kwargs})
    assert not isinstance(caught.value, InvalidImageError)


def test_bad_limits_are_a_programming_error():
    with pytest.raises(ValueError):
        Limits(max_pixels=0)


# --- accepted kinds ------------------------------------------------------------------------------

ACCEPTED = [
    (corpus.photo_jpeg, "jpeg", "image/jpeg", (1200, 800), 1, False),
    (corpus.cmyk_jpeg, "jpeg", "image/jpeg", (200, 150), 1, False),
    (corpus.greyscale_jpeg, "jpeg", "image/jpeg", (200, 150), 1, False),
    (corpus.png16_image, "png", "image/png", (256, 64), 1, False),
    (corpus.palette_png, "png", "image/png", (120, 80), 1, False),
    (corpus.rgba_png, "png", "image/png", (120, 80), 1, False),
    (corpus.greyscale_png, "png", "image/png", (200, 150), 1, False),
    (corpus.animated_gif, "gif", "image/gif", (64, 48), 3, True),
    (corpus.animated_png, "png", "image/png", (64, 48), 3, True),
    (lambda: corpus.animated_webp(frames=4), "webp", "image/webp", (64, 48), 4, True),
    (corpus.webp_image, "webp", "image/webp", (300, 200), 1, False),
    (corpus.tiff_image, "tiff", "image/tiff", (300, 200), 1, False),
    pytest.param(corpus.avif_image, "avif", "image/avif", (300, 200), 1, False),
]


@pytest.mark.parametrize(("make", "fmt", "mime", "size", "frames", "animated"), ACCEPTED)
def test_inspect_accepts_and_describes_without_decoding(
    make, fmt, mime, size, frames, animated, no_decoding
):
    data = make()
    stream = io.BytesIO(data)
    stream.seek(7)  # wherever the caller left it
    info = inspect_image(stream, limits=LIMITS)
    assert (info.format, info.mime_type, (info.width, info.height)) == (fmt, mime, size)
    assert (info.frames, info.animated) == (frames, animated)
    assert stream.tell() == 0


def test_inspect_reports_displayed_size_after_exif_rotation(no_decoding):
    info = inspect(corpus.oriented_jpeg(6, 120, 80))  # stored 80 x 120
    assert (info.width, info.height) == (120, 80)


def test_inspect_ignores_the_name_and_reads_non_seekable_streams():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    info = inspect_image(io.BufferedReader(Pipe(corpus.palette_png())), limits=LIMITS)
    assert info.format == "png"


def test_padding_after_the_end_marker_is_tolerated():
    assert inspect(corpus.photo_jpeg(320, 200) + b"\x00" * 64 + b"\r\n").format == "jpeg"


# --- refusals ------------------------------------------------------------------------------------

REFUSED = [
    ("zero bytes", corpus.zero_bytes, CorruptImage, "empty", ["empty"]),
    (
        "pdf named .jpg",
        corpus.pdf_document,
        UnsupportedImageType,
        "unsupported_type",
        ["PDF", "JPEG"],
    ),
    ("html named .jpg", corpus.html_page, UnsupportedImageType, "unsupported_type", ["web page"]),
    ("svg", corpus.svg_image, UnsupportedImageType, "unsupported_type", ["SVG"]),
    ("text named .jpg", corpus.text_file, UnsupportedImageType, "unsupported_type", ["text file"]),
    ("heic, no picture", corpus.heic_header, CorruptImage, "undecodable", ["HEIC", "damaged"]),
    (
        "png + html",
        corpus.polyglot_png_html,
        UnsupportedImageType,
        "polyglot",
        ["extra data", "web page"],
    ),
    (
        "jpeg + zip",
        corpus.polyglot_jpeg_zip,
        UnsupportedImageType,
        "polyglot",
        ["extra data", "ZIP"],
    ),
    ("truncated jpeg", corpus.truncated_jpeg, CorruptImage, "truncated", ["cut off", "JPEG"]),
    (
        "truncated tiny jpeg",
        lambda: corpus.photo_jpeg(300, 200)[:3000],
        CorruptImage,
        "truncated",
        ["cut off"],
    ),
    ("truncated png", corpus.truncated_png, CorruptImage, "truncated", ["cut off", "PNG"]),
    (
        "png bomb",
        corpus.bomb_png,
        ImageTooLarge,
        "too_many_pixels",
        ["400 megapixels", "64 megapixels"],
    ),
    ("jpeg bomb", corpus.bomb_jpeg, ImageTooLarge, "too_many_pixels", ["900 megapixels"]),
    (
        "frames bomb",
        corpus.frames_bomb_gif,
        ImageTooLarge,
        "too_many_frames",
        ["40 frames", "4000 × 4000"],
    ),
]


@pytest.mark.parametrize("call", ["inspect", "render"])
@pytest.mark.parametrize(
    ("label", "make", "error", "code", "words"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_with_the_right_error_and_a_clear_message(
    call, label, make, error, code, words, no_decoding
):
    with pytest.raises(error) as caught:
        (inspect if call == "inspect" else render)(make())
    assert caught.value.code == code
    message = str(caught.value)
    for word in words:
        assert word in message
    assert_reads_well(message)


def test_bytes_limit():
    with pytest.raises(
        ImageTooLarge, match=r"This file is 1\.0 MB, which is more than the 0\.5 MB limit"
    ):
        photo = corpus.photo_jpeg(320, 200)
        inspect(photo + b"\x00" * (1024 * 1024 - len(photo)), Limits(max_bytes=512 * 1024))


def test_dimension_limit_is_checked_on_the_declared_size(no_decoding):
    with pytest.raises(
        ImageTooLarge, match="1200 × 800 pixels; the most we accept is 1000 pixels"
    ) as caught:
        inspect(corpus.photo_jpeg(1200, 800), Limits(max_dimension=1000))
    assert_reads_well(str(caught.value))


def test_pixel_limit(no_decoding):
    with pytest.raises(
        ImageTooLarge, match=r"has 1\.0 megapixels .*most we accept is 0\.5 megapixels"
    ):
        inspect(corpus.photo_jpeg(1200, 800), Limits(max_pixels=500_000))


def test_bomb_under_pillows_limit_but_over_ours_gets_our_size_message(no_decoding):
    with pytest.raises(ImageTooLarge, match=r"81 megapixels \(9000 × 9000\)") as caught:
        inspect(corpus.bomb_png(9000, 9000))
    assert caught.value.code == "too_many_pixels"


def test_pillows_bomb_warning_is_an_error_even_when_our_limits_are_higher(no_decoding):
    generous = Limits(max_pixels=200_000_000, max_dimension=20_000, max_total_pixels=400_000_000)
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 9_500 < 2 * Image.MAX_IMAGE_PIXELS  # warning zone
    with pytest.raises(ImageTooLarge, match="95 megapixels"):
        inspect(corpus.bomb_png(10_000, 9_500), generous)


def test_frames_times_pixels_limit(no_decoding):
    data = corpus.animated_gif(frames=3, size=(64, 48))  # 3 x 3072 pixels
    assert inspect(data, Limits(max_total_pixels=3 * 3072)).frames == 3
    with pytest.raises(ImageTooLarge, match="3 frames of 64 × 48 pixels"):
        inspect(data, Limits(max_total_pixels=3 * 3072 - 1))


def test_stream_is_rewound_after_a_refusal():
    stream = io.BytesIO(corpus.polyglot_png_html())
    with pytest.raises(UnsupportedImageType):
        inspect_image(stream, limits=LIMITS)
    assert stream.tell() == 0 and not stream.closed


ENGINES = ["pillow", "vips"]


@pytest.mark.parametrize("engine", ENGINES)
def test_damage_only_decoding_finds_is_refused_by_render(engine):
    data = corpus.corrupt_png()
    assert inspect(data).format == "png"  # header, trailer and CRCs are all fine
    with pytest.raises(CorruptImage, match="damaged") as caught:
        render(data, engine=engine)
    assert caught.value.code == "undecodable"
    assert_reads_well(str(caught.value))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("make", [corpus.truncated_jpeg, lambda: corpus.truncated_png()])
def test_truncated_file_is_refused_by_the_decoder_too(make, engine, monkeypatch):
    """Even without the trailer check, a cut-off file ends in CorruptImage, never in grey pixels."""
    monkeypatch.setattr("media_pipeline.imaging.probe.check_trailer", lambda *args: None)
    with pytest.raises(CorruptImage, match="damaged"):
        render(make(), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda: corpus.bomb_png(9000, 9000), ImageTooLarge),
        (lambda: corpus.animated_gif(frames=3, size=(64, 48)), ImageTooLarge),
        (corpus.svg_image, UnsupportedImageType),
        (corpus.polyglot_png_html, UnsupportedImageType),
        (corpus.zero_bytes, CorruptImage),
    ],
)
def test_render_refuses_before_any_engine_decodes(make, refusal, engine, no_decoding, monkeypatch):
    """Both engines share the header checks: a refused file never reaches a decoder."""

    def refuse(*args, **kwargs):
        raise AssertionError("the vips engine was asked to decode a refused file")

    monkeypatch.setattr("media_pipeline.imaging.vips.render", refuse)
    with pytest.raises(refusal):
        render(make(), engine=engine, limits=Limits(max_total_pixels=3 * 3072 - 1))


def test_unknown_or_missing_engine_is_a_programming_error(monkeypatch):
    with pytest.raises(ValueError, match="unknown imaging engine 'magick'"):
        render(corpus.photo_jpeg(300, 200), engine="magick")
    monkeypatch.setattr("media_pipeline.imaging.vips.available", lambda: False)
    with pytest.raises(ValueError, match="needs pyvips"):
        render(corpus.photo_jpeg(300, 200), engine="vips")


def test_messages_are_plain_sentences_for_every_error_type():
    seen = {}
    for make in (corpus.zero_bytes, corpus.svg_image, corpus.bomb_png):
        try:
            inspect(make())
        except InvalidImageError as error:
            seen[type(error)] = str(error)
    assert set(seen) == {CorruptImage, UnsupportedImageType, ImageTooLarge}
    for message in seen.values():
        assert_reads_well(message)
        assert not re.search(r"\b(None|True|False)\b", message)
