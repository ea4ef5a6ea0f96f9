"""app.json (the "Deploy to Heroku" button) against the Procfile and the production settings.

A button deploy sets what the add-ons provide and what app.json's env says; with exactly
that, the production settings must load and `manage.py check --deploy` must be clean.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from tests.config.test_deploy_files import procfile

ROOT = Path(__file__).resolve().parents[2]
APP = json.loads((ROOT / "app.json").read_text())
# The config vars each add-on sets on the app (Heroku's documented names).
ADDON_VARIABLES = {
    "heroku-postgresql": {"DATABASE_URL": "postgres://u:p@db.example.com:5432/media"},
    "cloudamqp": {"CLOUDAMQP_URL": "amqps://u:p@rabbit.example.com/u"},
    "mailgun": {
        "MAILGUN_SMTP_SERVER": "smtp.mailgun.org",
        "MAILGUN_SMTP_PORT": "587",
        "MAILGUN_SMTP_LOGIN": "postmaster@mg.example.com",
        "MAILGUN_SMTP_PASSWORD": "mailgun-pass",
    },
    "sendgrid": {"SENDGRID_API_KEY": "SG.sendgrid-key"},
}
# What the person pressing the button types into app.json's required fields.
TYPED_IN = {
    "SITE_URL": "https://myapp.herokuapp.com",
    "MEDIA_S3_BUCKET": "myapp-media",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
}


def addon_services() -> list[str]:
    return [(a if isinstance(a, str) else a["plan"]).split(":")[0] for a in APP["addons"]]


def button_config() -> dict[str, str]:
    config = {}
    for service in addon_services():
        config.update(ADDON_VARIABLES[service])
    for name, spec in APP["env"].items():
        if isinstance(spec, str):
            config[name] = spec
        elif "value" in spec:
            config[name] = spec["value"]
        elif spec.get("generator") == "secret":
            config[name] = secrets.token_hex(32)  # what Heroku's generator makes: 64 hex
        elif spec.get("required", True):
            config[name] = TYPED_IN[name]
    return config


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    """manage.py with the production settings and only the given config (no test services)."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_formation_runs_every_procfile_process_but_release():
    processes = set(procfile("Procfile"))
    assert "release" in processes  # migrations run in Heroku's release phase
    assert set(APP["formation"]) == processes - {"release"}
    assert APP["formation"]["beat"]["quantity"] == 1  # two would publish every sweep twice


def test_addons_give_a_database_a_broker_and_smtp():
    services = addon_services()
    assert "heroku-postgresql" in services and "cloudamqp" in services
    assert {"mailgun", "sendgrid"} & set(services)


def test_secret_key_is_generated_and_every_required_setting_is_in_app_json():
    assert APP["env"]["DJANGO_SECRET_KEY"]["generator"] == "secret"
    production = (ROOT / "config" / "settings" / "production.py").read_text()
    required = set(re.findall(r'required\("(\w+)"', production))
    required |= {"DJANGO_ALLOWED_HOSTS", "MEDIA_S3_BUCKET"}  # refused when empty
    provided = set(APP["env"]) | {v for s in addon_services() for v in ADDON_VARIABLES[s]}
    assert required <= provided, required - provided


def test_check_deploy_is_clean_with_what_a_button_deploy_sets():
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=button_config())
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_without_app_json_env_the_production_settings_refuse_to_start():
    addons_only = {v: k for s in addon_services() for v, k in ADDON_VARIABLES[s].items()}
    done = manage("check", env=addons_only)
    assert done.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in done.stderr
