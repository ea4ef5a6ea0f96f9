"""The upload page in Chromium: drop files, watch each one upload, process and show up."""

import io
import re

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from media_pipeline import imaging
from media_pipeline.models import Upload
from tests.e2e.browser import (
    drop_files,
    expect,
    listen,
    log_in,
    screenshot,
    throttle_uploads,
)
from tests.imagecorpus import bomb_png, photo_image, photo_jpeg, text_file

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

READY_TIMEOUT = 120_000  # ms; the worker shares two cores with everything else
RENDITION_URL = re.compile(r"/media/renditions/")


def encoded(fmt: str, width: int, height: int, seed: int) -> bytes:
    buffer = io.BytesIO()
    photo_image(width, height, seed=seed).save(buffer, fmt)
    return buffer.getvalue()


def refusal(data: bytes) -> str:
    """What the server says about this file, word for word."""
    with pytest.raises(imaging.InvalidImageError) as refused:
        imaging.inspect_image(io.BytesIO(data), limits=imaging.Limits())
    return str(refused.value)


def script_errors(errors: list[str]) -> list[str]:
    """Errors of the page's own code or of its CSP; refused uploads' 4xx are expected."""
    return [e for e in errors if "Failed to load resource" not in e]


def row(page, name: str):
    return page.locator("#upload-queue li.row").filter(has_text=name)


def expect_ready_with_thumbnail(page, name: str) -> None:
    expect(row(page, name)).to_have_attribute("data-state", "ready", timeout=READY_TIMEOUT)
    expect(row(page, name).locator(".pill")).to_have_text("Ready")
    thumb = row(page, name).locator(".row-thumb img")
    expect(thumb).to_have_attribute("src", RENDITION_URL)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )


def test_dropped_images_become_ready_and_a_fake_one_shows_the_servers_reason(
    celery_worker, user, live_server, new_page
):
    page = new_page()
    log_in(page, live_server.url, "alice")
    policy = page.goto("/").headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    page.evaluate("window.samePage = 'still here'")
    listen(page)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    fake = text_file()

    drop_files(
        page,
        "#dropzone",
        [
            ("harbour.jpg", "image/jpeg", photo_jpeg(1600, 1067, seed=1)),
            ("meadow.png", "image/png", encoded("PNG", 900, 1200, seed=2)),
            ("dunes.webp", "image/webp", encoded("WEBP", 1400, 900, seed=3)),
            ("notes.jpg", "image/jpeg", fake),
        ],
    )

    refused = row(page, "notes.jpg")
    expect(refused).to_have_attribute("data-state", "refused")
    expect(refused.locator(".row-message")).to_have_text(refusal(fake))
    expect(refused.locator(".pill")).to_have_text("Not accepted")
    for name in ("harbour.jpg", "meadow.png", "dunes.webp"):
        expect_ready_with_thumbnail(page, name)
        # The gallery below shows it too, without a reload.
        tile = page.locator("#gallery .tile").filter(has_text=name)
        expect(tile.locator("img")).to_have_attribute("src", RENDITION_URL)

    assert page.evaluate("window.samePage") == "still here"
    assert navigations == []
    assert Upload.objects.filter(owner=user, status="ready").count() == 3
    assert Upload.objects.filter(owner=user).count() == 3
    # Screen readers heard the outcome of each file.
    spoken = page.evaluate("window.spoken")
    assert f"notes.jpg was not accepted: {refusal(fake)}" in spoken
    for name in ("harbour.jpg", "meadow.png", "dunes.webp"):
        assert f"{name} is ready." in spoken
    assert script_errors(new_page.errors) == []


