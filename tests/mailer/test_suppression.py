"""The suppression list: which failures put an address on it, and what it stops."""

import smtplib

import pytest

from mailer import services, suppression
from mailer.models import OutgoingEmail, Suppression


@pytest.mark.parametrize(
    ("error", "bounce"),
    [
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.1.1 No such user")}), "550 5.1.1"),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (553, b"mailbox name not allowed")}), "553"),
        (smtplib.SMTPDataError(550, b"5.1.1 No such user here"), "550 5.1.1 No such user here"),
        (smtplib.SMTPDataError(552, "mailbox full for good"), "552 mailbox full"),
        # Temporary refusals: try again later, the address may be fine.
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"greylisted")}), ""),
        (smtplib.SMTPDataError(451, b"try later"), ""),
        # A 5xx about our side says nothing about the recipient's address.
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), ""),
        (smtplib.SMTPSenderRefused(550, b"sender rejected", "noreply@localhost"), ""),
        (smtplib.SMTPServerDisconnected("gone"), ""),
        (ValueError("bad header"), ""),
    ],
)
def test_hard_bounce_is_a_5xx_about_the_recipient(error, bounce):
    found = suppression.hard_bounce(error)
    assert found.startswith(bounce) if bounce else found == ""


@pytest.mark.django_db
def test_an_unsubscribe_stops_notifications_only_a_bounce_stops_everything():
    suppression.suppress("Erin@Example.com", reason="unsubscribed", detail="link")
    assert suppression.blocking_reason("erin@example.com", "upload_ready")
    assert suppression.blocking_reason("ERIN@example.com", "upload_digest")
    assert suppression.blocking_reason("erin@example.com", "password_reset") == ""
    assert suppression.blocking_reason("erin@example.com", "confirm_email") == ""

    # A bounce replaces the unsubscribe: it stops more.
    suppression.suppress("erin@example.com", reason="bounced", detail="550 no such user")
    entry = Suppression.objects.get()
    assert (entry.address, entry.reason, entry.detail) == (
        "erin@example.com", "bounced", "550 no such user",
    )  # fmt: skip
    assert "Hard bounce" in suppression.blocking_reason("erin@example.com", "password_reset")
    # ...and an unsubscribe afterwards does not soften it, nor does lifting one.
    suppression.suppress("erin@example.com", reason="unsubscribed")
    suppression.lift_unsubscribe("erin@example.com")
    assert Suppression.objects.get().reason == "bounced"
    assert suppression.blocking_reason("nobody@example.com", "upload_ready") == ""


@pytest.mark.django_db
def test_a_suppressed_message_is_failed_at_its_claim_without_an_attempt():
    email = services.queue_email(
        kind="upload_failed", to="gone@example.com", context={"upload": None, "user": None}
    )
    suppression.suppress("gone@example.com", reason="bounced", detail="550")
    result = services.send_email(email_id=email.id)
    assert result.status == "failed" and "suppression list" in result.last_error
    assert not result.delivery_attempts.exists() and result.attempts == 1


@pytest.mark.django_db
def test_the_admin_lists_and_edits_the_list(admin_client):
    suppression.suppress("gone@example.com", reason="bounced", detail="550 5.1.1 no such user")
    page = admin_client.get("/admin/mailer/suppression/").content.decode()
    assert "gone@example.com" in page and "550 5.1.1 no such user" in page
    response = admin_client.post(
        "/admin/mailer/suppression/add/",
        {"address": " Spam.Trap@Example.com ", "reason": "manual", "detail": "known trap"},
    )
    assert response.status_code == 302
    assert Suppression.objects.get(reason="manual").address == "spam.trap@example.com"
    entry = Suppression.objects.get(address="gone@example.com")
    response = admin_client.post(f"/admin/mailer/suppression/{entry.id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Suppression.objects.filter(address="gone@example.com").exists()
    assert OutgoingEmail.objects.count() == 0
