"""EMAIL_URL -> MAILERS entry: the forms a user would write, and Heroku's mail add-ons."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.email_url import EmailURLError, email_url_from_environ, mailer_from_url

ROOT = Path(__file__).resolve().parents[2]


def test_smtp_with_encoded_credentials():
    entry = mailer_from_url("smtp://us%40er:p%40ss%3Aword@mail.example.com:2525")
    # Django's SMTP backend, also keeping the server's reply to each message.
    assert entry["BACKEND"] == "mailer.backends.smtp.EmailBackend"
    assert entry["OPTIONS"] == {
        "host": "mail.example.com",
        "port": 2525,
        "username": "us@er",
        "password": "p@ss:word",
        "use_ssl": False,
        "use_tls": False,
        "timeout": 10.0,
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


MAILGUN = {
    "MAILGUN_SMTP_SERVER": "smtp.mailgun.org",
    "MAILGUN_SMTP_PORT": "587",
    "MAILGUN_SMTP_LOGIN": "postmaster@mg.example.com",
    "MAILGUN_SMTP_PASSWORD": "s3cr:t/pa@ss",
}


def test_email_url_wins_over_the_add_ons():
    environ = {**MAILGUN, "SENDGRID_API_KEY": "SG.x", "EMAIL_URL": " smtp://h:25 "}
    assert email_url_from_environ(environ) == "smtp://h:25"


def test_no_mail_variables_means_no_url():
    assert email_url_from_environ({"PATH": "/bin"}) == ""
    assert email_url_from_environ({"EMAIL_URL": ""}) == ""


def test_mailgun_becomes_starttls_with_encoded_credentials():
    url = email_url_from_environ(MAILGUN)
    assert url == ("smtp+tls://postmaster%40mg.example.com:s3cr%3At%2Fpa%40ss@smtp.mailgun.org:587")
    options = mailer_from_url(url)["OPTIONS"]
    assert options["username"] == "postmaster@mg.example.com"
    assert options["password"] == "s3cr:t/pa@ss"
    assert (options["host"], options["port"], options["use_tls"]) == (
        "smtp.mailgun.org",
        587,
        True,
    )


@pytest.mark.parametrize(("port", "ssl", "tls"), [("465", True, False), ("2525", False, True)])
def test_mailgun_port_chooses_the_tls_mode(port, ssl, tls):
    options = mailer_from_url(email_url_from_environ({**MAILGUN, "MAILGUN_SMTP_PORT": port}))[
        "OPTIONS"
    ]
    assert (options["port"], options["use_ssl"], options["use_tls"]) == (int(port), ssl, tls)


def test_mailgun_without_port_uses_587():
    environ = {k: v for k, v in MAILGUN.items() if k != "MAILGUN_SMTP_PORT"}
    assert email_url_from_environ(environ).endswith("@smtp.mailgun.org:587")


def test_sendgrid_api_key_logs_in_as_apikey():
    url = email_url_from_environ({"SENDGRID_API_KEY": "SG.ab/c+d="})
    assert url == "smtp+tls://apikey:SG.ab%2Fc%2Bd%3D@smtp.sendgrid.net:587"
    options = mailer_from_url(url)["OPTIONS"]
    assert (options["username"], options["password"]) == ("apikey", "SG.ab/c+d=")


def test_sendgrid_username_and_password():
    url = email_url_from_environ(
        {"SENDGRID_USERNAME": "app1@heroku.com", "SENDGRID_PASSWORD": "pw"}
    )
    assert url == "smtp+tls://app1%40heroku.com:pw@smtp.sendgrid.net:587"


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        (
            {"MAILGUN_SMTP_SERVER": "smtp.mailgun.org"},
            "MAILGUN_SMTP_LOGIN and MAILGUN_SMTP_PASSWORD",
        ),
        ({**MAILGUN, "MAILGUN_SMTP_PASSWORD": ""}, "MAILGUN_SMTP_PASSWORD"),
        ({"SENDGRID_USERNAME": "u"}, "SENDGRID_PASSWORD"),
        ({"SENDGRID_PASSWORD": "p"}, "SENDGRID_USERNAME"),
    ],
)
def test_incomplete_add_on_variables_say_what_is_missing(environ, missing):
    with pytest.raises(EmailURLError, match=f"set {missing}, or set EMAIL_URL"):
        email_url_from_environ(environ)


def test_bad_mailgun_port_is_refused():
    with pytest.raises(EmailURLError, match="MAILGUN_SMTP_PORT"):
        email_url_from_environ({**MAILGUN, "MAILGUN_SMTP_PORT": "five"})


def test_production_settings_take_sendgrid_when_email_url_is_absent():
    """What Heroku's SendGrid add-on sets is enough for production to start."""
    environ = {
        **{
            k: v
            for k, v in os.environ.items()
            if "EMAIL_URL" not in k and "SENDGRID" not in k and "MAILGUN" not in k
        },
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "media.example.com",
        "DATABASE_URL": "postgres://u:p@db.example.com:5432/media",
        "BROKER_URL": "amqp://u:p@mq.example.com:5672/vhost",
        "MEDIA_S3_BUCKET": "media",
        "SENDGRID_API_KEY": "SG.key",
        "SITE_URL": "https://media.example.com",
    }
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        "print(json.dumps(settings.MAILERS['default']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)
    assert entry["BACKEND"] == "mailer.backends.smtp.EmailBackend"
    assert entry["OPTIONS"]["host"] == "smtp.sendgrid.net"
    assert (entry["OPTIONS"]["username"], entry["OPTIONS"]["password"]) == ("apikey", "SG.key")
