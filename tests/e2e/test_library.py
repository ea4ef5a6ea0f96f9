"""The library in Chromium: alt text, search and filters, grid or list, bulk actions, copied
links, a phone's screen, the keyboard and dark mode."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from media_pipeline import services
from media_pipeline.models import Rendition, Upload
from tests.e2e.browser import expect, log_in, screenshot, wait_for_images
from tests.e2e.failures import (
    READY_TIMEOUT,
    RENDITION_URL,
    damaged,
    png,
    rendition_count,
    repair,
    script_errors,
)
from tests.imagecorpus import photo_jpeg
from tests.servers import wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def made(owner, name: str, data: bytes, monkeypatch, **fields) -> Upload:
    """Accepted and processed here, in the test's own process (no worker needed)."""
    with monkeypatch.context() as held:
        held.setattr(services, "publish_accepted", lambda upload_id: None)
        upload = services.accept_upload(
            owner=owner, file=SimpleUploadedFile(name, data, "image/png")
        )
    services.process_upload(upload_id=upload.id)
    if fields:
        Upload.objects.filter(id=upload.id).update(**fields)
    return Upload.objects.get(id=upload.id)


def ready(owner, name, monkeypatch, seed=1, **fields) -> Upload:
    upload = made(owner, name, photo_jpeg(480, 320, seed=seed), monkeypatch, **fields)
    assert upload.status == "ready"
    return upload


def tile(page, name: str):
    return page.locator("#gallery .tile").filter(has_text=name)


def gallery_names(page) -> list[str]:
    return page.locator("#gallery .tile-name").all_inner_texts()


def test_alt_text_edited_in_place_is_the_images_alt_and_clears_its_flag(
    user, live_server, new_page, monkeypatch
):
    ready(user, "kite.jpg", monkeypatch, seed=1)
    ready(user, "harbour.jpg", monkeypatch, seed=2, caption="Boats at dawn")
    page = new_page()
    log_in(page, live_server.url, "alice")
    wait_for_images(page)

    kite = tile(page, "kite.jpg")
    # No alt text: the owner sees a mark and a count; the image says nothing rather than
    # its file name, and the caption stands in where there is one.
    expect(kite.locator(".alt-flag")).to_have_text("Needs alt text")
    expect(kite.locator("img")).to_have_attribute("alt", "")
    expect(tile(page, "harbour.jpg").locator("img")).to_have_attribute("alt", "Boats at dawn")
    expect(page.locator(".alt-summary")).to_contain_text("2 need alt text")
    screenshot(page, "library-alt-missing", full_page=True)

    field = kite.get_by_label("Alt text of kite.jpg")
    field.fill("A red kite above the dunes")
    field.press("Enter")
    expect(kite.locator(".alt-edit .text-note")).to_have_text("Saved")
    expect(kite.locator("img")).to_have_attribute("alt", "A red kite above the dunes")
    expect(kite.locator(".alt-flag")).to_be_hidden()
    assert Upload.objects.get(original_name="kite.jpg").alt_text == "A red kite above the dunes"

    # The filter shows what is left to describe.
    page.get_by_label("Missing alt text").check()
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#gallery .tile")).to_have_count(1)
    assert gallery_names(page) == ["harbour.jpg"]

    # The upload's page: alt text and description by keyboard, saved in place.
    upload = Upload.objects.get(original_name="harbour.jpg")
    page.goto(f"/uploads/{upload.id}/")
    expect(page.locator("#upload-detail .alt-flag")).to_be_visible()
    page.get_by_label("Alt text").focus()
    page.keyboard.type("Three fishing boats tied up at a stone quay")
    page.keyboard.press("Tab")
    page.keyboard.type("Early morning, low tide.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save alt text and description")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".texts-edit .text-note")).to_have_text("Saved")
    expect(page.locator(".detail-image img")).to_have_attribute(
        "alt", "Three fishing boats tied up at a stone quay"
    )
    expect(page.locator("#upload-detail .alt-flag")).to_be_hidden()
    page.reload()
    expect(page.get_by_label("Description")).to_have_value("Early morning, low tide.")
    expect(page.locator(".detail-image img")).to_have_attribute(
        "alt", "Three fishing boats tied up at a stone quay"
    )
    upload.refresh_from_db()
    assert (upload.caption, upload.description) == ("Boats at dawn", "Early morning, low tide.")
    screenshot(page, "library-detail-texts", full_page=True)
    assert new_page.errors == []


