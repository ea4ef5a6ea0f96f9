"""Capacity: a burst of uploads drained by a real `media` worker of 1, then 2 processes.

Run from the repository root: ``python -m bench capacity`` (or ``python -m
bench.bench_capacity [--uploads 2000] [--mix 800x600:7,1200x900:2,3000x2000:1]``). Needs the
local Postgres (127.0.0.1:5432, user postgres) and RabbitMQ (127.0.0.1:5672); uses a
throwaway database ``bench_capacity_<pid>``, throwaway queues ``benchc<pid>.*``, a temporary
folder (media, logs, beat's schedule) and an SMTP sink on loopback, all removed at the end,
also after a failure or Ctrl-C.

The whole service but the web process runs as deployed: an email worker (``-Q email,default``,
2 processes: the ready emails go to an aiosmtpd server in this process, and it runs the
sweeps) and beat with short settings (``SWEEP_INTERVAL_SECONDS=3``,
``REPUBLISH_AFTER_SECONDS=15``), so the sweep gets every chance to multiply the backlog. For
each media worker size (``--concurrency=1``, then ``--concurrency=2``, from
``celery_app.worker_command`` as the tests start it) the burst is published first, with no
media worker running: ``media_pipeline.services.accept_upload`` in this process (header
check, original stored, row inserted `queued`, task published after commit; the fastest way
to queue N uploads exactly as the product does). Then the worker starts, and the drain is
the time from its "ready." line to the moment every upload is `ready`.

Prints, per size: images/s and images/s per process; the queue's peak depth against the
rows waiting (``ops.broker.messages_waiting("media")`` and the count of `queued` uploads,
sampled every 0.5 s through the burst and the drain; goal: peak depth / rows <= 1.10), the
sweep's republishes and the duplicate deliveries; the scaling efficiency (images/s with 2
processes / images/s with 1; goal >= 1.8); where the machine's CPU went during each drain
(the worker, the email worker, beat, this process, Postgres, RabbitMQ, everything else), and
the worker's own phase times from its `ready` log lines. Then a sizing rule from the measured
rate per process. Absolute rates are this machine's: other runs share its cores.
With 2,000 uploads a run takes about 20 minutes on a shared 2-core machine (``--uploads 600``:
about 6). Exits 0 when it measured (or skipped: no server answers), 1 when the run failed.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.bench_upload_latency import Broker, Database
from bench.bench_worker_throughput import (
    POSTGRES_URL,
    RABBITMQ_URL,
    Progress,
    Worker,
    answers,
    configure,
    migrate,
    render_loop,
    tree_cpu_seconds,
)
from tests.imagecorpus import photo_jpeg
from tests.servers import SMTPServer, start_beat, start_worker

PID = os.getpid()
DATABASE_NAME = f"bench_capacity_{PID}"
NAMESPACE = f"benchc{PID}."
CONCURRENCIES = (1, 2)
# Mostly web-sized photos, some larger, a few straight from a camera. Rendering is most of a
# worker's CPU: about 0.24 s per image of this mix (0.17 s of it render_file) on a shared
# 2-core VM, where 2,000 uploads took 18 to 24 minutes in all; mostly 1200x900 with some
# 3000x2000 costs about a fifth more per image.
DEFAULT_MIX = "800x600:7,1200x900:2,3000x2000:1"
JPEG_QUALITY = 90
DISTINCT_PER_SIZE = 3  # different pictures per size, reused in turn (cached by nothing)
SAMPLE_SECONDS = 0.5
POLL_SECONDS = 0.1
SWEEP_INTERVAL_SECONDS = 3
REPUBLISH_AFTER_SECONDS = 15
EMAIL_CONCURRENCY = 2  # the Procfile's EMAIL_CONCURRENCY default
DEPTH_GOAL = 1.10  # peak depth / peak rows waiting, at most
EFFICIENCY_GOAL = 1.8  # images/s with 2 processes / with 1, at least
HEADROOM = 0.70  # target utilisation of the media processes in the sizing rule
PROCESSES_PER_DYNO = 2
UPLOADS_PER_HOUR = (10_000, 100_000, 1_000_000)
RATIO_MIN_ROWS = 50  # per-sample ratios are printed only where this many rows wait
PHASES = ("decode", "resize", "encode", "store")
RENDER_SAMPLE = 20  # uploads of the mix rendered in this process before and after the rounds


# --- the size mix --------------------------------------------------------------------------------


@dataclass
class Size:
    width: int
    height: int
    weight: int
    images: list[bytes] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}"


def parse_mix(text: str) -> list[Size]:
    """Sizes and weights from WIDTHxHEIGHT:WEIGHT,... (a weight of at least 1; default 1)."""
    sizes = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)x(\d+)(?::(\d+))?\s*", part)
        if not match:
            raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT[:WEIGHT]: {part!r}")
        width, height, weight = int(match[1]), int(match[2]), int(match[3] or 1)
        if not (width and height and weight):
            raise argparse.ArgumentTypeError(f"sizes and weights must be above 0: {part!r}")
        sizes.append(Size(width, height, weight))
    return sizes


def schedule(sizes: list[Size], n: int) -> list[bytes]:
    """The bytes of each of n uploads: the weights' proportions, evenly interleaved, and each
    size's distinct pictures in turn (the same order in every round)."""
    taken = [0] * len(sizes)
    out = []
    for _ in range(n):
        index = min(range(len(sizes)), key=lambda i: ((taken[i] + 1) / sizes[i].weight, i))
        size = sizes[index]
        out.append(size.images[taken[index] % len(size.images)])
        taken[index] += 1
    return out


