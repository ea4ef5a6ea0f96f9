"""Upload-time glance: ThumbHash against the reference, round trips, colour, perceptual hash."""

import io

import pytest
from PIL import Image

from media_pipeline.imaging import DEFAULT_RENDITIONS, Limits, inspect_image, render_renditions
from media_pipeline.imaging.glance import QUICK_BYTES, glance, glance_at_image
from media_pipeline.imaging.phash import dhash, distance
from media_pipeline.imaging.placeholder import (
    dominant_colour,
    rgba_to_thumbhash,
    thumbhash,
    thumbhash_to_rgba,
)
from tests.imagecorpus import photo_image, photo_jpeg, save_as, with_exif_thumbnail

THRESHOLD = 8  # MEDIA_DUPLICATE_DISTANCE's default


def reference_pixels(w: int, h: int, alpha: bool) -> bytes:
    """The pixels the reference vectors below were made from (same formula in JavaScript)."""
    out = bytearray(w * h * 4)
    for y in range(h):
        for x in range(w):
            i = (y * w + x) * 4
            out[i] = int(x * 255 / (w - 1))
            out[i + 1] = int(y * 255 / (h - 1))
            out[i + 2] = 230 if (x > w / 2 and y < h / 2) else 40
            out[i + 3] = (0 if (x + y) % 7 == 0 else 200) if alpha else 255
    return bytes(out)


# Made by the vendored reference (static/media_pipeline/thumbhash.js) under Node.
REFERENCE = [
    (32, 21, False, "1cf90d759a807887658877877768787878a008f878"),
    (17, 32, False, "5c090e741c80588688888687888778a008f877"),
    (24, 24, True, "5c098a4d120a8078658887678878a008f878dcfe3c2dddedf2"),
]


@pytest.mark.parametrize(("w", "h", "alpha", "expected"), REFERENCE)
def test_thumbhash_matches_the_reference_encoder(w, h, alpha, expected):
    ours = rgba_to_thumbhash(w, h, reference_pixels(w, h, alpha))
    theirs = bytes.fromhex(expected)
    assert len(ours) == len(theirs)
    assert ours[:5] == theirs[:5]  # header: averages, scales, aspect, alpha flag
    # Each 4-bit term equal, or one step off where the sum's rounding lands on a half.
    for a, b in zip(ours[5:], theirs[5:], strict=True):
        assert abs((a & 15) - (b & 15)) <= 1 and abs((a >> 4) - (b >> 4)) <= 1


def test_thumbhash_round_trip_keeps_layout_colour_and_shape():
    image = Image.new("RGB", (120, 60), (220, 30, 30))
    image.paste((30, 40, 220), (60, 0, 120, 60))  # left red, right blue
    w, h, rgba = thumbhash_to_rgba(thumbhash(image))
    assert w == 32 and 14 <= h <= 20  # about 2:1 (the hash keeps an approximate ratio)
    decoded = Image.frombytes("RGBA", (w, h), rgba)
    left, right = decoded.getpixel((4, 8)), decoded.getpixel((w - 5, 8))
    assert left[0] > left[2] + 80 and right[2] > right[0] + 80
    assert left[3] == right[3] == 255


