"""Fault injection on the machine's real services, and the counting of what came out."""

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.servers import wait_for


def port_answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def run(command: list[str], timeout: float = 120) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr or done.stdout}")


class Broker:
    """Stop and start the broker named by BROKER_URL: RabbitMQ's app, or the Redis server."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (6379 if self.scheme.startswith("redis") else 5672)

    @property
    def missing_tool(self) -> str | None:
        tool = "redis-server" if self.scheme.startswith("redis") else "rabbitmqctl"
        if self.host not in ("127.0.0.1", "localhost"):
            return f"the broker at {self.host} is not on this machine"
        return None if shutil.which(tool) else f"{tool} is not installed"

    def stop(self) -> None:
        if self.scheme.startswith("redis"):
            run(["redis-cli", "-h", self.host, "-p", str(self.port), "shutdown", "nosave"])
        else:
            run(["rabbitmqctl", "stop_app"])
        wait_for(
            lambda: not port_answers(self.host, self.port), timeout=60, what="the broker to stop"
        )

    def start(self) -> None:
        if self.scheme.startswith("redis"):
            os.makedirs("/var/lib/redis", exist_ok=True)
            os.makedirs("/var/log/redis", exist_ok=True)
            run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "-::1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    "/var/lib/redis",
                    "--logfile",
                    "/var/log/redis/ci.log",
                ]
            )
        else:
            run(["rabbitmqctl", "start_app"])
            run(["rabbitmqctl", "await_startup"])
        wait_for(
            lambda: port_answers(self.host, self.port), timeout=120, what="the broker to start"
        )


class Postgres:
    """Restart the local PostgreSQL cluster (Debian's pg_ctlcluster)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        versions = sorted(glob.glob("/etc/postgresql/*/main"))
        self.cluster = versions[-1].split("/")[3] if versions else None

    @property
    def missing_tool(self) -> str | None:
        if self.host not in ("127.0.0.1", "localhost"):
            return f"the database at {self.host} is not on this machine"
        if not (self.cluster and shutil.which("pg_ctlcluster")):
            return "pg_ctlcluster is not installed"
        return None

    def restart(self) -> None:
        run(
            [
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                self.cluster,
                "main",
                "restart",
                "-m",
                "fast",
            ]
        )
        wait_for(
            lambda: port_answers(self.host, self.port),
            timeout=60,
            what="Postgres to accept connections",
        )
        time.sleep(0.5)


@dataclass
class Tally:
    """What came out of a fault case, printed so a reader sees the numbers."""

    case: str
    sent: int = 0
    processed: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: dict = field(default_factory=dict)

    def line(self) -> str:
        extras = " ".join(f"{k}={v}" for k, v in self.extra.items())
        return (
            f"[fault] {self.case}: sent={self.sent} processed={self.processed} "
            f"lost={self.lost} duplicated={self.duplicated} {extras}"
        ).rstrip()
