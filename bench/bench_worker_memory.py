"""Peak resident memory of a real `media` worker's processes, per imaging engine, and what each
worker concurrency needs on a Heroku dyno.

Run from the repository root: ``python -m bench worker_memory`` (or ``python -m
bench.bench_worker_memory [--per-size 3] [--concurrency 2] [--margin 25]``). Needs the local
Postgres (127.0.0.1:5432, user postgres) and RabbitMQ (127.0.0.1:5672); uses a throwaway
database ``bench_memory_<pid>``, throwaway queues ``benchm<pid>.*`` and a temporary media
folder, all removed at the end.

For each engine (``vips``, the default, then ``MEDIA_IMAGE_ENGINE=pillow``) one real worker
starts as the Procfile starts it (``-Q benchm<pid>.media --concurrency=2
--prefetch-multiplier=1``; without gossip and mingle, as in bench_worker_throughput). Once it
is ready (and, for vips, every pool process has libvips loaded) the idle memory of each
process is read from ``/proc/<pid>/status``: VmRSS and VmHWM (the resident high-water mark)
of the parent (MainProcess) and of each pool process (the children of the parent). Then a few
uploads of the 12-megapixel photo go through ``accept_upload`` as the product takes them, and
when all are ready the figures are read again; then the same with the 48-megapixel photo (the
photos are the ones bench_imaging generates and caches under var/bench/). VmHWM only grows,
so "after 48 MP" is the peak of the whole run.

Prints, per engine, the figures, the ratio peak / idle of a pool process (the baseline from
the same run), and what concurrency 1, 2 and 4 need: (parent + N x peak pool process) plus a
margin. Celery's ``worker_max_memory_per_child`` (KB) is compared after each task against
the pool process's ru_maxrss, the same high-water mark as VmHWM, so the benchmark also prints
the value that keeps N pool processes within each dyno's memory, and whether that value
is above the measured peak (if not, every 48 MP image would recycle its process: that
concurrency does not fit the dyno). MB here are MiB (Heroku's 512 MB is 512 MiB), KB KiB.
A few images per size give the peak of a fresh worker: with glibc's malloc the peak of a vips
pool process still creeps up over more images (``--per-size 20`` shows how far). MALLOC_*
variables in this environment reach the worker, and the header prints them.
Exits 0 when it measured (or skipped: no server answers), 1 when the run failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_imaging import photo_path
from bench.bench_worker_throughput import Worker, answers, wait_processed
from bench.throwaway import POSTGRES_URL, RABBITMQ_URL, Throwaway

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PID = os.getpid()
DATABASE_NAME = f"bench_memory_{PID}"
NAMESPACE = f"benchm{PID}."
THROWAWAY = Throwaway(database=DATABASE_NAME, namespace=NAMESPACE)
create_database, drop_database = THROWAWAY.create_database, THROWAWAY.drop_database
drop_queues, migrate = THROWAWAY.drop_queues, THROWAWAY.migrate
configure = THROWAWAY.configure
ENGINES = ("vips", "pillow")
PHOTOS = (("12 MP", 4000, 3000), ("48 MP", 8000, 6000))
DYNOS = (("standard-1x", 512), ("standard-2x", 1024), ("performance-m", 2560))  # MiB
CONCURRENCIES = (1, 2, 4)
ENGINE_LOAD_TIMEOUT = 30.0


# --- throwaway servers -------------------------------------------------------------------------


# --- memory of a process, from /proc -------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """One process's figures, in MiB."""

    rss: float  # VmRSS: resident now
    hwm: float  # VmHWM: resident high-water mark (what max_memory_per_child compares)
    shared: float  # resident pages shared with another process now (smaps_rollup Shared_*)


def read_memory(pid: int) -> Memory:
    fields: dict[str, int] = {}
    for name in (f"/proc/{pid}/status", f"/proc/{pid}/smaps_rollup"):
        for line in Path(name).read_text().splitlines():
            key, _, value = line.partition(":")
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[key] = int(parts[0])
    shared = fields.get("Shared_Clean", 0) + fields.get("Shared_Dirty", 0)
    return Memory(fields["VmRSS"] / 1024, fields["VmHWM"] / 1024, shared / 1024)


