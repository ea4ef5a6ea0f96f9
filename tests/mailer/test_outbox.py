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
        context={
            "upload": Upload,
            "user": user,
            "site_name": "Media",
            "page_url": "http://x/uploads/1/",
            "thumbnail_url": "http://x/t.jpg",
        },
    )


def test_delivered_with_both_parts_and_stable_message_id(user, real_smtp):
    email = queue(user)
    sent = services.send_email(email_id=email.id)
    assert sent.status == "sent" and sent.sent_at and sent.attempts == 1
    stored = OutgoingEmail.objects.get(id=email.id)
    assert stored.server_reply == "250 2.0.0 Message accepted"
    assert stored.sent_at == sent.sent_at
    [attempt] = stored.delivery_attempts.all()
    assert (attempt.number, attempt.outcome) == (1, "sent")
    assert attempt.detail == "250 2.0.0 Message accepted" and attempt.finished_at
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
    outcomes = [(a.number, a.outcome) for a in email.delivery_attempts.all()]
    assert outcomes == [(1, "temporary"), (2, "sent")]
    assert "451 4.3.0 Try again later" in email.delivery_attempts.first().detail


def test_temporary_failure_on_the_last_attempt_fails_the_message(user, real_smtp):
    real_smtp.replies = ["451 4.3.0 Try again later"] * 2
    email = queue(user)
    with pytest.raises(TemporaryDeliveryError) as raised:
        services.send_email(email_id=email.id, max_attempts=2)
    assert raised.value.attempts == 1
    result = services.send_email(email_id=email.id, max_attempts=2)
    assert result.status == "failed"
    assert result.last_error.startswith("Gave up after 2 attempts: 451")
    assert real_smtp.messages == []


def test_permanent_failure_is_recorded_without_retry(user, real_smtp):
    real_smtp.replies = ["550 5.1.1 No such user"]
    email = queue(user)
    result = services.send_email(email_id=email.id)
    assert result.status == "failed" and "550" in result.last_error
    assert services.send_email(email_id=email.id) is None


@pytest.mark.parametrize("address", ["not an address", "a@b.example\r\nBcc: v@example.com"])
def test_invalid_address_fails_at_once_without_reaching_the_server(user, real_smtp, address):
    email = services.queue_email(
        kind="upload_failed", to=address, context={"upload": None, "user": user}
    )
    result = services.send_email(email_id=email.id)
    assert result.status == "failed" and "Invalid" in result.last_error
    assert real_smtp.messages == []
    assert [a.outcome for a in email.delivery_attempts.all()] == ["permanent"]


def test_claim_is_taken_once_and_only_past_its_lease(user, settings):
    email = queue(user)
    assert services.claim(email_id=email.id)
    assert not services.claim(email_id=email.id)  # another worker holds it
    settings.MAILER_SENDING_LEASE = 0
    assert services.claim(email_id=email.id)  # its worker is presumed dead
    assert OutgoingEmail.objects.get(id=email.id).attempts == 2


def test_redelivery_of_the_same_task_takes_over_and_closes_the_interrupted_attempt(user, real_smtp):
    email = queue(user)
    assert services.claim(email_id=email.id, claimant="task-1")
    # Within the lease, a copy republished by the sweep (another task id) keeps off.
    assert services.send_email(email_id=email.id, claimant="task-2") is None
    assert services.send_email(email_id=email.id) is None
    # The same task message, redelivered because its worker died, takes over at once.
    sent = services.send_email(email_id=email.id, claimant="task-1")
    assert sent.status == "sent" and sent.attempts == 2
    attempts = list(email.delivery_attempts.values_list("number", "outcome"))
    assert attempts == [(1, "interrupted"), (2, "sent")]
    assert [m["Message-ID"] for m in real_smtp.messages] == [email.message_id]


def test_resend_is_a_new_attempt_with_the_same_message_id(
    user, real_smtp, django_capture_on_commit_callbacks
):
    sent = queue(user)
    services.send_email(email_id=sent.id)
    sending = queue(user, name="other.jpg")
    services.claim(email_id=sending.id)
    with django_capture_on_commit_callbacks() as published:
        assert services.resend(email_ids=[sent.id, sending.id]) == 1
    assert len(published) == 1
    again = OutgoingEmail.objects.get(id=sent.id)
    assert (again.status, again.attempts, again.message_id) == ("queued", 0, sent.message_id)
    assert OutgoingEmail.objects.get(id=sending.id).status == "sending"
    services.send_email(email_id=sent.id)
    assert [m["Message-ID"] for m in real_smtp.messages] == [sent.message_id] * 2
    assert [a.outcome for a in again.delivery_attempts.all()] == ["sent", "sent"]


def test_file_mailer_of_the_embedded_default_writes_the_message(user, tmp_path):
    from config.email_url import mailer_from_url

    email = queue(user)
    with override_settings(MAILERS={"default": mailer_from_url(f"file://{tmp_path}")}):
        sent = services.send_email(email_id=email.id)
    assert sent.status == "sent" and "filebased" in sent.server_reply
    [written] = tmp_path.iterdir()
    assert email.message_id in written.read_text()


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
    first = services.queue_email(
        kind="upload_failed", to=user.email, dedupe_key="k", context={"upload": None, "user": user}
    )
    second = services.queue_email(
        kind="upload_failed", to=user.email, dedupe_key="k", context={"upload": None, "user": user}
    )
    assert first.id == second.id
    assert OutgoingEmail.objects.count() == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(), TemporaryDeliveryError),
        (TimeoutError(), TemporaryDeliveryError),
        (__import__("smtplib").SMTPResponseException(421, b"busy"), TemporaryDeliveryError),
        (__import__("smtplib").SMTPResponseException(554, b"no"), PermanentDeliveryError),
        (
            __import__("smtplib").SMTPRecipientsRefused({"a@b": (550, b"unknown")}),
            PermanentDeliveryError,
        ),
        (
            __import__("smtplib").SMTPRecipientsRefused({"a@b": (450, b"later")}),
            TemporaryDeliveryError,
        ),
    ],
)
def test_classification(error, kind):
    assert isinstance(classify(error), kind)
