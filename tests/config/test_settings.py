"""Production settings refuse to start without their secrets and servers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "media.example.com",
    "DATABASE_URL": "postgres://u:p@db.example.com:5432/media",
    "BROKER_URL": "amqp://u:p@mq.example.com:5672/vhost",
    "EMAIL_URL": "smtp+tls://u:p@smtp.example.com:587",
    "MEDIA_S3_BUCKET": "media",
    "SITE_URL": "https://media.example.com",
}
SETTINGS_KEYS = [
    *GOOD,
    "CLOUDAMQP_URL",
    "MEDIA_ALLOW_LOCAL_FILES",
    "HEROKU_APP_DEFAULT_DOMAIN_NAME",
]


def load_production(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_KEYS}
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        "print(json.dumps({'broker': settings.CELERY_BROKER_URL,"
        " 'db': settings.DATABASES['default']['ENGINE'],"
        " 'storage': settings.STORAGES['default']['BACKEND'],"
        " 'mail': settings.MAILERS['default']['BACKEND'],"
        " 'opts': settings.CELERY_BROKER_TRANSPORT_OPTIONS}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
    )


def test_complete_production_environment_loads():
    result = load_production(GOOD)
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout
    assert "S3Storage" in result.stdout
    assert "smtp.EmailBackend" in result.stdout
    assert '"confirm_publish": true' in result.stdout


def test_cloudamqp_url_is_used_when_broker_url_is_absent():
    env = {k: v for k, v in GOOD.items() if k != "BROKER_URL"}
    env["CLOUDAMQP_URL"] = "amqps://u:p@hawk.rmq.cloudamqp.com/u"
    result = load_production(env)
    assert result.returncode == 0, result.stderr
    assert "cloudamqp.com" in result.stdout


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS"),
        ("DATABASE_URL", "DATABASE_URL"),
        ("BROKER_URL", "BROKER_URL"),
        ("EMAIL_URL", "EMAIL_URL"),
        ("MEDIA_S3_BUCKET", "MEDIA_S3_BUCKET"),
        ("SITE_URL", "SITE_URL"),
    ],
)
def test_missing_setting_fails_loudly(missing, words):
    env = {k: v for k, v in GOOD.items() if k != missing}
    result = load_production(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and words in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "sqlite:////tmp/x.sqlite3"), ("BROKER_URL", "filesystem://")],
)
def test_production_refuses_the_embedded_default(name, value):
    result = load_production({**GOOD, name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
