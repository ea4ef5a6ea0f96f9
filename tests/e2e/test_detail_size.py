"""An upload's page shows the picture no bigger than it is: a tiny source is not stretched."""

import pytest

from media_pipeline.models import Upload
from tests.e2e.browser import log_in, screenshot, upload_and_wait, wait_for_images
from tests.imagecorpus import photo_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def shown_width(page) -> float:
    wait_for_images(page, ".detail-image img")
    return page.locator(".detail-image img").evaluate("img => img.getBoundingClientRect().width")


def test_a_tiny_source_is_shown_at_its_natural_size(celery_worker, user, live_server, new_page):
    page = new_page()
    log_in(page, live_server.url, "alice")
    upload_and_wait(
        page,
        [("tiny.jpg", photo_jpeg(40, 30, seed=5)), ("wide.jpg", photo_jpeg(1600, 1000, seed=6))],
    )

    tiny = Upload.objects.get(original_name="tiny.jpg")
    page.goto(f"{live_server.url}/uploads/{tiny.id}/")
    assert shown_width(page) == 40
    screenshot(page, "detail-tiny")

    # A large picture still takes the page's width.
    wide = Upload.objects.get(original_name="wide.jpg")
    page.goto(f"{live_server.url}/uploads/{wide.id}/")
    frame = page.locator(".detail-image").evaluate("div => div.clientWidth")
    assert frame > 400 and abs(shown_width(page) - frame) <= 1
