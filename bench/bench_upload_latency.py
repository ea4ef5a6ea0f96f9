"""Upload latency: `POST /api/uploads/` beside an inline-processing and a store-only baseline.

Run from the repository root: ``python -m bench upload_latency`` (or ``python -m
bench.bench_upload_latency [--n 200] [--clients 8]``). One gunicorn on loopback serves all
three variants with the same configuration, against a throwaway Postgres database and
throwaway RabbitMQ queues (both removed at the end; SQLite and the filesystem transport
under a temporary folder when the servers do not answer). 8 logged-in clients post the same
~3 MB photo-like JPEG; the variants take turns in rounds so that load from elsewhere on the
machine falls on all three alike. Prints the table, the two ratios against their targets,
and every non-2xx answer. Always exits 0: it measures, it does not gate.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

from tests.imagecorpus import photo_jpeg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
# What a production web dyno runs on a 2-core machine: one process per core, and threads so
# that a request waiting on the disk, the database or the broker does not hold a core idle.
WORKERS, THREADS = 2, 4


def gunicorn_options(workers: int, threads: int) -> list[str]:
    worker_class = "gthread" if threads > 1 else "sync"
    return ["--worker-class", worker_class, "--workers", str(workers), "--threads", str(threads)]


SETTINGS = "DJANGO_SETTINGS_MODULE=bench.settings"
USERNAME, PASSWORD = "bench", "bench-pass-123"
CREATE_USER = (
    "from django.contrib.auth import get_user_model as user_model; "
    f"user_model().objects.create_user({USERNAME!r}, 'bench@example.com', {PASSWORD!r})"
)
PHOTO_SIZE, PHOTO_QUALITY = (3000, 2000), 93  # about 3.0 MB, like a phone photo
VARIANTS = {  # name -> (path, answer expected)
    "inline": ("/bench/inline/", 201),
    "product": ("/api/uploads/", 202),
    "store-only": ("/bench/store-only/", 201),
}
TARGET_VS_INLINE = 20.0  # inline median / product median, at least
TARGET_VS_STORE = 1.3  # product median / store-only median, at most


# --- throwaway servers ------------------------------------------------------------------------


def answers(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Database:
    """A database of this run only: Postgres when it answers, else SQLite (WAL) in `folder`."""

    def __init__(self, folder: Path, name: str):
        self.name = name
        self.server = answers("127.0.0.1", 5432)
        if self.server:
            import psycopg

            with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.url = f"{POSTGRES_URL}/{name}"
            self.label = f"Postgres {name} (throwaway)"
        else:
            self.url = f"sqlite:///{folder / 'db.sqlite3'}"
            self.label = "SQLite (WAL) in a temporary folder"

    def drop(self) -> None:
        if self.server:
            import psycopg

            with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Broker:
    """RabbitMQ with queues under a namespace of this run, else the filesystem transport."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self.server = answers("127.0.0.1", 5672)
        self.url = RABBITMQ_URL if self.server else "filesystem://"
        self.label = (
            f"RabbitMQ, queues {namespace}* (throwaway)"
            if self.server
            else "kombu filesystem transport in a temporary folder"
        )

    def drop(self) -> None:
        """Delete this run's queues and exchanges, and nothing else."""
        if not self.server:
            return
        from kombu import Connection

        with Connection(self.url, connect_timeout=2) as conn:
            channel = conn.channel()
            for kind in ("default", "media", "email"):
                channel.queue_delete(f"{self.namespace}{kind}")
                channel.exchange_delete(f"{self.namespace}{kind}")


# --- the clients --------------------------------------------------------------------------------


@dataclass
class Sample:
    """What one variant measured over all its rounds."""

    latencies: list[float] = field(default_factory=list)  # seconds
    seconds: float = 0.0  # wall time of its batches, for requests/s
    completed: int = 0  # timed and untimed requests answered in that time
    rounds: list[float] = field(default_factory=list)  # median of each round, seconds
    statuses: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)  # first few odd answers, for the report


def logged_in_session(base: str) -> requests.Session:
    """A browser-like session: Django's login form, then the CSRF cookie for the API."""
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=30).raise_for_status()
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": USERNAME,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:200]}")
    return session


