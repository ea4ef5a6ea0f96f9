"""A small source end to end (real worker): one file per size and format, no duplicates."""

import re

import pytest
from django.core.files.storage import default_storage

from media_pipeline.models import Rendition
from tests.factories import image_file, jpeg_bytes
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.servers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_300_px_source_is_stored_once_per_format(celery_worker, alice_client, inbox):
    response = alice_client.post(
        "/api/uploads/", {"file": image_file("badge.jpg", jpeg_bytes(300, 200))}
    )
    assert response.status_code == 202
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready", body["error"]

    # The API lists what is stored: each size once per format, under the smallest name.
    listed = [(r["name"], r["format"], r["width"], r["height"]) for r in body["renditions"]]
    assert sorted(listed) == [("thumb", "jpeg", 300, 200), ("thumb", "webp", 300, 200)]
    _, stored = default_storage.listdir(f"renditions/{body['id']}")
    assert sorted(stored) == ["thumb.jpg", "thumb.webp"]
    assert Rendition.objects.filter(upload_id=body["id"]).count() == 2

    # The page offers one candidate per format; its table lists the two files.
    page = alice_client.get(body["page"]).content.decode()
    for srcset in re.findall(r'srcset="([^"]*)"', page):
        assert len(srcset.split(", ")) == 1, srcset
    assert page.count("<td><a href=") == 2

    # The email still links the thumbnail, which leads to the stored JPEG.
    message = wait_for(lambda: inbox.to("alice@example.com"), what="the ready email")[0]
    html = message.get_body(("html",)).get_content()
    assert f"/uploads/{body['id']}/thumbnail" in html
    thumbnail = alice_client.get(f"/uploads/{body['id']}/thumbnail")
    assert thumbnail.status_code == 302 and thumbnail["Location"].endswith("thumb.jpg")
