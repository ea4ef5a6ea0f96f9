"""The server-rendered pages: gallery, an upload's page, plain form posts, the thumbnail link."""

import pytest

from media_pipeline.models import Rendition, Upload
from media_pipeline.views import GALLERY_PAGE_SIZE
from tests.factories import image_file

pytestmark = pytest.mark.django_db


def make_upload(owner, name="photo.jpg", status="ready", renditions=True) -> Upload:
    upload = Upload.objects.create(
        owner=owner,
        original=f"originals/{name}",
        original_name=name,
        original_format="jpeg",
        status=status,
        width=1600,
        height=1200,
    )
    if renditions:
        for label, width in (("thumb", 320), ("large", 1600)):
            for fmt in ("jpeg", "webp"):
                Rendition.objects.create(
                    upload=upload,
                    name=label,
                    format=fmt,
                    width=width,
                    height=width * 3 // 4,
                    bytes=1000,
                    file=f"renditions/{upload.id}/{label}.{fmt.replace('jpeg', 'jpg')}",
                )
    return upload


def test_gallery_offers_each_format_at_each_size(alice_client, user):
    upload = make_upload(user)
    html = alice_client.get("/").content.decode()
    base = f"/media/renditions/{upload.id}"
    assert (
        f'<source type="image/webp" sizes="(max-width: 600px) 50vw, 260px" '
        f'srcset="{base}/thumb.webp 320w, {base}/large.webp 1600w">'
    ) in html
    assert f'srcset="{base}/thumb.jpg 320w, {base}/large.jpg 1600w" src="{base}/thumb.jpg"' in html


def test_pending_pages_refresh_only_without_javascript(alice_client, user):
    upload = make_upload(user, status="queued", renditions=False)
    for url in ("/", f"/uploads/{upload.id}/"):
        html = alice_client.get(url).content.decode()
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    upload.status = "ready"
    upload.save()
    assert "http-equiv" not in alice_client.get("/").content.decode()


def test_the_script_is_loaded_with_the_csp_nonce(alice_client):
    response = alice_client.get("/")
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    html = response.content.decode()
    assert f'upload.js" nonce="{nonce}"' in html
    assert " on" + "click=" not in html and "style=" not in html


def test_gallery_is_paginated_newest_first(alice_client, user):
    for number in range(GALLERY_PAGE_SIZE + 1):
        make_upload(user, name=f"img-{number:02}.jpg", renditions=False)
    first = alice_client.get("/").content.decode()
    tile = 'class="tile-name" href="/uploads/'
    assert first.count(tile) == GALLERY_PAGE_SIZE
    assert first.index(f"img-{GALLERY_PAGE_SIZE:02}.jpg") < first.index("img-01.jpg")
    assert 'href="?page=2"' in first
    second = alice_client.get("/?page=2").content.decode()
    assert second.count(tile) == 1 and "img-00.jpg" in second
    # A page number that is not one shows the first page rather than an error.
    assert alice_client.get("/?page=lots").status_code == 200


def test_plain_form_post_queues_images_and_names_refused_ones(alice_client, user):
    response = alice_client.post(
        "/",
        {"file": [image_file("good.jpg"), image_file("notes.jpg", b"just some text\n")]},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "good.jpg: queued."
    assert messages[1].startswith("notes.jpg: This file is a text file")
    assert list(Upload.objects.values_list("original_name", flat=True)) == ["good.jpg"]


def test_plain_form_post_without_a_file_says_so(alice_client):
    response = alice_client.post("/", {}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Choose at least one image to upload."
    ]


def test_caption_and_delete_forms_return_to_the_gallery_page_they_came_from(alice_client, user):
    upload = make_upload(user, renditions=False)
    response = alice_client.post(
        f"/uploads/{upload.id}/", {"caption": "  Quay  ", "next": "/?page=1"}
    )
    assert response["Location"] == "/?page=1"
    upload.refresh_from_db()
    assert upload.caption == "Quay"
    response = alice_client.post(f"/uploads/{upload.id}/", {"action": "delete", "next": "/"})
    assert response["Location"] == "/"
    assert not Upload.objects.exists()


@pytest.mark.parametrize("form", [{}, {"action": "archive"}, {"action": "archive", "caption": ""}])
def test_a_post_that_is_no_known_form_changes_nothing(alice_client, user, form):
    upload = make_upload(user, renditions=False)
    Upload.objects.filter(id=upload.id).update(caption="Quay")
    response = alice_client.post(f"/uploads/{upload.id}/", form, follow=True)
    assert "Nothing was changed" in response.content.decode()
    upload.refresh_from_db()
    assert upload.caption == "Quay"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_a_next_address_off_this_site_is_ignored(alice_client, user, target):
    upload = make_upload(user, renditions=False)
    response = alice_client.post(f"/uploads/{upload.id}/", {"caption": "x", "next": target})
    assert response["Location"] == f"/uploads/{upload.id}/"


def test_thumbnail_link_leads_to_the_smallest_jpeg_for_its_owner_only(
    alice_client, user, other_user, client
):
    upload = make_upload(user)
    response = alice_client.get(f"/uploads/{upload.id}/thumbnail")
    assert response.status_code == 302
    assert response["Location"] == f"/media/renditions/{upload.id}/thumb.jpg"
    pending = make_upload(user, name="later.jpg", status="processing", renditions=False)
    assert alice_client.get(f"/uploads/{pending.id}/thumbnail").status_code == 404
    client.force_login(other_user)
    assert client.get(f"/uploads/{upload.id}/thumbnail").status_code == 404


def test_detail_lists_every_rendition_with_its_format_and_size(alice_client, user):
    upload = make_upload(user)
    html = alice_client.get(f"/uploads/{upload.id}/").content.decode()
    assert html.count("<tr><td>") == 4
    assert "<td>WebP</td>" in html and "<td>JPEG</td>" in html
    assert "1600×1200" in html


def test_unknown_page_is_a_404_in_the_sites_look(alice_client):
    response = alice_client.get("/uploads/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert b"not yours to see" in response.content
