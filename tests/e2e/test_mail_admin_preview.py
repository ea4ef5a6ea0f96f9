"""The outbox admin in a browser: a message's HTML part renders in its preview frame."""

import pytest

from mailer import services
from tests.e2e.browser import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Upload:  # what the upload_ready templates read
    original_name = "lighthouse.jpg"
    caption = "Evening at the point"
    error = ""


def test_admin_preview_shows_the_html_part(new_page, live_server, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    email = services.queue_email(
        kind="upload_ready",
        to="alice@example.com",
        context={"upload": Upload, "user": None, "page_url": "http://x/", "site_name": "Media"},
    )
    page = new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/mailer/outgoingemail/{email.id}/change/")
    frame = page.frame_locator("iframe.mailer-html")
    link = frame.get_by_role("link", name="See your image")
    link.wait_for(timeout=5_000)
    assert "Evening at the point" in frame.locator("body").inner_text()
    # The message's own inline styles apply: its font is the sans-serif it asks for.
    family = frame.locator("body").evaluate("body => getComputedStyle(body).fontFamily")
    assert family == "sans-serif"
    assert not [e for e in new_page.errors if "Content Security Policy" in e], new_page.errors
    frame_element = page.locator("iframe.mailer-html")
    frame_element.scroll_into_view_if_needed()
    screenshot(frame_element, "mail-admin-preview")
