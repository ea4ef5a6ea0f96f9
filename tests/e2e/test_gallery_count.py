"""The gallery's "N in all" follows uploads sent and deleted from the page, without a reload."""

import re

import pytest

from media_pipeline.models import Upload
from tests.e2e.browser import expect, log_in, screenshot
from tests.imagecorpus import photo_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def failed_upload(owner, name: str) -> Upload:
    return Upload.objects.create(
        owner=owner, original=f"originals/{name}", original_name=name,
        original_format="jpeg", status=Upload.Status.FAILED, error="Could not be read.",
    )  # fmt: skip


def test_the_count_follows_new_uploads_and_deletions(user, live_server, new_page):
    failed_upload(user, "first.jpg")
    failed_upload(user, "second.jpg")
    page = new_page()
    log_in(page, live_server.url, "alice")
    count = page.locator("#gallery-count")
    expect(count).to_have_text("2 in all, newest first")

    page.locator("#id_file").set_input_files(
        [{"name": "new.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(200, 150, seed=3)}]
    )
    new_row = page.locator("#upload-queue li.row").filter(has_text="new.jpg")
    expect(new_row).to_have_attribute("data-state", re.compile("queued|processing|ready"))
    expect(count).to_have_text("3 in all, newest first")

    page.on("dialog", lambda dialog: dialog.accept())
    for name in ("first.jpg", "second.jpg"):
        tile = page.locator("#gallery .tile").filter(has_text=name)
        tile.get_by_role("button", name=f"Delete {name}").click()
        expect(tile).to_have_count(0)
    expect(count).to_have_text("1 in all, newest first")
    screenshot(page, "gallery-count")
    assert Upload.objects.filter(owner=user).count() == 1

    Upload.objects.filter(owner=user).delete()
    page.reload()
    expect(count).to_be_hidden()