def describe_mix(sizes: list[Size], n: int) -> str:
    total = sum(size.weight for size in sizes)
    parts = []
    for size in sizes:
        mb = statistics.mean(len(data) for data in size.images) / 1e6
        parts.append(f"{size.label} {size.weight / total:.0%} ({mb:.2f} MB)")
    return (
        f"{', '.join(parts)}; photo-like JPEG q{JPEG_QUALITY}, {DISTINCT_PER_SIZE} distinct "
        f"pictures per size; {n} uploads"
    )


# --- CPU by component ----------------------------------------------------------------------------


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / ticks, steal / ticks


def listener_pid(url: str) -> int | None:
    """The process listening on the port a URL names (Postgres' postmaster, RabbitMQ's beam.smp):
    found by its socket, since other runs may leave processes of the same name behind."""
    port = urlsplit(url).port
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    holders = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            links = {
                os.readlink(f"/proc/{entry}/fd/{fd}") for fd in os.listdir(f"/proc/{entry}/fd")
            }
        except OSError:  # gone, or not ours to read
            continue
        if links & inodes:
            holders.append(int(entry))
    return min(holders) if holders else None


class CpuMeter:
    """CPU seconds of each component at one moment; the difference of two is a drain's use."""

    def __init__(self, roots: dict[str, int | None]):
        self.roots = roots

    def read(self) -> dict[str, float | None]:
        times = os.times()
        values = {
            name: (tree_cpu_seconds(pid) if pid else None) for name, pid in self.roots.items()
        }
        values["this process"] = times.user + times.system
        values["machine"], values["steal"] = machine_cpu()
        return values


def difference(after: dict, before: dict) -> dict[str, float | None]:
    return {
        name: (
            None if after[name] is None or before.get(name) is None else after[name] - before[name]
        )
        for name in after
    }


# --- one round: burst, drain ---------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float  # since the burst started
    phase: str  # "burst", "wait" (the worker starting) or "drain"
    depth: int | None  # messages waiting in the media queue
    queued: int  # uploads `queued`


@dataclass
class Round:
    concurrency: int
    n: int
    burst_seconds: float = 0.0
    drain_seconds: float = 0.0
    task_span: float = 0.0
    in_task: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)  # one process: a finish -> the next claim
    samples: list[Sample] = field(default_factory=list)
    cpu: dict[str, float | None] = field(default_factory=dict)
    phases: dict[str, list[int]] = field(default_factory=dict)
    not_claimable: int = 0
    republished: dict[str, float] = field(default_factory=dict)
    sweeps_run: int = 0
    emails_sent: int = 0
    email_lag: float | None = None
    load: tuple[float, float] = (0.0, 0.0)
    database: dict[str, float | None] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.n / self.drain_seconds

    @property
    def rate_per_process(self) -> float:
        return self.rate / self.concurrency


