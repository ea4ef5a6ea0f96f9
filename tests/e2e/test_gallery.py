"""The gallery in Chromium: captions edited in place, the detail page, delete, privacy."""

import pytest
from django.core.files.storage import default_storage

from media_pipeline.models import Rendition, Upload
from tests.e2e.browser import expect, log_in, screenshot, upload_and_wait, wait_for_images
from tests.imagecorpus import photo_jpeg
from tests.servers import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

PHOTOS = [
    ("harbour.jpg", photo_jpeg(1600, 1067, seed=11)),
    ("orchard.jpg", photo_jpeg(1200, 1600, seed=12)),
    ("skyline.jpg", photo_jpeg(1800, 1000, seed=13)),
    ("garden.jpg", photo_jpeg(1400, 1050, seed=14)),
]


def tile(page, name: str):
    return page.locator("#gallery .tile").filter(has_text=name)


def stored_names(upload: Upload) -> list[str]:
    return [
        upload.original.name,
        *Rendition.objects.filter(upload=upload).values_list("file", flat=True),
    ]


def test_caption_edited_in_the_gallery_is_kept_and_every_size_is_listed(
    celery_worker, user, live_server, new_page
):
    page = new_page()
    log_in(page, live_server.url, "alice")
    upload_and_wait(page, PHOTOS)

    caption = tile(page, "harbour.jpg").get_by_label("Caption of harbour.jpg")
    caption.fill("Boats at first light")
    caption.press("Enter")
    expect(tile(page, "harbour.jpg").locator(".form-note")).to_have_text("Saved")
    tile(page, "orchard.jpg").get_by_label("Caption of orchard.jpg").fill("Apple trees in May")
    tile(page, "orchard.jpg").get_by_role("button", name="Save").click()
    expect(tile(page, "orchard.jpg").locator(".form-note")).to_have_text("Saved")

    page.reload()
    expect(tile(page, "harbour.jpg").get_by_label("Caption of harbour.jpg")).to_have_value(
        "Boats at first light"
    )
    expect(tile(page, "harbour.jpg").locator("img")).to_have_attribute(
        "alt", "Boats at first light"
    )
    assert Upload.objects.get(original_name="orchard.jpg").caption == "Apple trees in May"

    # Newest first, each with a <picture> offering WebP and JPEG at every size.
    names = page.locator("#gallery .tile-name").all_inner_texts()
    newest_first = Upload.objects.order_by("-created_at").values_list("original_name", flat=True)
    assert names == list(newest_first)
    assert sorted(names) == sorted(name for name, _ in PHOTOS)
    sources = tile(page, "skyline.jpg").locator("picture source[type='image/webp']")
    assert sources.get_attribute("srcset").count("w") >= 3
    wait_for_images(page)
    screenshot(page, "gallery", full_page=True)

    phone = new_page(viewport={"width": 390, "height": 844})
    log_in(phone, live_server.url, "alice")
    wait_for_images(phone)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "gallery-phone", full_page=True)

    tile(page, "harbour.jpg").get_by_role("link", name="harbour.jpg").click()
    upload = Upload.objects.get(original_name="harbour.jpg")
    page.wait_for_url(f"**/uploads/{upload.id}/")
    rows = page.locator("table tbody tr")
    renditions = list(Rendition.objects.filter(upload=upload))
    expect(rows).to_have_count(len(renditions))
    for rendition in renditions:
        cells = rows.filter(has_text=f"{rendition.width}×{rendition.height}").filter(
            has_text=rendition.format.upper()
        )
        expect(cells).to_have_count(1)
        expect(cells.locator("td").nth(0)).to_have_text(rendition.name)
    expect(page.get_by_label("Caption")).to_have_value("Boats at first light")
    screenshot(page, "detail", full_page=True)
    assert new_page.errors == []


def test_delete_removes_the_upload_and_its_files(celery_worker, user, live_server, new_page):
    page = new_page()
    log_in(page, live_server.url, "alice")
    upload_and_wait(page, PHOTOS[:2])
    gone, kept = (Upload.objects.get(original_name=name) for name, _ in PHOTOS[:2])
    gone_files, kept_files = stored_names(gone), stored_names(kept)
    assert len(gone_files) > 1
    assert all(default_storage.exists(name) for name in gone_files + kept_files)

    page.once("dialog", lambda dialog: dialog.accept())
    tile(page, "harbour.jpg").get_by_role("button", name="Delete harbour.jpg").click()
    expect(tile(page, "harbour.jpg")).to_have_count(0)
    wait_for(lambda: not Upload.objects.filter(id=gone.id).exists(), what="the row to go")
    wait_for(
        lambda: not any(default_storage.exists(name) for name in gone_files),
        what="its files to leave storage",
    )
    assert all(default_storage.exists(name) for name in kept_files)
    page.reload()
    expect(tile(page, "harbour.jpg")).to_have_count(0)
    expect(tile(page, "orchard.jpg")).to_have_count(1)

    # Cancelling the question keeps it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    tile(page, "orchard.jpg").get_by_role("button", name="Delete orchard.jpg").click()
    expect(tile(page, "orchard.jpg")).to_have_count(1)

    # From its own page, too; then the (now empty) gallery.
    tile(page, "orchard.jpg").get_by_role("link", name="orchard.jpg").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete this image").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("#gallery-empty")).to_be_visible()
    wait_for(
        lambda: not any(default_storage.exists(name) for name in kept_files),
        what="the second upload's files to leave storage",
    )


def test_another_user_cannot_see_or_fetch_the_first_users_uploads(
    celery_worker, user, other_user, live_server, new_page
):
    alice = new_page()
    log_in(alice, live_server.url, "alice")
    upload_and_wait(alice, PHOTOS[:1])
    upload = Upload.objects.get(owner=user)
    api_url = f"/api/uploads/{upload.id}/"
    body = alice.request.get(api_url).json()
    file_urls = [body["original"]["url"], *(r["url"] for r in body["renditions"])]
    assert len(file_urls) > 2
    for url in file_urls:
        assert alice.request.get(url).status == 200, url

    bob = new_page()
    log_in(bob, live_server.url, "bob")
    expect(bob.locator("#gallery .tile")).to_have_count(0)
    expect(bob.locator("#gallery-empty")).to_be_visible()
    assert bob.request.get("/api/uploads/").json() == {"results": []}

    for url in (f"/uploads/{upload.id}/", f"/uploads/{upload.id}/thumbnail", *file_urls):
        response = bob.goto(url)
        assert response.status == 404, url
        assert "harbour" not in bob.content()
    csrf = next(c["value"] for c in bob.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": csrf, "Referer": live_server.url + "/"}
    assert bob.request.get(api_url).status == 404
    assert bob.request.patch(api_url, data={"caption": "mine"}, headers=headers).status == 404
    assert bob.request.delete(api_url, headers=headers).status == 404
    assert (
        bob.request.post(
            f"/uploads/{upload.id}/", form={"action": "delete"}, headers=headers
        ).status
        == 404
    )

    upload.refresh_from_db()
    assert upload.caption == ""
    assert all(default_storage.exists(name) for name in stored_names(upload))