def children(pid: int) -> list[int]:
    """The pool processes: the worker's children, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:  # the thread ended meanwhile
            continue
    return sorted(set(found))


def maps_libvips(pid: int) -> bool:
    try:
        return "libvips" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@dataclass(frozen=True)
class Reading:
    parent: Memory
    pool: dict[int, Memory]  # pool process pid -> its figures

    def pool_max(self, what: str) -> float:
        return max(getattr(memory, what) for memory in self.pool.values())

    def pool_each(self, what: str) -> str:
        return ", ".join(f"{getattr(memory, what):.0f}" for memory in self.pool.values())


def read_worker(worker: Worker, concurrency: int) -> Reading:
    pids = children(worker.popen.pid)
    if len(pids) != concurrency:
        raise RuntimeError(f"expected {concurrency} pool processes, found {pids}")
    return Reading(read_memory(worker.popen.pid), {pid: read_memory(pid) for pid in pids})


def wait_engine_loaded(worker: Worker, engine: str, concurrency: int) -> None:
    """Every pool process started and, for vips, has libvips mapped (worker_process_init)."""
    deadline = time.monotonic() + ENGINE_LOAD_TIMEOUT
    while True:
        pids = children(worker.popen.pid)
        if len(pids) == concurrency and (
            engine != "vips" or all(maps_libvips(pid) for pid in pids)
        ):
            break
        if not worker.alive():
            raise RuntimeError(f"the worker died at start:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"pool processes not set up in {ENGINE_LOAD_TIMEOUT:.0f} s: {pids}")
        time.sleep(0.1)
    time.sleep(1.0)  # the rest of worker_process_init, and the first heartbeat, settle


# --- the run of one engine -----------------------------------------------------------------------


def accept(owner, data: bytes, n: int, label: str) -> list:
    """N uploads through the product's own service; returns their ids."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from media_pipeline.services import accept_upload

    return [
        accept_upload(
            owner=owner, file=SimpleUploadedFile(f"{label}-{i}.jpg", data, "image/jpeg")
        ).id
        for i in range(n)
    ]


def measure_engine(
    engine: str, owner, photos: dict[str, bytes], args: argparse.Namespace, folder: Path
) -> dict[str, Reading]:
    """Readings 'idle', then after each photo size, of one worker running `engine`."""
    os.environ["MEDIA_IMAGE_ENGINE"] = engine  # the worker's environment is this one's
    worker = Worker(folder / f"worker-{engine}.log")
    worker.command = [
        PYTHON, "-m", "celery", "-A", "celery_app", "worker",
        "-Q", f"{NAMESPACE}media",
        "-n", f"benchm{PID}-{engine}@%h",  # a name of its own: its control queue is its own
        f"--concurrency={args.concurrency}",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",  # the "ready." line is an INFO record
    ]  # fmt: skip
    readings: dict[str, Reading] = {}
    try:
        print(f"\nEngine {engine}: {' '.join(worker.command[2:])}", flush=True)
        worker.start()
        worker.wait_ready()
        wait_engine_loaded(worker, engine, args.concurrency)
        readings["idle"] = read_worker(worker, args.concurrency)
        for label, data in photos.items():
            ids = accept(owner, data, args.per_size, f"{engine}-{label.replace(' ', '')}")
            print(f"  {args.per_size} uploads of the {label} photo queued", flush=True)
            wait_processed(ids, worker, args.timeout)
            readings[label] = read_worker(worker, args.concurrency)
        pools = {tuple(reading.pool) for reading in readings.values()}
        if len(pools) != 1:
            raise RuntimeError(f"a pool process was replaced during the run: {pools}")
    except RuntimeError:
        if worker.popen is not None:
            print(f"the worker's log, last lines:\n{worker.tail()}", file=sys.stderr)
        raise
    finally:
        worker.stop()
        os.environ.pop("MEDIA_IMAGE_ENGINE", None)
    return readings


# --- report --------------------------------------------------------------------------------------


def needs_mb(parent: float, peak: float, n: int, margin: float) -> float:
    return (parent + n * peak) * (1 + margin)


def limit_kb(dyno_mb: int, parent: float, n: int, margin: float) -> int:
    """The per-process peak that keeps parent + n pool processes, plus margin, within the dyno;
    in KB, rounded down to whole MB."""
    return int((dyno_mb / (1 + margin) - parent) / n) * 1024