class Sampler(threading.Thread):
    """Every SAMPLE_SECONDS: the media queue's depth, then the `queued` rows (in that order, as
    the sweep reads them: a message consumed in between makes the ratio higher, not lower).
    """

    def __init__(self, started: float):
        super().__init__(daemon=True, name="sampler")
        self.started = started
        self.phase = "burst"
        self.samples: list[Sample] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connections

        from media_pipeline.models import Upload
        from ops.broker import messages_waiting

        try:
            while not self.stopping.is_set():
                moment = time.perf_counter()
                depth = messages_waiting("media")
                queued = Upload.objects.filter(status=Upload.Status.QUEUED).count()
                self.samples.append(Sample(moment - self.started, self.phase, depth, queued))
                self.stopping.wait(max(0.0, SAMPLE_SECONDS - (time.perf_counter() - moment)))
        except BaseException as error:  # reported by the round, which then fails
            self.error = error
        finally:
            connections.close_all()

    def stop(self) -> list[Sample]:
        self.stopping.set()
        self.join(timeout=10)
        if self.error is not None:
            raise RuntimeError(f"sampling failed: {self.error!r}") from self.error
        return self.samples


class MediaWorker(Worker):
    """bench_worker_throughput's Worker (it notes the "ready." moment and its CPU then), with the
    command line the tests use: celery_app.worker_command, without gossip and mingle."""

    def __init__(self, log_path: Path, concurrency: int):
        super().__init__(log_path)
        from celery_app import worker_command

        name = f"capacity-media-{PID}-c{concurrency}"
        self.command = worker_command(["media"], name=name, concurrency=concurrency)
        self.command += ["--without-gossip", "--without-mingle"]


def database_stats() -> dict[str, float]:
    """This run's database in pg_stat_database (the server's CPU counts every other run too):
    sessions opened, milliseconds spent executing statements, transactions, rows written.
    Backends report at most a second late."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sessions, active_time, xact_commit + xact_rollback,"
            " tup_inserted + tup_updated + tup_deleted"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
        row = cursor.fetchone()
    return dict(zip(("sessions", "active_ms", "transactions", "rows written"), row, strict=True))


def log_since(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")


def size_of(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def counter_values(name: str, prefix: str) -> dict[str, float]:
    from ops.models import Counter as Row

    rows = Row.objects.filter(name=name, labels__startswith=prefix).values_list("labels", "value")
    return dict(rows)


def status_counts(model) -> Counter:
    from django.db.models import Count

    rows = model.objects.values_list("status").annotate(n=Count("id")).order_by()
    return Counter(dict(rows))


def burst(owner, payloads: list[bytes]) -> float:
    """accept_upload for each payload, as the product takes an upload; returns the seconds."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from media_pipeline.services import accept_upload

    started = time.perf_counter()
    for index, data in enumerate(payloads):
        upload = SimpleUploadedFile(f"photo-{index}.jpg", data, "image/jpeg")
        accept_upload(owner=owner, file=upload)
    return time.perf_counter() - started


def wait_drained(worker: MediaWorker, ready_before: int, n: int, timeout: float) -> float:
    """Poll the rows until n more uploads are `ready`; returns that moment (perf_counter)."""
    from media_pipeline.models import Upload

    progress = Progress(n)
    deadline = time.monotonic() + timeout
    while True:
        counts = status_counts(Upload)
        now = time.perf_counter()
        done = counts[Upload.Status.READY] - ready_before
        progress.update(done)
        if counts[Upload.Status.FAILED]:
            errors = Counter(
                Upload.objects.filter(status=Upload.Status.FAILED).values_list("error", flat=True)
            )
            raise RuntimeError(f"{counts[Upload.Status.FAILED]} uploads failed: {dict(errors)}")
        if done >= n:
            return now
        if not worker.alive():
            raise RuntimeError(f"the worker died; statuses {dict(counts)}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all ready after {timeout:.0f} s: {dict(counts)}")
        time.sleep(POLL_SECONDS)