def test_refusals_show_on_their_rows_while_other_files_go_on(
    celery_worker, user, live_server, new_page, settings
):
    settings.MEDIA_MAX_UPLOAD_BYTES = 1_048_576
    page = new_page()
    log_in(page, live_server.url, "alice")
    big = photo_jpeg(2000, 1333, quality=90, seed=4)
    # Over the limit by less than the request envelope: the server reads it, then refuses it.
    assert 1_048_576 < len(big) < 1_048_576 + 200_000
    bomb = bomb_png()
    # The page checks the size before sending; take that away to hear the server say it.
    page.evaluate("document.getElementById('upload-form').dataset.maxBytes = ''")

    page.locator("#id_file").set_input_files(
        [
            {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big},
            {"name": "bomb.png", "mimeType": "image/png", "buffer": bomb},
            {"name": "fine.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(800, 600, seed=5)},
        ]
    )

    huge = row(page, "huge.jpg")
    expect(huge).to_have_attribute("data-state", "refused")
    expect(huge.locator(".row-message")).to_have_text(
        f"The file is {len(big) / 1_048_576:.1f} MB; the limit is 1 MB."
    )
    expect(row(page, "bomb.png")).to_have_attribute("data-state", "refused")
    expect(row(page, "bomb.png").locator(".row-message")).to_have_text(refusal(bomb))
    expect_ready_with_thumbnail(page, "fine.jpg")

    # With its own check back, the page refuses an oversized file before sending a byte.
    page.reload()
    page.locator("#id_file").set_input_files(
        [{"name": "again.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    expect(row(page, "again.jpg")).to_have_attribute("data-state", "refused")
    expect(row(page, "again.jpg").locator(".row-message")).to_have_text(
        f"The file is {len(big) / 1_048_576:.1f} MB; the limit is 1 MB."
    )
    assert list(Upload.objects.filter(owner=user).values_list("original_name", flat=True)) == [
        "fine.jpg"
    ]
    assert script_errors(new_page.errors) == []


def test_progress_bars_move_while_a_large_file_uploads(celery_worker, user, live_server, new_page):
    page = new_page()
    log_in(page, live_server.url, "alice")
    # Two small ones first, so the screenshot shows finished rows beside the moving one.
    page.locator("#id_file").set_input_files(
        [
            {
                "name": "lighthouse.jpg",
                "mimeType": "image/jpeg",
                "buffer": photo_jpeg(1200, 800, seed=6),
            },
            {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": text_file()},
        ]
    )
    expect_ready_with_thumbnail(page, "lighthouse.jpg")

    large = photo_jpeg(3000, 2000, quality=95, seed=7)
    page.evaluate(
        """() => {
            window.progressSeen = [];
            new MutationObserver(changes => changes.forEach(change => {
                if (change.target.matches('progress[aria-label="Upload of mountains.jpg"]')
                    && change.target.hasAttribute('value')) {
                    window.progressSeen.push(Number(change.target.value));
                }
            })).observe(document, {subtree: true, attributes: true, attributeFilter: ['value']});
        }"""
    )
    throttle_uploads(page, max(64_000, len(large) // 8))  # about eight seconds of sending
    page.locator("#id_file").set_input_files(
        [{"name": "mountains.jpg", "mimeType": "image/jpeg", "buffer": large}]
    )

    page.wait_for_function(
        "() => window.progressSeen.some(value => value >= 20 && value <= 80)", timeout=60_000
    )
    screenshot(page, "upload-page-mid-upload", full_page=True)
    expect_ready_with_thumbnail(page, "mountains.jpg")

    seen = page.evaluate("window.progressSeen")
    print(f"progress values seen for {len(large):,} bytes: {seen}")
    between = sorted({value for value in seen if 0 < value < 100})
    assert len(between) >= 3, seen
    assert seen == sorted(seen), "progress went backwards"
    assert seen[-1] == 100
    assert default_storage.exists(Upload.objects.get(original_name="mountains.jpg").original.name)


def press_for_file_chooser(page, picker):
    """Space on the focused file field opens the chooser. On a loaded machine Chromium now
    and then drops the key press: press it again (still the keyboard alone) before failing."""
    for attempt in range(3):
        expect(picker).to_be_focused()
        try:
            with page.expect_file_chooser(timeout=10_000) as chosen:
                page.keyboard.press("Space")
            return chosen.value
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_keyboard_alone_picks_files_and_hears_how_they_went(
    celery_worker, user, live_server, new_page
):
    page = new_page()
    log_in(page, live_server.url, "alice")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "id_file":
            break
        page.keyboard.press("Tab")
    picker = page.get_by_label("Choose files")
    expect(picker).to_be_focused()
    # The drop zone's button look shows where the focus is.
    ring = page.locator("#dropzone .button-like").evaluate("b => getComputedStyle(b).boxShadow")
    assert ring != "none"
    screenshot(page, "upload-page-keyboard-focus")

    chosen = press_for_file_chooser(page, picker)
    chosen.set_files(
        [{"name": "pier.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(900, 600, seed=8)}]
    )
    expect_ready_with_thumbnail(page, "pier.jpg")
    expect(page.get_by_role("status").filter(has_text="pier.jpg is ready.")).to_have_count(1)

    # The new tile's caption, by keyboard too.
    caption = page.get_by_label("Caption of pier.jpg")
    caption.focus()
    page.keyboard.type("Low tide")
    page.keyboard.press("Enter")
    expect(
        page.locator("#gallery .tile").filter(has_text="pier.jpg").locator(".form-note")
    ).to_have_text("Saved")
    assert Upload.objects.get(original_name="pier.jpg").caption == "Low tide"
