"""HEIC photos (iPhones): accepted, turned upright once, stripped, alike on both engines.

The samples are written here with pillow-heif (HEVC, as an iPhone writes them): a plain photo,
one whose EXIF says orientation 6 (pillow-heif stores that as the HEIF irot turn and keeps the
EXIF tag, as iPhones do) with a GPS block, a two-picture container whose primary picture is
the second, damaged files, and files whose boxes declare a picture far larger than its crop.
"""

import io
import struct

import pytest
from PIL import Image

from media_pipeline.imaging import (
    CorruptImage,
    ImageTooLarge,
    InvalidImageError,
    Limits,
    RenditionSpec,
    inspect_image,
    render_renditions,
)
from media_pipeline.imaging.heif import register
from tests import imagecorpus as corpus
from tests.factories import image_file
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.servers import start_worker

LIMITS = Limits()
ENGINES = ("pillow", "vips")
SPECS = (RenditionSpec("thumb", 32), RenditionSpec("large", 2048, ("jpeg", "webp", "avif")))
GREEN, YELLOW = (0, 200, 0), (240, 220, 0)
CORNER = 4  # pixels in from a corner where a marked block's colour is read


def heic(im: Image.Image, **save_kwargs) -> bytes:
    assert register(), "pillow-heif is a runtime requirement"
    buffer = io.BytesIO()
    im.save(buffer, "HEIF", quality=90, **save_kwargs)
    return buffer.getvalue()


def gps_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[corpus.ORIENTATION_TAG] = orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[corpus.GPS_IFD_TAG] = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.0)}
    return exif.tobytes()


def plain_heic() -> bytes:
    return heic(corpus.photo_image(64, 48, seed=11))


def rotated_heic() -> bytes:
    """Displays as marked_image(64, 48); stores it turned, with orientation 6, GPS and a Make."""
    stored = corpus.stored_for(corpus.marked_image(64, 48), 6)
    return heic(stored, exif=gps_exif(6))


def burst_heic() -> bytes:
    """Two pictures: a green 32 x 24 first, and the primary, a yellow 40 x 30, second."""
    import pillow_heif

    container = pillow_heif.from_pillow(Image.new("RGB", (32, 24), GREEN))
    container.add_from_pillow(Image.new("RGB", (40, 30), YELLOW))
    buffer = io.BytesIO()
    container.save(buffer, quality=90, primary_index=1)
    return buffer.getvalue()


def declaring(data: bytes, width: int, height: int) -> bytes:
    """`data` with its (only) ispe box declaring width x height: libheif still reports the
    small crop (clap) as the picture's size, but would decode the whole declared picture."""
    assert data.count(b"ispe") == 1
    at = data.index(b"ispe") + 8  # after the type, and the full box's version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def garbled(data: bytes, coded: bytes) -> bytes:
    """`data` with the coded picture (the mdat box's content) replaced by `coded`, cut or
    padded to its length: the boxes are fine, the pixels are not."""
    start = data.index(b"mdat") + 4
    return data[:start] + coded[: len(data) - start].ljust(len(data) - start, b"\0")


def render(data: bytes, engine: str, specs=SPECS):
    return render_renditions(io.BytesIO(data), specs, limits=LIMITS, engine=engine)


def rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def close(found, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(found, expected, strict=True))


# --- accepted -------------------------------------------------------------------------------------


def test_a_heic_is_sniffed_and_checked_from_its_header():
    info = inspect_image(io.BytesIO(plain_heic()), limits=LIMITS)
    assert (info.format, info.mime_type, info.width, info.height) == ("heic", "image/heic", 64, 48)
    assert (info.frames, info.animated) == (1, False)


