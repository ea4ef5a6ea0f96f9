"""`GET /metrics` with 100,000 uploads and 100,000 emails, beside a plain `GET /healthz`.

Run from the repository root: ``python -m bench metrics`` (or ``python -m
bench.bench_metrics [--n 200] [--uploads 100000] [--emails 100000]``). Needs the local
Postgres (127.0.0.1:5432, user postgres); uses a throwaway database ``bench_metrics_<pid>``,
throwaway RabbitMQ queues ``benchmetrics<pid>.*`` (declared, as the workers would, so the
scrape's passive declares find them) and a temporary folder, all removed at the end, also on
failure. Without Postgres it says so and skips.

Setup: migrate, then COPY a realistic mix of rows (uploads mostly ready with their times
spread over the last two weeks, some failed, a backlog of ~1,500 queued over the last half
hour, a few processing; emails mostly sent, some failed, ~1,200 queued, a few sending; the
counters and histogram buckets the workers keep), then VACUUM ANALYZE, as autovacuum would
have left a table that size. Then gunicorn as the Procfile's web process (2 workers x 4
threads, bench.settings: the local settings without debug) on loopback.

Phase 1 (with the ops indexes) and phase 2 (indexes upload_status_queued_at,
upload_status_finished_at, email_status_queued_at and email_status_sent_at dropped, then
ANALYZE) each time `--n` sequential `GET /metrics` (bearer token) and `--n` `GET /healthz`,
interleaved in rounds, and print median, p95, the ratio metrics/healthz and whether the p95
of /metrics is under the 100 ms target. Each phase then splits a scrape in-process, against
the same database and broker: ops.selectors.snapshot() (each of its queries), counters.read(),
broker.queue_stats(), the rendering alone (prometheus_client, with those three stubbed out)
and metrics.render() whole; and EXPLAIN ANALYZE of each snapshot query with its plan.
Always exits 0 when it measured: it measures, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

import requests

from bench.bench_upload_latency import (
    POSTGRES_URL,
    THREADS,
    WORKERS,
    Broker,
    Database,
    answers,
    django,
    free_port,
    gunicorn_options,
    percentile,
    wait_until_healthy,
)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_P95_MS = 100.0
OPS_INDEXES = (
    "upload_status_queued_at",
    "upload_status_finished_at",
    "email_status_queued_at",
    "email_status_sent_at",
)
SPAN = timedelta(days=14)  # finished uploads and sent emails spread over this much history
BACKLOG = timedelta(minutes=30)  # queued rows spread over this much
ENDPOINTS = ("metrics", "healthz")


# --- the data --------------------------------------------------------------------------------


def upload_rows(n: int, owner_id: int, now, rng: random.Random):
    """(field attname -> value) rows: ~95% ready, 3% failed, 1,500 queued, 40 processing."""
    queued = min(1500, n // 50)
    processing = min(40, n // 1000)
    failed = n * 3 // 100
    statuses = (
        ["queued"] * queued
        + ["processing"] * processing
        + ["failed"] * failed
        + ["ready"] * (n - queued - processing - failed)
    )
    rng.shuffle(statuses)
    for number, status in enumerate(statuses):
        if status == "queued":
            queued_at = now - BACKLOG * rng.random()
            claimed_at = finished_at = None
            attempts = 0
        elif status == "processing":
            queued_at = now - timedelta(seconds=rng.uniform(5, 120))
            claimed_at = min(now, queued_at + timedelta(seconds=rng.uniform(1, 60)))
            finished_at, attempts = None, 1
        else:
            queued_at = now - SPAN * rng.random()
            claimed_at = min(now, queued_at + timedelta(seconds=rng.expovariate(1 / 3)))
            seconds = rng.uniform(0.5, 8) if status == "ready" else rng.uniform(0.1, 30)
            finished_at = min(now, claimed_at + timedelta(seconds=seconds))
            attempts = 1 if status == "ready" else 3
        width, height = rng.choice(((4032, 3024), (3024, 4032), (1920, 1080), (3000, 2000)))
        yield {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "owner_id": owner_id,
            "status": status,
            "error": "Not an image we can read (truncated JPEG)." if status == "failed" else "",
            "caption": "" if number % 3 else f"Holiday photo {number}",
            "original": f"originals/{secrets.token_urlsafe(18)}.jpg",
            "original_name": f"IMG_{number:06d}.jpg",
            "original_format": "jpeg",
            "original_bytes": rng.randint(1_500_000, 6_000_000),
            "width": width,
            "height": height,
            "attempts": attempts,
            "created_at": queued_at,
            "updated_at": finished_at or claimed_at or queued_at,
            "queued_at": queued_at,
            "published_at": queued_at + timedelta(milliseconds=5),
            "claimed_at": claimed_at,
            "finished_at": finished_at,
        }


def email_rows(n: int, now, rng: random.Random):
    """~97% sent, 1.5% failed, 1,200 queued, 20 sending; bodies as the templates render."""
    queued = min(1200, n // 80)
    sending = min(20, n // 5000)
    failed = n * 15 // 1000
    statuses = (
        ["queued"] * queued
        + ["sending"] * sending
        + ["failed"] * failed
        + ["sent"] * (n - queued - sending - failed)
    )
    rng.shuffle(statuses)
    for number, status in enumerate(statuses):
        kind = rng.choices(("upload_ready", "upload_failed", "password_reset"), (90, 6, 4))[0]
        name = f"IMG_{number:06d}.jpg"
        page = f"https://media.example.com/uploads/{uuid.UUID(int=rng.getrandbits(128))}/"
        if status == "queued":
            queued_at = now - BACKLOG * rng.random()
        elif status == "sending":
            queued_at = now - timedelta(seconds=rng.uniform(1, 60))
        else:
            queued_at = now - SPAN * rng.random()
        claimed_at = None if status == "queued" else queued_at + timedelta(seconds=0.2)
        done = claimed_at and min(now, claimed_at + timedelta(seconds=rng.uniform(0.1, 2)))
        yield {
            "kind": kind,
            "to": f"user{number % 5000}@example.com",
            "subject": f'Your image "{name}" is ready',
            "body_text": f'Hello user{number % 5000},\n\nYour image "{name}" has been processed '
            f"and is ready.\n\nSee it here: {page}\n\nMedia service\n",
            "body_html": '<!doctype html>\n<html><body style="font-family: sans-serif; '
            f'color: #1d232b;">\n<p>Hello user{number % 5000},</p>\n<p>Your image <strong>'
            f"“{name}”</strong> has been processed and is ready.</p>\n<p><a "
            f'href="{page}"><img src="{page}thumb.webp" alt="{name}" width="320" '
            'style="max-width: 100%; border-radius: 6px;"></a></p>\n<p><a '
            f'href="{page}">See your image</a></p>\n<p style="color: #5b6675;">Media '
            "service</p>\n</body></html>\n",
            "message_id": f"<{int(queued_at.timestamp())}.{number}.{rng.getrandbits(48)}"
            "@media.example.com>",
            "dedupe_key": None if kind == "password_reset" else f"{kind}:{page[-37:-1]}",
            "status": status,
            "attempts": {"queued": 0, "sending": 1, "sent": 1, "failed": 5}[status],
            "last_error": "550 5.1.1 Recipient address rejected" if status == "failed" else "",
            "server_reply": f"250 2.0.0 Ok: queued as {number:X}" if status == "sent" else "",
            "created_at": queued_at,
            "queued_at": queued_at,
            "published_at": queued_at + timedelta(milliseconds=5),
            "claimed_at": claimed_at,
            "claimed_by": "" if claimed_at is None else str(uuid.UUID(int=number)),
            "sent_at": done if status == "sent" else None,
            "failed_at": done if status == "failed" else None,
        }


def counter_rows(uploads: int, emails: int, rng: random.Random) -> list[tuple[str, str, float]]:
    """What the workers' upserts leave: outcomes, retries, sends, sweeps, two histograms."""
    from ops import counters, selectors

    rows = [
        ("uploads_finished", "status=ready", uploads * 0.95),
        ("uploads_finished", "status=failed", uploads * 0.03),
        ("uploads_retried", "by=owner", 310),
        ("uploads_retried", "by=ops", 42),
        ("email_sends", "outcome=sent,reason=", emails * 0.97),
        ("email_sends", "outcome=temporary,reason=connection", 820),
        ("email_sends", "outcome=permanent,reason=recipient", emails * 0.015),
        ("email_sends", "outcome=interrupted,reason=worker_lost", 7),
        ("sweep_republished", "kind=upload", 55),
        ("sweep_republished", "kind=email", 12),
    ]
    for name, buckets in (
        ("upload_processing_seconds", selectors.PROCESSING_BUCKETS),
        ("upload_ready_latency_seconds", selectors.LATENCY_BUCKETS),
    ):
        for bound in [*buckets, counters.INF]:
            le = counters.format_bound(bound)
            rows.append((f"{name}_bucket", f"le={le}", float(rng.randint(10, uploads // 5))))
        rows.append((f"{name}_sum", "", uploads * 4.2))
        rows.append((f"{name}_count", "", float(uploads)))
    return rows


def copy_rows(model, rows, exclude: tuple[str, ...] = ()) -> None:
    """COPY the rows (dicts by field attname) into the model's table, every column named."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if f.attname not in exclude]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[f.attname] for f in fields])
    connection.connection.commit()


def load(uploads: int, emails: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from mailer.models import OutgoingEmail
    from media_pipeline.models import Upload
    from ops.models import Counter

    rng = random.Random(20261202)
    now = timezone.now()
    started = time.perf_counter()
    owner = get_user_model().objects.create_user("owner", "owner@example.com", "owner-pass-123")
    copy_rows(Upload, upload_rows(uploads, owner.pk, now, rng))
    copy_rows(OutgoingEmail, email_rows(emails, now, rng), exclude=("id",))
    Counter.objects.bulk_create(
        Counter(name=name, labels=labels, value=value)
        for name, labels, value in counter_rows(uploads, emails, rng)
    )
    loaded = time.perf_counter() - started
    tables = [m._meta.db_table for m in (Upload, OutgoingEmail, Counter)]
    with connection.cursor() as cursor:  # autocommit: VACUUM runs outside a transaction
        cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
        cursor.execute(
            "SELECT relname, reltuples::bigint, pg_size_pretty(pg_total_relation_size(oid)) "
            "FROM pg_class WHERE relname = ANY(%s) ORDER BY relname",
            [tables],
        )
        sizes = cursor.fetchall()
    print(
        f"Data:     {uploads:,} uploads, {emails:,} emails, {Counter.objects.count()} counters "
        f"loaded (COPY) in {loaded:.1f} s, VACUUM ANALYZE in "
        f"{time.perf_counter() - started - loaded:.1f} s"
    )
    for name, rows, size in sizes:
        print(f"            {name:<28}{rows:>9,} rows {size:>9} with its indexes")
    for model in (Upload, OutgoingEmail):
        counts = dict(model.objects.values_list("status").annotate(n=Count("pk")).order_by())
        print(
            f"            {model.__name__:<14}" + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )


def declare_queues() -> None:
    """Declare this run's queues as a worker would, so the passive declares find them."""
    from celery_app import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in app.conf.task_queues:
            queue(channel).declare()


def drop_ops_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in OPS_INDEXES:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        cursor.execute("ANALYZE media_pipeline_upload, mailer_outgoingemail")


# --- the server ------------------------------------------------------------------------------


@contextmanager
def served(uploads: int, emails: int, token: str):
    """A throwaway database with the rows, this run's queues and gunicorn serving them.

    Django is set up in this process on the same database and broker (for the in-process
    split). Yields the base URL. Stops the server and removes the queues, the database and
    the folder afterwards, whatever happened.
    """
    pid = os.getpid()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-metrics-{pid}-"))
    log = folder / "gunicorn.log"
    cleanups = [lambda: shutil.rmtree(folder, ignore_errors=True)]
    server = None
    try:
        database = Database(folder, f"bench_metrics_{pid}")
        cleanups.insert(0, database.drop)
        broker = Broker(f"benchmetrics{pid}.")
        cleanups.insert(0, broker.drop)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database.url,
            "BROKER_URL": broker.url,
            "CELERY_QUEUE_NAMESPACE": broker.namespace,
            "MEDIA_ROOT": str(folder / "media"),
            "VAR_DIR": str(folder / "var"),
            "EMAIL_URL": "memory:",
            "LOG_LEVEL": "WARNING",
            "METRICS_TOKEN": token,
        }
        os.environ.update(env)  # this process's Django: the same database and queues
        env = {**os.environ}
        gunicorn_args = [
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            *gunicorn_options(WORKERS, THREADS),
            "--timeout",
            "30",
            "--no-control-socket",  # not the shared ~/.gunicorn/gunicorn.ctl
        ]
        print(f"Database: {database.label}\nBroker:   {broker.label}")
        print(f"Server:   gunicorn {' '.join(gunicorn_args[1:])}, bench.settings")

        started = time.perf_counter()
        django(env, "migrate", "--noinput", "-v", "0")
        print(f"Migrate:  {time.perf_counter() - started:.1f} s")
        import django as django_module

        django_module.setup()
        cleanups.insert(0, close_django_connections)
        load(uploads, emails)
        declare_queues()
        with log.open("wb") as log_file:
            server = subprocess.Popen(  # noqa: S603
                [PYTHON, "-m", "gunicorn", *gunicorn_args],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        wait_until_healthy(base, server, log)
        yield base
    except BaseException:
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
        for cleanup in cleanups:  # Django's connections, the queues, the database, the folder
            try:
                cleanup()
            except Exception as error:  # report and go on: the other cleanups still run
                print(f"cleanup failed: {type(error).__name__}: {error}", file=sys.stderr)


def close_django_connections() -> None:
    from django.db import connections

    connections.close_all()


# --- over HTTP -------------------------------------------------------------------------------


def check_scrape(session: requests.Session, base: str, headers: dict) -> None:
    """The scrape answers 200 with the loaded counts and the broker up; 401 without token."""
    response = session.get(f"{base}/metrics", headers=headers, timeout=30)
    response.raise_for_status()
    found = dict(
        re.findall(r'^media_service_uploads\{status="(\w+)"\} (\S+)$', response.text, re.M)
    )
    broker_up = re.search(r"^media_service_broker_up (\S+)$", response.text, re.M)
    print(
        f"  Scrape: {len(response.content):,} bytes, {response.text.count(chr(10))} lines; "
        f"uploads {found}; broker_up {broker_up and broker_up.group(1)}"
    )
    denied = session.get(f"{base}/metrics", timeout=30).status_code
    if denied != 401:
        raise RuntimeError(f"/metrics without the token answered {denied}, not 401")


def measure_http(base: str, token: str, n: int, rounds: int, warmup: int) -> dict:
    """Sequential GETs, one connection kept alive; endpoints take turns, order alternating."""
    session = requests.Session()
    requests_for = {
        "metrics": (f"{base}/metrics", {"Authorization": f"Bearer {token}"}),
        "healthz": (f"{base}/healthz", {}),
    }
    latencies: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    odd: list[str] = []

    def get(name: str) -> float:
        url, headers = requests_for[name]
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=30)
        elapsed = time.perf_counter() - started
        if response.status_code != 200 and len(odd) < 5:
            odd.append(f"{name} {response.status_code}: {' '.join(response.text.split())[:200]}")
        return elapsed

    for _ in range(warmup):
        for name in ENDPOINTS:
            get(name)
    check_scrape(session, base, requests_for["metrics"][1])
    for index in range(rounds):
        count = n // rounds + (index < n % rounds)
        order = ENDPOINTS if index % 2 == 0 else ENDPOINTS[::-1]
        for name in order:
            for _ in range(count):
                latencies[name].append(get(name))
    session.close()
    for line in odd:
        print(f"  unexpected answer: {line}")
    return {name: [value * 1000 for value in values] for name, values in latencies.items()}


def report_http(ms: dict[str, list[float]]) -> dict[str, float]:
    print(f"  {'endpoint':<10}{'n':>6}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}")
    for name in ENDPOINTS:
        values = ms[name]
        print(
            f"  {name:<10}{len(values):>6}{statistics.median(values):>12.1f}"
            f"{percentile(values, 0.95):>10.1f}{max(values):>10.1f}"
        )
    med = {name: statistics.median(values) for name, values in ms.items()}
    p95 = {name: percentile(values, 0.95) for name, values in ms.items()}
    verdict = "target met" if p95["metrics"] < TARGET_P95_MS else "target missed"
    print(
        f"  metrics / healthz: median {med['metrics'] / med['healthz']:.2f}, "
        f"p95 {p95['metrics'] / p95['healthz']:.2f}"
    )
    print(f"  p95 of /metrics {p95['metrics']:.1f} ms < {TARGET_P95_MS:g} ms: {verdict}")
    return {"median": med["metrics"], "p95": p95["metrics"]}


# --- in process ------------------------------------------------------------------------------


def query_label(sql: str, params) -> str:
    table = "upload" if "media_pipeline_upload" in sql else "email"
    status = next((p for p in params or () if isinstance(p, str)), "")
    if "GROUP BY" in sql:
        return f"{table}: count per status"
    if "MIN(" in sql:
        return f"{table}: min(queued_at) where {status}"
    column = re.search(r'"(\w+)" >= %s', sql)
    return f"{table}: count where {status}, {column and column.group(1)} >= now - window"


def measure_in_process(iterations: int) -> None:
    """Each part of a scrape, timed around the calls ops.metrics makes."""
    from django.db import connection

    from ops import broker, counters, metrics, selectors

    parts: dict[str, list[float]] = defaultdict(list)
    per_query: dict[int, list[float]] = defaultdict(list)
    captured: list[tuple[str, object]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            per_query[len(captured)].append(time.perf_counter() - started)
            captured.append((sql, params))

    def clock(name, call):
        started = time.perf_counter()
        result = call()
        parts[name].append(time.perf_counter() - started)
        return result

    for index in range(iterations + 2):  # the first two warm up, untimed below
        captured.clear()
        with connection.execute_wrapper(timed):
            snap = clock("snapshot", selectors.snapshot)
        values = clock("counters.read", counters.read)
        stats = clock("queue_stats", broker.queue_stats)
        if stats is None:
            raise RuntimeError("broker.queue_stats() found no broker")
        with ExitStack() as stubs:
            stubs.enter_context(mock.patch.object(selectors, "snapshot", return_value=snap))
            stubs.enter_context(mock.patch.object(counters, "read", return_value=values))
            stubs.enter_context(mock.patch.object(broker, "queue_stats", return_value=stats))
            clock("render only", metrics.render)
        clock("render() whole", metrics.render)
        if index < 2:
            parts.clear()
            per_query.clear()

    whole = statistics.median(parts["render() whole"]) * 1000
    print(f"  In process, median of {iterations} (ms, and share of render() whole):")
    for name in ("snapshot", "counters.read", "queue_stats", "render only", "render() whole"):
        value = statistics.median(parts[name]) * 1000
        print(
            f"    {name:<16}{value:>8.2f}  {value / whole:>5.0%}   p95 "
            f"{percentile(parts[name], 0.95) * 1000:.2f}"
        )
        if name == "snapshot":
            for position, (sql, params) in enumerate(captured):
                q = statistics.median(per_query[position]) * 1000
                print(f"      {q:>8.2f}  {query_label(sql, params)}")
    explain(captured)


def plan_nodes(node: dict) -> str:
    """ "Aggregate > Index Only Scan upload_status_queued_at", depth first."""
    name = node["Node Type"]
    on = node.get("Index Name") or node.get("Relation Name")
    here = f"{name} {on}" if on else name
    children = [plan_nodes(child) for child in node.get("Plans", [])]
    return here + (f" > {' + '.join(children)}" if children else "")


def explain(captured: list[tuple[str, object]]) -> None:
    from django.db import connection

    print("  EXPLAIN ANALYZE of each snapshot query (median of 3 executions, ms):")
    with connection.cursor() as cursor:
        for sql, params in captured:
            times, plan = [], None
            for _ in range(3):
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
                result = cursor.fetchone()[0]
                result = json.loads(result) if isinstance(result, str) else result
                times.append(result[0]["Execution Time"])
                plan = result[0]["Plan"]
            buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
            print(f"    {statistics.median(times):>8.2f}  {query_label(sql, params)}")
            print(f"              {buffers} buffers; {plan_nodes(plan)}")


# --- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_metrics", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--rounds", type=int, default=10, help="turns per endpoint (default 10)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests of each first")
    parser.add_argument("--uploads", type=int, default=100_000, help="upload rows")
    parser.add_argument("--emails", type=int, default=100_000, help="outgoing email rows")
    parser.add_argument("--inprocess", type=int, default=30, help="in-process scrapes per phase")
    args = parser.parse_args(argv)

    if not answers("127.0.0.1", 5432):
        print(f"Skipped: no Postgres answers at {POSTGRES_URL} (the target is about Postgres).")
        return 0
    # A plain kill ends the run through the cleanups too (the database, queues, gunicorn).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    token = secrets.token_urlsafe(24)
    started = time.perf_counter()
    print(f"Machine:  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with served(args.uploads, args.emails, token) as base:
        print(
            f"Requests: {args.n} timed sequential GETs per endpoint in {args.rounds} rounds, "
            f"after {args.warmup} warm-up each; one keep-alive connection"
        )
        results = {}
        phases = (
            ("with the ops indexes", None),
            (f"without the ops indexes ({', '.join(OPS_INDEXES)})", drop_ops_indexes),
        )
        for number, (title, before) in enumerate(phases, 1):
            if before is not None:
                before()
            print(f"\nPhase {number}: {title}")
            ms = measure_http(base, token, args.n, args.rounds, args.warmup)
            results[number] = report_http(ms)
            measure_in_process(args.inprocess)
        with_, without = results[1], results[2]
        print(
            f"\nWhat the indexes buy: /metrics median {without['median']:.1f} -> "
            f"{with_['median']:.1f} ms ({without['median'] / with_['median']:.2f}x), "
            f"p95 {without['p95']:.1f} -> {with_['p95']:.1f} ms"
        )
    print(
        f"Load average {os.getloadavg()[0]:.2f} at the end; "
        f"whole run {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
