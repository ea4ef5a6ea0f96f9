"""The library's pages without JavaScript: search and filters, alt text, bulk forms."""

import re

import pytest

from media_pipeline.models import Upload
from media_pipeline.views import GALLERY_PAGE_SIZE
from tests.media_pipeline.test_pages import make_upload

pytestmark = pytest.mark.django_db


def tile_names(html: str) -> list[str]:
    return re.findall(r'class="tile-name" href="[^"]+">([^<]+)</a>', html)


def img_alts(html: str) -> list[str]:
    return re.findall(r'<img sizes="[^"]*" srcset="[^"]*" src="[^"]*" [^>]*alt="([^"]*)"', html)


def test_the_gallery_searches_and_filters_on_the_server(alice_client, user, other_user):
    harbour = make_upload(user, "harbour.jpg")
    Upload.objects.filter(id=harbour.id).update(caption="Boats at dawn")
    make_upload(user, "kite.jpg", status="failed", renditions=False)
    make_upload(other_user, "boats.jpg")

    assert tile_names(alice_client.get("/?q=boats").content.decode()) == ["harbour.jpg"]
    assert tile_names(alice_client.get("/?status=failed").content.decode()) == ["kite.jpg"]
    html = alice_client.get("/?status=nonsense").content.decode()
    assert "Unknown status" in html
    assert sorted(tile_names(html)) == ["harbour.jpg", "kite.jpg"]  # the rest still applies
    html = alice_client.get("/?q=nothing-like-it").content.decode()
    assert tile_names(html) == [] and "No images match" in html


def test_the_pages_keep_the_filter(alice_client, user):
    for n in range(GALLERY_PAGE_SIZE + 1):
        make_upload(user, f"p{n}.jpg", renditions=False)
    html = alice_client.get("/?format=jpeg&q=p").content.decode()
    assert 'href="?q=p&amp;format=jpeg&amp;page=2"' in html


def test_img_alt_is_the_alt_text_else_the_caption_else_empty_and_flagged(alice_client, user):
    make_upload(user, "plain.jpg")
    Upload.objects.filter(original_name="plain.jpg").update(created_at="2026-01-01T00:00Z")
    captioned = make_upload(user, "captioned.jpg")
    Upload.objects.filter(id=captioned.id).update(caption="Boats", created_at="2026-01-02T00:00Z")
    described = make_upload(user, "described.jpg")
    Upload.objects.filter(id=described.id).update(
        caption="Boats", alt_text="Three boats at a quay", created_at="2026-01-03T00:00Z"
    )
    html = alice_client.get("/").content.decode()
    # Never the file name: for a screen reader it says nothing about the picture.
    assert img_alts(html) == ["Three boats at a quay", "Boats", ""]
    assert html.count('<span class="alt-flag">Needs alt text</span>') == 2
    assert "2 need alt text" in html
    page = alice_client.get(f"/uploads/{described.id}/").content.decode()
    assert img_alts(page) == ["Three boats at a quay"]
    assert tile_names(alice_client.get("/?alt=missing").content.decode()) == [
        "captioned.jpg",
        "plain.jpg",
    ]


def test_alt_text_and_description_form_of_the_upload_page(alice_client, user):
    upload = make_upload(user)
    url = f"/uploads/{upload.id}/"
    response = alice_client.post(
        url, {"action": "texts", "alt_text": " A kite ", "description": "Windy day"}, follow=True
    )
    assert "saved" in response.content.decode()
    upload.refresh_from_db()
    assert (upload.alt_text, upload.description) == ("A kite", "Windy day")

    response = alice_client.post(url, {"action": "texts", "alt_text": "x" * 251}, follow=True)
    assert "at most 250 characters" in response.content.decode()
    upload.refresh_from_db()
    assert upload.alt_text == "A kite"


def test_the_bulk_form_deletes_or_retries_the_ticked_uploads_of_their_owner(
    alice_client, user, other_user
):
    ticked = make_upload(user, "ticked.jpg")
    failed = make_upload(user, "failed.jpg", status="failed", renditions=False)
    bobs = make_upload(other_user, "bobs.jpg")
    response = alice_client.post(
        "/uploads/bulk/",
        {"action": "delete", "ids": [str(ticked.id), str(bobs.id)], "next": "/?q=x"},
    )
    assert response.status_code == 302 and response["Location"] == "/?q=x"
    assert set(Upload.objects.values_list("original_name", flat=True)) == {
        "failed.jpg",
        "bobs.jpg",
    }

    response = alice_client.post("/uploads/bulk/", {"action": "retry", "ids": [str(failed.id)]})
    assert Upload.objects.get(id=failed.id).status == "queued"
    html = alice_client.get(response["Location"]).content.decode()
    assert "1 queued again." in html

    response = alice_client.post("/uploads/bulk/", {"action": "delete"}, follow=True)
    assert "Tick at least one image first." in response.content.decode()
    assert Upload.objects.count() == 2


def test_the_ready_emails_thumbnail_says_the_alt_text(user, django_capture_on_commit_callbacks):
    from mailer.models import OutgoingEmail
    from media_pipeline import services

    upload = make_upload(user, "kite.jpg")
    Upload.objects.filter(id=upload.id).update(caption="Kite", alt_text="A red kite over dunes")
    services.notify_owner(upload_id=upload.id, kind="upload_ready")
    # A link's image: its alt text names the link, so it falls back as far as the file name.
    assert 'alt="A red kite over dunes"' in OutgoingEmail.objects.get().body_html
