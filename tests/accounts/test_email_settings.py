"""Confirming an address, choosing notifications and unsubscribing, through the pages."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from accounts import services
from accounts.models import EmailPreferences
from mailer import notifications, unsubscribe
from mailer.models import OutgoingEmail, Suppression
from mailer.redaction import MASK
from media_pipeline.models import Upload
from ops.models import Counter

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "username": "carol",
    "email": "carol@example.com",
    "password1": "a-long-enough-pass-42",
    "password2": "a-long-enough-pass-42",
}


def sign_up(client):
    assert client.post("/accounts/signup/", SIGN_UP).status_code == 302
    return EmailPreferences.objects.get(user__username="carol").user


def confirmation_path(user) -> str:
    return f"/accounts/confirm/{services.confirmation_token(user)}/"


def test_sign_up_queues_only_the_confirmation_with_its_link_masked(client):
    carol = sign_up(client)
    assert not services.is_verified(carol)
    email = OutgoingEmail.objects.get()
    assert email.kind == "confirm_email" and email.to == "carol@example.com"
    assert f"/accounts/confirm/{MASK}/" in email.body_text and MASK in email.body_html
    # The token is kept apart, for the worker only, and it confirms this account.
    assert email.secret and email.secret not in email.body_text + email.body_html
    assert services.confirm_email(token=email.secret) == carol


def test_accounts_made_by_operators_count_as_confirmed(django_user_model, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-pass-42")
    call_command("createsuperuser", username="root", email="root@example.com", interactive=False)
    call_command("ensure_demo_user", stdout=open("/dev/null", "w"))  # noqa: SIM115
    for name in ("root", "demo"):
        user = django_user_model.objects.get(username=name)
        assert services.is_verified(user), name
        assert services.preferences_for(user).notifications == "digest"


def test_the_link_confirms_on_post_only(client):
    carol = sign_up(client)
    page = client.get(confirmation_path(carol))
    assert page.status_code == 200 and b"Confirm my address" in page.content
    assert not services.is_verified(carol)  # a link scanner's GET confirms nothing
    done = client.post(confirmation_path(carol))
    assert done.status_code == 200 and b"carol@example.com is confirmed" in done.content
    assert services.is_verified(carol)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda token: token[:-2] + "xx", b"not valid"),
        (lambda token: "nonsense", b"not valid"),
    ],
)
def test_a_bad_link_is_refused_clearly(client, spoil, message):
    carol = sign_up(client)
    token = spoil(services.confirmation_token(carol))
    response = client.post(f"/accounts/confirm/{token}/")
    assert response.status_code == 400 and message in response.content
    assert not services.is_verified(carol)


def test_an_expired_link_or_one_for_an_old_address_is_refused(client, settings):
    carol = sign_up(client)
    path = confirmation_path(carol)
    settings.ACCOUNTS_CONFIRM_MAX_AGE = -1
    response = client.post(path)
    assert response.status_code == 400 and b"expired" in response.content
    settings.ACCOUNTS_CONFIRM_MAX_AGE = 3600
    carol.email = "carol@elsewhere.example"
    carol.save()
    response = client.post(path)
    assert response.status_code == 400 and b"no longer uses" in response.content
    assert not services.is_verified(carol)


def test_sending_the_link_again_is_throttled(client):
    sign_up(client)
    for _ in range(3):
        response = client.post("/accounts/email/", {"send_confirmation": "1"})
        assert response.status_code == 302
    assert OutgoingEmail.objects.filter(kind="confirm_email").count() == 1


def test_password_reset_goes_to_confirmed_addresses_only(client, user):
    carol = sign_up(client)
    client.logout()
    client.post("/accounts/password_reset/", {"email": carol.email})
    assert not OutgoingEmail.objects.filter(kind="password_reset").exists()
    client.post("/accounts/password_reset/", {"email": user.email})
    reset = OutgoingEmail.objects.get(kind="password_reset")
    assert reset.to == user.email and MASK in reset.body_text and reset.secret


def test_the_settings_page_saves_the_choice(alice_client, user):
    page = alice_client.get("/accounts/email/")
    assert page.status_code == 200 and b"(confirmed)" in page.content
    assert re.search(rb'value="every"[^>]*checked', page.content)  # alice's choice
    response = alice_client.post("/accounts/email/", {"notifications": "digest"})
    assert response.status_code == 302
    assert EmailPreferences.objects.get(user=user).notifications == "digest"
    bad = alice_client.post("/accounts/email/", {"notifications": "hourly"})
    assert bad.status_code == 400 and b"not one of the available choices" in bad.content


def test_the_settings_page_needs_a_login(client):
    response = client.get("/accounts/email/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_unsubscribe_get_asks_post_unsubscribes_without_session_or_csrf(user):
    browser = Client(enforce_csrf_checks=True)
    path = unsubscribe.url_for(user).split("://", 1)[1].split("/", 1)[1]
    page = browser.get(f"/{path}")
    assert page.status_code == 200 and b"alice@example.com" in page.content
    assert not Suppression.objects.exists()
    response = browser.post(
        f"/{path}", "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200 and b"no more emails about uploads" in response.content
    assert Suppression.objects.get().reason == "unsubscribed"
    assert EmailPreferences.objects.get(user=user).notifications == "none"

    # Choosing notifications again in the settings lifts the unsubscribe.
    browser.force_login(user)
    browser.post("/accounts/email/", {"notifications": "every"})  # CSRF: refused
    assert Suppression.objects.exists()
    settings_client = Client()
    settings_client.force_login(user)
    settings_client.post("/accounts/email/", {"notifications": "every"})
    assert not Suppression.objects.exists()


def test_a_forged_unsubscribe_link_is_refused(client, user):
    token = unsubscribe.make_token(user)
    response = client.post(f"/accounts/unsubscribe/{token[:-3]}abc/")
    assert response.status_code == 400 and b"not valid" in response.content
    assert not Suppression.objects.exists()


def test_an_unconfirmed_owner_is_not_notified_and_the_reason_is_counted(client):
    carol = sign_up(client)
    upload = Upload.objects.create(owner=carol, original="originals/x.jpg", original_name="x")
    notifications.upload_finished(upload=upload, kind="upload_ready", context={"upload": upload})
    assert list(OutgoingEmail.objects.values_list("kind", flat=True)) == ["confirm_email"]
    counted = Counter.objects.get(name="notifications_skipped")
    assert counted.labels == "kind=upload_ready,reason=unverified" and counted.value == 1


def test_every_upload_is_mailed_at_once_with_the_unsubscribe_headers(user):
    upload = Upload.objects.create(owner=user, original="originals/x.jpg", original_name="x.jpg")
    context = {"upload": upload, "user": user, "site_name": "Media"}
    notifications.upload_finished(upload=upload, kind="upload_ready", context=context)
    email = OutgoingEmail.objects.get()
    link = re.fullmatch(r"<(.+)>", email.headers["List-Unsubscribe"]).group(1)
    assert link in email.body_text and link in email.body_html
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.dedupe_key == f"upload_ready:{upload.id}"


def test_the_settings_page_says_why_the_address_gets_nothing(alice_client, user):
    from mailer import suppression

    suppression.suppress(user.email, reason="unsubscribed")
    page = alice_client.get("/accounts/email/").content.decode()
    assert "You unsubscribed this address" in page
    suppression.suppress(user.email, reason="bounced", detail="550 5.1.1 No such user")
    page = alice_client.get("/accounts/email/").content.decode()
    assert "cannot be delivered (550 5.1.1 No such user)" in page
