"""`make run`'s embedded default: no server, SQLite (WAL), filesystem queue, files for email.

Runs the real Procfile.local under honcho as `make run` does (scripts/run-local), uploads
through HTTP, and stops it with one Ctrl-C (SIGINT), as a newcomer would.
"""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.factories import jpeg_bytes
from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVER_VARIABLES = (
    "DATABASE_URL",
    "BROKER_URL",
    "CLOUDAMQP_URL",
    "EMAIL_URL",
    "MEDIA_ROOT",
    "CELERY_QUEUE_NAMESPACE",
    "TEST_RUN_ID",
    "DJANGO_SETTINGS_MODULE",
)


def embedded_env(var_dir: Path, port: int, flower_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env.update(
        VAR_DIR=str(var_dir),
        PORT=str(port),
        FLOWER_PORT=str(flower_port),
        FLOWER_BASIC_AUTH="demo:demo-pass-123",
        # The demo user gets the default digest: sent a second after its one upload.
        MAILER_DIGEST_WINDOW_SECONDS="1",
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    )
    return env


def login(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    session.post(
        f"{base}/accounts/login/",
        timeout=10,
        data={
            "username": "demo",
            "password": "demo-pass-123",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
    )
    return session


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.ConnectionError:
        return False


def test_whole_service_runs_with_no_server(tmp_path):
    port, flower_port = free_port(), free_port()
    env = embedded_env(tmp_path, port, flower_port)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["ensure_demo_user"]):
        done = subprocess.run(
            manage + command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    assert "demo / demo-pass-123" in done.stdout

    log = open(tmp_path / "honcho.log", "wb")  # noqa: SIM115
    honcho = subprocess.Popen(
        [sys.executable, "scripts/run-local", "-p", str(port)],  # what `make run` starts
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60, what="the web process")
        assert requests.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        session = login(base)
        response = session.post(
            f"{base}/api/uploads/",
            files={"file": ("first.jpg", jpeg_bytes(2000, 1500))},
            headers={"X-CSRFToken": session.cookies["csrftoken"]},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        url = base + response.json()["url"]
        body = wait_for(
            lambda: (
                (b := session.get(url, timeout=5).json())["status"] in ("ready", "failed") and b
            ),
            timeout=90,
            what="the upload to be processed by the embedded worker",
        )
        assert body["status"] == "ready", body
        # The file appears when the mailer opens it; wait for the message inside it.
        wait_for(
            lambda: any("first.jpg" in f.read_text() for f in (tmp_path / "mail").glob("*.log")),
            timeout=60,
            what="the confirmation email written under var/mail/",
        )
        assert answers(f"http://127.0.0.1:{flower_port}/")

        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        # One Ctrl-C stops everything.
        os.killpg(honcho.pid, signal.SIGINT)
        try:
            honcho.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            pytest.fail("make run's processes did not stop on one Ctrl-C")
        log.close()
    assert not answers(f"{base}/healthz")
    # A clean stop: exit 0 (make reports no error) and every process ended by the SIGTERM
    # honcho sent, none SIGKILLed for outliving its wait.
    output = (tmp_path / "honcho.log").read_text()
    assert honcho.returncode == 0, output[-3000:]
    assert "SIGKILL" not in output and "rc=-9" not in output, output[-3000:]
    assert "every process stopped cleanly" in output
