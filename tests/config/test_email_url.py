"""EMAIL_URL -> MAILERS entry: the forms a user would write."""

import pytest

from config.email_url import EmailURLError, mailer_from_url


def test_smtp_with_encoded_credentials():
    entry = mailer_from_url("smtp://us%40er:p%40ss%3Aword@mail.example.com:2525")
    assert entry["BACKEND"].endswith("smtp.EmailBackend")
    assert entry["OPTIONS"] == {
        "host": "mail.example.com", "port": 2525, "username": "us@er", "password": "p@ss:word",
        "use_ssl": False, "use_tls": False, "timeout": 10.0,
    }


@pytest.mark.parametrize(
    ("url", "ssl", "tls", "port"),
    [
        ("smtps://h", True, False, 465),
        ("smtp+ssl://h", True, False, 465),
        ("smtp+tls://h", False, True, 587),
        ("submission://h", False, True, 587),
        ("smtp://h", False, False, 25),
        ("smtp://h?tls=true", False, True, 25),
    ],
)
def test_tls_modes_and_default_ports(url, ssl, tls, port):
    options = mailer_from_url(url)["OPTIONS"]
    assert (options["use_ssl"], options["use_tls"], options["port"]) == (ssl, tls, port)


def test_console_file_memory(tmp_path):
    assert mailer_from_url("console:")["BACKEND"].endswith("console.EmailBackend")
    assert mailer_from_url("memory:")["BACKEND"].endswith("locmem.EmailBackend")
    absolute = mailer_from_url(f"file://{tmp_path}")
    assert absolute["OPTIONS"]["file_path"] == str(tmp_path)
    relative = mailer_from_url("file:var/mail", base_dir=tmp_path)
    assert relative["OPTIONS"]["file_path"] == str(tmp_path / "var/mail")


def test_timeout_query():
    assert mailer_from_url("smtp://h?timeout=3")["OPTIONS"]["timeout"] == 3.0


@pytest.mark.parametrize("url", ["http://h", "smtp://", "file:", "ftp://x"])
def test_bad_urls_say_what_is_wrong(url):
    with pytest.raises(EmailURLError, match="EMAIL_URL"):
        mailer_from_url(url)
