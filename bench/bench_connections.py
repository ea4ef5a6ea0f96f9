"""AMQP connections and channels each process of the service holds on RabbitMQ.

Run from the repository root: ``python -m bench connections`` (or ``python -m
bench.bench_connections [--uploads 8]``). Needs the local Postgres (127.0.0.1:5432, user
postgres) and RabbitMQ (127.0.0.1:5672) and root (``rabbitmqctl``); uses a throwaway database
``bench_conn_<pid>``, throwaway queues ``fl<pid>.*`` and a temporary folder, all removed at
the end. Prints counts, not timings: there is no baseline to take a ratio against.

The processes start one after the other, as the Procfile starts them: Flower (``celery
flower --port=<free> --address=127.0.0.1``, basic auth), the media worker (``-Q media
--concurrency=2 --prefetch-multiplier=1``), the email worker (``-Q email,default
--concurrency=2``), beat, and the web process (gunicorn, 2 workers x 4 threads). Flower is read
idle, after its /api/workers, /api/tasks and /broker pages, and after /api/workers?refresh=1
(the workers page's refresh); each other process once it is up. Then logged-in clients post
uploads through the web process, every process is read again once the uploads are ready and
their emails sent, and Flower once more after all four pages with the workers up.

Each AMQP connection RabbitMQ lists (``rabbitmqctl list_connections``) is given to the
process whose socket has its peer port (``/proc/<pid>/fd`` and ``/proc/net/tcp``), so the
connections of anything else on the machine (other test runs) are never counted; its channels
and consumers come from ``rabbitmqctl list_channels``. A sampler also counts each process
tree's established sockets to the broker every 0.1 s, for the peak (short-lived
connections, like the health check's, show there only). Finally it adds up what a Heroku app
holds (web x2, worker-media, worker-email, beat, flower) beside CloudAMQP's plan limits.
Exits 0 when it measured (or skipped: no server answers, no rabbitmqctl), 1 when it failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from urllib3 import encode_multipart_formdata

from bench.bench_upload_latency import (
    CREATE_USER,
    Sample,
    free_port,
    logged_in_session,
    run_batch,
    wait_until_healthy,
)
from bench.bench_worker_throughput import answers
from bench.throwaway import POSTGRES_URL, RABBITMQ_URL, Throwaway
from tests.imagecorpus import photo_jpeg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PID = os.getpid()
BROKER_PORT = urlsplit(RABBITMQ_URL).port or 5672
DATABASE_NAME = f"bench_conn_{PID}"
NAMESPACE = f"fl{PID}."
THROWAWAY = Throwaway(database=DATABASE_NAME, namespace=NAMESPACE)
create_database, drop_database = THROWAWAY.create_database, THROWAWAY.drop_database
drop_queues, migrate = THROWAWAY.drop_queues, THROWAWAY.migrate
FLOWER_AUTH = ("ops", "secret")
FLOWER_PAGES = ("/api/workers", "/api/tasks", "/broker")
FLOWER_REFRESH = "/api/workers?refresh=1"  # the workers page's refresh: inspects each
WEB_WORKERS, WEB_THREADS = 2, 4
WORKER_CONCURRENCY = 2  # MEDIA_CONCURRENCY and EMAIL_CONCURRENCY in the Procfile
SAMPLE_SECONDS = 0.1
SETTLE_SECONDS = 3.0
START_TIMEOUT = 60.0
# A Heroku app: process type -> dynos. Flower runs once, off Heroku or on a dyno of its own.
HEROKU_APP = {"web": 2, "worker-media": 1, "worker-email": 1, "beat": 1, "flower": 1}
# CloudAMQP's shared plans, concurrent connections.
PLANS = {"Little Lemur (free)": 20, "Tough Tiger": 100}


# --- throwaway servers -------------------------------------------------------------------------


def configure(folder: Path) -> None:
    """This run's environment: the test settings, Flower's login, beat sweeping within seconds."""
    THROWAWAY.configure(
        folder,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        FLOWER_BASIC_AUTH=":".join(FLOWER_AUTH),
        SWEEP_INTERVAL_SECONDS="3",  # beat sends its first tasks within seconds
    )


def manage(*args: str, env: dict | None = None) -> None:
    subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env or dict(os.environ), check=True
    )


# --- who holds which connection ------------------------------------------------------------------


def parent_pids() -> dict[int, int]:
    """pid -> parent pid, for every process now."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_tree(root: int, parents: dict[int, int] | None = None) -> list[int]:
    """The process and its descendants, parents before children."""
    parents = parent_pids() if parents is None else parents
    tree, index = [root], 0
    while index < len(tree):
        tree.extend(child for child, parent in parents.items() if parent == tree[index])
        index += 1
    return tree