def test_edits_in_place_send_once_escape_puts_back_and_counts_follow(
    user, live_server, new_page, monkeypatch
):
    ready(user, "pond.jpg", monkeypatch, seed=8, caption="A pond")
    reeds = ready(user, "reeds.jpg", monkeypatch, seed=9, caption="Reeds")
    page = new_page()
    log_in(page, live_server.url, "alice")
    patches: list[str] = []
    page.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
    expect(page.locator(".alt-summary .alt-flag")).to_have_text("2 need alt text")
    pond = tile(page, "pond.jpg")

    # Enter: one request each (it fires both the field's change and the form's submit).
    caption = pond.get_by_label("Caption of pond.jpg")
    caption.fill("A still pond")
    caption.press("Enter")
    expect(pond.locator(".caption-edit .form-note")).to_have_text("Saved")
    alt = pond.get_by_label("Alt text of pond.jpg")
    alt.fill("Lilies on a still pond")
    alt.press("Enter")
    expect(pond.locator(".alt-edit .text-note")).to_have_text("Saved")
    assert len(patches) == 2, patches
    # The counts of images without alt text follow.
    expect(page.locator(".alt-summary .alt-flag")).to_have_text("1 needs alt text")
    expect(page.locator("#missing-alt-count")).to_have_text("(1)")

    # Escape puts the saved text back; leaving the field then saves nothing.
    caption.fill("Typed by mistake")
    caption.press("Escape")
    expect(caption).to_have_value("A still pond")
    alt.focus()
    alt.fill("Also by mistake")
    alt.press("Escape")
    expect(alt).to_have_value("Lilies on a still pond")
    page.keyboard.press("Tab")

    # The upload's page: a new caption is the picture's alt (it has no alt text); Escape.
    page.goto(f"/uploads/{reeds.id}/")
    expect(page.locator(".detail-image img")).to_have_attribute("alt", "Reeds")
    caption = page.get_by_label("Caption")
    caption.fill("Reeds in the wind")
    caption.press("Enter")
    expect(page.locator(".caption-edit .form-note")).to_have_text("Saved")
    expect(page.locator(".detail-image img")).to_have_attribute("alt", "Reeds in the wind")
    caption.fill("Not this")
    caption.press("Escape")
    expect(caption).to_have_value("Reeds in the wind")
    page.keyboard.press("Tab")
    page.wait_for_timeout(200)
    assert len(patches) == 3, patches
    texts = Upload.objects.order_by("original_name").values_list("caption", "alt_text")
    assert list(texts) == [("A still pond", "Lilies on a still pond"), ("Reeds in the wind", "")]
    assert new_page.errors == []


def test_back_and_forward_show_the_filters_of_the_url(user, live_server, new_page, monkeypatch):
    """Choices made but not applied before leaving do not come back as if they were."""
    upload = ready(user, "quay.jpg", monkeypatch, seed=12)
    page = new_page()
    log_in(page, live_server.url, "alice")
    page.get_by_label("Status").select_option("failed")
    page.get_by_label("Missing alt text").check()
    page.get_by_label("Select quay.jpg").check()
    expect(page.locator("#bulk-count")).to_have_text("1 selected")
    page.goto(f"/uploads/{upload.id}/")
    page.go_back()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_label("Status")).to_have_value("")
    expect(page.get_by_label("Missing alt text")).not_to_be_checked()
    ticked = page.locator(".select-upload:checked").count()
    expect(page.locator("#bulk-count")).to_have_text(f"{ticked} selected")
    assert new_page.errors == []


