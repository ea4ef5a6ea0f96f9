"""With JavaScript off: the plain form post, a page that refreshes itself, plain forms."""

import io
import re

import pytest

from media_pipeline import imaging
from media_pipeline.models import Upload
from tests.e2e.browser import expect, log_in, screenshot
from tests.imagecorpus import photo_jpeg, text_file

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def test_upload_caption_and_delete_work_without_javascript(
    celery_worker, user, live_server, new_page
):
    page = new_page(java_script_enabled=False)
    log_in(page, live_server.url, "alice")
    expect(page.locator("#dropzone .dropzone-title")).to_be_hidden()

    page.get_by_label("Choose one or more images").set_input_files(
        [
            {
                "name": "harbour.jpg",
                "mimeType": "image/jpeg",
                "buffer": photo_jpeg(1200, 800, seed=21),
            },
            # One long word in the refusal: it wraps on a phone (below).
            {"name": f"notes-{'x' * 290}.jpg", "mimeType": "image/jpeg", "buffer": text_file()},
        ]
    )
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{live_server.url}/")
    with pytest.raises(imaging.InvalidImageError) as refused:
        imaging.inspect_image(io.BytesIO(text_file()), limits=imaging.Limits())
    messages = page.locator(".messages")
    expect(messages).to_contain_text("harbour.jpg: queued.")
    expect(messages.locator("li.error")).to_have_text(
        re.compile(r"notes-x{200,}\.jpg: " + re.escape(str(refused.value)))
    )
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.set_viewport_size({"width": 1280, "height": 900})

    # No script polls: the page reloads itself until the image is ready.
    tile = page.locator("#gallery .tile").filter(has_text="harbour.jpg")
    expect(tile.locator("img")).to_have_attribute(
        "src", re.compile("/media/renditions/"), timeout=120_000
    )
    expect(tile.locator(".pill")).to_have_text("Ready")
    screenshot(page, "gallery-without-javascript", full_page=True)

    tile.get_by_label("Caption of harbour.jpg").fill("The quay")
    tile.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".messages")).to_contain_text("Caption of harbour.jpg saved.")
    expect(page.get_by_label("Caption of harbour.jpg")).to_have_value("The quay")

    page.get_by_role("link", name="harbour.jpg").click()
    expect(page.locator("table tbody tr")).to_have_count(
        Upload.objects.get(original_name="harbour.jpg").renditions.count()
    )
    page.get_by_role("button", name="Delete this image").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".messages")).to_contain_text("harbour.jpg deleted.")
    expect(page.locator("#gallery-empty")).to_be_visible()
    assert not Upload.objects.exists()


def test_a_failed_upload_is_tried_again_without_javascript(
    celery_worker, user, live_server, new_page
):
    from media_pipeline import services
    from tests.e2e.failures import (
        RENDITION_URL,
        assert_one_set_of_renditions,
        failed_for_real,
        png,
        repair,
    )

    good = png(1200, 800, seed=35)
    upload = failed_for_real(user, "harbour.png", good)
    repair(upload, good)
    page = new_page(java_script_enabled=False)
    log_in(page, live_server.url, "alice")
    # A second tab on the upload's own page, opened while it is still failed.
    stale = new_page(java_script_enabled=False)
    log_in(stale, live_server.url, "alice")
    stale.goto(f"/uploads/{upload.id}/")
    expect(stale.locator(".error-box")).to_have_text(upload.error)

    tile = page.locator("#gallery .tile").filter(has_text="harbour.png")
    expect(tile.locator(".pill")).to_have_text("Failed")
    expect(tile.locator(".tile-error")).to_have_text(upload.error)
    tile.get_by_role("button", name="Try again harbour.png").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".messages")).to_contain_text("harbour.png: queued again.")
    # The page reloads itself until the image is ready.
    expect(tile.locator("img")).to_have_attribute("src", RENDITION_URL, timeout=120_000)
    expect(tile.locator(".pill")).to_have_text("Ready")
    expect(tile.locator(".retry-form")).to_be_hidden()
    screenshot(page, "retry-without-javascript", full_page=True)
    assert_one_set_of_renditions(upload)

    # The other tab's button, now out of date: the server says why nothing happens.
    with pytest.raises(services.NotRetryable) as refused:
        services.retry_upload(upload=upload)
    with stale.expect_navigation():
        stale.get_by_role("button", name="Try again", exact=True).click()
    assert stale.url == f"{live_server.url}/uploads/{upload.id}/"
    expect(stale.locator(".messages li.error")).to_have_text(f"harbour.png: {refused.value}")
    expect(stale.locator("#upload-detail .pill")).to_have_text("Ready")
    assert_one_set_of_renditions(upload)