def run_batch(
    sessions: list[requests.Session],
    url: str,
    upload: tuple[bytes, str],
    count: int,
    sample: Sample,
) -> None:
    """Post uploads from all sessions at once, each keeping one request in flight.

    The first `count` requests to start are timed; one more per session follows them
    untimed, so that every timed request runs among as many others as the clients make
    (no quieter tail at the end of a batch).
    """
    body, content_type = upload
    tickets = iter(range(count + len(sessions)))
    lock = threading.Lock()

    def client(session: requests.Session) -> None:
        headers = {"Content-Type": content_type, "X-CSRFToken": session.cookies["csrftoken"]}
        while True:
            with lock:
                ticket = next(tickets, None)
            if ticket is None:
                return
            started = time.perf_counter()
            try:
                response = session.post(url, data=body, headers=headers, timeout=120)
                status, text = response.status_code, response.text
            except requests.RequestException as error:
                status, text = 0, f"{type(error).__name__}: {error}"
            elapsed = time.perf_counter() - started
            with lock:
                if ticket < count:
                    sample.latencies.append(elapsed)
                sample.completed += 1
                sample.statuses[status] += 1
                if not 200 <= status < 300 and len(sample.unexpected) < 5:
                    sample.unexpected.append(f"{status}: {' '.join(text.split())[:200]}")

    threads = [threading.Thread(target=client, args=(session,)) for session in sessions]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sample.seconds += time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (statistics.quantiles' 'inclusive')."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def clear_media(media: Path) -> None:
    """Remove the stored files between rounds (untimed), so the disk never fills."""
    for child in media.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


# --- the run -------------------------------------------------------------------------------------


def django(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def wait_until_healthy(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become healthy in 60 s:\n{log.read_text()[-3000:]}")


def measure(base: str, args: argparse.Namespace, media: Path) -> dict[str, Sample]:
    photo = photo_jpeg(*PHOTO_SIZE, quality=PHOTO_QUALITY, seed=7)
    upload = encode_multipart_formdata({"file": ("photo.jpg", photo, "image/jpeg")})
    print(
        f"Upload:   {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} photo-like JPEG q{PHOTO_QUALITY}, "
        f"{len(photo) / 1e6:.2f} MB ({len(upload[0]) / 1e6:.2f} MB multipart)"
    )
    sessions = [logged_in_session(base) for _ in range(args.clients)]

    # Warm-up: every gunicorn thread has imported, connected to the database and the broker,
    # and run each view before anything is timed.
    for path, _ in VARIANTS.values():
        run_batch(sessions, base + path, upload, args.warmup, Sample())
    clear_media(media)

    # Many short rounds, each variant once per round, the order cycling through every
    # permutation: load from elsewhere on the machine drifts over minutes, and falls this
    # way on all three alike.
    samples = {name: Sample() for name in VARIANTS}
    orders = list(itertools.permutations(VARIANTS))
    for index in range(args.rounds):
        count = args.n // args.rounds + (index < args.n % args.rounds)
        for name in orders[index % len(orders)]:
            sample = samples[name]
            timed_before = len(sample.latencies)
            run_batch(sessions, base + VARIANTS[name][0], upload, count, sample)
            sample.rounds.append(statistics.median(sample.latencies[timed_before:]))
            clear_media(media)
        print(f"  round {index + 1}/{args.rounds}: {count} timed requests per variant", flush=True)
    return samples


def report(samples: dict[str, Sample]) -> None:
    print(f"\n{'variant':<12}{'n':>6}{'median ms':>12}{'p95 ms':>10}{'requests/s':>13}", end="")
    print("  answers (with the untimed)")
    medians = {}
    for name, sample in samples.items():
        ms = [value * 1000 for value in sample.latencies]
        medians[name] = statistics.median(ms)
        rate = sample.completed / sample.seconds if sample.seconds else 0.0
        answered = ", ".join(
            f"{count}x {status}" for status, count in sorted(sample.statuses.items())
        )
        print(
            f"{name:<12}{len(ms):>6}{medians[name]:>12.1f}{percentile(ms, 0.95):>10.1f}"
            f"{rate:>13.1f}  {answered}"
        )

    print("\nAnswers other than the expected 2xx")
    for name, sample in samples.items():
        odd = sum(count for status, count in sample.statuses.items() if not 200 <= status < 300)
        expected = VARIANTS[name][1]
        other_2xx = sum(
            count
            for status, count in sample.statuses.items()
            if 200 <= status < 300 and status != expected
        )
        must = " (must be 0)" if name != "inline" else ""
        print(f"  {name:<12}{odd} non-2xx{must}, {other_2xx} 2xx other than {expected}")
        for line in sample.unexpected:
            print(f"      {line}")

    def verdict(ok: bool) -> str:
        return "target met" if ok else "target missed"

    def spread(top: str, bottom: str) -> str:
        ratios = [a / b for a, b in zip(samples[top].rounds, samples[bottom].rounds, strict=True)]
        return (
            f"per round: median {statistics.median(ratios):.2f}, "
            f"{min(ratios):.2f} to {max(ratios):.2f}"
        )

    vs_inline = medians["inline"] / medians["product"]
    vs_store = medians["product"] / medians["store-only"]
    met_inline, met_store = vs_inline >= TARGET_VS_INLINE, vs_store <= TARGET_VS_STORE
    print("\nRatios of the medians")
    print(
        f"  inline / product     {vs_inline:6.2f}  target >= {TARGET_VS_INLINE:g}: "
        f"{verdict(met_inline)}  ({spread('inline', 'product')})"
    )
    print(
        f"  product / store-only {vs_store:6.2f}  target <= {TARGET_VS_STORE:g}: "
        f"{verdict(met_store)}  ({spread('product', 'store-only')})"
    )


@contextmanager
def served(
    label: str = "upload",
    *,
    workers: int = WORKERS,
    threads: int = THREADS,
    extra_env: dict[str, str] | None = None,
):
    """Serve the bench settings with gunicorn on loopback, on a throwaway database and queues.

    Yields (base URL, media folder, server process, log path, environment); a user USERNAME
    exists. `extra_env` adds settings (e.g. MEDIA_PLACEHOLDERS=false).
    Removes the database, the queues and the folder afterwards, whatever happened.
    """
    pid = os.getpid()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{label}-{pid}-"))
    media = folder / "media"
    media.mkdir()
    log = folder / "gunicorn.log"
    cleanups = [lambda: shutil.rmtree(folder, ignore_errors=True)]
    server = None
    try:
        database = Database(folder, f"bench_{label}_{pid}")
        cleanups.insert(0, database.drop)
        broker = Broker(f"bench{pid}.")
        cleanups.insert(0, broker.drop)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database.url,
            "BROKER_URL": broker.url,
            "CELERY_QUEUE_NAMESPACE": broker.namespace,
            "MEDIA_ROOT": str(media),
            "VAR_DIR": str(folder / "var"),
            "EMAIL_URL": "memory:",
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        gunicorn_args = [
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            *gunicorn_options(workers, threads),
            "--timeout",
            "120",
            # Not the shared default control socket (~/.gunicorn/gunicorn.ctl): other
            # gunicorns on this machine keep theirs.
            "--no-control-socket",
        ]
        print(f"Database: {database.label}\nBroker:   {broker.label}")
        print(f"Server:   gunicorn {' '.join(gunicorn_args[1:])} (same for all three variants)")

        django(env, "migrate", "--noinput", "-v", "0")
        django(env, "shell", "-v", "0", "-c", CREATE_USER)
        with log.open("wb") as log_file:
            server = subprocess.Popen(  # noqa: S603
                [PYTHON, "-m", "gunicorn", *gunicorn_args, "--env", SETTINGS],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        wait_until_healthy(base, server, log)
        yield base, media, server, log, env
    except Exception:
        if log.exists():
            print(f"The server's log, last lines:\n{log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for cleanup in cleanups:  # the queues, the database, then the folder
            try:
                cleanup()
            except Exception as error:  # report and go on: the other cleanups still run
                print(f"cleanup failed: {type(error).__name__}: {error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_upload_latency", description=__doc__
    )
    parser.add_argument(
        "--n", type=int, default=200, help="timed requests per variant (default 200)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--rounds", type=int, default=6, help="turns per variant (default 6)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed requests per variant first")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=THREADS, help="threads each (1: sync)")
    args = parser.parse_args(argv)

    with served(workers=args.workers, threads=args.threads) as (base, media, _, log, _):
        print(
            f"Clients:  {args.clients} threads, one logged-in requests.Session each; "
            f"{args.n} timed requests per variant in {args.rounds} rounds, "
            f"after {args.warmup} warm-up"
        )
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        samples = measure(base, args, media)
        print(f"Load average {os.getloadavg()[0]:.2f} at the end")
        report(samples)
        if any(not 200 <= status < 300 for s in samples.values() for status in s.statuses):
            print(f"\nThe server's log, last lines:\n{log.read_text()[-4000:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
