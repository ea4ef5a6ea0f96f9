"""SITE_URL, the address links in emails point to: never a silent localhost in production."""

import os
import subprocess
import sys
from pathlib import Path

from tests.config.test_settings import GOOD, SETTINGS_KEYS

ROOT = Path(__file__).resolve().parents[2]


def production_site_url(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_KEYS}
    code = (
        "import django; from django.conf import settings; django.setup(); print(settings.SITE_URL)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
    )


def test_production_takes_site_url_as_set():
    result = production_site_url({**GOOD, "SITE_URL": "https://media.example.com/"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://media.example.com"


def test_production_without_site_url_says_what_to_set():
    env = {k: v for k, v in GOOD.items() if k != "SITE_URL"}
    result = production_site_url(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set SITE_URL" in result.stderr


def test_production_takes_the_heroku_domain_from_dyno_metadata():
    env = {k: v for k, v in GOOD.items() if k != "SITE_URL"}
    env["HEROKU_APP_DEFAULT_DOMAIN_NAME"] = "media-4f2a9c1b7d3e.herokuapp.com"
    result = production_site_url(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://media-4f2a9c1b7d3e.herokuapp.com"


def test_an_explicit_site_url_wins_over_the_heroku_domain():
    env = {**GOOD, "HEROKU_APP_DEFAULT_DOMAIN_NAME": "media-4f2a9c1b7d3e.herokuapp.com"}
    result = production_site_url(env)
    assert result.stdout.strip() == "https://media.example.com", result.stderr


def test_allowed_hosts_alone_are_not_taken_for_the_site_url():
    env = {k: v for k, v in GOOD.items() if k != "SITE_URL"}
    result = production_site_url({**env, "DJANGO_ALLOWED_HOSTS": "media.example.com"})
    assert result.returncode != 0
    assert "SITE_URL" in result.stderr


def test_a_site_url_without_a_scheme_is_refused():
    result = production_site_url({**GOOD, "SITE_URL": "media.example.com"})
    assert result.returncode != 0
    assert "must start with https://" in result.stderr


def test_make_run_points_links_at_the_port_it_serves_on():
    """The Makefile exports SITE_URL from PORT (unless SITE_URL is set already)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "PORT", "MAKEFLAGS")}
    show = ["make", "-s", "--no-print-directory", "--eval", "show: ; @echo $$SITE_URL", "show"]
    result = subprocess.run(
        [*show, "PORT=8123"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "http://127.0.0.1:8123", result.stderr
    result = subprocess.run(
        show, cwd=ROOT, env={**env, "SITE_URL": "https://media.example.com"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "https://media.example.com", result.stderr