def test_search_and_filters_narrow_the_gallery_with_and_without_javascript(
    user, other_user, live_server, new_page, monkeypatch
):
    ready(user, "harbour.jpg", monkeypatch, seed=3, caption="Boats at dawn")
    ready(user, "kite.jpg", monkeypatch, seed=4, alt_text="A red kite")
    ready(
        user,
        "garden.jpg",
        monkeypatch,
        seed=5,
        created_at=timezone.now() - datetime.timedelta(days=30),
    )
    made(user, "broken.png", damaged(png(200, 150, seed=6)), monkeypatch)
    ready(other_user, "boats-of-bob.jpg", monkeypatch, seed=7, caption="Boats")

    page = new_page()
    log_in(page, live_server.url, "alice")
    expect(page.locator("#gallery .tile")).to_have_count(4)
    search = page.get_by_role("searchbox", name="Search")
    search.fill("boats")
    search.press("Enter")
    page.wait_for_url("**/?q=boats**")
    assert gallery_names(page) == ["harbour.jpg"]
    expect(search).to_have_value("boats")

    search.fill("KITE")
    search.press("Enter")
    page.wait_for_url("**/?q=KITE**")
    assert gallery_names(page) == ["kite.jpg"]

    search.fill("")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**status=failed**")
    assert gallery_names(page) == ["broken.png"]

    page.get_by_label("Status").select_option("")
    page.get_by_label("Format").select_option("png")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**format=png**")
    assert gallery_names(page) == ["broken.png"]

    since = (timezone.now() - datetime.timedelta(days=7)).date().isoformat()
    page.goto(f"/?since={since}&format=jpeg")
    assert sorted(gallery_names(page)) == ["harbour.jpg", "kite.jpg"]
    expect(page.get_by_label("From", exact=True)).to_have_value(since)
    page.goto("/?since=last-week")
    expect(page.locator(".filter-problems")).to_contain_text("'last-week' is not a date")
    page.goto("/?q=nothing-like-this")
    expect(page.locator("#gallery-empty")).to_contain_text("No images match")
    screenshot(page, "library-search-empty")
    assert new_page.errors == []

    plain = new_page(java_script_enabled=False)
    log_in(plain, live_server.url, "alice")
    plain.get_by_role("searchbox", name="Search").fill("garden")
    plain.get_by_role("button", name="Search").click()
    plain.wait_for_url("**/?q=garden**")
    assert gallery_names(plain) == ["garden.jpg"]


