"""docker-compose.yml and the Procfiles: valid shape, and commands the project really has."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
EXPECTED_SERVICES = {
    "web",
    "worker-media",
    "worker-email",
    "beat",
    "flower",
    "rabbitmq",
    "postgres",
}
APP_SERVICES = {"web", "worker-media", "worker-email", "beat", "flower"}


def procfile(name: str) -> dict[str, str]:
    entries = {}
    for line in (ROOT / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, command = line.split(":", 1)
            entries[key.strip()] = command.strip()
    return entries


def test_compose_has_every_service_with_health_checks_and_volumes():
    services = COMPOSE["services"]
    assert set(services) == EXPECTED_SERVICES
    for name in ("web", "rabbitmq", "postgres", "flower", "worker-media", "worker-email"):
        assert "healthcheck" in services[name], name
    assert "management" in services["rabbitmq"]["image"]
    assert set(COMPOSE["volumes"]) >= {"postgres", "rabbitmq", "media"}
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert {"DATABASE_URL", "BROKER_URL", "EMAIL_URL"} <= set(env), name
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_compose_workers_consume_their_own_queues():
    services = COMPOSE["services"]
    assert "-Q media" in services["worker-media"]["command"]
    assert re.search(r"-Q email\b", services["worker-email"]["command"])


def celery_arguments_are_valid(command: str) -> None:
    """Ask Celery itself whether the sub-command and its options exist (--help parses them)."""
    words = shlex.split(command.replace("$$", "$"))
    words = [w for w in words if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
    start = words.index("celery")
    sub = words[start + 3]  # celery -A celery_app <sub>
    options = [w.split("=")[0] for w in words[start + 4 :] if w.startswith("--")]
    if sub == "flower":
        # Flower's options are tornado options, defined when flower.options is imported.
        import flower.options  # noqa: F401
        from tornado.options import options as tornado_options

        for option in options:
            assert option[2:].replace("-", "_") in tornado_options, option
        return
    help_text = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "celery_app", sub, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert help_text.returncode == 0, help_text.stderr
    for option in options:
        assert option in help_text.stdout, f"{option} is not an option of celery {sub}"


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_compose_commands_exist(service):
    command = COMPOSE["services"][service]["command"]
    if "celery" in command:
        celery_arguments_are_valid(command)
    else:
        assert "manage.py migrate" in command and "manage.py runserver" in command


@pytest.mark.parametrize("name", ["Procfile", "Procfile.local"])
def test_procfile_celery_commands_are_valid(name):
    for process, command in procfile(name).items():
        if "celery" in command:
            celery_arguments_are_valid(command)
        if name == "Procfile" and process.startswith("worker"):
            assert "REMAP_SIGTERM=SIGQUIT" in command


def test_heroku_procfile_shape():
    entries = procfile("Procfile")
    assert "migrate" in entries["release"]
    assert entries["web"].endswith("scripts/heroku-web")
    web = (ROOT / "scripts" / "heroku-web").read_text()
    assert web.split("exec gunicorn", 1)[1].split()[0] == "config.wsgi"
    assert '"0.0.0.0:${PORT:?}"' in web
    assert "-Q media" in entries["worker-media"] and "-Q email" in entries["worker-email"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_procfile_processes_start_against_the_local_services(worker_env, tmp_path):
    """Run each Heroku process for a few seconds with production settings: it must stay up."""
    port = free_port()
    env = heroku_env(worker_env, port)
    processes = {}
    for name, command in procfile("Procfile").items():
        if name == "beat":
            command = command.replace("/tmp/celerybeat-schedule", str(tmp_path / "beat"))
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
        processes[name] = (
            subprocess.Popen(
                ["bash", "-c", command],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            ),
            tmp_path / f"{name}.log",
        )
    try:
        release, release_log = processes.pop("release")
        assert release.wait(timeout=120) == 0, release_log.read_text()

        import requests

        health = wait_for(
            lambda: _get(requests, f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            what="gunicorn to answer",
        )
        assert health.status_code == 200, health.text
        time.sleep(3)
        for name, (process, log_path) in processes.items():
            assert process.poll() is None, f"{name} exited:\n{log_path.read_text()[-2000:]}"
        for name in ("worker-media", "worker-email"):
            wait_for(
                lambda n=name: "ready." in processes[n][1].read_text(),
                timeout=30,
                what=f"{name} to be ready",
            )
    finally:
        for process, _ in processes.values():
            stop_group(process)


def heroku_env(worker_env: dict, port: int) -> dict:
    """The environment of a Heroku dyno running against the local services."""
    env = {
        **worker_env,
        "PORT": str(port),
        "DJANGO_SECRET_KEY": "y" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "MEDIA_ALLOW_LOCAL_FILES": "true",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("DJANGO_SETTINGS_MODULE")
    env.pop("FLOWER_BASIC_AUTH", None)
    return env


def test_heroku_web_flower_options_are_flowers_own():
    script = (ROOT / "scripts" / "heroku-web").read_text()
    flower_line = next(
        line for line in script.splitlines() if "celery -A celery_app flower" in line
    )
    celery_arguments_are_valid(flower_line.replace("exec ", "").rstrip(" \\") + " --broker_api=x")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_flower_app_runs_from_the_same_web_line_and_only_behind_auth(worker_env, tmp_path):
    import requests

    web = procfile("Procfile")["web"]
    port = free_port()
    env = {**heroku_env(worker_env, port), "WEB_ROLE": "flower"}
    refused = subprocess.run(
        ["bash", "-c", web], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert "needs FLOWER_BASIC_AUTH" in refused.stderr

    env["FLOWER_BASIC_AUTH"] = "ops:flower-pass"
    log_path = tmp_path / "flower.log"
    with open(log_path, "wb") as log:
        flower = subprocess.Popen(
            ["bash", "-c", web], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        # A Response is falsy unless 2xx: wait for any answer, then look at it.
        answer = wait_for(
            lambda: (r := _get(requests, f"{base}/api/workers")) is not None and [r],
            timeout=30,
            what="Flower to answer",
        )[0]
        assert answer.status_code == 401, log_path.read_text()
        authed = requests.get(f"{base}/api/workers", auth=("ops", "flower-pass"), timeout=5)
        assert authed.status_code == 200
    finally:
        stop_group(flower)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers; gone already is fine."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _get(requests, url):
    try:
        return requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None