def wait_emails(sent_before: int, n: int, timeout: float) -> int:
    """Wait until the round's confirmation emails are sent (or give up); returns how many were."""
    from mailer.models import OutgoingEmail

    deadline = time.monotonic() + timeout
    while True:
        counts = status_counts(OutgoingEmail)
        sent = counts[OutgoingEmail.Status.SENT] - sent_before
        pending = counts[OutgoingEmail.Status.QUEUED] + counts[OutgoingEmail.Status.SENDING]
        if (sent >= n and not pending) or time.monotonic() > deadline:
            return sent
        time.sleep(0.5)


def phase_times(log_text: str) -> dict[str, list[int]]:
    """The phase times of the worker's `status=ready` lines (logfmt)."""
    phases: dict[str, list[int]] = {phase: [] for phase in PHASES}
    for line in log_text.splitlines():
        if "status=ready" not in line:
            continue
        for phase in PHASES:
            match = re.search(rf"\b{phase}_ms=(\d+)", line)
            if match:
                phases[phase].append(int(match[1]))
    return phases


@dataclass
class Services:
    """What runs for the whole benchmark: the email worker, beat, the SMTP sink."""

    folder: Path
    email_worker: object
    beat: object
    smtp: SMTPServer
    meter: CpuMeter
    media_workers: list[Worker] = field(default_factory=list)

    def stop_media_workers(self) -> None:
        for worker in self.media_workers:
            worker.stop()


def run_round(
    concurrency: int, owner, payloads: list[bytes], services: Services, timeout: float
) -> Round:
    from django.db.models import Max, Min
    from django.utils import timezone

    from mailer.models import OutgoingEmail
    from media_pipeline.models import Upload

    n = len(payloads)
    result = Round(concurrency, n)
    print(f"\n--- media worker --concurrency={concurrency}: burst of {n}, then the drain")
    load_start = os.getloadavg()[0]
    ready_before = status_counts(Upload)[Upload.Status.READY]
    sent_before = status_counts(OutgoingEmail)[OutgoingEmail.Status.SENT]
    republished_before = counter_values("sweep_republished", "kind=upload")
    email_log = services.email_worker.log_path
    email_offset = size_of(email_log)
    round_started = timezone.now()

    sampler = Sampler(time.perf_counter())
    sampler.start()
    worker = MediaWorker(services.folder / f"media-c{concurrency}.log", concurrency)
    services.media_workers.append(worker)
    try:
        result.burst_seconds = burst(owner, payloads)
        unpublished = Upload.objects.filter(
            status=Upload.Status.QUEUED, published_at__isnull=True
        ).count()
        if unpublished:
            raise RuntimeError(f"{unpublished} of {n} uploads were not published to the broker")
        print(
            f"Burst:    {n} uploads accepted in {result.burst_seconds:.1f} s "
            f"({result.burst_seconds / n * 1000:.1f} ms each), all published"
        )
        sampler.phase = "wait"
        worker.start()
        ready_at = worker.wait_ready()
        sampler.phase = "drain"
        cpu_start = services.meter.read()
        cpu_start["media worker"] = worker.cpu_at_ready
        db_start = database_stats()
        print(f"Worker:   {' '.join(worker.command[2:])}: ready; draining")
        drained_at = wait_drained(worker, ready_before, n, timeout)
        cpu_end = services.meter.read()
        cpu_end["media worker"] = worker.cpu_seconds()
        result.database = difference(database_stats(), db_start)
        result.samples = sampler.stop()
        result.drain_seconds = drained_at - ready_at
        result.cpu = difference(cpu_end, cpu_start)
    finally:
        if sampler.is_alive():
            sampler.stopping.set()
            sampler.join(timeout=10)
        worker.stop()

    rows = Upload.objects.filter(created_at__gte=round_started)
    span = rows.aggregate(first=Min("claimed_at"), last=Max("finished_at"))
    result.task_span = (span["last"] - span["first"]).total_seconds()
    times = sorted(rows.values_list("claimed_at", "finished_at"))
    result.in_task = [(finished - claimed).total_seconds() for claimed, finished in times]
    if concurrency == 1:  # one task at a time: the rows show the time between two
        result.gaps = [
            (claimed - finished).total_seconds()
            for (_, finished), (claimed, _) in zip(times, times[1:], strict=False)
        ]
    result.phases = phase_times(worker.log_path.read_text(errors="replace"))
    result.not_claimable = worker.log_path.read_text(errors="replace").count("is not claimable")
    after = counter_values("sweep_republished", "kind=upload")
    result.republished = {
        key.split("reason=")[-1]: value - republished_before.get(key, 0)
        for key, value in after.items()
        if value - republished_before.get(key, 0)
    }
    result.emails_sent = wait_emails(sent_before, n, timeout=120)
    last_sent = OutgoingEmail.objects.aggregate(last=Max("sent_at"))["last"]
    if last_sent is not None and span["last"] is not None:
        result.email_lag = (last_sent - span["last"]).total_seconds()
    email_text = log_since(email_log, email_offset)
    result.sweeps_run = len(
        re.findall(r"media_pipeline\.tasks\.sweep_stale_uploads\[[^\]]+\] succeeded", email_text)
    )
    result.load = (load_start, os.getloadavg()[0])
    print(
        f"Drained:  {n} ready in {result.drain_seconds:.1f} s; "
        f"{result.emails_sent} confirmation emails sent"
    )
    return result


