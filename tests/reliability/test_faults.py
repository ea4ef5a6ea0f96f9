"""Nothing accepted is ever lost: each case injects a real fault and counts what came out.

Each case prints `[fault] <case>: sent= processed= lost= duplicated=` and asserts that
nothing was lost or duplicated (emails: at most the documented resend after a crash
mid-send, which these cases do not provoke, so exactly once).
"""

import os
import signal
import time
from collections import Counter

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, transaction

from tests import imagecorpus as corpus
from tests.factories import distinct_jpeg, image_file, jpeg_bytes
from tests.reliability.conftest import broker_kind
from tests.reliability.faults import Tally
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def send_uploads(client, count: int, size=(800, 600), *, photo=False):
    """POST `count` uploads, each rendered (no byte copies); returns their ids and how long
    each request took."""
    data = corpus.photo_jpeg(*size) if photo else jpeg_bytes(*size)
    ids, seconds = [], []
    for number in range(count):
        started = time.monotonic()
        file = image_file(f"f{number}.jpg", distinct_jpeg(data, number))
        response = client.post("/api/uploads/", {"file": file})
        seconds.append(time.monotonic() - started)
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])
    return ids, seconds


def statuses(ids) -> Counter:
    from media_pipeline.models import Upload

    return Counter(Upload.objects.filter(id__in=ids).values_list("status", flat=True))


def wait_all_final(ids, timeout=180) -> Counter:
    def finished():
        counts = statuses(ids)
        return counts if counts["ready"] + counts["failed"] == len(ids) else None

    return wait_for(finished, timeout=timeout, interval=0.5, what=f"{len(ids)} uploads to finish")


def expected_renditions() -> int:
    from media_pipeline.services import rendition_specs

    return sum(len(spec.formats) for spec in rendition_specs())


def tally(case: str, ids, inbox=None) -> Tally:
    """Uploads processed, lost and duplicated (rows and stored files), and their emails."""
    from media_pipeline.models import Rendition, Upload

    expected = expected_renditions()
    ready = Upload.objects.filter(id__in=ids, status="ready").count()
    rows = Counter(Rendition.objects.filter(upload_id__in=ids).values_list("upload_id", flat=True))
    files = {
        i: len(default_storage.listdir(f"renditions/{i}")[1])
        if default_storage.exists(f"renditions/{i}")
        else 0
        for i in ids
    }
    duplicated = sum(max(0, n - expected) for n in rows.values())
    duplicated += sum(max(0, n - expected) for n in files.values())
    result = Tally(
        case,
        sent=len(ids),
        processed=ready,
        lost=len(ids) - ready,
        duplicated=duplicated,
        extra={"broker": broker_kind()},
    )
    if inbox is not None:
        from mailer.models import OutgoingEmail

        wanted = set(
            OutgoingEmail.objects.filter(kind="upload_ready").values_list("message_id", flat=True)
        )
        delivered = Counter(m["Message-ID"] for m in inbox.to("alice@example.com"))
        result.extra.update(
            emails_sent=sum(delivered[m] for m in wanted),
            emails_lost=sum(1 for m in wanted if delivered[m] == 0) + (len(ids) - len(wanted)),
            emails_duplicated=sum(max(0, delivered[m] - 1) for m in wanted),
        )
    return result


def wait_emails(inbox, count, timeout=120):
    return wait_for(
        lambda: len({m["Message-ID"] for m in inbox.to("alice@example.com")}) >= count,
        timeout=timeout,
        interval=0.5,
        what=f"{count} emails",
    )


def assert_clean(result: Tally) -> None:
    assert result.lost == 0, result.line()
    assert result.duplicated == 0, result.line()
    if "emails_lost" in result.extra:
        assert result.extra["emails_lost"] == 0, result.line()
        assert result.extra["emails_duplicated"] == 0, result.line()


