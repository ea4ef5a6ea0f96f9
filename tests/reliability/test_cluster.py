"""Scaling out: the service on a real 3-node RabbitMQ cluster, quorum queues, node faults.

Runs in scripts/test's cluster pass only: it starts the cluster (tests/reliability/
cluster.py) and runs this module with RABBITMQ_CLUSTER_DIR naming it, BROKER_URL listing
its three nodes (kombu fails over along the list) and CELERY_QUEUE_TYPE=quorum. Anywhere
else (RABBITMQ_CLUSTER_DIR unset) the module is skipped.

Each case uploads through the real web path, runs two media workers (as on two hosts) and
one email worker, breaks a node, and prints `[fault] <case>: sent= processed= lost=
duplicated=`: duplicated counts the uploads with more renditions (rows or files) than one
set, or more than one "ready" email. Beat runs where a publish may have failed; the sweep's
republish-after rule is kept out of reach (REPUBLISH_AFTER_SECONDS=600), so nothing here
relies on it: what the broker confirmed, it must still hold.
"""

import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from conftest import IN_CI

CLUSTER_DIR = os.environ.get("RABBITMQ_CLUSTER_DIR", "")
if not CLUSTER_DIR:
    pytest.skip(
        "the cluster cases run in scripts/test's cluster pass (RABBITMQ_CLUSTER_DIR unset)",
        allow_module_level=True,
    )

from django.core.files.storage import default_storage  # noqa: E402

from tests.reliability.cluster import STATE_FILE, RabbitCluster  # noqa: E402
from tests.reliability.faults import Tally  # noqa: E402
from tests.reliability.test_faults import (  # noqa: E402
    expected_renditions,
    send_uploads,
    statuses,
    tally,
    wait_all_final,
    wait_emails,
)
from tests.servers import Process, start_beat, start_worker, wait_for  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# How long a node stays frozen: longer than net_ticktime (10 s), so its peers drop it.
PAUSE_SECONDS = 18
SMALL = (400, 300)


@pytest.fixture(scope="module")
def cluster() -> RabbitCluster:
    directory = Path(CLUSTER_DIR)
    if not (directory / STATE_FILE).exists():
        reason = f"RABBITMQ_CLUSTER_DIR={directory} holds no cluster"
    else:
        found = RabbitCluster.load(directory)
        reason = None if found.healthy() else f"the cluster in {directory} is not running"
    if reason:
        if IN_CI:
            pytest.fail(f"The cluster cases cannot run: {reason}")
        pytest.skip(reason)
    if os.environ.get("BROKER_URL") != found.url:
        pytest.fail(f"BROKER_URL must list the cluster's nodes: BROKER_URL={found.url}")
    if os.environ.get("CELERY_QUEUE_TYPE") != "quorum":
        pytest.fail("the cluster cases run with CELERY_QUEUE_TYPE=quorum")
    return found


@pytest.fixture(autouse=True)
def mended(cluster):
    """Whatever a case did, all three nodes are back and clustered after it."""
    yield
    cluster.mend()


@pytest.fixture
def cluster_env(fast_env):
    # The sweep still publishes rows never published (a publish that failed) and takes
    # back expired claims; republishing rows the broker was merely slow with is put out
    # of reach, so a message the cluster confirmed and then lost shows as lost.
    return {**fast_env, "REPUBLISH_AFTER_SECONDS": "600"}


@pytest.fixture
def services(cluster_env, purged_queues, tmp_path):
    """start(beat=...) starts two media workers (two "hosts"), one email worker and,
    if asked, beat; all are stopped after the case."""
    started: list[Process] = []

    def start(*, beat: bool) -> list[Process]:
        kinds = [("media", "media-host1"), ("media", "media-host2"), ("email,default", "mail")]
        with ThreadPoolExecutor(len(kinds)) as pool:
            futures = [
                pool.submit(start_worker, queues=q, env=cluster_env, log_dir=tmp_path, name=name)
                for q, name in kinds
            ]
        workers, errors = [], []
        for future in futures:
            try:
                workers.append(future.result())
            except Exception as error:  # the others still get stopped, after the case
                errors.append(error)
        started.extend(workers)
        if errors:
            raise errors[0]
        if beat:
            started.append(start_beat(env=cluster_env, log_dir=tmp_path))
        return workers

    yield start
    for process in started:
        process.stop()


CONNECTED = re.compile(r"Connected to amqp://\S*@127\.0\.0\.1:(\d+)")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