@dataclass
class Render:
    """render_file on a sample of the mix in this process: the worker's work, nothing else."""

    n: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    def add(self, payloads: list[bytes]) -> None:
        for data in payloads:
            walls, cpu = render_loop(data, 1)
            self.n += 1
            self.cpu += cpu
            self.wall += sum(walls)

    @property
    def cpu_each(self) -> float:
        return self.cpu / self.n

    @property
    def wall_each(self) -> float:
        return self.wall / self.n


# --- report --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "goal met" if ok else "goal missed"


def report_rates(rounds: list[Round]) -> None:
    print(
        f"\n{'processes':<11}{'burst s':>9}{'drain s':>9}{'images/s':>10}{'/process':>10}"
        f"{'in-task med ms':>16}{'span s':>8}   worker phases, median ms"
        f" ({'/'.join(PHASES)})   load avg"
    )
    for r in rounds:
        phases = "/".join(
            f"{statistics.median(r.phases[p]):.0f}" if r.phases[p] else "-" for p in PHASES
        )
        in_task = statistics.median(r.in_task) * 1000
        print(
            f"{r.concurrency:<11}{r.burst_seconds:>9.1f}{r.drain_seconds:>9.1f}{r.rate:>10.2f}"
            f"{r.rate_per_process:>10.2f}{in_task:>16.0f}{r.task_span:>8.1f}   {phases:<34}"
            f"{r.load[0]:.1f} -> {r.load[1]:.1f}"
        )
    print(
        '  drain: the worker\'s "ready." line -> every upload `ready` (polled every '
        f"{POLL_SECONDS * 1000:.0f} ms); span: first claim -> last finish, from the rows"
    )
    for r in rounds:
        each = r.concurrency * r.drain_seconds / r.n
        body = statistics.mean(r.in_task)
        line = (
            f"  {r.concurrency} process(es), per image and process: {each * 1000:.0f} ms = "
            f"{body * 1000:.0f} ms claimed -> ready (mean) + {(each - body) * 1000:.0f} ms "
            "between tasks (result stored, ack, next delivery, new Postgres connection)"
        )
        if r.gaps:
            line += (
                f"; from the rows, a finish -> the next claim: median "
                f"{statistics.median(r.gaps) * 1000:.0f} ms"
            )
        print(line)