@pytest.mark.parametrize("engine", ENGINES)
def test_renditions_of_a_heic_are_the_usual_formats_and_sizes(engine):
    info, renditions = render(plain_heic(), engine)
    assert (info.format, info.width, info.height) == ("heic", 64, 48)
    made = [(r.name, r.format, r.width, r.height, r.content_type) for r in renditions]
    assert made == [
        ("thumb", "jpeg", 32, 24, "image/jpeg"),
        ("thumb", "webp", 32, 24, "image/webp"),
        ("large", "jpeg", 64, 48, "image/jpeg"),
        ("large", "webp", 64, 48, "image/webp"),
        ("large", "avif", 64, 48, "image/avif"),
    ]
    for rendition in renditions:
        with Image.open(io.BytesIO(rendition.data)) as im:
            assert im.format == {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[rendition.format]
            assert im.size == (rendition.width, rendition.height)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_turned_heic_is_shown_upright_once_without_gps(engine):
    data = rotated_heic()
    assert b"irot" in data  # the turn is in the file's own boxes, and also in its EXIF
    info, renditions = render(data, engine)
    assert (info.width, info.height) == (64, 48)
    for rendition in renditions:
        im = rgb(rendition.data)
        assert im.size == (64, 48) if rendition.name == "large" else (32, 24)
        w, h = im.size
        assert close(im.getpixel((CORNER // 2, CORNER // 2)), corpus.RED), rendition
        assert close(im.getpixel((w - 1 - CORNER // 2, CORNER // 2)), corpus.BLUE), rendition
        assert close(im.getpixel((w // 2, h - 1 - CORNER // 2)), corpus.GREY), rendition
        with Image.open(io.BytesIO(rendition.data)) as opened:
            exif = opened.getexif()
        assert corpus.GPS_IFD_TAG not in exif and 0x010F not in exif
        assert exif.get(corpus.ORIENTATION_TAG, 1) == 1
        assert b"GPS" not in rendition.data and b"SecretCam" not in rendition.data


@pytest.mark.parametrize("engine", ENGINES)
def test_a_burst_container_renders_its_primary_picture(engine):
    data = burst_heic()
    info = inspect_image(io.BytesIO(data), limits=LIMITS)
    assert (info.width, info.height, info.frames, info.animated) == (40, 30, 1, False)
    _, renditions = render(data, engine)
    large = rgb(next(r for r in renditions if r.name == "large").data)
    assert large.size == (40, 30)
    assert close(large.getpixel((20, 15)), YELLOW)


def test_both_engines_give_the_same_renditions():
    for make in (plain_heic, rotated_heic, burst_heic):
        data = make()
        pillow_info, pillow = render(data, "pillow")
        vips_info, vips = render(data, "vips")
        assert pillow_info == vips_info
        assert [(r.name, r.format, r.width, r.height) for r in pillow] == [
            (r.name, r.format, r.width, r.height) for r in vips
        ]
        for a, b in zip(pillow, vips, strict=True):
            ours, theirs = rgb(a.data), rgb(b.data)
            for xy in ((1, 1), (ours.width - 2, 1), (ours.width // 2, ours.height // 2)):
                assert close(ours.getpixel(xy), theirs.getpixel(xy), 48), (make.__name__, a.name)


# --- refused --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "words"),
    [
        (20000, 15000, ["20000 × 15000", "12000"]),  # a side over MEDIA_MAX_DIMENSION
        (11000, 11000, ["121 megapixels", "64 megapixels"]),  # too many pixels
        (100000, 100000, ["100000 × 100000"]),  # beyond libheif's own limit too
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_heic_declaring_a_huge_picture_behind_a_small_crop_is_refused(
    engine, width, height, words
):
    data = declaring(plain_heic(), width, height)
    with pytest.raises(ImageTooLarge) as refused:
        inspect_image(io.BytesIO(data), limits=LIMITS)
    assert refused.value.code == "too_many_pixels"
    for word in words:
        assert word in str(refused.value)
    with pytest.raises(ImageTooLarge):
        render(data, engine)


@pytest.mark.parametrize(
    "coded",
    [b"", b"\x7f\xff\xff\xff"],  # zeros; a coded unit said to run past the end of the file
    ids=["zeros", "overlong"],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_heic_whose_picture_is_damaged_fails_cleanly(engine, coded):
    data = garbled(plain_heic(), coded)
    inspect_image(io.BytesIO(data), limits=LIMITS)  # the header is fine: the worker finds out
    with pytest.raises(CorruptImage) as refused:
        render(data, engine)
    assert refused.value.code == "undecodable"
    assert "HEIC file is damaged" in str(refused.value)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: plain_heic()[:-100], "truncated"),  # cut off: its last box runs past the end
        (lambda: plain_heic()[:200], "truncated"),
        (lambda: declaring(plain_heic(), 64, 48)[:24] + bytes(8), "undecodable"),
    ],
)
def test_a_broken_heic_is_refused_at_the_door(make, code):
    with pytest.raises(InvalidImageError) as refused:
        inspect_image(io.BytesIO(make()), limits=LIMITS)
    assert refused.value.code == code
    assert "HEIC" in str(refused.value)


# --- the web check --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_upload_api_accepts_a_heic_and_refuses_a_broken_one(alice_client):
    response = alice_client.post(
        "/api/uploads/", {"file": image_file("IMG_0001.HEIC", rotated_heic(), "image/heic")}
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["original"]["format"] == "heic"
    assert (body["original"]["width"], body["original"]["height"]) == (64, 48)

    response = alice_client.post(
        "/api/uploads/", {"file": image_file("IMG_0002.HEIC", plain_heic()[:-100], "image/heic")}
    )
    assert response.status_code == 400
    assert "HEIC file is incomplete" in response.json()["error"]


@pytest.fixture(scope="module", params=ENGINES)
def engine_worker(request, worker_env, purged_queues, tmp_path_factory):
    """A real worker on each imaging engine in turn."""
    env = {**worker_env, "MEDIA_IMAGE_ENGINE": request.param}
    log_dir = tmp_path_factory.mktemp(f"worker-logs-heic-{request.param}")
    process = start_worker(queues="media,email,default", env=env, log_dir=log_dir)
    yield process
    process.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_iphone_photo_becomes_ready_upright_and_without_gps(engine_worker, alice_client):
    response = alice_client.post(
        "/api/uploads/", {"file": image_file("IMG_0003.HEIC", rotated_heic(), "image/heic")}
    )
    assert response.status_code == 202, response.content
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready", body["error"]
    assert {r["format"] for r in body["renditions"]} >= {"jpeg", "webp"}
    assert "heic" not in {r["format"] for r in body["renditions"]}
    for rendition in body["renditions"]:
        data = b"".join(alice_client.get(rendition["url"]).streaming_content)
        im = rgb(data)
        assert im.size == (rendition["width"], rendition["height"])
        assert im.width > im.height  # shown as displayed, not as stored
        assert close(im.getpixel((1, 1)), corpus.RED), rendition["name"]
        assert b"GPS" not in data and b"SecretCam" not in data
