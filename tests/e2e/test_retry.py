"""Failed uploads tried again in Chromium: the gallery tile, the upload's page, the queue."""

import pytest

from media_pipeline import services
from media_pipeline.models import Upload
from tests.e2e.browser import drop_files, expect, listen, log_in, screenshot, wait_for_images
from tests.e2e.failures import (
    READY_TIMEOUT,
    RENDITION_URL,
    accepted,
    assert_one_set_of_renditions,
    damaged,
    failed_for_real,
    png,
    rendition_count,
    repair,
    script_errors,
    until_final,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def test_a_tile_that_fails_offers_try_again_and_then_shows_the_picture(
    celery_worker, user, live_server, new_page, monkeypatch
):
    good = png(1200, 800, seed=31)
    # Accepted but not published yet, so the page sees it queued, then failing.
    with monkeypatch.context() as held:
        held.setattr(services, "publish_accepted", lambda upload_id: None)
        upload = accepted(user, "harbour.png", damaged(good))
    original = upload.original.name

    page = new_page()
    log_in(page, live_server.url, "alice")
    listen(page)
    tile = page.locator("#gallery .tile").filter(has_text="harbour.png")
    retry = tile.get_by_role("button", name="Try again harbour.png")
    expect(tile.locator(".pill")).to_have_text("Queued")
    expect(tile.locator(".retry-form")).to_be_hidden()

    services.publish_processing(upload.id)
    # The worker fails it; the tile, following it, says why and offers to try again.
    expect(tile.locator(".pill")).to_have_text("Failed", timeout=READY_TIMEOUT)
    failed = Upload.objects.get(id=upload.id)
    assert failed.status == "failed"
    expect(tile.locator(".tile-error")).to_have_text(failed.error)
    expect(retry).to_be_visible()
    screenshot(page, "retry-gallery-failed", full_page=True)

    repair(upload, good)
    page.evaluate(
        """tile => {
            window.pills = [];
            const pill = tile.querySelector('.pill');
            new MutationObserver(() => window.pills.push(pill.textContent))
                .observe(pill, {childList: true, characterData: true, subtree: true});
        }""",
        tile.element_handle(),
    )
    retry.click()
    expect(tile.locator(".pill")).to_have_text("Ready", timeout=READY_TIMEOUT)
    expect(tile.locator("img")).to_have_attribute("src", RENDITION_URL)
    wait_for_images(page)
    expect(tile.locator(".retry-form")).to_be_hidden()
    expect(tile.locator(".tile-error")).to_be_hidden()
    # Back to Queued at once, then followed to Ready without a reload.
    pills = page.evaluate("window.pills")
    assert pills[0] == "Queued" and pills[-1] == "Ready" and "Failed" not in pills, pills
    assert "harbour.png: queued again." in page.evaluate("window.spoken")

    done = Upload.objects.get(id=upload.id)
    assert (done.status, done.error, done.original.name) == ("ready", "", original)
    assert_one_set_of_renditions(done)
    assert Upload.objects.count() == 1
    screenshot(page, "retry-gallery-ready", full_page=True)
    assert new_page.errors == []


def test_the_upload_page_of_a_failed_upload_tries_again_and_shows_the_picture(
    celery_worker, user, live_server, new_page
):
    good = png(1400, 933, seed=32)
    upload = failed_for_real(user, "orchard.png", good)
    repair(upload, good)

    page = new_page()
    log_in(page, live_server.url, "alice")
    page.goto(f"/uploads/{upload.id}/")
    detail = page.locator("#upload-detail")
    expect(detail.locator(".pill")).to_have_text("Failed")
    expect(detail.locator(".error-box")).to_have_text(upload.error)
    retry = page.get_by_role("button", name="Try again", exact=True)
    expect(retry).to_be_visible()
    screenshot(page, "retry-detail-failed", full_page=True)

    retry.click()
    # Queued again at once: the reason and the button go. (The worker may have claimed it,
    # and the page heard so, by the next frame: any state past "Failed" will do.)
    page.wait_for_function(
        """() => {
            const detail = document.getElementById('upload-detail');
            return ['Queued', 'Processing', 'Ready'].includes(
                    detail.querySelector('.pill').textContent)
                && detail.querySelector('.error-box').hidden
                && detail.querySelector('.retry-form').hidden
                && !detail.querySelector('.detail-image').hidden;
        }""",
        polling="raf",
    )
    # Once ready, the page shows the picture and lists each rendition.
    expect(detail.locator(".detail-image img")).to_have_attribute(
        "src", RENDITION_URL, timeout=READY_TIMEOUT
    )
    wait_for_images(page, ".detail-image img")
    expect(detail.locator(".pill")).to_have_text("Ready")
    expect(detail.locator(".error-box")).to_have_count(0)
    expect(retry).to_be_hidden()
    expect(page.locator("table tbody tr")).to_have_count(rendition_count(upload))
    assert_one_set_of_renditions(upload)
    assert Upload.objects.get(id=upload.id).status == "ready"
    screenshot(page, "retry-detail-ready", full_page=True)
    assert new_page.errors == []


def test_a_file_that_fails_in_the_upload_queue_can_be_tried_again_there(
    celery_worker, user, live_server, new_page
):
    good = png(900, 600, seed=33)
    page = new_page()
    log_in(page, live_server.url, "alice")
    drop_files(page, "#dropzone", [("dunes.png", "image/png", damaged(good))])

    row = page.locator("#upload-queue li.row").filter(has_text="dunes.png")
    expect(row).to_have_attribute("data-state", "failed", timeout=READY_TIMEOUT)
    upload = Upload.objects.get(original_name="dunes.png")
    expect(row.locator(".row-message")).to_have_text(upload.error)
    retry = row.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()
    screenshot(page, "retry-queue-failed")

    repair(upload, good)
    retry.click()
    expect(row).to_have_attribute("data-state", "ready", timeout=READY_TIMEOUT)
    thumb = row.locator(".row-thumb img")
    expect(thumb).to_have_attribute("src", RENDITION_URL)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    expect(retry).to_have_count(0)
    expect(row.locator(".row-message")).to_be_hidden()
    # It joins the gallery as it becomes ready, as any upload from this page does.
    expect(
        page.locator("#gallery .tile").filter(has_text="dunes.png").locator("img")
    ).to_have_attribute("src", RENDITION_URL)
    assert_one_set_of_renditions(upload)
    assert Upload.objects.count() == 1
    assert script_errors(new_page.errors) == []


def test_try_again_on_an_upload_already_tried_elsewhere_says_so_and_catches_up(
    celery_worker, user, live_server, new_page
):
    good = png(1000, 750, seed=34)
    upload = failed_for_real(user, "skyline.png", good)
    repair(upload, good)
    page = new_page()
    # A page without the event stream (refused), which therefore does not hear of the retry.
    page.route("**/events/**", lambda route: route.fulfill(status=503, body="away"))
    log_in(page, live_server.url, "alice")
    tile = page.locator("#gallery .tile").filter(has_text="skyline.png")
    retry = tile.get_by_role("button", name="Try again skyline.png")
    expect(retry).to_be_visible()

    # Tried again from another tab, and done, while this page still shows it failed.
    services.retry_upload(upload=upload)
    assert until_final(upload).status == "ready"
    with pytest.raises(services.NotRetryable) as refused:
        services.retry_upload(upload=upload)

    retry.click()
    expect(tile.locator(".retry-note")).to_have_text(str(refused.value))
    expect(tile.locator(".pill")).to_have_text("Ready")
    expect(tile.locator("img")).to_have_attribute("src", RENDITION_URL)
    expect(retry).to_be_hidden()
    expect(tile.locator(".tile-error")).to_be_hidden()
    wait_for_images(page)
    screenshot(page, "retry-gallery-refused")
    assert_one_set_of_renditions(upload)
    assert script_errors(new_page.errors) == []