def report_depth(rounds: list[Round]) -> bool:
    print(
        f"\nQueue depth against rows waiting (every {SAMPLE_SECONDS} s through burst and drain: "
        'messages_waiting("media"), then the count of `queued` uploads)'
    )
    print(
        f"{'processes':<11}{'samples':>8}{'peak depth':>12}{'peak rows':>11}{'peak/peak':>11}"
        f"{'worst sample':>21}{'max excess':>12}   sweep: runs, republished   duplicates"
    )
    met = True
    for r in rounds:
        known = [s for s in r.samples if s.depth is not None]
        peak_depth = max((s.depth for s in known), default=0)
        peak_rows = max((s.queued for s in r.samples), default=0)
        ratio = peak_depth / peak_rows if peak_rows else math.inf
        worst = max(
            (s for s in known if s.queued >= RATIO_MIN_ROWS),
            key=lambda s: s.depth / s.queued,
            default=None,
        )
        worst_text = "n/a" if worst is None else f"{worst.depth / worst.queued:.3f} ({worst.phase})"
        excess = max((s.depth - s.queued for s in known), default=0)
        met = met and ratio <= DEPTH_GOAL
        republished = ", ".join(f"{k} {v:.0f}" for k, v in r.republished.items()) or "none"
        unknown = len(r.samples) - len(known)
        print(
            f"{r.concurrency:<11}{len(r.samples):>8}{peak_depth:>12}{peak_rows:>11}{ratio:>11.3f}"
            f"{worst_text:>21}{excess:>12}   {r.sweeps_run} runs, {republished:<13}"
            f"{r.not_claimable} not claimable"
            + (f"   ({unknown} samples: broker did not answer)" if unknown else "")
        )
    print(
        f"  worst sample: highest depth/rows where >= {RATIO_MIN_ROWS} rows wait (and when: the "
        "burst, the worker starting, the drain); max excess: "
        "most messages above the rows in one sample; duplicates: deliveries the claim turned away"
    )
    print(f"  peak depth / peak rows waiting <= {DEPTH_GOAL:.2f}: {verdict(met)}")
    return met


def report_cpu(rounds: list[Round]) -> None:
    names = [
        ("media worker", "media worker (all its processes)"),
        ("email worker", "email worker (email,default; runs the sweeps)"),
        ("beat", "beat"),
        ("this process", "this process (sampler, polling, SMTP sink)"),
        ("postgres", "Postgres (whole server: all its users)"),
        ("rabbitmq", "RabbitMQ (whole server: all its users)"),
    ]

    header = "".join(f"{f'{r.concurrency} proc: CPU s  cores  ms/img':>36}" for r in rounds)
    print(
        f"\nWhere the CPU went during each drain (cores = CPU s / drain s; {os.cpu_count()} cores)"
    )
    print(f"{'':<48}{header}")

    def row(label: str, values: list[float | None]) -> None:
        cells = ""
        for r, value in zip(rounds, values, strict=True):
            if value is None:
                cells += f"{'n/a':>36}"
            else:
                cores = value / r.drain_seconds
                cells += f"{value:>21.1f}{cores:>7.2f}{value / r.n * 1000:>8.0f}"
        print(f"{label:<48}{cells}")

    for key, label in names:
        row(label, [r.cpu.get(key) for r in rounds])
    others = []
    for r in rounds:
        known = [r.cpu.get(key) for key, _ in names]
        machine = r.cpu.get("machine")
        others.append(
            None if machine is None or None in known else machine - sum(v for v in known if v)
        )
    row("everything else on the machine (other runs)", others)
    row("machine busy, all cores", [r.cpu.get("machine") for r in rounds])
    row("  of which steal (the VM's host took it)", [r.cpu.get("steal") for r in rounds])
    for r in rounds:
        db = r.database
        if db.get("sessions") is None:
            continue
        print(
            f"  this run's database, {r.concurrency} proc (pg_stat_database): "
            f"{db['sessions']:.0f} sessions opened ({db['sessions'] / r.n:.1f} per image), "
            f"{db['transactions']:.0f} transactions, {db['rows written']:.0f} rows written, "
            f"statements active {db['active_ms'] / 1000:.1f} s "
            f"({db['active_ms'] / r.n:.1f} ms per image, wall)"
        )


def report_efficiency(rounds: list[Round], render: Render) -> tuple[float, bool]:
    by = {r.concurrency: r for r in rounds}
    efficiency = by[2].rate / by[1].rate
    met = efficiency >= EFFICIENCY_GOAL
    print(
        f"\nScaling efficiency: {by[2].rate:.2f} / {by[1].rate:.2f} images/s = {efficiency:.2f} "
        f"(2 processes / 1; goal >= {EFFICIENCY_GOAL}): {verdict(met)}"
    )
    one, two = by[1].cpu.get("media worker"), by[2].cpu.get("media worker")
    if one and two:
        each_one, each_two = one / by[1].n, two / by[2].n
        print(
            f"  the media worker's CPU per image: {each_one * 1000:.0f} ms with 1 process, "
            f"{each_two * 1000:.0f} ms with 2; cores it got: "
            f"{one / by[1].drain_seconds:.2f} of 1, {two / by[2].drain_seconds:.2f} of 2"
        )
        print(
            f"  efficiency from CPU per image, as if each process had a core to itself: "
            f"2 x {each_one * 1000:.0f} / {each_two * 1000:.0f} = {2 * each_one / each_two:.2f}"
        )
        print(
            f"  render_file alone in this process, same mix ({render.n} images before and after "
            f"the rounds): {render.cpu_each * 1000:.0f} ms CPU, {render.wall_each * 1000:.0f} ms "
            f"wall per image; the pipeline's CPU beyond rendering, per image: "
            f"{(each_one - render.cpu_each) * 1000:.0f} ms (1 process), "
            f"{(each_two - render.cpu_each) * 1000:.0f} ms (2)"
        )
    return efficiency, met