def report(engine: str, readings: dict[str, Reading], margin: float) -> dict[int, tuple]:
    idle, peak_reading = readings["idle"], readings[PHOTOS[-1][0]]
    print(f"\nEngine {engine} (MEDIA_IMAGE_ENGINE={engine}), MB (each pool process in brackets)")
    print(f"  {'':<34}{'VmRSS':>8}{'VmHWM':>8}")
    rows = [("parent (MainProcess), idle", idle.parent, None)]
    for stage, reading in readings.items():
        rows.append((f"pool process, {stage}", None, reading))
    rows.append((f"parent (MainProcess), after {PHOTOS[-1][0]}", peak_reading.parent, None))
    for label, memory, reading in rows:
        if memory is not None:
            print(f"  {label:<34}{memory.rss:>8.0f}{memory.hwm:>8.0f}")
        else:
            print(
                f"  {label:<34}{reading.pool_max('rss'):>8.0f}{reading.pool_max('hwm'):>8.0f}"
                f"   (VmRSS {reading.pool_each('rss')}; VmHWM {reading.pool_each('hwm')})"
            )

    idle_rss = idle.pool_max("rss")
    ratios = ", ".join(
        f"{label} {readings[label].pool_max('hwm') / idle_rss:.2f}" for label, _, _ in PHOTOS
    )
    print(f"  ratio peak (VmHWM) / idle (VmRSS) of a pool process: {ratios}")
    shared = max(memory.shared for memory in idle.pool.values())
    print(
        f"  of an idle pool process's RSS, {shared:.0f} MB is shared with the parent or the other"
        " pool process (copy-on-write, libraries):"
    )
    print("    counted once per process below, so the sums are high by up to that per process")

    parent, peak = peak_reading.parent.hwm, peak_reading.pool_max("hwm")
    print(f"  needs, with a {margin:.0%} margin: (parent {parent:.0f} + N x peak {peak:.0f})"
          f" x {1 + margin:.2f}")  # fmt: skip
    for n in CONCURRENCIES:
        print(f"    concurrency {n} needs about {needs_mb(parent, peak, n, margin):.0f} MB")

    print(
        "  CELERY_WORKER_MAX_MEMORY_PER_CHILD (env WORKER_MAX_MEMORY_PER_CHILD_KB), KB per pool"
        f" process, that keeps parent + N pool processes + {margin:.0%} within the dyno"
    )
    print("  ('< peak': below the measured peak, every 48 MP image would recycle its process)")
    header = f"    {'dyno':<24}" + "".join(f"{f'concurrency {n}':<18}" for n in CONCURRENCIES)
    print(header.rstrip())
    suggested: dict[int, tuple] = {}
    for dyno, dyno_mb in DYNOS:
        cells = []
        for n in CONCURRENCIES:
            value = limit_kb(dyno_mb, parent, n, margin)
            fits = value / 1024 >= peak
            cells.append(f"{value} {'ok' if fits else '< peak'}")
            if fits:
                suggested[dyno_mb] = (dyno, n, value)
        row = f"    {f'{dyno} ({dyno_mb} MB)':<24}" + "".join(f"{cell:<18}" for cell in cells)
        print(row.rstrip())
    for dyno, dyno_mb in DYNOS:
        if dyno_mb in suggested:
            _, n, value = suggested[dyno_mb]
            print(
                f"    suggested on {dyno}: MEDIA_CONCURRENCY={n}"
                f" WORKER_MAX_MEMORY_PER_CHILD_KB={value} (the most processes memory allows)"
            )
        else:
            print(f"    suggested on {dyno}: none: even concurrency 1 does not fit")
    return suggested


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_worker_memory", description=__doc__
    )
    parser.add_argument("--per-size", type=int, default=3, help="uploads of each photo (3)")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes (2)")
    parser.add_argument("--margin", type=float, default=25, help="margin in percent (25)")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"engines (default {','.join(ENGINES)})"
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds per batch (180)")
    args = parser.parse_args(argv)
    margin = args.margin / 100
    missing = [url for url in (POSTGRES_URL, RABBITMQ_URL) if not answers(url)]
    if missing:
        print(f"skipped: nothing answers at {' nor '.join(missing)}")
        return 0

    photos = {label: photo_path(w, h).read_bytes() for label, w, h in PHOTOS}
    folder = Path(tempfile.mkdtemp(prefix=f"bench-memory-{PID}-"))
    configure(folder)
    created = False
    try:
        create_database()
        created = True
        migrate()
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        # With an email address, so each ready upload queues its confirmation like a real
        # one (never sent: no worker consumes the email queue).
        owner = get_user_model().objects.create_user("bench", "bench@example.com")
        for (label, w, h), data in zip(PHOTOS, photos.values(), strict=True):
            print(f"Photo:    {label} {w}x{h} photo-like JPEG, {len(data) / 1e6:.1f} MB")
        print(f"Database: Postgres {DATABASE_NAME} (throwaway)")
        print(f"Broker:   RabbitMQ, queues {NAMESPACE}* (throwaway); email queued, never sent")
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        tuning = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("MALLOC_")]
        print(f"malloc:   {' '.join(tuning) or 'glibc defaults (no MALLOC_* set)'}")
        results = {
            engine: measure_engine(engine, owner, photos, args, folder)
            for engine in args.engines.split(",")
        }
        for engine, readings in results.items():
            report(engine, readings, margin)
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"\nfailed: {error}", file=sys.stderr)
        return 1
    finally:
        THROWAWAY.clean_up(database_created=created, folder=folder)


if __name__ == "__main__":
    sys.exit(main())
