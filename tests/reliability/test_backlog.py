"""A long backlog is not multiplied by the sweep, and a queue the broker lost is refilled.

With a republish age of 8 s and a sweep every 2 s, the media worker is away for half a
minute while 40 uploads wait: the queue's depth must stay within 10 % of the rows waiting
(the sweep used to publish every waiting row again once its publish was 8 s old). Then the
queue is purged, and later deleted, as a broker that lost its messages would: the sweep
publishes the waiting rows again, once. Then a worker comes and each upload ends `ready`
with one set of renditions and one email.
"""

import time

import pytest

from celery_app import app, queue_name
from ops import broker as broker_stats
from tests.reliability.test_faults import (
    assert_clean,
    send_uploads,
    statuses,
    tally,
    wait_all_final,
    wait_emails,
)
from tests.servers import start_beat, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
WAITING = 40
PAUSE_SECONDS = 30
BACKLOG = {
    "SWEEP_INTERVAL_SECONDS": "2",
    "REPUBLISH_AFTER_SECONDS": "8",
    "UNPUBLISHED_GRACE_SECONDS": "1",
}


def depth() -> int:
    return broker_stats.messages_waiting("media") or 0


def lose_the_queue(how: str) -> None:
    """What a broker that lost the messages leaves: an empty queue, or none at all (and,
    with it, its binding to the exchange)."""
    name = queue_name("media")
    with app.connection_for_write() as conn:
        channel = conn.channel()
        if how == "purge":
            channel.queue_purge(name)
        elif getattr(conn.transport, "driver_type", "") == "redis":
            channel.client.delete(name, channel.keyprefix_queue % name)  # list and binding
        else:
            channel.queue_delete(name)
        channel.close()


def watch_depth(seconds: float, waiting: int) -> list[int]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(depth())
        assert samples[-1] <= waiting * 1.10, f"the queue grew to {samples[-1]} for {waiting}"
        time.sleep(0.5)
    return samples


def test_a_backlog_keeps_its_depth_and_a_lost_queue_is_refilled_once(
    worker_env, purged_queues, alice_client, inbox, report, tmp_path
):
    env = {**worker_env, **BACKLOG}
    mail = start_worker(queues="email,default", env=env, log_dir=tmp_path, name="mail")
    beat = start_beat(env=env, log_dir=tmp_path)
    try:
        lose_the_queue("purge")  # messages earlier tests left for a worker that never came
        ids, _ = send_uploads(alice_client, WAITING, size=(400, 300))
        wait_for(lambda: depth() == WAITING, timeout=20, what="the uploads in the queue")
        # The media worker is away: the rows wait well past the republish age.
        samples = watch_depth(PAUSE_SECONDS, WAITING)
        assert statuses(ids)["queued"] == WAITING
        assert min(samples[len(samples) // 2 :]) >= WAITING  # nothing vanished either

        refills = {}
        for how in ("purge", "delete"):
            lose_the_queue(how)
            started = time.monotonic()
            wait_for(lambda: depth() >= WAITING, timeout=60, what=f"the sweep to refill ({how})")
            refills[how] = round(time.monotonic() - started, 1)
            watch_depth(6, WAITING)  # refilled once, not again and again

        media = start_worker(queues="media", env=env, log_dir=tmp_path, name="media")
        try:
            wait_all_final(ids)
            wait_emails(inbox, WAITING)
            result = tally("backlog paused, queue purged then deleted", ids, inbox)
        finally:
            media.stop()
    finally:
        beat.stop()
        mail.stop()
    result.extra.update(
        peak_depth=max(samples),
        refill_purged_s=refills["purge"],
        refill_deleted_s=refills["delete"],
    )
    report(result)
    assert_clean(result)
