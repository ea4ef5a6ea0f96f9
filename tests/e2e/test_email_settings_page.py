"""Email settings and the unsubscribe page in Chromium, as their users meet them."""

import pytest

from accounts.models import EmailPreferences
from mailer import unsubscribe
from mailer.models import Suppression
from tests.e2e.browser import expect, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_choosing_notifications_in_the_settings(new_page, live_server, user):
    page = new_page()
    log_in(page, live_server.url, "alice")
    page.get_by_role("link", name="Email settings").click()
    expect(page.get_by_role("heading", name="Email settings")).to_be_visible()
    expect(page.get_by_label("An email for every finished upload")).to_be_checked()
    page.get_by_label("One email per batch of uploads").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages")).to_contain_text("Your email settings are saved.")
    assert EmailPreferences.objects.get(user=user).notifications == "digest"
    screenshot(page, "email-settings")


def test_unsubscribing_from_the_link_in_a_message(new_page, live_server, user):
    page = new_page()  # not logged in
    path = unsubscribe.url_for(user).split("/accounts/", 1)[1]
    page.goto(f"{live_server.url}/accounts/{path}")
    expect(page.get_by_text("Stop emails about uploads to alice@example.com?")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("main")).to_contain_text("gets no more emails about uploads")
    assert Suppression.objects.get().address == "alice@example.com"
    screenshot(page, "unsubscribed")
