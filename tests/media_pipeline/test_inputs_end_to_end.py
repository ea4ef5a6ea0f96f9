"""What people really upload, through the API and a real worker: kept or refused, clearly."""

import io

import pytest
from PIL import Image

from tests import imagecorpus as corpus
from tests.factories import image_file
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.servers import start_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REFUSED = {
    "pdf named .jpg": ("photo.jpg", corpus.pdf_document),
    "html named .jpg": ("photo.jpg", corpus.html_page),
    "svg": ("drawing.svg", corpus.svg_image),
    "text named .jpg": ("notes.jpg", corpus.text_file),
    "zero bytes": ("empty.jpg", corpus.zero_bytes),
    "png bomb": ("bomb.png", corpus.bomb_png),
    "jpeg bomb": ("bomb.jpg", corpus.bomb_jpeg),
    "frames bomb": ("frames.gif", corpus.frames_bomb_gif),
    "png with html appended": ("poly.png", corpus.polyglot_png_html),
    "jpeg with zip appended": ("poly.jpg", corpus.polyglot_jpeg_zip),
    "truncated jpeg": ("cut.jpg", corpus.truncated_jpeg),
    "truncated png": ("cut.png", corpus.truncated_png),
    "corrupt png": ("bad.png", corpus.corrupt_png),
}
ACCEPTED = {
    "animated gif": ("anim.gif", corpus.animated_gif),
    "16-bit png": ("deep.png", corpus.png16_image),
    "cmyk jpeg": ("print.jpg", corpus.cmyk_jpeg),
    "transparent png": ("alpha.png", corpus.rgba_png),
    "palette png": ("pal.png", corpus.palette_png),
    "webp": ("pic.webp", corpus.webp_image),
    "tiff": ("scan.tif", corpus.tiff_image),
    "greyscale jpeg": ("grey.jpg", corpus.greyscale_jpeg),
}


@pytest.fixture(scope="module", params=["pillow", "vips"])
def celery_worker(request, worker_env, purged_queues, tmp_path_factory):
    """A real worker on each imaging engine in turn: both keep and refuse the same files."""
    env = {**worker_env, "MEDIA_IMAGE_ENGINE": request.param}
    log_dir = tmp_path_factory.mktemp(f"worker-logs-{request.param}")
    process = start_worker(queues="media,email,default", env=env, log_dir=log_dir)
    yield process
    process.stop()


@pytest.mark.parametrize("kind", REFUSED)
def test_refused_with_a_clear_reason_and_the_worker_goes_on(kind, celery_worker, alice_client):
    name, make = REFUSED[kind]
    response = alice_client.post("/api/uploads/", {"file": image_file(name, make())})
    if response.status_code == 202:  # refused by the full decode in the worker
        body = wait_until_final(alice_client, response.json()["url"])
        assert body["status"] == "failed", kind
        message = body["error"]
        assert body["renditions"] == []
    else:  # refused at the door by the cheap checks
        assert response.status_code in (400, 413), (kind, response.status_code)
        message = response.json()["error"]
    assert len(message) > 20 and "Traceback" not in message and "Error" not in message, message
    # The worker survived and takes the next upload.
    next_one = alice_client.post("/api/uploads/", {"file": image_file()})
    assert wait_until_final(alice_client, next_one.json()["url"])["status"] == "ready"


@pytest.mark.parametrize("kind", ACCEPTED)
def test_accepted_kinds_become_ready(kind, celery_worker, alice_client):
    name, make = ACCEPTED[kind]
    response = alice_client.post("/api/uploads/", {"file": image_file(name, make())})
    assert response.status_code == 202, response.content
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready", (kind, body["error"])
    assert {r["format"] for r in body["renditions"]} >= {"jpeg", "webp"}


def test_no_rendition_carries_gps_or_camera_data(celery_worker, alice_client):
    response = alice_client.post(
        "/api/uploads/", {"file": image_file("gps.jpg", corpus.jpeg_with_gps())}
    )
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready"
    for rendition in body["renditions"]:
        data = b"".join(alice_client.get(rendition["url"]).streaming_content)
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            assert 0x8825 not in exif  # GPS IFD
            assert 0x010F not in exif and 0x0110 not in exif  # camera make and model
        assert b"GPS" not in data and b"xmp" not in data.lower()
