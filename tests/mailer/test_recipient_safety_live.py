"""Mail that cannot be turned against its recipients, on a real SMTP server and workers:
digests, one-click unsubscribe, bounces, unconfirmed sign-ups, masked one-time links."""

import os
import re
from collections import Counter

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from accounts.models import EmailPreferences
from mailer import services as mail
from mailer.models import Digest, OutgoingEmail, Suppression
from mailer.redaction import MASK
from media_pipeline import services as media
from media_pipeline.models import Upload
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WINDOW = 3  # seconds between outcomes that closes a batch: short enough for a test


@pytest.fixture(scope="module")
def email_worker(worker_env, purged_queues, tmp_path_factory):
    process = start_worker(
        queues="email",
        env={**worker_env, "MAILER_RETRY_BACKOFF_SECONDS": "0.05"},
        log_dir=tmp_path_factory.mktemp("recipient-safety"),
        name=f"test-recipients-{os.getpid()}",
    )
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def short_window(settings, live_server):
    settings.MAILER_DIGEST_WINDOW_SECONDS = WINDOW
    # Links in messages point at this test's server.
    settings.SITE_URL = live_server.url


def member(django_user_model, name: str, *, notifications: str | None = None, verified=True):
    user = django_user_model.objects.create_user(
        username=name, email=f"{name}@example.com", password="correct-horse-battery"
    )
    preferences = {"verified_email": user.email if verified else ""}
    if notifications:
        preferences["notifications"] = notifications
    EmailPreferences.objects.create(user=user, **preferences)
    return user


def uploads(owner, count: int) -> list[Upload]:
    """Uploads being processed (no file needed: they are finished by hand below)."""
    return Upload.objects.bulk_create(
        Upload(
            owner=owner,
            original=f"originals/fake-{n}.jpg",
            original_name=f"photo-{n:03}.jpg",
            status=Upload.Status.PROCESSING,
        )
        for n in range(count)
    )


def finish(upload: Upload, *, ready: bool = True) -> None:
    """End an upload as a media worker does, through the same notification call."""
    if not ready:
        media.fail_upload(upload_id=upload.id, reason="The file is cut short")
        return
    with transaction.atomic():
        Upload.objects.filter(id=upload.id).update(
            status=Upload.Status.READY, finished_at=timezone.now()
        )
        media.notify_owner(upload_id=upload.id, kind="upload_ready")


def sent(email_id: int) -> OutgoingEmail:
    return wait_for(
        lambda: OutgoingEmail.objects.filter(id=email_id, status__in=["sent", "failed"]).first(),
        what=f"email {email_id} to be sent or failed",
    )


def test_a_200_upload_batch_sends_one_digest(email_worker, inbox, django_user_model, settings):
    # Finishing 200 uploads on a loaded machine may pause: a longer quiet period here.
    settings.MAILER_DIGEST_WINDOW_SECONDS = 8
    dana = member(django_user_model, "dana")  # the default: a digest
    batch = uploads(dana, 200)
    for n, upload in enumerate(batch):
        finish(upload, ready=n % 10 != 0)  # 180 ready, 20 failed

    message = wait_for(lambda: inbox.to("dana@example.com"), what="the digest")[0]
    assert message["Subject"] == "180 images ready, 20 could not be processed on Media service"
    text = message.get_body(("plain",)).get_content()
    assert "photo-001.jpg" in text and "and 155 more" in text  # 25 named, the rest counted
    assert "The file is cut short" in text
    digest = Digest.objects.get(user=dana)
    assert digest.closed_at and digest.items.count() == 200
    assert sent(digest.email_id).status == "sent" and digest.email.kind == "upload_digest"
    # Nothing else is on its way: no per-upload message, no second digest.
    assert list(OutgoingEmail.objects.filter(to="dana@example.com")) == [digest.email]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The next outcome opens a new window: one more message, for that upload alone.
    settings.MAILER_DIGEST_WINDOW_SECONDS = WINDOW
    later = uploads(dana, 1)[0]
    finish(later)
    wait_for(lambda: len(inbox.to("dana@example.com")) == 2, what="the second digest")
    assert "1 image ready" in inbox.to("dana@example.com")[1]["Subject"]
    assert Digest.objects.filter(user=dana, closed_at__isnull=False).count() == 2
    assert Counter(inbox.message_ids()) == Counter(
        OutgoingEmail.objects.filter(to="dana@example.com").values_list("message_id", flat=True)
    )


