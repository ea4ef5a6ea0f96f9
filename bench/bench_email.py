"""Email throughput: the outbox through the `email` queue beside one plain SMTP connection.

Run from the repository root: ``python -m bench.bench_email [--n 400]`` (or ``python -m bench
email``). Needs the local Postgres (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672), or
DATABASE_URL / BROKER_URL naming others; uses a throwaway database ``bench_email_<pid>`` and
throwaway queues, both removed at the end. An aiosmtpd server in its own process takes the
mail. N messages go through ``queue_email`` (a row each, a task on commit) to one email worker
of 2 processes run as the Procfile's worker-email, which claims, sends and records each
(in batches, mailer/sending.py); then the same N messages are sent by a
loop over ONE smtplib connection: the ceiling, with no outbox, queue or database at all.
Prints both rates and their ratio. Always exits 0: it measures, it does not gate.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PID = os.getpid()
DATABASE_NAME = f"bench_email_{PID}"
NAMESPACE = f"bench_email_{PID}."
WARMUP = 20


def serve_smtp(port: int) -> None:
    """The SMTP server's own process: answers "count" on stdin with deliveries per Message-ID."""
    from aiosmtpd.controller import Controller

    from tests.servers import Inbox

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "count":
            counts = Counter(inbox.message_ids())
            print(
                f"{sum(counts.values())} {len(counts)} {max(counts.values(), default=0)}",
                flush=True,
            )
        elif line.strip() == "clear":
            inbox.clear()
            print("ok", flush=True)
    controller.stop()


class SMTPProcess:
    """aiosmtpd in a child process, so that it does not share a GIL with either sender."""

    def __init__(self):
        from tests.servers import free_port

        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}?timeout=10"
        self.popen = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.bench_email", "--serve-smtp", str(self.port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.popen.stdout.readline().strip() == "ready", "the SMTP server did not start"

    def ask(self, command: str) -> str:
        self.popen.stdin.write(command + "\n")
        self.popen.stdin.flush()
        return self.popen.stdout.readline().strip()

    def counts(self) -> tuple[int, int, int]:
        """(messages delivered, distinct Message-IDs, most deliveries of one Message-ID)."""
        total, distinct, most = self.ask("count").split()
        return int(total), int(distinct), int(most)

    def stop(self) -> None:
        self.popen.stdin.close()
        self.popen.wait(timeout=10)


def configure(smtp_url: str, var_dir: Path) -> None:
    """Environment for this process and the worker: throwaway database and queues, no debug."""
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/media_service")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": database.rsplit("/", 1)[0] + f"/{DATABASE_NAME}",
            "BROKER_URL": os.environ.get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
            "CELERY_QUEUE_NAMESPACE": NAMESPACE,
            "EMAIL_URL": smtp_url,
            "VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(var_dir / "media"),
        }
    )


def create_database() -> None:
    """Create and migrate bench_email_<pid> with Django's test database machinery."""
    from django.db import connection

    connection.settings_dict["TEST"]["NAME"] = DATABASE_NAME
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def drop_database() -> None:
    from django.db import connection

    connection.creation.destroy_test_db(DATABASE_NAME, verbosity=0)


def drop_queues() -> None:
    """Delete this run's queues and exchanges, and nothing else."""
    from celery_app import app

    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            if queue.name.startswith(NAMESPACE):
                bound = queue.bind(conn.default_channel)
                bound.delete()
                bound.exchange.delete()


def start_email_worker(log_dir: Path):
    """One email worker of 2 prefork processes, as the Procfile's worker-email runs (4
    messages prefetched per process, one Postgres connection kept); stopped if it fails."""
    from celery_app import queue_name
    from tests.servers import Process, wait_for

    command = [
        sys.executable, "-m", "celery", "-A", "celery_app", "worker",
        "-Q", queue_name("email"), "-n", f"bench-email-{PID}@%h", "--concurrency=2",
        "--prefetch-multiplier=4", "--without-gossip", "--without-mingle", "--loglevel=INFO",
    ]  # fmt: skip
    env = {**os.environ, "CELERY_DB_REUSE_MAX": "100"}
    process = Process(command, env=env, log_path=log_dir / "worker.log")
    try:
        wait_for(
            lambda: "ready." in process.output() or not process.alive(),
            timeout=60,
            what="the email worker to start",
        )
        if not process.alive():
            raise RuntimeError(f"The worker died at start:\n{process.output()[-3000:]}")
    except BaseException:
        process.stop()
        raise
    return process


