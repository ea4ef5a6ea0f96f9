"""Log-in attempts are limited per address and per user name, sign-ups per address: 429 pages."""

import pytest

pytestmark = pytest.mark.django_db

WRONG = {"username": "alice", "password": "wrong-password"}


def log_in(client, data, address="198.51.100.7"):
    return client.post("/accounts/login/", data, REMOTE_ADDR=address)


def test_too_many_attempts_for_one_user_name_are_a_429(client, user, settings):
    settings.LOGIN_USER_RATE_LIMIT = "3/10m"
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert log_in(client, WRONG, address).status_code == 200  # the form, with its error
    refused = log_in(
        client, {"username": "Alice", "password": "correct-horse-battery"}, "198.51.100.4"
    )
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    assert b"Too many log-in attempts for this account" in refused.content
    assert "_auth_user_id" not in client.session


def test_too_many_attempts_from_one_address_are_a_429(client, user, settings):
    settings.LOGIN_RATE_LIMIT = "2/10m"
    for name in ("bob", "carol"):
        assert log_in(client, {"username": name, "password": "x"}).status_code == 200
    assert log_in(client, {"username": "dave", "password": "x"}).status_code == 429
    # Another address is counted apart, and a right password logs in.
    right = {"username": "alice", "password": "correct-horse-battery"}
    assert log_in(client, right, "203.0.113.50").status_code == 302


def test_showing_the_login_page_is_not_an_attempt(client, settings):
    settings.LOGIN_RATE_LIMIT = "1/10m"
    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200


def test_too_many_sign_ups_from_one_address_are_a_429(client, django_user_model, settings):
    settings.SIGNUP_RATE_LIMIT = "1/h"

    def sign_up(name):
        client.logout()
        return client.post(
            "/accounts/signup/",
            {"username": name, "email": f"{name}@example.com",
             "password1": "a-long-enough-pass-42", "password2": "a-long-enough-pass-42"},
            REMOTE_ADDR="198.51.100.9",
        )  # fmt: skip

    assert sign_up("carol").status_code == 302
    refused = sign_up("dave")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert b"Too many accounts" in refused.content
    assert not django_user_model.objects.filter(username="dave").exists()