class Failover:
    """What the workers connected to one node did when it went: read from their logs, the
    seconds from "Connection to broker lost" to "Connected to" another node, and to the
    first task they received after that (consuming again)."""

    def __init__(self, workers: list[Process], cluster: RabbitCluster, node):
        self.cluster = cluster
        self.workers = [w for w in workers if connected_port(w) == node.port]
        self.offsets = [len(w.output()) for w in self.workers]

    @staticmethod
    def _read(text: str) -> tuple[float | None, float | None, int | None]:
        lost = connected = port = None
        for line in text.splitlines():
            stamp = STAMP.match(line)
            if not stamp:
                continue
            at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if lost is None:
                lost = at if "Connection to broker lost" in line else None
            elif connected is None:
                if found := CONNECTED.search(line):
                    connected, port = at - lost, int(found.group(1))
            elif re.search(r"Task \S+ received", line):
                return connected, at - lost, port
        return connected, None, port

    def figures(self) -> dict:
        read = [self._read(w.output()[o:]) for w, o in zip(self.workers, self.offsets, strict=True)]
        connected = [c for c, _, _ in read if c is not None]
        consuming = [c for _, c, _ in read if c is not None]
        return {
            "workers_on_it": len(self.workers),
            "reconnected": len(connected),
            "reconnect_s": round(max(connected), 2) if connected else None,
            "consuming_again_s": round(max(consuming), 1) if consuming else None,
            "reconnected_to": sorted({self.cluster.node(p).short for _, _, p in read if p}),
        }


def connected_port(worker: Process) -> int | None:
    """The AMQP port of the node a worker connected to last."""
    found = CONNECTED.findall(worker.output())
    return int(found[-1]) if found else None


def queued_messages() -> int:
    """Messages in the media queue, as the broker tells a client (a passive declare)."""
    from celery_app import app, queue_name

    with app.connection_for_write() as conn:
        queue = app.amqp.queues[queue_name("media")].bind(conn.default_channel)
        return queue.queue_declare(passive=True).message_count


def answered(ask):
    """[ask()] once the broker answers it (None while its nodes are still starting)."""

    def attempt():
        try:
            return [ask()]
        except Exception:
            return None

    return attempt


def media_queue() -> str:
    from celery_app import queue_name

    return queue_name("media")


def counted(case: str, ids, inbox, **extra) -> Tally:
    """tally(), with `duplicated` counted per upload: more renditions than one set (rows or
    stored files), or more than one "ready" email delivered."""
    from mailer.models import OutgoingEmail
    from media_pipeline.models import Rendition

    result = tally(case, ids, inbox)
    expected = expected_renditions()
    rows = Counter(
        str(u)
        for u in Rendition.objects.filter(upload_id__in=ids).values_list("upload_id", flat=True)
    )
    keys = dict(
        OutgoingEmail.objects.filter(kind="upload_ready").values_list("message_id", "dedupe_key")
    )
    emails = Counter(keys.get(m["Message-ID"]) for m in inbox.to("alice@example.com"))
    duplicated = set()
    for upload_id in map(str, ids):
        folder = f"renditions/{upload_id}"
        files = len(default_storage.listdir(folder)[1]) if default_storage.exists(folder) else 0
        if rows[upload_id] > expected or files > expected:
            duplicated.add(upload_id)
        if emails[f"upload_ready:{upload_id}"] > 1:
            duplicated.add(upload_id)
    result.duplicated = len(duplicated)
    result.extra.update(extra)
    return result


def sweep_republished() -> dict:
    """What the sweep published again, by kind and reason (e.g. "upload/unpublished")."""
    from ops.counters import parse_labels
    from ops.models import Counter as OpsCounter

    rows = OpsCounter.objects.filter(name="sweep_republished").values_list("labels", "value")
    found = Counter()
    for labels, value in rows:
        parsed = parse_labels(labels)
        found[f"{parsed.get('kind')}/{parsed.get('reason', '-')}"] += int(value)
    return dict(found)


def assert_clean(result: Tally) -> None:
    assert result.lost == 0, result.line()
    assert result.duplicated == 0, result.line()
    assert result.extra["emails_lost"] == 0, result.line()
    assert result.extra["emails_duplicated"] == 0, result.line()


def test_a_media_queue_leader_stopped_during_uploads(
    cluster, services, alice_client, inbox, report
):
    started = time.monotonic()
    workers = services(beat=True)
    leader = cluster.leader(media_queue())
    failover = Failover(workers, cluster, leader)
    # 30 uploads before, 35 while rabbitmqctl stops the node, 35 once it is down.
    ids, seconds = send_uploads(alice_client, 30, size=SMALL)
    stopper = threading.Thread(target=cluster.stop_app, args=(leader,))
    stopper.start()
    try:
        more, more_seconds = send_uploads(alice_client, 35, size=SMALL)
    finally:
        stopper.join(120)
    assert not cluster.app_running(leader), "the leader did not stop"
    rest, rest_seconds = send_uploads(alice_client, 35, size=SMALL)
    ids, seconds = ids + more + rest, seconds + more_seconds + rest_seconds
    wait_all_final(ids)
    wait_emails(inbox, 100)
    moves = failover.figures()
    back = time.monotonic()
    cluster.start_app(leader)
    cluster.wait_healthy()
    result = counted(
        "cluster: media leader stopped during 100 uploads",
        ids,
        inbox,
        stopped=leader.short,
        new_leader=cluster.leader(media_queue()).short,
        slowest_post_ms=round(max(seconds) * 1000),
        **moves,
        node_back_s=round(time.monotonic() - back, 1),
        republished=sweep_republished(),
        case_s=round(time.monotonic() - started),
    )
    report(result)
    assert moves["reconnected"] == moves["workers_on_it"], "a worker did not reconnect"
    assert max(seconds) < 2.0, f"a request waited {max(seconds):.2f}s"
    assert_clean(result)


