"""docker-compose.yml and the Procfiles: valid shape, and commands the project really has."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import IN_CI
from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OVERRIDE = yaml.safe_load((ROOT / "docker-compose.override.yml").read_text())
EXPECTED_SERVICES = {
    "migrate",
    "web",
    "worker-media",
    "worker-email",
    "beat",
    "flower",
    "rabbitmq",
    "postgres",
}
APP_SERVICES = {"migrate", "web", "worker-media", "worker-email", "beat", "flower"}
# What compose needs from the environment (or .env) before it starts anything.
REQUIRED_VARIABLES = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "POSTGRES_PASSWORD": "pg-pass",
    "RABBITMQ_PASSWORD": "mq-pass",
    "FLOWER_BASIC_AUTH": "ops:flower-pass",
}


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
    for name in EXPECTED_SERVICES - {"migrate"}:
        assert "healthcheck" in services[name], name
    assert "management" in services["rabbitmq"]["image"]
    assert set(COMPOSE["volumes"]) >= {"postgres", "rabbitmq", "media"}
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert {"DATABASE_URL", "BROKER_URL", "EMAIL_URL"} <= set(env), name
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert services[name]["build"]["target"] == "production", name
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_compose_takes_every_password_from_the_environment():
    services = COMPOSE["services"]
    app_env = services["web"]["environment"]
    secrets = {
        "DJANGO_SECRET_KEY": app_env["DJANGO_SECRET_KEY"],
        "FLOWER_BASIC_AUTH": app_env["FLOWER_BASIC_AUTH"],
        "POSTGRES_PASSWORD": services["postgres"]["environment"]["POSTGRES_PASSWORD"],
        "RABBITMQ_PASSWORD": services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"],
        "POSTGRES_PASSWORD in DATABASE_URL": app_env["DATABASE_URL"],
        "RABBITMQ_PASSWORD in BROKER_URL": app_env["BROKER_URL"],
    }
    for what, value in secrets.items():
        # ${VAR:?message}: compose refuses to start without it; no default that works.
        assert re.search(r"\$\{\w+:\?[^}]+\}", value), f"{what} is not required: {value}"
    documented = (ROOT / ".env.example").read_text()
    for variable in REQUIRED_VARIABLES:
        assert re.search(rf"^# {variable}=", documented, re.M), f"{variable} not in .env.example"


def published_ports(compose: dict):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            yield name, str(port)


@pytest.mark.parametrize("compose", [COMPOSE, OVERRIDE], ids=["compose", "override"])
def test_compose_ports_are_bound_to_loopback_only(compose):
    ports = list(published_ports(compose))
    for name, port in ports:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    if compose is COMPOSE:
        assert {"web", "flower", "rabbitmq", "postgres"} <= {name for name, _ in ports}


def test_compose_override_is_the_development_setup():
    services = OVERRIDE["services"]
    assert set(services) - {"mailpit"} == APP_SERVICES
    for name in APP_SERVICES:
        assert services[name]["build"]["target"] == "dev", name
        assert services[name]["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.local"
    assert "runserver" in services["web"]["command"]


def compose_cli() -> list[str] | None:
    """`docker compose` (the plugin) or Debian's `docker-compose`, whichever answers."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if (
            shutil.which(command[0])
            and subprocess.run([*command, "version"], capture_output=True, timeout=30).returncode
            == 0
        ):
            return command
    return None


def test_compose_config_is_valid_and_refuses_to_start_without_passwords(tmp_path):
    cli = compose_cli()
    if cli is None:
        # scripts/install-browser installs Debian's docker-compose when root; under CI a
        # machine without it fails here instead of skipping.
        message = "neither `docker compose` nor `docker-compose` is installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    for name in ("docker-compose.yml", "docker-compose.override.yml"):
        shutil.copy(ROOT / name, tmp_path / name)  # no .env of the checkout is read
    env = {k: v for k, v in os.environ.items() if k not in REQUIRED_VARIABLES}

    def config(*files, **variables):
        command = [*cli, *(arg for f in files for arg in ("-f", f)), "config", "-q"]
        env_ = {**env, **variables}
        return subprocess.run(command, cwd=tmp_path, env=env_, capture_output=True, text=True)

    production = config("docker-compose.yml", **REQUIRED_VARIABLES)
    assert production.returncode == 0, production.stderr
    development = config(**REQUIRED_VARIABLES)  # with docker-compose.override.yml
    assert development.returncode == 0, development.stderr
    refused = config("docker-compose.yml")
    assert refused.returncode != 0
    assert re.search(r"set (DJANGO_SECRET_KEY|POSTGRES_PASSWORD|RABBITMQ_PASSWORD)", refused.stderr)


def test_every_worker_starts_through_manage_py_worker():
    """One command, so each consumes the queue names the publisher uses (the namespace)."""
    commands = {
        **{f"Procfile {k}": v for k, v in procfile("Procfile").items()},
        **{f"Procfile.local {k}": v for k, v in procfile("Procfile.local").items()},
        **{f"compose {k}": v.get("command", "") for k, v in COMPOSE["services"].items()},
    }
    workers = {k: v for k, v in commands.items() if "worker-" in k}
    assert len(workers) == 6
    for where, command in workers.items():
        assert "manage.py worker " in command, where
        worker_arguments_are_valid(command)
    for where, command in commands.items():
        assert not re.search(r"celery .*\bworker\b", command), f"{where} starts celery itself"
    expected = {"worker-media": ["media"], "worker-email": ["email", "default"]}
    for where, command in workers.items():
        queues = [w for w in worker_arguments(command) if not w.startswith("-")]
        assert queues == expected[where.split()[-1]], where


def worker_arguments(command: str) -> list[str]:
    command = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command)  # ${VAR:-2} -> 2
    words = shlex.split(command)
    return words[words.index("worker") + 1 :]


def worker_arguments_are_valid(command: str) -> None:
    from media_pipeline.management.commands.worker import Command

    Command().create_parser("manage.py", "worker").parse_args(worker_arguments(command))


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


@pytest.mark.parametrize("service", sorted(APP_SERVICES - {"web"}))  # web: the image's CMD
def test_compose_commands_exist(service):
    command = COMPOSE["services"][service]["command"]
    if "manage.py worker" in command:
        worker_arguments_are_valid(command)
    elif "celery" in command:
        celery_arguments_are_valid(command)
    else:
        assert command == "python manage.py migrate --noinput"


@pytest.mark.parametrize("name", ["Procfile", "Procfile.local"])
def test_procfile_celery_commands_are_valid(name):
    for command in procfile(name).values():
        if "celery" in command:
            celery_arguments_are_valid(command)


def test_heroku_procfile_shape():
    entries = procfile("Procfile")
    assert "migrate" in entries["release"]
    assert entries["web"].endswith("scripts/heroku-web")
    web = (ROOT / "scripts" / "heroku-web").read_text()
    assert web.split("exec gunicorn", 1)[1].split()[0] == "config.wsgi"
    assert '"0.0.0.0:${PORT:?}"' in web
    for process in ("worker-media", "worker-email", "beat"):
        assert "config.settings.production" in entries[process]


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
    # The first request loads the app in a gunicorn process: on a busy machine, seconds.
    try:
        return requests.get(url, timeout=10)
    except requests.RequestException:
        return None