def queue_messages(n: int, label: str) -> list[int]:
    """N confirmation emails, queued as the product queues them: rows, tasks on commit."""
    from django.db import transaction

    from mailer.services import queue_email

    class Upload:  # what the upload_ready templates read
        caption = "A day at the beach"
        error = ""

    with transaction.atomic():
        ids = []
        for i in range(n):
            Upload.original_name = f"{label}-{i}.jpg"
            ids.append(
                queue_email(
                    kind="upload_ready",
                    to=f"user{i}@example.com",
                    context={
                        "upload": Upload,
                        "user": None,
                        "site_name": "Media service",
                        "page_url": f"http://localhost:8000/uploads/{i}/",
                        "thumbnail_url": f"http://localhost:8000/uploads/{i}/thumbnail",
                    },
                ).id
            )
    return ids


def role_of(pid: int, ppid: int, command: str) -> str | None:
    """Which part of this run a process is, if any: other runs' workers and databases on a
    shared machine are not counted."""
    if pid == PID:
        return "caller"  # queue_email, and the plain loop of the one-connection variant
    if f"bench-email-{PID}@" in command:  # the worker's name: its main process and pool
        return "worker"
    if ppid == PID and "--serve-smtp" in command:
        return "SMTP server"
    if "beam.smp" in command:
        return "RabbitMQ"
    if DATABASE_NAME in command:  # a Postgres backend serving this run's database
        return "Postgres"
    return None


ROLES = ("caller", "worker", "SMTP server", "RabbitMQ", "Postgres")


def cpu_snapshot() -> dict | None:
    """CPU seconds (user + system) spent so far by the whole machine and by each process of
    this run, keyed by (pid, start time) so that a reused pid is not taken for the same
    process; from /proc, None where there is none."""
    try:
        first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq = map(int, first_line.split()[1:8])
    snapshot = {"machine": (user + nice + system + irq + softirq) / ticks}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        role = role_of(int(entry.name), int(fields[1]), command)
        if role:
            utime, stime, started = int(fields[11]), int(fields[12]), fields[19]
            snapshot[(int(entry.name), started)] = (role, (utime + stime) / ticks)
    return snapshot


def cpu_between(before: dict, after: dict) -> Counter:
    """CPU seconds per role (and for the whole machine) from one snapshot to the next.

    A process that started in between counts from zero; one that ended in between is
    missing its last part (a worker's database connection replaced mid-run, say).
    """
    spent = Counter({"machine": after["machine"] - before["machine"]})
    for key, value in after.items():
        if key != "machine":
            role, seconds = value
            spent[role] += seconds - before.get(key, (role, 0.0))[1]
    return spent


def wait_sent(ids: list[int], timeout: float = 300) -> None:
    from mailer.models import OutgoingEmail

    deadline = time.monotonic() + timeout
    while OutgoingEmail.objects.filter(id__in=ids, status="sent").count() < len(ids):
        if time.monotonic() > deadline:
            counts = Counter(
                OutgoingEmail.objects.filter(id__in=ids).values_list("status", flat=True)
            )
            raise RuntimeError(f"Not all sent after {timeout:.0f}s: {dict(counts)}")
        time.sleep(0.05)


def through_the_outbox(n: int, label: str) -> tuple[float, list[int]]:
    """Seconds from the first queue_email to the last message recorded `sent`; the rows."""
    from django.db.models import Max
    from django.utils import timezone

    from mailer.models import OutgoingEmail

    started = timezone.now()
    ids = queue_messages(n, label)
    wait_sent(ids)
    finished = OutgoingEmail.objects.filter(id__in=ids).aggregate(last=Max("sent_at"))["last"]
    return (finished - started).total_seconds(), ids


def one_connection(ids: list[int], smtp: SMTPProcess) -> float:
    """Seconds to send the same messages, built the same way, over one SMTP connection."""
    import email.policy

    from django.conf import settings

    from mailer.models import OutgoingEmail
    from mailer.services import build_message

    rows = list(OutgoingEmail.objects.filter(id__in=ids))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as connection:
        for row in rows:
            message = build_message(row).message(policy=email.policy.SMTP)
            connection.sendmail(settings.DEFAULT_FROM_EMAIL, [row.to], message.as_bytes())
    return time.perf_counter() - started


