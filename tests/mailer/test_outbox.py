"""The outbox against a real SMTP server: delivery, headers, temporary and permanent failures."""

import pytest
from django.test import override_settings

from mailer import services
from mailer.errors import PermanentDeliveryError, TemporaryDeliveryError, classify
from mailer.models import OutgoingEmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_smtp(smtp_server, inbox):
    """Send through the real SMTP server instead of the test-run's in-memory mailer."""
    from config.email_url import mailer_from_url

    with override_settings(MAILERS={"default": mailer_from_url(smtp_server.url)}):
        yield inbox


def queue(user, caption="A day at the beach", name="beach.jpg"):
    class Upload:  # the template needs only these attributes
        original_name = name
        error = ""

    Upload.caption = caption
    return services.queue_email(
        kind="upload_ready",
        to=user.email,
        context={"upload": Upload, "user": user, "site_name": "Media",
                 "page_url": "http://x/uploads/1/", "thumbnail_url": "http://x/t.jpg"},
    )


def test_delivered_with_both_parts_and_stable_message_id(user, real_smtp):
    email = queue(user)
    sent = services.send_email(email_id=email.id)
    assert sent.status == "sent" and sent.sent_at and sent.attempts == 1
    [message] = real_smtp.to("alice@example.com")
    assert message["Message-ID"] == email.message_id
    assert "beach.jpg" in message["Subject"]
    assert "A day at the beach" in message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "http://x/t.jpg" in html


def test_user_text_cannot_inject_headers(user, real_smtp):
    email = queue(user, caption="x\r\nBcc: victim@example.com", name="a\r\nBcc: v@example.com.jpg")
    services.send_email(email_id=email.id)
    [message] = real_smtp.messages
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["X-Envelope-To"] == "alice@example.com"


def test_html_part_escapes_user_text(user, real_smtp):
    email = queue(user, caption="<script>alert(1)</script>")
    assert "<script>" not in email.body_html
    assert "&lt;script&gt;" in email.body_html


def test_sent_message_is_not_sent_again(user, real_smtp):
    email = queue(user)
    services.send_email(email_id=email.id)
    assert services.send_email(email_id=email.id) is None
    assert len(real_smtp.messages) == 1


def test_temporary_failure_requeues_and_keeps_the_reason(user, real_smtp):
    real_smtp.replies = ["451 4.3.0 Try again later"]
    email = queue(user)
    with pytest.raises(TemporaryDeliveryError, match="451"):
        services.send_email(email_id=email.id)
    email.refresh_from_db()
    assert email.status == "queued" and "451" in email.last_error
    assert services.send_email(email_id=email.id).status == "sent"
    assert OutgoingEmail.objects.get(id=email.id).attempts == 2
    assert len(real_smtp.messages) == 1


def test_permanent_failure_is_recorded_without_retry(user, real_smtp):
    real_smtp.replies = ["550 5.1.1 No such user"]
    email = queue(user)
    result = services.send_email(email_id=email.id)
    assert result.status == "failed" and "550" in result.last_error
    assert services.send_email(email_id=email.id) is None


def test_connection_refused_is_temporary(user, settings):
    from config.email_url import mailer_from_url
    from tests.servers import free_port

    email = queue(user)
    with override_settings(
        MAILERS={"default": mailer_from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")}
    ):
        with pytest.raises(TemporaryDeliveryError):
            services.send_email(email_id=email.id)
    assert OutgoingEmail.objects.get(id=email.id).status == "queued"


def test_dedupe_key_queues_once(user):
    first = services.queue_email(kind="upload_failed", to=user.email, dedupe_key="k",
                                 context={"upload": None, "user": user})
    second = services.queue_email(kind="upload_failed", to=user.email, dedupe_key="k",
                                  context={"upload": None, "user": user})
    assert first.id == second.id
    assert OutgoingEmail.objects.count() == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(), TemporaryDeliveryError),
        (TimeoutError(), TemporaryDeliveryError),
        (__import__("smtplib").SMTPResponseException(421, b"busy"), TemporaryDeliveryError),
        (__import__("smtplib").SMTPResponseException(554, b"no"), PermanentDeliveryError),
        (__import__("smtplib").SMTPRecipientsRefused({"a@b": (550, b"unknown")}),
         PermanentDeliveryError),
        (__import__("smtplib").SMTPRecipientsRefused({"a@b": (450, b"later")}),
         TemporaryDeliveryError),
    ],
)
def test_classification(error, kind):
    assert isinstance(classify(error), kind)
