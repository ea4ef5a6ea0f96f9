"""Live pages in Chromium: the placeholder at once, the thumbnail before the larger sizes,
a second tab following along without reloading, polling when the stream is refused, and
the duplicate notice with keep and drop."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from media_pipeline import services
from media_pipeline.models import Upload
from tests.e2e.browser import expect, log_in, screenshot
from tests.e2e.failures import READY_TIMEOUT
from tests.imagecorpus import photo_jpeg, with_exif_thumbnail
from tests.servers import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def held(monkeypatch, settings):
    """Uploads are accepted but not handed to the worker until the test publishes them
    (as if every worker were busy); event streams short, so the server's threads free up."""
    settings.MEDIA_EVENTS_STREAM_SECONDS = 8
    monkeypatch.setattr(services, "publish_accepted", lambda upload_id: None)


def choose(page, name: str, data: bytes) -> None:
    page.locator("#id_file").set_input_files(
        [{"name": name, "mimeType": "image/jpeg", "buffer": data}]
    )


def tile(page, name: str):
    return page.locator("#gallery .tile").filter(has_text=name)


def api_reads(page, log: list[str]) -> None:
    """Record the page's reads of single uploads from the API (what polling does)."""
    page.on(
        "request",
        lambda r: log.append(r.url) if "/api/uploads/" in r.url and r.method == "GET" else None,
    )


def test_placeholder_then_thumbnail_then_ready_in_two_tabs_without_polling(
    celery_worker, user, live_server, new_page, held
):
    first_tab = new_page()
    log_in(first_tab, live_server.url, "alice")
    second_tab = first_tab.context.new_page()
    second_tab.goto(f"{live_server.url}/")
    polled: list[str] = []
    api_reads(first_tab, polled)
    api_reads(second_tab, polled)

    # A phone photo: its EXIF thumbnail gives the placeholder in the 202 (a large JPEG
    # without one gets it from the worker's first decode, tests/media_pipeline).
    choose(first_tab, "harbour.jpg", with_exif_thumbnail(photo_jpeg(2400, 1600, seed=21)))
    upload = wait_for(lambda: Upload.objects.filter(original_name="harbour.jpg").first())
    # The other tab hears of it at once, and both show its blurred placeholder while queued.
    for page in (second_tab, first_tab):
        expect(tile(page, "harbour.jpg").locator(".pill")).to_have_text("Queued")
        placeholder = tile(page, "harbour.jpg").locator(".placeholder-image")
        expect(placeholder).to_have_attribute("src", re.compile(r"^data:image/png"))
    detail = first_tab.context.new_page()
    detail.goto(f"{live_server.url}/uploads/{upload.id}/")
    expect(detail.locator(".detail-image .placeholder-image")).to_be_visible()
    screenshot(second_tab, "live-placeholder-second-tab")
    screenshot(detail, "live-placeholder-detail")

    # The larger sizes are held up (a folder where their file goes): the thumbnail shows.
    blocked = Path(settings.MEDIA_ROOT, "renditions", str(upload.id), "medium.jpg")
    blocked.mkdir(parents=True)
    services.publish_processing(upload.id)
    for page in (second_tab, detail):
        image = (tile(page, "harbour.jpg") if page is second_tab else detail).locator("picture img")
        expect(image).to_have_attribute("src", re.compile(r"/thumb\."), timeout=READY_TIMEOUT)
    expect(tile(second_tab, "harbour.jpg").locator(".pill")).to_have_text("Processing")
    assert Upload.objects.get(id=upload.id).status == "processing"
    screenshot(second_tab, "live-thumbnail-before-large")

    blocked.rmdir()
    for page in (first_tab, second_tab):
        expect(tile(page, "harbour.jpg").locator(".pill")).to_have_text(
            "Ready", timeout=READY_TIMEOUT
        )
        expect(tile(page, "harbour.jpg").locator("picture img")).to_have_attribute(
            "srcset", re.compile(r"/large\.")
        )
    expect(detail.locator(".pill").first).to_have_text("Ready", timeout=READY_TIMEOUT)
    assert polled == []  # everything came over the event stream


def test_the_page_polls_when_the_event_stream_is_refused(
    celery_worker, user, live_server, new_page
):
    page = new_page()
    page.route("**/events/**", lambda route: route.fulfill(status=503, body="no"))
    log_in(page, live_server.url, "alice")
    polled: list[str] = []
    api_reads(page, polled)
    choose(page, "meadow.jpg", photo_jpeg(800, 600, seed=22))
    row = page.locator("#upload-queue li.row").filter(has_text="meadow.jpg")
    expect(row).to_have_attribute("data-state", "ready", timeout=READY_TIMEOUT)
    assert polled  # followed by asking, as before