def broker_sockets(pids: list[int]) -> dict[int, int]:
    """Local port -> pid, for each established TCP socket of these processes to the broker.

    A socket inherited across fork is open in both processes: it goes to the first listed
    (the parent), which opened it.
    """
    owner: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                owner.setdefault(int(link[8:-1]), pid)
    ports: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == BROKER_PORT:
                if inode in owner:
                    ports[int(local.rsplit(":", 1)[1], 16)] = owner[inode]
    return ports


def rabbitmqctl(*args: str) -> list[dict]:
    out = subprocess.run(
        ["rabbitmqctl", *args, "--formatter", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout or "[]")


@dataclass
class Holding:
    """What one process tree holds on the broker at one moment."""

    connections: Counter = field(default_factory=Counter)  # role ("parent", "child") -> count
    channels: int = 0
    consumers: int = 0
    heartbeats: Counter = field(default_factory=Counter)  # negotiated heartbeat (s) -> count

    @property
    def total(self) -> int:
        return sum(self.connections.values())

    def describe(self) -> str:
        roles = ", ".join(f"{role} {count}" for role, count in sorted(self.connections.items()))
        beats = ", ".join(f"{n}x {s} s" for s, n in sorted(self.heartbeats.items()))
        return f"{roles or '-'}; heartbeat {beats or '-'}"


def holdings(roots: dict[str, int]) -> dict[str, Holding]:
    """Per tracked process (name -> root pid), the connections RabbitMQ lists for it now."""
    connections = rabbitmqctl("list_connections", "pid", "peer_port", "channels", "timeout")
    channels = rabbitmqctl("list_channels", "connection", "consumer_count")
    consumers = Counter()
    for channel in channels:
        consumers[channel["connection"]] += channel["consumer_count"]
    result = {name: Holding() for name in roots}
    for name, root in roots.items():
        ports = broker_sockets(process_tree(root))
        for connection in connections:
            pid = ports.get(connection["peer_port"])
            if pid is None:
                continue
            held = result[name]
            held.connections["parent" if pid == root else "child"] += 1
            held.channels += connection["channels"]
            held.consumers += consumers[connection["pid"]]
            held.heartbeats[connection["timeout"]] += 1
    return result


class Sampler:
    """Counts each tracked tree's broker sockets every SAMPLE_SECONDS; keeps the maximum."""

    def __init__(self) -> None:
        self.roots: dict[str, int] = {}
        self.peak: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            parents = parent_pids()
            trees = {name: process_tree(root, parents) for name, root in self.roots.items()}
            owners = broker_sockets([pid for tree in trees.values() for pid in tree])
            for name, tree in trees.items():
                count = sum(1 for pid in owners.values() if pid in tree)
                self.peak[name] = max(self.peak[name], count)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


# --- the processes -------------------------------------------------------------------------------


class Process:
    """A command in its own session, its output in a log file."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict | None = None):
        self.name, self.command, self.log_path = name, command, log
        self.env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen: subprocess.Popen | None = None

    def start(self) -> int:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(  # noqa: S603
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {text!r} in {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, and SIGKILL to its session if it lingers."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def celery(*args: str) -> list[str]:
    return [PYTHON, "-m", "celery", "-A", "celery_app", *args]


def wait_flower(base: str, flower: Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if flower.popen.poll() is not None:
            raise RuntimeError(f"Flower exited:\n{flower.log()[-3000:]}")
        try:
            if requests.get(f"{base}/", auth=FLOWER_AUTH, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Flower did not answer in {START_TIMEOUT:.0f} s")


def open_flower_pages(base: str, pages=FLOWER_PAGES) -> str:
    answers_ = [
        f"{page} {requests.get(base + page, auth=FLOWER_AUTH, timeout=30).status_code}"
        for page in pages
    ]
    return ", ".join(answers_)


def wait_work_done(n: int, timeout: float = 120) -> None:
    """Until n uploads are ready (or failed) and their emails sent (or failed)."""
    from mailer.models import OutgoingEmail
    from media_pipeline.models import Upload

    deadline = time.monotonic() + timeout
    while True:
        uploads = Counter(Upload.objects.values_list("status", flat=True))
        emails = Counter(OutgoingEmail.objects.values_list("status", flat=True))
        done = uploads[Upload.Status.READY] + uploads[Upload.Status.FAILED]
        sent = emails[OutgoingEmail.Status.SENT] + emails[OutgoingEmail.Status.FAILED]
        if done >= n and sent >= done:
            if uploads[Upload.Status.FAILED] or emails[OutgoingEmail.Status.FAILED]:
                print(f"  note: uploads {dict(uploads)}, emails {dict(emails)}")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done in {timeout:.0f} s: {dict(uploads)} {dict(emails)}")
        time.sleep(0.2)


# --- the run -------------------------------------------------------------------------------------


class Run:
    def __init__(self, folder: Path, uploads: int):
        self.folder, self.uploads = folder, uploads
        self.processes: dict[str, Process] = {}
        self.sampler = Sampler()
        self.rows: list[tuple[str, str, Holding]] = []  # (process, moment, holding)

    def start(self, name: str, command: list[str], env: dict | None = None) -> Process:
        process = Process(name, command, self.folder / f"{name}.log", env)
        self.processes[name] = process
        self.sampler.roots[name] = process.start()
        return process

    def record(self, moment: str, names: list[str]) -> None:
        time.sleep(SETTLE_SECONDS)
        roots = {name: self.processes[name].popen.pid for name in names}
        for name, held in holdings(roots).items():
            self.rows.append((name, moment, held))
            print(
                f"  {name:<13} {moment:<28} {held.total:>3} connections {held.channels:>3}"
                f" channels {held.consumers:>3} consumers  ({held.describe()})",
                flush=True,
            )

    def measure(self) -> None:
        flower_port = free_port()
        flower_base = f"http://127.0.0.1:{flower_port}"
        flower = self.start(
            "flower", celery("flower", f"--port={flower_port}", "--address=127.0.0.1")
        )
        wait_flower(flower_base, flower)
        self.record("idle", ["flower"])
        print(f"  (pages: {open_flower_pages(flower_base)})")
        self.record("after its pages", ["flower"])
        print(f"  (page: {open_flower_pages(flower_base, [FLOWER_REFRESH])})")
        self.record("after refresh=1", ["flower"])

        media = self.start(
            "worker-media",
            celery(
                "worker", "-Q", f"{NAMESPACE}media", "-n", f"media-{PID}@%h",
                f"--concurrency={WORKER_CONCURRENCY}", "--prefetch-multiplier=1", "--loglevel=INFO",
            ),
        )  # fmt: skip
        media.wait_for_log("ready.")
        self.record("idle", ["worker-media"])

        email = self.start(
            "worker-email",
            celery(
                "worker", "-Q", f"{NAMESPACE}email,{NAMESPACE}default", "-n", f"email-{PID}@%h",
                f"--concurrency={WORKER_CONCURRENCY}", "--loglevel=INFO",
            ),
        )  # fmt: skip
        email.wait_for_log("ready.")
        self.record("idle", ["worker-email"])

        beat = self.start(
            "beat",
            celery("beat", "--loglevel=INFO", f"--schedule={self.folder / 'celerybeat-schedule'}"),
        )
        beat.wait_for_log("Sending due task")
        self.record("after sending its tasks", ["beat"])

        port = free_port()
        web_base = f"http://127.0.0.1:{port}"
        web = self.start(
            "web",
            [
                PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--worker-class", "gthread", "--workers", str(WEB_WORKERS),
                "--threads", str(WEB_THREADS), "--timeout", "30", "--no-control-socket",
            ],
        )  # fmt: skip
        wait_until_healthy(web_base, web.popen, web.log_path)
        self.record("idle (/healthz answered)", ["web"])

        clients = WEB_WORKERS * WEB_THREADS
        sessions = [logged_in_session(web_base) for _ in range(clients)]
        photo = photo_jpeg(1200, 800, quality=85, seed=3)
        body, content_type = encode_multipart_formdata({"file": ("photo.jpg", photo, "image/jpeg")})
        sample = Sample()
        run_batch(sessions, f"{web_base}/api/uploads/", (body, content_type), self.uploads, sample)
        posted = sample.statuses[202]
        print(f"  web: {posted} uploads accepted by {clients} clients ({dict(sample.statuses)})")
        wait_work_done(posted)
        print("  all uploads ready and their emails sent")
        self.record("after the uploads", ["web", "worker-media", "worker-email", "beat"])
        print(f"  (pages: {open_flower_pages(flower_base, [*FLOWER_PAGES, FLOWER_REFRESH])})")
        self.record("after its pages, workers up", ["flower"])

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        self.sampler.stop()

    def report(self) -> None:
        print(
            "\nAMQP connections per process; peak: the most broker sockets its process tree"
            f" held at once over the whole run (sampled every {SAMPLE_SECONDS} s)"
        )
        print(f"  {'process':<13} {'moment':<30}{'connections':>12}{'channels':>10}"
              f"{'consumers':>10}{'peak':>6}")  # fmt: skip
        latest: dict[str, Holding] = {}
        last_row = {name: index for index, (name, _, _) in enumerate(self.rows)}
        for index, (name, moment, held) in enumerate(self.rows):
            latest[name] = held
            peak = str(self.sampler.peak[name]) if last_row[name] == index else ""
            print(
                f"  {name:<13} {moment:<30}{held.total:>12}{held.channels:>10}"
                f"{held.consumers:>10}{peak:>6}"
            )

        from django.conf import settings

        pool_limit = settings.CELERY_BROKER_POOL_LIMIT
        # The most each can hold, from what was measured and how each opens connections:
        # Flower, its pool (inspect calls run in parallel threads) and its event receiver; a
        # worker, its parent's and one producer connection per pool process that publishes
        # (a media task queues an email; an email or sweep task publishes on a retry or a
        # republish); the web, one per gunicorn worker (its background publisher thread).
        bounds = {
            "web": WEB_WORKERS,
            "worker-media": latest["worker-media"].connections["parent"] + WORKER_CONCURRENCY,
            "worker-email": latest["worker-email"].connections["parent"] + WORKER_CONCURRENCY,
            "beat": latest["beat"].total,
            "flower": pool_limit + 1,
        }
        print(
            f"  most each can hold: web {bounds['web']} (one per gunicorn worker; a /healthz call"
            " adds one for its duration), each worker its parent's"
        )
        print(
            f"    + {WORKER_CONCURRENCY} (one per pool process that publishes), Flower"
            f" {bounds['flower']} (broker_pool_limit {pool_limit} + its event receiver)"
        )

        def heroku(count) -> tuple[int, str]:
            total = sum(HEROKU_APP[name] * count(name) for name in HEROKU_APP)
            terms = " + ".join(
                f"{HEROKU_APP[name]}x{count(name)}" if HEROKU_APP[name] > 1 else str(count(name))
                for name in HEROKU_APP
            )
            return total, terms

        app = ", ".join(f"{name} x{n}" for name, n in HEROKU_APP.items())
        print(f"\nA Heroku app of {app}, as {' + '.join(HEROKU_APP)}:")
        steady, terms = heroku(lambda name: latest[name].total)
        print(f"  connections, last reading of each: {steady:>3} = {terms}")
        peak, terms = heroku(lambda name: max(self.sampler.peak[name], latest[name].total))
        print(f"  connections, peak of each:         {peak:>3} = {terms}")
        most, terms = heroku(lambda name: max(bounds[name], self.sampler.peak[name]))
        print(f"  connections, most each can hold:   {most:>3} = {terms}")
        channels, terms = heroku(lambda name: latest[name].channels)
        print(f"  channels, last reading of each:    {channels:>3} = {terms}")
        print(f"  while every dyno overlaps its replacement (a deploy): up to {2 * most}")
        for plan, limit in PLANS.items():
            print(
                f"  CloudAMQP {plan}, {limit} connections: {peak / limit:.0%} at the measured"
                f" peak, {most / limit:.0%} at the most"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_connections", description=__doc__)
    parser.add_argument(
        "--uploads", type=int, default=8, help="uploads posted, plus one per client (8)"
    )
    args = parser.parse_args(argv)
    missing = [url for url in (POSTGRES_URL, RABBITMQ_URL) if not answers(url)]
    if missing:
        print(f"skipped: nothing answers at {' nor '.join(missing)}")
        return 0
    if shutil.which("rabbitmqctl") is None or os.geteuid() != 0:
        print("skipped: needs rabbitmqctl and root")
        return 0

    folder = Path(tempfile.mkdtemp(prefix=f"bench-conn-{PID}-"))
    configure(folder)
    run = Run(folder, args.uploads)
    created = False
    try:
        create_database()
        created = True
        manage("migrate", "--noinput", "-v", "0")
        manage("shell", "-v", "0", "-c", CREATE_USER)
        import django

        django.setup()
        print(f"Database: Postgres {DATABASE_NAME} (throwaway)")
        print(f"Broker:   RabbitMQ, queues {NAMESPACE}* (throwaway); other clients not counted")
        run.sampler.start()
        run.measure()
        run.stop()
        run.report()
        return 0
    except (RuntimeError, subprocess.CalledProcessError, requests.RequestException) as error:
        print(f"\nfailed: {error}", file=sys.stderr)
        for process in run.processes.values():
            print(f"--- {process.name}, last lines:\n{process.log()[-2000:]}", file=sys.stderr)
        return 1
    finally:
        run.stop()
        THROWAWAY.clean_up(database_created=created, folder=folder)


if __name__ == "__main__":
    sys.exit(main())