def measure(n: int, rounds: int, smtp: SMTPProcess) -> tuple[float, float, list[float], list]:
    """Both variants in turns, so that load from elsewhere on the machine falls on both.

    Returns the seconds each took in all, the ratio of each round, and the machine's CPU
    seconds during each variant (None without /proc/stat).
    """
    outbox_total = ceiling_total = 0.0
    cpu = [Counter(), Counter()]
    ratios = []
    batch = n // rounds
    for turn in range(rounds):
        before, distinct_before, _ = smtp.counts()
        cpu_start = cpu_snapshot()
        outbox_seconds, ids = through_the_outbox(batch, f"round{turn}")
        cpu_outbox = cpu_snapshot()
        total, distinct, _ = smtp.counts()
        # As many deliveries as new Message-IDs as messages: each delivered exactly once.
        assert (total - before, distinct - distinct_before) == (batch, batch)
        cpu_ceiling = cpu_snapshot()
        ceiling_seconds = one_connection(ids, smtp)
        cpu_end = cpu_snapshot()
        assert smtp.counts()[0] == total + batch
        outbox_total += outbox_seconds
        ceiling_total += ceiling_seconds
        ratios.append(ceiling_seconds / outbox_seconds)
        if cpu_start is not None:
            cpu[0].update(cpu_between(cpu_start, cpu_outbox))
            cpu[1].update(cpu_between(cpu_ceiling, cpu_end))
    return outbox_total, ceiling_total, ratios, (cpu if cpu_start is not None else None)


def print_cpu(cpu: list[Counter], n: int) -> None:
    """CPU per message of each variant, in all and per role (ms)."""
    outbox, ceiling = cpu
    print(
        f"machine CPU per message: outbox {outbox['machine'] / n * 1000:.1f} ms, "
        f"one connection {ceiling['machine'] / n * 1000:.1f} ms "
        f"(ratio {outbox['machine'] / ceiling['machine']:.2f}; {os.cpu_count()} CPUs)"
    )
    for name, spent in (("outbox", outbox), ("one connection", ceiling)):
        shares = ", ".join(f"{role} {spent[role] / n * 1000:.1f}" for role in ROLES)
        print(f"  {name}: {shares} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_email", description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="messages per variant (default 400)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns each variant takes (default 4)"
    )
    parser.add_argument("--serve-smtp", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_smtp:
        serve_smtp(args.serve_smtp)
        return 0

    var_dir = Path(tempfile.mkdtemp(prefix=f"bench-email-{PID}-"))
    smtp = SMTPProcess()
    configure(smtp.url, var_dir)
    import django

    django.setup()
    worker = None
    create_database()
    try:
        from django.conf import settings
        from django.db import connection

        worker = start_email_worker(var_dir)
        print(f"Database: Postgres {connection.settings_dict['NAME']} (throwaway)")
        print(f"Broker:   RabbitMQ, queues {NAMESPACE}* (throwaway)")
        print(
            f"Worker:   celery worker -Q {NAMESPACE}email --concurrency=2 (prefork) "
            f"--prefetch-multiplier=4, CELERY_DB_REUSE_MAX=100, "
            f"MAILER_BATCH_SIZE={settings.MAILER_BATCH_SIZE}"
        )
        print(f"SMTP:     aiosmtpd on 127.0.0.1:{smtp.port}, its own process")
        print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

        wait_sent(queue_messages(WARMUP, "warmup"))  # the worker's connections and imports
        n = args.n // args.rounds * args.rounds
        outbox_seconds, ceiling_seconds, ratios, cpu = measure(n, args.rounds, smtp)

        outbox_rate, ceiling_rate = n / outbox_seconds, n / ceiling_seconds
        print(
            f"\n{n} messages each, in {args.rounds} turns; "
            f"load average {os.getloadavg()[0]:.2f} at the end"
        )
        print(
            f"{'outbox -> email queue -> 1 worker x 2 processes':<50} {outbox_rate:7.1f} msg/s"
            f"  ({outbox_seconds:.2f} s, each delivered exactly once)"
        )
        print(
            f"{'one smtplib connection, plain loop (ceiling)':<50} {ceiling_rate:7.1f} msg/s"
            f"  ({ceiling_seconds:.2f} s)"
        )
        print(
            f"ratio outbox / ceiling: {outbox_rate / ceiling_rate:.2f} "
            f"(turns: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
        if cpu:
            print_cpu(cpu, n)
    finally:
        if worker is not None:
            worker.stop()
        from django.db import connections

        connections.close_all()
        drop_database()
        drop_queues()
        smtp.stop()
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