def accepted(user, name: str, seed: int) -> Upload:
    """An upload accepted as from another tab; with `held`, it waits to be processed."""
    data = photo_jpeg(240, 160, seed=seed)
    return services.accept_upload(owner=user, file=SimpleUploadedFile(name, data, "image/jpeg"))


def test_the_stream_is_tried_again_after_a_bad_gateway(user, live_server, new_page, held):
    """One 502 from a proxy sends the page to polling; the stream comes back by itself,
    and an upload from another tab arrives over it (and counts)."""
    page = new_page()
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/events/" in r.url else None)
    page.route("**/events/**", lambda route: route.fulfill(status=502, body="Bad gateway"), times=1)
    log_in(page, live_server.url, "alice")
    expect(page.locator("#gallery-count")).to_be_hidden()
    # The 502 is in: live.js declines to follow (its callers poll, as in the test above) ...
    page.wait_for_function("() => !window.mediaLive.follow('probe', () => {}, () => {})")
    accepted(user, "from-elsewhere.jpg", seed=24)
    # ... and the stream, tried again, brings a new upload.
    expect(tile(page, "from-elsewhere.jpg")).to_be_visible(timeout=10_000)
    expect(page.locator("#gallery-count")).to_have_text("1 in all, newest first")
    assert len(streams) >= 2


def test_typing_on_an_upload_page_outlasts_its_processing(user, live_server, new_page, held):
    """The page does not reload under the user's typing when the upload is ready: it says
    so, and offers the renditions once the texts are saved."""
    upload = accepted(user, "dune.jpg", seed=25)
    page = new_page()
    log_in(page, live_server.url, "alice")
    page.goto(f"/uploads/{upload.id}/")
    expect(page.locator(".detail-head .pill")).to_have_text("Queued")
    page.evaluate("window.samePage = true")
    page.get_by_label("Alt text").fill("Ripples of sand")
    services.process_upload(upload_id=upload.id)
    show = page.get_by_role("button", name="Processing finished — show renditions")
    expect(show).to_be_visible(timeout=READY_TIMEOUT)
    expect(page.locator(".detail-head .pill")).to_have_text("Ready")
    assert page.evaluate("window.samePage") is True
    expect(page.get_by_label("Alt text")).to_have_value("Ripples of sand")
    page.get_by_label("Alt text").press("Enter")
    expect(page.locator(".texts-edit .text-note")).to_have_text("Saved")
    show.click()
    expect(page.get_by_role("heading", name="Renditions")).to_be_visible()
    assert Upload.objects.get(id=upload.id).alt_text == "Ripples of sand"


def test_duplicate_notice_keep_and_drop(celery_worker, user, live_server, new_page):
    """The worker looks for the duplicate first thing; the page hears of it at once."""
    picture = photo_jpeg(1200, 800, seed=23)
    from django.core.files.uploadedfile import SimpleUploadedFile

    services.accept_upload(owner=user, file=SimpleUploadedFile("pier.jpg", picture, "image/jpeg"))
    page = new_page()
    log_in(page, live_server.url, "alice")
    page.on("dialog", lambda dialog: dialog.accept())

    choose(page, "pier-copy.jpg", picture)
    copy = tile(page, "pier-copy.jpg")
    notice = copy.locator(".duplicate-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("This looks like an image already in your library")
    row = page.locator("#upload-queue li.row").filter(has_text="pier-copy.jpg")
    expect(row).to_contain_text("already in your library")
    screenshot(page, "live-duplicate-notice")
    # By keyboard: the button goes with its notice, the focus stays on this tile.
    copy.get_by_role("button", name="Keep both copies of pier-copy.jpg").focus()
    page.keyboard.press("Enter")
    expect(notice).to_be_hidden()
    expect(copy.locator(".tile-name")).to_be_focused()
    wait_for(lambda: Upload.objects.get(original_name="pier-copy.jpg").duplicate_of_id is None)

    choose(page, "pier-again.jpg", picture)
    again = tile(page, "pier-again.jpg")
    expect(again.locator(".duplicate-notice")).to_be_visible()
    again.get_by_role("button", name="Drop this copy pier-again.jpg").click()
    expect(again).to_have_count(0)
    wait_for(lambda: not Upload.objects.filter(original_name="pier-again.jpg").exists())
    assert sorted(Upload.objects.values_list("original_name", flat=True)) == [
        "pier-copy.jpg",
        "pier.jpg",
    ]