def report_sizing(rounds: list[Round]) -> None:
    by = {r.concurrency: r for r in rounds}
    rate = by[2].rate_per_process  # as deployed: 2 processes per dyno, sharing its cores
    per_process_hour = 3600 * rate * HEADROOM
    print(
        f"\nSizing rule (this mix; {rate:.2f} images/s per process, measured with "
        f"{PROCESSES_PER_DYNO} processes sharing {os.cpu_count()} cores; headroom: "
        f"{HEADROOM:.0%} target utilisation, i.e. {per_process_hour:,.0f} uploads an hour "
        "per process)"
    )
    for n in UPLOADS_PER_HOUR:
        processes = math.ceil(n / per_process_hour)
        dynos = math.ceil(processes / PROCESSES_PER_DYNO)
        print(
            f"  {n:>9,} uploads an hour of this mix need ceil({n:,} / (3600 x {rate:.2f} x "
            f"{HEADROOM:.2f})) = {processes:,} media processes; with {PROCESSES_PER_DYNO} "
            f"processes per dyno that is {dynos:,} dyno{'s' if dynos != 1 else ''}"
        )
    cpu = by[2].cpu.get("media worker")
    if cpu:
        idle_rate = by[2].n / cpu  # images per CPU second: a process with a core to itself
        print(
            f"  with a core to each process (this run's CPU per image, {cpu / by[2].n * 1000:.0f}"
            f" ms) the rate would be {idle_rate:.2f} images/s per process; media processes: "
            + ", ".join(
                f"{math.ceil(n / (3600 * idle_rate * HEADROOM)):,} for {n:,}"
                for n in UPLOADS_PER_HOUR
            )
        )
    print(
        "  (a dyno's cores are not this machine's: run this benchmark on one dyno and put its "
        "rate in the same formula)"
    )


# --- the run -------------------------------------------------------------------------------------


