"""Sign up, log in, log out, password reset through the outbox; pages need a login."""

import pytest

from mailer.models import OutgoingEmail

pytestmark = pytest.mark.django_db


def test_pages_require_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sign_up_logs_in_and_lands_on_the_upload_page(client, django_user_model):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-enough-pass-42",
            "password2": "a-long-enough-pass-42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert django_user_model.objects.get(username="carol").email == "carol@example.com"
    page = client.get("/")
    assert page.status_code == 200 and b'type="file"' in page.content


def test_sign_up_errors_are_shown(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "dave", "email": "not-an-email", "password1": "x", "password2": "y"},
    )
    assert response.status_code == 200
    assert b"email" in response.content.lower()


def test_log_in_and_log_out(client, user):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_says_so(client, user):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200 and b"did not match" in response.content


def test_password_reset_goes_through_the_outbox(client, user):
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    email = OutgoingEmail.objects.get(kind="password_reset")
    assert email.to == "alice@example.com"
    assert "/accounts/reset/" in email.body_text and "/accounts/reset/" in email.body_html


def test_upload_form_without_javascript(alice_client):
    from tests.factories import image_file

    response = alice_client.post(
        "/",
        {"file": [image_file("a.jpg"), image_file("b.jpg"), image_file("c.jpg", b"not an image")]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "a.jpg: queued" in text and "b.jpg: queued" in text
    assert "c.jpg:" in text and "image" in text.split("c.jpg:")[1][:200].lower()
    assert text.count('class="tile-name" href="/uploads/') == 2
    assert 'http-equiv="refresh"' in text  # the page refreshes while work is pending


def test_admin_lists_uploads_emails_and_task_results(client, django_user_model, user):
    from tests.factories import image_file

    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    client.post("/api/uploads/", {"file": image_file()})
    client.force_login(admin)
    for url in [
        "/admin/media_pipeline/upload/",
        "/admin/mailer/outgoingemail/",
        "/admin/django_celery_results/taskresult/",
    ]:
        assert client.get(url).status_code == 200, url
    from media_pipeline.models import Upload

    upload = Upload.objects.get()
    assert client.get(f"/admin/media_pipeline/upload/{upload.pk}/change/").status_code == 200