def test_thumbhash_of_a_transparent_image_keeps_alpha():
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((0, 200, 0, 255), (10, 10, 30, 30))
    hash_ = thumbhash(image)
    assert hash_[2] & 0x80  # the alpha flag
    w, h, rgba = thumbhash_to_rgba(hash_)
    decoded = Image.frombytes("RGBA", (w, h), rgba)
    assert decoded.getpixel((0, 0))[3] < 80 < decoded.getpixel((w // 2, h // 2))[3]


def test_thumbhash_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError, match="100 x 100"):
        rgba_to_thumbhash(101, 10, bytes(101 * 10 * 4))
    with pytest.raises(ValueError):
        rgba_to_thumbhash(2, 2, b"short")
    with pytest.raises(ValueError):
        thumbhash_to_rgba(b"\x01\x02")


def test_dominant_colour_is_the_most_common_one():
    image = Image.new("RGB", (100, 100), (20, 160, 40))
    image.paste((250, 250, 250), (0, 0, 30, 30))
    r, g, b = (int(dominant_colour(image)[i : i + 2], 16) for i in (1, 3, 5))
    assert g > 120 and r < 60 and b < 80


def reencoded(image: Image.Image, quality: int) -> Image.Image:
    return Image.open(io.BytesIO(save_as(image, "JPEG", quality=quality)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_near_duplicates_are_within_the_threshold(seed):
    original = photo_image(480, 320, seed=seed)
    w, h = original.size
    copies = {
        "resized": original.resize((240, 160), Image.Resampling.LANCZOS),
        "re-encoded": reencoded(original, 45),
        "slightly cropped": original.crop((12, 8, w - 12, h - 8)),
        "resized and re-encoded": reencoded(original.resize((320, 213)), 70),
    }
    for what, copy in copies.items():
        assert distance(dhash(original), dhash(copy)) <= THRESHOLD, what


def test_different_pictures_are_beyond_the_threshold():
    hashes = [dhash(photo_image(480, 320, seed=seed)) for seed in range(20, 30)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert distance(a, b) > THRESHOLD
    flat, stripes = Image.new("RGB", (90, 80), "grey"), Image.linear_gradient("L").rotate(270)
    assert distance(dhash(flat), dhash(stripes)) > THRESHOLD


def test_dhash_fits_a_signed_bigint_and_distance_counts_bits():
    value = dhash(Image.linear_gradient("L").rotate(270))  # brighter leftwards: all ones
    assert value == -1  # 64 ones, as a signed bigint
    assert distance(value, value) == 0
    assert distance(0, -1) == 64


def look(data: bytes):
    limits = Limits()
    info = inspect_image(io.BytesIO(data), limits=limits)
    return glance(io.BytesIO(data), info, limits)


def test_the_web_process_takes_only_the_cheap_glances():
    plain = photo_jpeg(1200, 800, seed=4)
    assert len(plain) > QUICK_BYTES
    assert look(plain) is None  # a 1/8 decode of it would slow the 202: left to the worker
    assert look(with_exif_thumbnail(plain)) is not None  # a phone photo
    small = photo_jpeg(320, 240, seed=4)
    assert len(small) <= QUICK_BYTES and look(small) is not None
    tiny_png = save_as(photo_image(120, 90, seed=4), "PNG")
    assert look(tiny_png) is not None
    wide_png = save_as(Image.new("RGB", (1000, 400), "white"), "PNG")  # few bytes, many pixels
    assert len(wide_png) <= QUICK_BYTES and look(wide_png) is None


@pytest.mark.parametrize("engine", ["pillow", "vips"])
def test_the_workers_look_agrees_with_the_exif_thumbnails(engine):
    """The worker takes the look from the pixels it decodes for the thumbnail (both engines
    hand them over before encoding): the same picture as the web process's EXIF look."""
    plain = photo_jpeg(1200, 800, seed=4)
    from_exif = look(with_exif_thumbnail(plain))
    decoded = []
    thumb = [spec for spec in DEFAULT_RENDITIONS if spec.name == "thumb"]
    render_renditions(
        io.BytesIO(plain), thumb, limits=Limits(), engine=engine, on_decoded=decoded.append
    )
    assert [image.size for image in decoded] == [(320, 213)]
    assert decoded[0].mode == "RGB"
    from_decode = glance_at_image(decoded[0])
    assert distance(from_decode.phash, from_exif.phash) <= THRESHOLD
    assert len(from_exif.thumbhash) <= 25
    assert from_exif.colour.startswith("#") and len(from_exif.colour) == 7


def test_glance_turns_the_exif_orientation():
    upright = photo_image(300, 200, seed=5)
    turned = save_as(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90)
    from tests.imagecorpus import orientation_exif

    oriented = save_as(
        upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=orientation_exif(6)
    )
    assert distance(look(oriented).phash, dhash(upright)) <= THRESHOLD
    assert distance(look(turned).phash, dhash(upright)) > THRESHOLD


def test_glance_of_a_small_png_and_none_of_a_large_one():
    small_png = save_as(photo_image(200, 150, seed=6), "PNG")
    seen = look(small_png)
    assert seen is not None
    assert distance(seen.phash, dhash(photo_image(200, 150, seed=6))) <= THRESHOLD
    big_png = save_as(photo_image(800, 600, seed=6), "PNG")
    assert look(big_png) is None  # left to the worker


def test_glance_of_a_damaged_jpeg_is_none_not_an_error():
    data = photo_jpeg(400, 300, seed=7)
    limits = Limits()
    info = inspect_image(io.BytesIO(data), limits=limits)
    damaged = data[:600] + bytes(len(data) - 600)
    glance(io.BytesIO(damaged), info, limits)  # no exception: the worker tells the owner
    assert glance(io.BytesIO(b"not an image at all"), info, limits) is None


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_16_bit_grey_gets_the_placeholder_colour_of_its_renditions(fmt):
    """Scaled to 8 bits as the renditions are (a plain convert("RGB") clipped it to white)."""
    data = save_as(Image.new("I;16", (64, 48), 50000), fmt)  # 50000 / 65535 of white
    seen = look(data)
    assert seen is not None and seen.colour == "#c2c2c2"  # 194, as in the renditions
    thumb = [spec for spec in DEFAULT_RENDITIONS if spec.name == "thumb"]
    _, rendered = render_renditions(io.BytesIO(data), thumb, limits=Limits())
    pixel = Image.open(io.BytesIO(rendered[0].data)).convert("RGB").getpixel((5, 5))
    assert all(abs(v - 194) <= 2 for v in pixel)
    w, h, rgba = thumbhash_to_rgba(seen.thumbhash)
    assert all(abs(v - 194) <= 6 for v in rgba[:3])  # the blurred picture is that grey too


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_the_dominant_colour_of_a_transparent_picture_is_as_laid_on_white():
    """Transparent pixels are not black: the box shows the picture as its JPEG renditions
    do, laid on white (the ThumbHash, with its alpha, is drawn over the box)."""
    logo = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (40, 40, 360, 360))  # 64 % red, the rest transparent black
    assert dominant_colour(logo) == "#ff0000"
    ring = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ring.paste((255, 0, 0, 255), (150, 150, 250, 250))  # 6 % red: mostly nothing, i.e. white
    assert dominant_colour(ring) == "#ffffff"
    half = Image.new("RGBA", (100, 100), (0, 0, 255, 128))
    assert rgb(dominant_colour(half)) == (127, 127, 255)
    assert dominant_colour(Image.new("LA", (10, 10), (0, 0))) == "#ffffff"
    # Through the web's look at a PNG and the worker's at decoded pixels alike.
    assert look(save_as(logo, "PNG")).colour == "#ff0000"
    assert glance_at_image(half).colour == "#7f7fff"