def test_b_node_sigkilled_mid_work(cluster, services, alice_client, inbox, report):
    started = time.monotonic()
    workers = services(beat=True)
    ids, _ = send_uploads(alice_client, 50, size=(1200, 900))
    wait_for(
        lambda: statuses(ids)["ready"] >= 5 and statuses(ids)["processing"] > 0,
        timeout=120,
        interval=0.05,
        what="the media workers to be busy",
    )
    # The node the media workers are connected to: their deliveries in flight die with it.
    victim = cluster.node(connected_port(workers[0]))
    leader = cluster.leader(media_queue())
    failover = Failover(workers, cluster, victim)
    cluster.kill(victim)
    wait_all_final(ids, timeout=240)
    wait_emails(inbox, 50)
    moves = failover.figures()
    back = time.monotonic()
    cluster.start_node(victim)
    cluster.wait_healthy()
    result = counted(
        "cluster: node SIGKILLed mid-work",
        ids,
        inbox,
        killed=victim.short,
        leader_was=leader.short,
        **moves,
        node_back_s=round(time.monotonic() - back, 1),
        republished=sweep_republished(),
        case_s=round(time.monotonic() - started),
    )
    report(result)
    assert moves["reconnected"] == moves["workers_on_it"], "a worker did not reconnect"
    assert_clean(result)


def test_c_node_partitioned_away_and_back(cluster, services, alice_client, inbox, report):
    started = time.monotonic()
    workers = services(beat=True)
    leader = cluster.leader(media_queue())
    before, _ = send_uploads(alice_client, 30, size=SMALL)
    # The node the workers (and this process's publisher) are connected to: they hang on
    # it, unanswered, until it wakes and finds itself cut off.
    frozen = cluster.node(connected_port(workers[0]))
    failover = Failover(workers, cluster, frozen)
    cluster.pause(frozen)  # its peers drop it after net_ticktime
    paused = time.monotonic()
    try:
        during, seconds = send_uploads(alice_client, 30, size=SMALL)
        time.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - paused)))
    finally:
        cluster.resume(frozen)
    resumed = time.monotonic()
    cluster.wait_healthy()  # autoheal restarts the losing side, which rejoins
    healed = time.monotonic() - resumed
    ids = before + during
    wait_all_final(ids, timeout=180)
    wait_emails(inbox, len(ids))
    moves = failover.figures()
    result = counted(
        f"cluster: node partitioned away {PAUSE_SECONDS}s and back",
        ids,
        inbox,
        paused=frozen.short,
        leader_was=leader.short,
        new_leader=cluster.leader(media_queue()).short,
        slowest_post_ms=round(max(seconds) * 1000),
        healed_s=round(healed, 1),
        **moves,
        all_done_after_resume_s=round(time.monotonic() - resumed, 1),
        republished=sweep_republished(),
        case_s=round(time.monotonic() - started),
    )
    report(result)
    assert max(seconds) < 2.0, f"a request waited {max(seconds):.2f}s"
    assert_clean(result)


def test_d_whole_cluster_restarted_with_200_queued(cluster, services, alice_client, inbox, report):
    started = time.monotonic()
    ids, _ = send_uploads(alice_client, 200, size=(200, 150))
    before = wait_for(
        lambda: (n := queued_messages()) >= 200 and n,
        timeout=60,
        interval=0.2,
        what="200 messages in the media queue",
    )
    restart = time.monotonic()
    cluster.restart()  # every node stopped, then all started again
    restart_s = time.monotonic() - restart
    [after] = wait_for(answered(queued_messages), timeout=60, interval=0.5, what="the queue")
    # No beat: whatever is processed came from the messages that survived the restart.
    services(beat=False)
    wait_all_final(ids, timeout=240)
    wait_emails(inbox, 200)
    result = counted(
        "cluster: whole cluster restarted with 200 queued",
        ids,
        inbox,
        queued_before=before,
        queued_after=after,
        restart_s=round(restart_s, 1),
        **{f"{k}_s": v for k, v in cluster.timings.items() if k in ("stop_all", "start_all")},
        case_s=round(time.monotonic() - started),
    )
    report(result)
    assert (before, after) == (200, 200), result.line()
    assert_clean(result)