def test_1_broker_down_during_uploads(
    broker, fast_env, beat_factory, alice_client, inbox, report, tmp_path
):
    from mailer.models import OutgoingEmail
    from mailer.services import queue_email

    broker.stop()
    try:
        ids, seconds = send_uploads(alice_client, 20)
        # An email queued meanwhile: its row records no publish, for the sweep to make.
        stranded = queue_email(
            kind="upload_failed", to="bob@example.com", context={"upload": None, "user": None}
        )
    finally:
        broker.start()
    assert statuses(ids) == Counter(queued=20)
    assert OutgoingEmail.objects.get(id=stranded.id).published_at is None
    report(
        Tally(
            "broker down: answers",
            sent=20,
            processed=20,
            extra={"slowest_ms": round(max(seconds) * 1000)},
        )
    )
    assert max(seconds) < 2.0, f"a request waited {max(seconds):.2f}s on the dead broker"

    beat_factory()
    worker = start_worker(queues="media,email,default", env=fast_env, log_dir=tmp_path)
    try:
        wait_all_final(ids)
        wait_emails(inbox, 20)
        wait_for(lambda: inbox.to("bob@example.com"), what="the stranded email, swept")
        result = report(tally("broker down during uploads", ids, inbox))
    finally:
        worker.stop()
    assert_clean(result)


def test_2_worker_killed_twice_while_working(
    fast_env, beat_factory, alice_client, inbox, report, tmp_path
):
    ids, _ = send_uploads(alice_client, 50, size=(1600, 1200))
    beat_factory()
    mail = start_worker(queues="email,default", env=fast_env, log_dir=tmp_path, name="mail")
    try:
        for round_number, ready_before_kill in enumerate((8, 25)):
            media = start_worker(
                queues="media", env=fast_env, log_dir=tmp_path, name=f"media-{round_number}"
            )
            wait_for(
                lambda n=ready_before_kill: (
                    statuses(ids)["ready"] >= n and statuses(ids)["processing"] > 0
                ),
                timeout=120,
                interval=0.05,
                what="the worker to be busy",
            )
            media.signal(signal.SIGKILL)  # main process and its pool children
            media.popen.wait(timeout=10)
            media.stop()
        media = start_worker(queues="media", env=fast_env, log_dir=tmp_path, name="media-last")
        try:
            wait_all_final(ids)
            wait_emails(inbox, 50)
            result = report(tally("worker SIGKILLed twice", ids, inbox))
        finally:
            media.stop()
    finally:
        mail.stop()
    assert_clean(result)


def test_3_broker_restarted_with_messages_queued(
    broker, fast_env, beat_factory, alice_client, report, tmp_path
):
    from celery_app import app, queue_name

    ids, _ = send_uploads(alice_client, 100, size=(400, 300))

    def queued_messages() -> int:
        with app.connection_for_write() as conn:
            queue = app.amqp.queues[queue_name("media")].bind(conn.default_channel)
            try:
                return queue.queue_declare(passive=True).message_count
            except conn.channel_errors:  # Redis: an empty queue does not exist
                return 0

    before = queued_messages()
    broker.stop()
    broker.start()
    after = queued_messages()
    if broker.scheme.startswith("redis"):
        # This machine's Redis keeps nothing on disk: the restart drops the messages, and
        # the sweep is what publishes the still-queued uploads again.
        beat_factory()
    worker = start_worker(queues="media,email,default", env=fast_env, log_dir=tmp_path)
    try:
        wait_all_final(ids, timeout=300)
        result = tally("broker restarted with 100 queued", ids)
    finally:
        worker.stop()
    result.extra.update(queued_before_restart=before, queued_after_restart=after)
    report(result)
    assert_clean(result)


def test_4_postgres_restarted_while_idle_and_while_busy(
    postgres, fast_env, beat_factory, alice_client, report, tmp_path
):
    beat_factory()
    worker = start_worker(queues="media,email,default", env=fast_env, log_dir=tmp_path)
    try:
        time.sleep(1)
        postgres.restart()  # the worker is idle, holding connections that just died
        connections.close_all()
        idle_ids, _ = send_uploads(alice_client, 5)
        wait_all_final(idle_ids)

        busy_ids, _ = send_uploads(alice_client, 20, size=(1600, 1200))
        wait_for(
            lambda: statuses(busy_ids)["ready"] >= 2,
            timeout=120,
            interval=0.05,
            what="the worker to be busy",
        )
        postgres.restart()  # mid-work
        connections.close_all()
        wait_all_final(busy_ids, timeout=240)
        result = report(tally("postgres restarted (idle, busy)", idle_ids + busy_ids))
    finally:
        worker.stop()
    assert_clean(result)
    assert worker.output().count("ready.") == 1  # the same worker went on, no restart


