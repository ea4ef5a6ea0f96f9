"""Real servers for tests: an SMTP server on loopback, web servers and Celery workers."""

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1, what: str = "it"):
    """Poll until predicate() is truthy and return its value; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Inbox:
    """An aiosmtpd handler keeping every delivered message; `replies` scripts failures.

    `delay` (seconds) holds the reply to DATA after the message was kept, as a slow
    server does: a client killed meanwhile has delivered without hearing so. Setting it
    back to 0 releases the replies being held.
    """

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.replies: list[str] = []  # consumed one per DATA, e.g. "451 try later"
        self.delay: float = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            self.messages.append(message)
        held_until = time.monotonic() + self.delay
        while self.delay and time.monotonic() < held_until:
            await asyncio.sleep(0.05)
        return "250 2.0.0 Message accepted"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.replies.clear()
            self.delay = 0.0

    def message_ids(self) -> list[str]:
        """The Message-ID of every message kept, one per delivery (duplicates included)."""
        with self.lock:
            return [m["Message-ID"] for m in self.messages]

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if address in m["X-Envelope-To"]]


class SMTPServer:
    """A real SMTP server on 127.0.0.1 at a free port."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database the test process is really using."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    auth = quote(settings_dict.get("USER") or "", safe="")
    if settings_dict.get("PASSWORD"):
        auth += ":" + quote(settings_dict["PASSWORD"], safe="")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class Process:
    """A child process in its own process group, with its output kept in a log file."""

    def __init__(self, command: list[str], *, env: dict, log_path: Path):
        self.command = command
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        os.killpg(self.popen.pid, sig)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            try:
                self.signal(signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    self.signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        self.log.close()


WEB_SERVERS = ("runserver", "gunicorn")  # make run's, and Heroku's and compose's


def start_web_server(kind: str, *, env: dict, log_path: Path) -> tuple[Process, str]:
    """`manage.py runserver` or gunicorn on a free loopback port, once it answers; returns
    the process and its base URL."""
    import requests

    port = free_port()
    if kind == "runserver":
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--threads", "2", "--timeout", "30",
        ]  # fmt: skip
    process = Process(command, env=env, log_path=log_path)
    base = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{base}/healthz", timeout=5)
        except requests.ConnectionError:
            return None

    try:
        wait_for(answers, timeout=60, what=f"{kind} to answer")
    except AssertionError:
        process.stop()
        raise
    return process, base


def start_worker(
    *, queues: str, env: dict, log_dir: Path, concurrency: int = 2, name: str | None = None
) -> Process:
    """A real Celery worker for the given kinds of work ("media,email"), in this run's
    queue namespace; returns once it is ready to consume."""
    from celery_app import worker_command

    # Node names are global on a broker (each has its own control queue): make them unique
    # to this run, so parallel runs never take each other's.
    name = f"{name or 'test'}-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    command = worker_command(queues.split(","), name=name, concurrency=concurrency)
    command += ["--without-gossip", "--without-mingle"]
    process = Process(command, env=env, log_path=log_dir / f"{name}.log")
    try:
        wait_for(
            lambda: "ready." in process.output() or not process.alive(),
            timeout=60,
            what=f"worker {name} to start",
        )
    except AssertionError:
        process.stop()
        raise
    if not process.alive():
        process.stop()
        raise RuntimeError(f"Worker {name} died at start:\n{process.output()[-3000:]}")
    return process


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "celery_app", *args]


def start_flower(*, env: dict, log_dir: Path, auth: tuple[str, str]) -> tuple[Process, str]:
    """Flower behind basic auth on a free loopback port; returns it and its base URL once it
    answers."""
    import requests

    port = free_port()
    flower = Process(
        celery_command("flower", f"--port={port}", "--address=127.0.0.1"),
        env={**env, "FLOWER_BASIC_AUTH": ":".join(auth)},
        log_path=log_dir / f"flower-{port}.log",
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/api/workers", auth=auth, timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, timeout=30, what="Flower to answer")
    except AssertionError:
        flower.stop()
        raise
    return flower, base


def start_beat(*, env: dict, log_dir: Path) -> Process:
    """Celery beat (the sweeps, at the env's SWEEP_INTERVAL_SECONDS)."""
    return Process(
        celery_command("beat", "--loglevel=INFO", f"--schedule={log_dir / 'beat-schedule'}"),
        env=env,
        log_path=log_dir / "beat.log",
    )
