"""Images per second through a real `media` worker of 2 processes, beside rendering in one process.

Run from the repository root: ``python -m bench.bench_worker_throughput [--n 40]`` (or ``python
-m bench worker_throughput``). Needs the local Postgres (127.0.0.1:5432, user postgres) and
RabbitMQ (127.0.0.1:5672); uses a throwaway database ``bench_worker_<pid>``, throwaway queues
``benchw<pid>.*`` and a temporary media folder, all removed at the end.

N uploads of the same 12-megapixel photo-like JPEG go through ``accept_upload`` as the product
takes them (original stored, row `queued`, task published) while no worker runs. Then one real
worker (``-Q benchw<pid>.media --concurrency=2 --prefetch-multiplier=1``) starts, and the time
from its "ready." line to the moment every upload is `ready` gives its images/s. Confirmation
emails are queued as rows and tasks but never sent: no worker consumes the email queue.
The baseline is ``services.render_file`` (what the worker renders) on the same bytes in a loop
in this one process (no storage, no database, no broker), half before the worker runs and
half after, so that load from elsewhere on the machine falls on both alike. Prints the rates,
their ratio (2 would be two processes with no overhead at all) and the pipeline's cost per
image beyond rendering.
Exits 0 when it measured (or skipped: no server answers), 1 when the run failed (an upload
failed, the worker died).
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.bench_imaging import photo_path
from bench.throwaway import POSTGRES_URL, RABBITMQ_URL, Throwaway

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PID = os.getpid()
DATABASE_NAME = f"bench_worker_{PID}"
NAMESPACE = f"benchw{PID}."
THROWAWAY = Throwaway(database=DATABASE_NAME, namespace=NAMESPACE)
create_database, drop_database = THROWAWAY.create_database, THROWAWAY.drop_database
drop_queues, migrate = THROWAWAY.drop_queues, THROWAWAY.migrate
configure = THROWAWAY.configure
CONCURRENCY = 2
PHOTO = (4000, 3000)  # 12 MP, the photo bench_imaging generates and caches under var/bench/
POLL_SECONDS = 0.05
WORKER_START_TIMEOUT = 60.0


# --- throwaway servers -------------------------------------------------------------------------


def answers(url: str) -> bool:
    """Whether the server a URL names accepts a TCP connection."""
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 0)) == 0


# --- the worker ----------------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its descendants, from /proc (None where there is none)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
        parents[int(entry)] = int(fields[1])
        # utime, stime, and cutime, cstime: a pool process replaced meanwhile still counts.
        used[int(entry)] = sum(int(value) for value in fields[11:15])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    if pid not in used:
        return None
    return sum(used.get(member, 0) for member in tree) / ticks


class Worker:
    """`celery worker -Q <namespace>media` in its own session; notes when it says "ready."."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.command = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            "-Q",
            f"{NAMESPACE}media",
            "-n",
            f"benchw{PID}@%h",  # a name of its own: its control queue is then its own too
            f"--concurrency={CONCURRENCY}",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",  # the "ready." line is an INFO record
        ]
        self.ready = threading.Event()
        self.ready_at: float | None = None
        self.cpu_at_ready: float | None = None
        self.popen: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(  # noqa: S603
            self.command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so that its pool can be ended as one group if need be
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.log_path.open("w") as log:
            for line in self.popen.stdout:
                if self.ready_at is None and "ready." in line:
                    # Noted here, as the line arrives: the clock starts with the worker.
                    self.ready_at = time.perf_counter()
                    self.cpu_at_ready = tree_cpu_seconds(self.popen.pid)
                    self.ready.set()
                log.write(line)
                log.flush()

    def wait_ready(self) -> float:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not self.ready.wait(0.1):
            if not self.alive():
                raise RuntimeError(f"the worker died at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready in {WORKER_START_TIMEOUT:.0f} s")
        return self.ready_at

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.popen.pid) if self.alive() else None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text()[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """A warm shutdown (its work is done by then), and SIGKILL to its group if it lingers."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)


# --- the two measurements ----------------------------------------------------------------------


def accept_uploads(data: bytes, n: int) -> list:
    """N uploads through the product's own service, with no worker running; returns their ids."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from media_pipeline.models import Upload
    from media_pipeline.services import accept_upload

    # With an email address, so each ready upload queues its confirmation like a real one.
    owner = get_user_model().objects.create_user("bench", "bench@example.com")
    started = time.perf_counter()
    ids = []
    for i in range(n):
        upload_file = SimpleUploadedFile(f"photo-{i}.jpg", data, "image/jpeg")
        ids.append(accept_upload(owner=owner, file=upload_file).id)
    seconds = time.perf_counter() - started
    unpublished = Upload.objects.filter(id__in=ids, published_at__isnull=True).count()
    if unpublished:
        raise RuntimeError(f"{unpublished} of {n} uploads were not published to the broker")
    print(f"Accepted: {n} uploads in {seconds:.1f} s ({seconds / n * 1000:.0f} ms each), queued")
    return ids


class Progress:
    """'processed 17/50': rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, n: int):
        self.n, self.shown, self.shown_at = n, -1, 0.0
        self.tty = sys.stdout.isatty()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if done == self.shown or (not self.tty and done < self.n and now - self.shown_at < 5):
            return
        self.shown, self.shown_at = done, now
        text = f"  processed {done}/{self.n}"
        if self.tty:
            print(f"\r{text}", end="\n" if done == self.n else "", flush=True)
        else:
            print(text, flush=True)


def wait_processed(ids: list, worker: Worker, timeout: float) -> float:
    """Poll the rows every 50 ms until every upload is ready; returns that moment (perf_counter)."""
    from media_pipeline.models import Upload

    Status = Upload.Status
    progress = Progress(len(ids))
    deadline = time.monotonic() + timeout
    while True:
        counts = Counter(Upload.objects.filter(id__in=ids).values_list("status", flat=True))
        now = time.perf_counter()
        done = counts[Status.READY] + counts[Status.FAILED]
        progress.update(done)
        if counts[Status.FAILED]:
            errors = Counter(
                Upload.objects.filter(id__in=ids, status=Status.FAILED).values_list(
                    "error", flat=True
                )
            )
            raise RuntimeError(f"{counts[Status.FAILED]} uploads failed: {dict(errors)}")
        if done == len(ids):
            return now
        if not worker.alive():
            raise RuntimeError(f"the worker died; statuses {dict(counts)}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all ready after {timeout:.0f} s: {dict(counts)}")
        time.sleep(POLL_SECONDS)


def render_loop(data: bytes, n: int) -> tuple[list[float], float]:
    """Render the same bytes n times in this process: (wall seconds of each, CPU seconds in all)."""
    from media_pipeline.services import render_file  # exactly what the worker renders

    walls = []
    cpu_started = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        render_file(io.BytesIO(data))
        walls.append(time.perf_counter() - started)
    return walls, time.process_time() - cpu_started


def in_task_seconds(ids: list) -> tuple[list[float], float]:
    """From the rows: each upload's claimed -> finished, and first claim -> last finish."""
    from media_pipeline.models import Upload

    rows = list(Upload.objects.filter(id__in=ids).values_list("claimed_at", "finished_at"))
    each = [(finished - claimed).total_seconds() for claimed, finished in rows]
    span = (max(f for _, f in rows) - min(c for c, _ in rows)).total_seconds()
    return each, span


# --- report --------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


def report(
    n: int,
    base_walls: list[float],
    base_cpu: float,
    worker_seconds: float,
    worker_cpu: float | None,
    task_each: list[float],
    task_span: float,
) -> None:
    base_seconds = sum(base_walls)
    base_rate, worker_rate = n / base_seconds, n / worker_seconds
    # Each of the worker's processes had the wall time to itself: its time per image is
    # CONCURRENCY x wall / n, to set beside one process rendering alone.
    per_process = CONCURRENCY * worker_seconds / n
    from django.conf import settings

    print(f"Imaging engine: MEDIA_IMAGE_ENGINE={settings.MEDIA_IMAGE_ENGINE}")
    rows = [
        ("render_file in a loop, 1 process", base_seconds, base_rate, base_seconds / n,
         base_cpu),
        (f"media worker, {CONCURRENCY} processes (ready. -> all ready)", worker_seconds,
         worker_rate, per_process, worker_cpu),
    ]  # fmt: skip
    print(
        f"\n{'':<52}{'images':>7}{'wall s':>9}{'images/s':>10}"
        f"{'ms/image/process':>18}{'CPU ms/image':>14}{'cores used':>12}"
    )
    for label, seconds, rate, each, cpu in rows:
        cpu_each = "n/a" if cpu is None else ms(cpu / n)
        cores = "n/a" if cpu is None else f"{cpu / seconds:.2f}"
        print(
            f"{label:<52}{n:>7}{seconds:>9.2f}{rate:>10.2f}{ms(each):>18}{cpu_each:>14}{cores:>12}"
        )

    print(
        f"\nratio worker / baseline: {worker_rate / base_rate:.2f} in images/s"
        f" (the ceiling is {CONCURRENCY}: {CONCURRENCY} processes with no overhead at all)"
    )
    overhead = per_process - base_seconds / n
    print(
        f"pipeline overhead beyond rendering, per image: {ms(overhead)} ms of process time"
        f" = ({CONCURRENCY} x {worker_seconds:.2f} s - {base_seconds:.2f} s) / {n}"
    )
    if worker_cpu is not None:
        print(
            f"  in CPU of the worker's processes: {ms((worker_cpu - base_cpu) / n)} ms"
            f" = {ms(worker_cpu / n)} - {ms(base_cpu / n)} (Postgres and RabbitMQ not included)"
        )
        # What the ratio would be if each process had a core to itself: fewer cores than
        # processes (other load on the machine) lowers the measured one, not this.
        print(
            f"  ratio from CPU per image, as on {CONCURRENCY} idle cores:"
            f" {CONCURRENCY * base_cpu / worker_cpu:.2f}"
        )
    task_median, render_median = statistics.median(task_each), statistics.median(base_walls)
    print(
        f"  inside the task (claimed -> finished, from the rows): median {ms(task_median)} ms"
        f" vs median render alone {ms(render_median)} ms"
    )
    print(
        f"  first claim -> last finish, from the rows: {task_span:.2f} s"
        f" (ready. -> all ready, polled every {POLL_SECONDS * 1000:.0f} ms: {worker_seconds:.2f} s)"
    )


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_worker_throughput", description=__doc__
    )
    parser.add_argument("--n", type=int, default=40, help="uploads (default 40)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds the worker may take (default 300)"
    )
    args = parser.parse_args(argv)
    n = max(2, args.n)
    missing = [url for url in (POSTGRES_URL, RABBITMQ_URL) if not answers(url)]
    if missing:
        print(f"skipped: nothing answers at {' nor '.join(missing)}")
        return 0

    data = photo_path(*PHOTO).read_bytes()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-worker-{PID}-"))
    configure(folder)
    worker = Worker(folder / "worker.log")
    created = False
    try:
        create_database()
        created = True
        migrate()
        import django

        django.setup()
        from media_pipeline.services import rendition_specs

        sizes = ", ".join(f"{s.name} {s.long_edge}" for s in rendition_specs())
        formats = sorted({fmt for s in rendition_specs() for fmt in s.formats})
        print(f"Photo:    {PHOTO[0]}x{PHOTO[1]} photo-like JPEG, {len(data) / 1e6:.1f} MB, "
              f"the same bytes for each upload")  # fmt: skip
        print(f"Renders:  {sizes} (long edge), each {' + '.join(formats)}")
        print(f"Database: Postgres {DATABASE_NAME} (throwaway)")
        print(f"Broker:   RabbitMQ, queues {NAMESPACE}* (throwaway); email queued, never sent")
        print(f"Worker:   {' '.join(worker.command[2:])}")
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

        render_loop(data, 1)  # warm-up: imports, codec set-up, first allocations
        first_walls, first_cpu = render_loop(data, n // 2)
        print(f"Baseline: {n // 2} renders in one process before the worker runs")

        ids = accept_uploads(data, n)
        worker.start()
        ready_at = worker.wait_ready()
        print("Worker:   ready; processing")
        all_ready_at = wait_processed(ids, worker, args.timeout)
        worker_cpu = worker.cpu_seconds()
        if worker_cpu is not None and worker.cpu_at_ready is not None:
            worker_cpu -= worker.cpu_at_ready
        else:
            worker_cpu = None
        worker.stop()

        second_walls, second_cpu = render_loop(data, n - n // 2)
        print(f"Baseline: {n - n // 2} renders in one process after the worker stopped")
        task_each, task_span = in_task_seconds(ids)
        print(f"Machine:  load average {os.getloadavg()[0]:.2f} at the end")
        report(
            n,
            first_walls + second_walls,
            first_cpu + second_cpu,
            all_ready_at - ready_at,
            worker_cpu,
            task_each,
            task_span,
        )
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"\nfailed: {error}", file=sys.stderr)
        if worker.popen is not None:
            print(f"the worker's log, last lines:\n{worker.tail()}", file=sys.stderr)
        return 1
    finally:
        worker.stop()
        THROWAWAY.clean_up(database_created=created, folder=folder)


if __name__ == "__main__":
    sys.exit(main())