def test_5_sigterm_returns_the_unfinished_task(fast_env, alice_client, report, tmp_path):
    from media_pipeline.models import Upload

    # AVIF renditions of a 24-megapixel photo keep the worker busy for a few seconds.
    slow = {**fast_env, "REMAP_SIGTERM": "SIGQUIT", "MEDIA_RENDITION_FORMATS": "jpeg,webp,avif"}
    worker = start_worker(queues="media", env=slow, log_dir=tmp_path, concurrency=1, name="doomed")
    ids, _ = send_uploads(alice_client, 1, size=(6000, 4000), photo=True)
    wait_for(
        lambda: statuses(ids)["processing"] == 1,
        timeout=60,
        interval=0.05,
        what="the task to start",
    )
    started = time.monotonic()
    worker.signal(signal.SIGTERM)  # as Heroku does to every process of a dyno
    worker.popen.wait(timeout=30)  # the platform's grace period
    stopped_in = time.monotonic() - started
    worker.stop()
    assert Upload.objects.get(id=ids[0]).status == "processing"  # cut short, not finished

    replacement = start_worker(queues="media", env=slow, log_dir=tmp_path, concurrency=1)
    try:
        wait_all_final(ids, timeout=180)
        result = tally("SIGTERM during a long task", ids)
    finally:
        replacement.stop()
    result.extra["worker_stopped_in_s"] = round(stopped_in, 1)
    report(result)
    assert_clean(result)


def test_6_poison_task_is_bounded_and_others_flow(fast_env, alice_client, user, report, tmp_path):
    from media_pipeline import services
    from media_pipeline.models import Upload

    # An upload whose original cannot be read, every time: its task always raises.
    poison = Upload(owner=user, original_name="poison.jpg", original_format="jpeg")
    poison.original.save("p.jpg", ContentFile(jpeg_bytes(400, 300)), save=False)
    path = default_storage.path(poison.original.name)
    os.remove(path)
    os.mkdir(path)  # reading a folder raises IsADirectoryError: an OSError, "transient"
    with transaction.atomic():
        poison.save()
        transaction.on_commit(lambda: services.publish_processing(poison.id))

    env = {**fast_env, "MEDIA_MAX_RETRIES": "3"}
    worker = start_worker(queues="media,email", env=env, log_dir=tmp_path)
    try:
        good, _ = send_uploads(alice_client, 10)
        wait_all_final([str(poison.id)] + good, timeout=120)
        result = tally("poison task beside good ones", good)
    finally:
        worker.stop()
    poison.refresh_from_db()
    result.extra.update(poison_status=poison.status, poison_attempts=poison.attempts)
    report(result)
    assert poison.status == "failed" and poison.error == services.INTERNAL_ERROR
    assert poison.attempts == 4  # the first try and 3 retries, then no more
    assert_clean(result)


def test_6b_a_task_over_its_time_limit_fails_with_the_reason(
    fast_env, alice_client, report, tmp_path, monkeypatch
):
    from media_pipeline import services
    from media_pipeline.models import Upload
    from media_pipeline.tasks import process_upload

    # Celery puts the time limits into the message: the publisher's setting is what counts.
    monkeypatch.setattr(process_upload, "soft_time_limit", 1)
    monkeypatch.setattr(process_upload, "_exec_options", None)  # Celery caches the options
    # Full-size AVIF renditions of a 24-megapixel photo take far longer than a second.
    env = {
        **fast_env,
        "CELERY_TASK_SOFT_TIME_LIMIT": "1",
        "CELERY_TASK_TIME_LIMIT": "120",
        "MEDIA_RENDITIONS": "huge:6000,big:4000",
        "MEDIA_RENDITION_FORMATS": "avif",
    }
    worker = start_worker(queues="media,email", env=env, log_dir=tmp_path)
    try:
        slow, _ = send_uploads(alice_client, 1, size=(6000, 4000), photo=True)
        wait_all_final(slow, timeout=120)
        upload = Upload.objects.get(id=slow[0])
    finally:
        worker.stop()
    report(
        Tally(
            "time limit",
            sent=1,
            processed=0,
            extra={"status": upload.status, "attempts": upload.attempts},
        )
    )
    assert upload.status == "failed" and upload.error == services.TOO_SLOW
    assert upload.attempts == 1