def test_one_click_unsubscribe_over_http_stops_further_mail(
    email_worker, inbox, django_user_model, live_server
):
    erin = member(django_user_model, "erin", notifications="every")
    first, second = uploads(erin, 2)
    finish(first)
    message = wait_for(lambda: inbox.to("erin@example.com"), what="the ready email")[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1)
    assert url.startswith(f"{live_server.url}/accounts/unsubscribe/")
    assert url in message.get_body(("plain",)).get_content()  # and a link in the body

    # What a mail client does (RFC 8058): a POST with no cookies, session or CSRF token.
    response = requests.post(
        url,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert Suppression.objects.get(address="erin@example.com").reason == "unsubscribed"
    assert EmailPreferences.objects.get(user=erin).notifications == "none"

    finish(second)
    assert OutgoingEmail.objects.filter(to="erin@example.com").count() == 1
    # A password reset she asks for still goes out: unsubscribing stops notifications only.
    with transaction.atomic():
        reset = mail.queue_email(kind="password_reset", to=erin.email, context={"user": erin})
    assert sent(reset.id).status == "sent"
    assert len(inbox.to("erin@example.com")) == 2


def test_a_550_bounce_suppresses_the_address_and_the_next_notification(
    email_worker, inbox, django_user_model
):
    fred = member(django_user_model, "fred", notifications="every")
    first, second, third = uploads(fred, 3)
    inbox.replies = ["550 5.1.1 No such user here"]
    finish(first)
    bounced = sent(OutgoingEmail.objects.get(to="fred@example.com").id)
    assert bounced.status == "failed" and "550 5.1.1 No such user here" in bounced.last_error
    entry = Suppression.objects.get(address="fred@example.com")
    assert entry.reason == "bounced" and "550 5.1.1 No such user here" in entry.detail

    # Queued before the bounce, sent after it: stopped when claimed, no attempt made.
    with transaction.atomic():
        waiting = mail.queue_email(
            kind="upload_ready",
            to="fred@example.com",
            context={"upload": second, "user": fred},
        )
    stopped = sent(waiting.id)
    assert stopped.status == "failed" and "suppression list" in stopped.last_error
    assert not stopped.delivery_attempts.exists()
    # The next notification is not even queued.
    finish(third)
    assert OutgoingEmail.objects.filter(to="fred@example.com").count() == 2
    assert inbox.to("fred@example.com") == []


def test_a_sign_up_gets_only_its_confirmation_until_it_is_confirmed(
    email_worker, inbox, client, live_server
):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "gina",
            "email": "gina@example.com",
            "password1": "a-long-enough-pass-42",
            "password2": "a-long-enough-pass-42",
        },
    )
    assert response.status_code == 302
    gina = EmailPreferences.objects.get(user__username="gina").user
    confirmation = wait_for(lambda: inbox.to("gina@example.com"), what="the confirmation")[0]
    # The stored message shows the link masked; the sent one carries the token.
    row = sent(OutgoingEmail.objects.get(kind="confirm_email").id)
    assert MASK in row.body_text and MASK in row.body_html and row.secret == ""
    text = confirmation.get_body(("plain",)).get_content()
    link = re.search(rf"{re.escape(live_server.url)}(/accounts/confirm/[^/\s]+/)", text).group(1)
    assert MASK not in link

    # An upload finishing meanwhile tells nobody.
    early = uploads(gina, 1)[0]
    finish(early)
    assert list(OutgoingEmail.objects.filter(to=gina.email)) == [row]

    # The link: GET only shows a button (link scanners), POST confirms.
    assert b"Confirm my address" in client.get(link).content
    assert not EmailPreferences.objects.get(user=gina).is_verified()
    page = client.post(link)
    assert page.status_code == 200 and b"Address confirmed" in page.content
    assert EmailPreferences.objects.get(user=gina).is_verified()

    later = uploads(gina, 1)[0]
    finish(later)
    digest = wait_for(
        lambda: [m for m in inbox.to("gina@example.com") if "ready" in m["Subject"]],
        what="the digest after confirming",
    )
    assert len(digest) == 1 and "photo-000.jpg" in digest[0].get_body(("plain",)).get_content()


def test_a_reset_link_is_live_in_the_message_masked_in_the_admin_and_never_resent(
    email_worker, inbox, user, client, admin_client
):
    client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    row = sent(OutgoingEmail.objects.get(kind="password_reset").id)
    assert row.status == "sent" and row.secret == ""  # the token is not kept once sent
    text = inbox.to("alice@example.com")[0].get_body(("plain",)).get_content()
    path = re.search(r"https?://[^/]+(/accounts/reset/\S+/\S+/)", text).group(1)
    assert MASK not in path
    # The link works: Django swaps the token for a session and shows the form.
    landing = client.get(path, follow=True)
    assert landing.status_code == 200 and b"new_password1" in landing.content

    token = path.rstrip("/").rsplit("/", 1)[1]
    page = admin_client.get(f"/admin/mailer/outgoingemail/{row.id}/change/").content.decode()
    assert token not in page and MASK in page
    assert (
        token
        not in admin_client.get(f"/admin/mailer/outgoingemail/{row.id}/html/").content.decode()
    )
    response = admin_client.post(
        "/admin/mailer/outgoingemail/",
        {"action": "resend_selected", "_selected_action": [row.id]},
        follow=True,
    )
    assert "0 message(s) queued again" in response.content.decode()
    assert OutgoingEmail.objects.get(id=row.id).status == "sent"
    assert len(inbox.to("alice@example.com")) == 1