def interrupted(signum, frame) -> None:
    """Ctrl-C or SIGTERM: unwind through every cleanup, which a second signal must not cut
    short (a Ctrl-C reaches this process twice: from the terminal and from python -m bench)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_capacity", description=__doc__)
    parser.add_argument("--uploads", type=int, default=2000, help="uploads per burst (2000)")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix(DEFAULT_MIX),
        help=f"sizes and weights, WIDTHxHEIGHT:WEIGHT,... (default {DEFAULT_MIX})",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds a drain may take (1800)"
    )
    args = parser.parse_args(argv)
    n = max(1, args.uploads)
    missing = [url for url in (POSTGRES_URL, RABBITMQ_URL) if not answers(url)]
    if missing:
        print(f"skipped: nothing answers at {' nor '.join(missing)}")
        return 0

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-capacity-{PID}-"))
    cleanups: list = []  # run last in, first out
    code = 1
    try:
        cleanups.append(lambda: shutil.rmtree(folder, ignore_errors=True))
        database = Database(folder, DATABASE_NAME)
        cleanups.append(database.drop)
        broker = Broker(NAMESPACE)
        cleanups.append(broker.drop)
        smtp = SMTPServer().start()
        cleanups.append(smtp.stop)
        configure(folder)
        os.environ.update(
            {
                "DATABASE_URL": database.url,
                "BROKER_URL": broker.url,
                "CELERY_QUEUE_NAMESPACE": broker.namespace,
                "EMAIL_URL": smtp.url,
                "SWEEP_INTERVAL_SECONDS": str(SWEEP_INTERVAL_SECONDS),
                "REPUBLISH_AFTER_SECONDS": str(REPUBLISH_AFTER_SECONDS),
            }
        )
        migrate()
        import django

        django.setup()
        # The product logs a line per upload it accepts: the workers' logs keep theirs, here
        # they would only bury the report.
        logging.getLogger("state").setLevel(logging.WARNING)
        from django.contrib.auth import get_user_model
        from django.db import connections

        from accounts.models import EmailPreferences

        cleanups.append(connections.close_all)

        started = time.perf_counter()
        for size in args.mix:
            size.images = [
                photo_jpeg(size.width, size.height, quality=JPEG_QUALITY, seed=seed)
                for seed in range(DISTINCT_PER_SIZE)
            ]
        payloads = schedule(args.mix, n)
        print(
            f"Size mix: {describe_mix(args.mix, n)} (made in {time.perf_counter() - started:.1f} s)"
        )
        print(f"Database: Postgres {DATABASE_NAME} (throwaway)")
        print(f"Broker:   RabbitMQ, queues {NAMESPACE}* (throwaway)")
        print(
            "Burst:    media_pipeline.services.accept_upload in this process, no media worker "
            "running (header check, original stored, row inserted, task published after commit)"
        )

        children_env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
        email_worker = start_worker(
            queues="email,default",
            env=children_env,
            log_dir=folder,
            concurrency=EMAIL_CONCURRENCY,
            name="capacity-email",
        )
        cleanups.append(email_worker.stop)
        beat = start_beat(env=children_env, log_dir=folder)
        cleanups.append(beat.stop)
        print(
            f"Running:  email worker -Q email,default --concurrency={EMAIL_CONCURRENCY} "
            f"(SMTP sink on 127.0.0.1:{smtp.port}); beat, SWEEP_INTERVAL_SECONDS="
            f"{SWEEP_INTERVAL_SECONDS}, REPUBLISH_AFTER_SECONDS={REPUBLISH_AFTER_SECONDS}"
        )
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        meter = CpuMeter(
            {
                "email worker": email_worker.popen.pid,
                "beat": beat.popen.pid,
                "postgres": listener_pid(POSTGRES_URL),
                "rabbitmq": listener_pid(RABBITMQ_URL),
            }
        )
        services = Services(folder, email_worker, beat, smtp, meter)
        cleanups.append(services.stop_media_workers)  # each round stops its own; this if cut
        owner = get_user_model().objects.create_user("bench", "bench@example.com")
        # One email per upload (not the default digest): the email lag measured below.
        EmailPreferences.objects.create(
            user=owner, notifications="every", verified_email=owner.email
        )

        render = Render()
        render_loop(payloads[0], 1)  # warm-up: imports, codec set-up, first allocations
        render.add(payloads[:RENDER_SAMPLE])
        rounds = [run_round(c, owner, payloads, services, args.timeout) for c in CONCURRENCIES]
        render.add(payloads[:RENDER_SAMPLE])
        if not beat.alive() or not email_worker.alive():
            raise RuntimeError("beat or the email worker died during the run")
        received = len(smtp.inbox.message_ids())

        print(f"\n{'=' * 100}\nSize mix: {describe_mix(args.mix, n)}")
        print(f"SMTP sink: {received} messages received in all ({n * len(rounds)} uploads)")
        report_rates(rounds)
        report_depth(rounds)
        report_efficiency(rounds, render)
        report_cpu(rounds)
        report_sizing(rounds)
        for r in rounds:
            lag = "n/a" if r.email_lag is None else f"{r.email_lag:.1f} s"
            print(
                f"Emails, {r.concurrency} process(es): {r.emails_sent}/{r.n} sent; the last "
                f"{lag} after the last upload was ready"
            )
        code = 0
    except (RuntimeError, subprocess.CalledProcessError, AssertionError) as error:
        print(f"\nfailed: {error}", file=sys.stderr)
        logs = sorted(folder.glob("*.log"))
        for log in logs:
            print(f"--- {log.name}, last lines:\n{log.read_text(errors='replace')[-2000:]}")
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as error:  # report and go on: the other cleanups still run
                print(f"cleanup failed: {type(error).__name__}: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