def test_grid_or_list_is_remembered(user, live_server, new_page, monkeypatch):
    for seed, name in enumerate(("dunes.jpg", "cliffs.jpg", "bay.jpg")):
        ready(user, name, monkeypatch, seed=10 + seed)
    page = new_page()
    log_in(page, live_server.url, "alice")
    gallery = page.locator("#gallery")
    grid = page.get_by_role("button", name="Grid", exact=True)
    as_list = page.get_by_role("button", name="List", exact=True)
    expect(grid).to_have_attribute("aria-pressed", "true")
    expect(gallery).not_to_have_class("gallery is-list")
    first, second = page.locator("#gallery .tile").nth(0), page.locator("#gallery .tile").nth(1)
    # A grid: side by side.
    assert first.bounding_box()["y"] == second.bounding_box()["y"]

    as_list.click()
    expect(as_list).to_have_attribute("aria-pressed", "true")
    expect(gallery).to_have_class("gallery is-list")
    # A list: one under the other, the full width.
    assert first.bounding_box()["y"] < second.bounding_box()["y"]
    wait_for_images(page)
    screenshot(page, "library-list", full_page=True)

    page.reload()
    expect(page.get_by_role("button", name="List", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#gallery")).to_have_class("gallery is-list")
    assert new_page.errors == []


def test_bulk_delete_by_keyboard_and_bulk_retry_of_failed_uploads(
    celery_worker, user, other_user, live_server, new_page, monkeypatch
):
    good = png(320, 240, seed=21)
    broken = [made(user, f"broken-{n}.png", damaged(good), monkeypatch) for n in (1, 2)]
    assert [u.status for u in broken] == ["failed", "failed"]
    keep = ready(user, "keep.jpg", monkeypatch, seed=22)
    doomed = [ready(user, f"old-{n}.jpg", monkeypatch, seed=23 + n) for n in (1, 2)]
    bobs = ready(other_user, "bobs.jpg", monkeypatch, seed=26)

    page = new_page()
    log_in(page, live_server.url, "alice")
    delete = page.get_by_role("button", name="Delete selected")
    expect(delete).to_be_disabled()

    # The keyboard: from the view buttons, Tab reaches the first tile's checkbox; Space ticks it.
    page.get_by_role("button", name="List", exact=True).focus()
    page.keyboard.press("Tab")
    newest = page.get_by_label("Select old-2.jpg")
    expect(newest).to_be_focused()
    page.keyboard.press("Space")
    expect(newest).to_be_checked()
    ring = newest.evaluate("b => getComputedStyle(b).boxShadow")
    assert ring and ring != "none", ring
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the tile's name
    expect(page.get_by_label("Caption of old-2.jpg")).to_be_focused()
    page.get_by_label("Select old-1.jpg").focus()
    page.keyboard.press("Space")
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    # Back to the bar (Shift+Tab) and its delete button.
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        if delete.evaluate("b => b === document.activeElement"):
            break
    expect(delete).to_be_focused()
    screenshot(page, "library-bulk-selected", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.locator("#bulk-note")).to_have_text("2 deleted.")
    expect(page.locator("#bulk-count")).to_have_text("0 selected")
    expect(tile(page, "old-")).to_have_count(0)
    # The counts drop with the tiles (failed uploads need no alt text).
    expect(page.locator("#gallery-count")).to_have_text("3 in all, newest first")
    expect(page.locator("#missing-alt-count")).to_have_text("(1)")
    expect(page.locator(".alt-summary .alt-flag")).to_have_text("1 needs alt text")
    assert not Upload.objects.filter(id__in=[u.id for u in doomed]).exists()
    assert Upload.objects.filter(id__in=[keep.id, bobs.id]).count() == 2

    # The failed two, repaired, are tried again at once; a ready one ticked is left alone.
    for upload in broken:
        repair(upload, good)
    for name in ("broken-1.png", "broken-2.png", "keep.jpg"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Try selected again").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#bulk-note")).to_have_text(
        "2 queued again. 1 left alone: only a failed upload is tried again."
    )
    # The pressed button is disabled now (nothing selected): the keyboard is on the outcome.
    expect(page.locator("#bulk-note")).to_be_focused()
    for upload in broken:
        t = tile(page, upload.original_name)
        expect(t.locator(".pill")).to_have_text("Ready", timeout=READY_TIMEOUT)
        expect(t.locator("img")).to_have_attribute("src", RENDITION_URL)
        expect(t.locator(".retry-form")).to_be_hidden()
    assert set(Upload.objects.filter(owner=user).values_list("status", flat=True)) == {"ready"}
    wait_for(
        lambda: all(
            Rendition.objects.filter(upload=upload).count() == rendition_count(upload)
            for upload in broken
        ),
        what="one set of renditions each",
    )
    wait_for_images(page)
    screenshot(page, "library-bulk-retried", full_page=True)
    assert script_errors(new_page.errors) == []


def test_a_renditions_url_is_copied_and_the_page_fits_a_phone(
    user, live_server, new_page, monkeypatch
):
    upload = ready(user, "lighthouse.jpg", monkeypatch, seed=30, alt_text="A lighthouse")
    page = new_page(
        viewport={"width": 390, "height": 844},
        permissions=["clipboard-read", "clipboard-write"],
    )
    log_in(page, live_server.url, "alice")
    wait_for_images(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "library-phone-gallery", full_page=True)

    # At 320 px a whole date shows in each date field: its text is not cut off.
    page.set_viewport_size({"width": 320, "height": 844})
    for label in ("From", "To"):
        field = page.get_by_label(label, exact=True)
        field.fill("2026-12-28")
        width, needed = field.evaluate(DATE_WIDTHS)
        assert width >= needed, (label, width, needed)
    page.set_viewport_size({"width": 390, "height": 844})
    # One long word in a filter's complaint wraps inside its box.
    page.goto("/?status=" + "x" * 300)
    expect(page.locator(".filter-problems")).to_contain_text("Unknown status 'xxx")
    assert page.evaluate(FITS), page.evaluate(FITS_DETAIL)

    page.goto(f"/uploads/{upload.id}/")
    wait_for_images(page, ".detail-image img")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(Rendition.objects.filter(upload=upload).count())
    # Readable: each rendition's name, format, size and button on the screen, none cut off.
    cells = page.evaluate(
        """() => [...document.querySelectorAll('table tbody td')].map(td => {
            const box = td.getBoundingClientRect();
            return [td.textContent.trim(), box.left, box.right, box.width];
        })"""
    )
    assert all(left >= 0 and right <= 390 and width > 0 for _, left, right, width in cells), cells
    first = Rendition.objects.filter(upload=upload).order_by("width", "format").first()
    copy = rows.first.get_by_role("button", name=f"Copy URL of {first.name}")
    expect(copy).to_have_count(1)
    copy = rows.first.locator("button.copy-url")  # the same one, whatever it says
    copy.scroll_into_view_if_needed()
    box = copy.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    # Its scrolling box leaves room for the focus ring (5 px) on the right.
    wrap = page.locator(".table-wrap").bounding_box()
    assert box["x"] + box["width"] + 5 <= wrap["x"] + wrap["width"]
    screenshot(page, "library-phone-detail", full_page=True)

    copy.click()
    expect(copy).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{live_server.url}/media/{first.file.name}"
    screenshot(page, "library-copied")
    assert new_page.errors == []


FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
FITS_DETAIL = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
# A date field's width, and the width it takes when left to its content (Chromium sizes a
# date field to its whole date and its picker button).
DATE_WIDTHS = """field => {
    const width = field.getBoundingClientRect().width;
    const style = field.style.cssText;
    field.style.cssText = "width: max-content; min-width: 0; max-width: none; flex: none";
    const needed = field.getBoundingClientRect().width;
    field.style.cssText = style;
    return [width, needed];
}"""

CONTRAST = """([selector, pseudo]) => {
    const node = document.querySelector(selector);
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => [r, g, b]
        .map((c) => c / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    let back = node;
    while (rgb(getComputedStyle(back).backgroundColor)[3] === 0) back = back.parentElement;
    const ink = luminance(rgb(getComputedStyle(node, pseudo).color));
    const paper = luminance(rgb(getComputedStyle(back).backgroundColor));
    return (Math.max(ink, paper) + 0.05) / (Math.min(ink, paper) + 0.05);
}"""


# The text against its own see-through background laid over white and over black (the
# picture under it may be either): the lower of the two ratios.
OVER_ANY_PICTURE = """node => {
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => [r, g, b]
        .map((c) => c / 255)
        .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
    const ink = luminance(rgb(getComputedStyle(node).color));
    return Math.min(...[0, 255].map((under) => {
        const paper = luminance([r, g, b].map((c) => a * c + (1 - a) * under));
        return (Math.max(ink, paper) + 0.05) / (Math.min(ink, paper) + 0.05);
    }));
}"""
# The lightness (0 to 1) of every colour of an element's background, its gradient's too.
BACKGROUND_LIGHTNESS = """node => {
    const style = getComputedStyle(node);
    const colours = (style.backgroundColor + " " + style.backgroundImage)
        .match(/rgba?\\([^)]*\\)/g)
        .map((c) => c.match(/[\\d.]+/g).map(Number))
        .filter(([, , , a = 1]) => a > 0);
    return colours.map(([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255);
}"""


def contrast(page, selector: str, pseudo: str | None = None) -> float:
    """Of the text against the nearest background behind it (opaque ones only here)."""
    return page.evaluate(CONTRAST, [selector, pseudo])


def test_dark_mode_follows_the_system(user, live_server, new_page, monkeypatch):
    upload = ready(user, "night.jpg", monkeypatch, seed=40)
    ready(user, "night-again.jpg", monkeypatch, seed=41, duplicate_of=upload)

    def lightness(page, selector: str) -> float:
        red, green, blue = page.evaluate(
            """s => getComputedStyle(document.querySelector(s)).backgroundColor
                .match(/\\d+/g).slice(0, 3).map(Number)""",
            selector,
        )
        return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255

    dark = new_page(color_scheme="dark")
    log_in(dark, live_server.url, "alice")
    assert lightness(dark, "body") < 0.15
    assert lightness(dark, ".tile") < 0.2
    # Readable: the duplicate notice and its link, and the fields' placeholders.
    assert contrast(dark, ".duplicate-notice:not([hidden]) p") >= 4.5
    assert contrast(dark, ".duplicate-notice:not([hidden]) a") >= 4.5
    assert contrast(dark, ".tile .caption-edit input", "::placeholder") >= 4.5
    # Chosen here and left queued (no worker takes it): the label over its blurred
    # placeholder reads on any picture, and its row's waiting bar is dark too.
    monkeypatch.setattr(services, "publish_accepted", lambda upload_id: None)
    dark.locator("#id_file").set_input_files(
        [{"name": "dusk.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(240, 160, seed=42)}]
    )
    label = tile(dark, "dusk.jpg").locator(".placeholder:has(.placeholder-image) > span")
    expect(label).to_have_text("Queued…")
    assert label.evaluate(OVER_ANY_PICTURE) >= 4.5
    row = dark.locator("#upload-queue li.row").filter(has_text="dusk.jpg")
    bar = row.locator("progress:not([value])")
    expect(bar).to_be_visible()
    assert max(bar.evaluate(BACKGROUND_LIGHTNESS)) < 0.5
    wait_for_images(dark)
    screenshot(dark, "library-dark", full_page=True)
    dark.goto(f"/uploads/{upload.id}/")
    assert lightness(dark, ".card") < 0.2
    screenshot(dark, "library-dark-detail", full_page=True)

    light = new_page(color_scheme="light")
    log_in(light, live_server.url, "alice")
    assert lightness(light, "body") > 0.85
    assert contrast(light, ".duplicate-notice:not([hidden]) p") >= 4.5
    assert contrast(light, ".tile .caption-edit input", "::placeholder") >= 4.5
    assert new_page.errors == []
