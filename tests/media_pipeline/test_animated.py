"""An animated GIF is said to be animated: in the API and on the pages."""

import re

import pytest

from media_pipeline import services
from media_pipeline.models import Upload
from tests.factories import image_file
from tests.imagecorpus import animated_gif

pytestmark = pytest.mark.django_db

MARK = "Animated · first frame shown"


def post_gif(client):
    gif = image_file("dancing.gif", animated_gif(frames=2, size=(40, 30)), "image/gif")
    return client.post("/api/uploads/", {"file": gif})


def visible_marks(html: str) -> list[str]:
    return re.findall(r'<p class="hint animated-mark">([^<]*)</p>', html)


def test_a_two_frame_gif_is_animated_in_the_api(alice_client):
    response = post_gif(alice_client)
    assert response.status_code == 202
    assert response.json()["animated"] is True
    assert alice_client.get(response.json()["url"]).json()["animated"] is True
    listed = alice_client.get("/api/uploads/").json()["results"]
    assert [item["animated"] for item in listed] == [True]


def test_a_still_image_is_not_animated(alice_client):
    response = alice_client.post("/api/uploads/", {"file": image_file()})
    assert response.json()["animated"] is False
    assert visible_marks(alice_client.get("/").content.decode()) == []


def test_processing_keeps_it_animated(alice_client):
    body = post_gif(alice_client).json()
    services.process_upload(upload_id=body["id"])
    upload = Upload.objects.get(id=body["id"])
    assert upload.status == Upload.Status.READY and upload.animated
    assert alice_client.get(body["url"]).json()["animated"] is True


def test_the_tile_and_the_page_show_the_mark(alice_client):
    body = post_gif(alice_client).json()
    assert visible_marks(alice_client.get("/").content.decode()) == [MARK]
    page = alice_client.get(body["page"]).content.decode()
    assert "Animated: the picture and its sizes show the first frame" in page
