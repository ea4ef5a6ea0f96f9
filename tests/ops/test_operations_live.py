"""Operations on the real stack: failures seen as failures, retries, the backlog in /metrics.

Real Postgres, a real broker (RabbitMQ, and Redis in the second pass of `make test`),
real workers, beat and Flower.
"""

import re
import time
from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.storage import default_storage
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import image_file, jpeg_bytes
from tests.servers import start_beat, start_flower, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
AUTH = ("ops", "s3cret-flower")
TOKEN = "scrape-token-live"
PROCESS = "media_pipeline.tasks.process_upload"
SEND = "mailer.tasks.send_email"


def on_rabbitmq() -> bool:
    import os

    return urlsplit(os.environ.get("BROKER_URL", "")).scheme.startswith("amqp")


def scrape(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def status_of(client, upload_id) -> dict:
    return client.get(f"/api/uploads/{upload_id}/").json()


def final(client, upload_id, timeout=60) -> dict:
    return wait_for(
        lambda: (body := status_of(client, upload_id))["status"] in ("ready", "failed") and body,
        timeout=timeout,
        what=f"upload {upload_id} to end",
    )


def flower_tasks(base) -> dict:
    response = requests.get(f"{base}/api/tasks", auth=AUTH, timeout=5)
    return response.json() if response.status_code == 200 else {}


def expected_renditions(upload) -> int:
    """Each size its source can fill, once per format (a small source skips sizes)."""
    from tests.e2e.failures import rendition_count

    return rendition_count(upload)


def stored_files(upload) -> list[str]:
    """The stored files its renditions point at (an exact copy's are another upload's)."""
    from media_pipeline.models import Rendition

    names = list(Rendition.objects.filter(upload_id=upload.id).values_list("file", flat=True))
    assert all(default_storage.exists(name) for name in names)
    return names


def test_backlog_age_grows_without_a_media_worker_and_falls_once_one_runs(
    worker_env, purged_queues, alice_client, settings, tmp_path
):
    from celery_app import app, queue_name

    settings.METRICS_TOKEN = TOKEN
    with app.connection_for_write() as conn:  # what earlier tests left for no worker
        conn.default_channel.queue_purge(queue_name("media"))
    ids = [
        alice_client.post("/api/uploads/", {"file": image_file(f"{n}.jpg")}).json()["id"]
        for n in range(3)
    ]
    media_messages = ("media_service_queue_messages", (("queue", "media"),))
    age = ("media_service_queue_oldest_age_seconds", (("queue", "media"),))
    first = wait_for(
        lambda: (values := scrape(alice_client)).get(media_messages) == 3 and values,
        timeout=20,
        what="the three messages to wait in the media queue",
    )
    assert first[("media_service_uploads", (("status", "queued"),))] == 3
    assert first[("media_service_broker_up", ())] == 1
    time.sleep(1.5)
    second = scrape(alice_client)
    assert second[age] >= first[age] + 1.0, (first[age], second[age])

    worker = start_worker(queues="media,email,default", env=worker_env, log_dir=tmp_path)
    try:
        for upload_id in ids:
            assert final(alice_client, upload_id)["status"] == "ready"
        after = scrape(alice_client)
        if on_rabbitmq():
            consumers = ("media_service_queue_consumers", (("queue", "media"),))
            assert after[consumers] >= 1
        # The confirmations go out after "ready": wait for them before the worker stops.
        sent = ("media_service_email_sends_total", (("outcome", "sent"), ("reason", "")))
        assert wait_for(lambda: scrape(alice_client).get(sent) == 3, what="three emails counted")
    finally:
        worker.stop()
    assert after[age] == 0
    assert after[media_messages] == 0
    assert after[("media_service_uploads", (("status", "ready"),))] == 3
    assert after[("media_service_uploads_finished_total", (("status", "ready"),))] == 3
    assert after[("media_service_upload_ready_latency_seconds_count", ())] == 3
    assert after[("media_service_upload_processing_seconds_count", ())] == 3
    # Latency counts from the 202: the uploads waited at least the 1.5 s above.
    assert after[("media_service_upload_ready_latency_seconds_sum", ())] >= 3 * 1.5


def store_broken_upload(owner, good: bytes):
    """An upload accepted as a JPEG whose stored file then turned out cut short."""
    from media_pipeline import services
    from media_pipeline.models import Upload

    upload = Upload(owner=owner, original_name="cut.jpg", original_format="jpeg")
    upload.original.save("cut.jpg", default_storage_file(good[:3000]), save=False)
    with transaction.atomic():
        upload.save()
        transaction.on_commit(lambda: services.publish_processing(upload.id))
    return upload


def default_storage_file(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


def test_a_failed_upload_is_a_failure_in_flower_and_the_results_then_retried_once(
    worker_env, purged_queues, alice_client, user, inbox, tmp_path
):
    from django_celery_results.models import TaskResult

    from mailer.models import OutgoingEmail
    from media_pipeline.models import Rendition

    flower, base = start_flower(env=worker_env, log_dir=tmp_path, auth=AUTH)
    worker = start_worker(queues="media,email,default", env=worker_env, log_dir=tmp_path)
    try:
        good = jpeg_bytes(1600, 1200)
        upload = store_broken_upload(user, good)
        body = final(alice_client, upload.id)
        assert body["status"] == "failed"
        reason = body["error"]

        result = wait_for(
            lambda: TaskResult.objects.filter(task_name=PROCESS, status="FAILURE").first(),
            what="the FAILURE in the task results",
        )
        assert reason in result.result
        assert "UploadFailed" in result.result
        assert str(upload.id) in result.task_args

        def runs_of_upload() -> list[dict]:
            # Flower hears every worker on the broker (other runs too): this upload's only.
            tasks = flower_tasks(base).values()
            return [t for t in tasks if t.get("name") == PROCESS and str(upload.id) in t["args"]]

        def failed_in_flower():
            return next((t for t in runs_of_upload() if t["state"] == "FAILURE"), None)

        seen = wait_for(failed_in_flower, timeout=30, what="Flower to show the FAILURE")
        assert reason in seen["exception"]
        # Acknowledged, not redelivered or retried: one run of the task in all.
        time.sleep(1)
        assert len(runs_of_upload()) == 1

        # The owner tries again, now that the stored file is whole.
        with default_storage.open(upload.original.name, "wb") as handle:
            handle.write(good)
        response = alice_client.post(f"/api/uploads/{upload.id}/retry/")
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        assert response.json()["error"] == ""
        body = final(alice_client, upload.id)
        assert body["status"] == "ready", body["error"]
        assert len(body["renditions"]) == expected_renditions(upload)
        assert Rendition.objects.filter(upload_id=upload.id).count() == expected_renditions(upload)
        assert len(stored_files(upload)) == expected_renditions(upload)

        # One email per outcome: the failure, then the ready; a second retry is refused.
        kinds = wait_for(
            lambda: (
                (
                    k := sorted(
                        OutgoingEmail.objects.filter(status="sent").values_list("kind", flat=True)
                    )
                )
                == ["upload_failed", "upload_ready"]
                and k
            ),
            what="the two emails",
        )
        assert kinds == ["upload_failed", "upload_ready"]
        again = alice_client.post(f"/api/uploads/{upload.id}/retry/")
        assert again.status_code == 409
        assert "failed" in again.json()["error"]
    finally:
        worker.stop()
        flower.stop()


def test_ops_retry_failed_uploads_and_emails_from_the_admin(
    worker_env, purged_queues, user, inbox, admin_client, alice_client, tmp_path
):
    from django_celery_results.models import TaskResult

    from mailer import services as mail
    from mailer.models import OutgoingEmail
    from media_pipeline.models import Upload

    worker = start_worker(queues="media,email,default", env=worker_env, log_dir=tmp_path)
    try:
        good = jpeg_bytes(900, 700)
        broken = [store_broken_upload(user, good) for _ in range(2)]
        for upload in broken:
            assert final(alice_client, upload.id)["status"] == "failed"
            with default_storage.open(upload.original.name, "wb") as handle:
                handle.write(good)

        # The mail server refuses one message for good: a failed email, and a FAILURE.
        wait_for(lambda: OutgoingEmail.objects.filter(status="sent").count() == 2, what="mails")
        inbox.replies.append("550 5.1.1 mailbox unavailable")
        with transaction.atomic():
            refused = mail.queue_email(
                kind="upload_failed", to="bob@example.com",
                context={"upload": broken[0], "user": user, "page_url": "http://x/"},
            )  # fmt: skip
        wait_for(
            lambda: OutgoingEmail.objects.get(id=refused.id).status == "failed", what="refusal"
        )
        result = wait_for(
            lambda: TaskResult.objects.filter(task_name=SEND, status="FAILURE").first(),
            what="the email's FAILURE in the task results",
        )
        assert "550" in result.result and "EmailFailed" in result.result

        # The admin's lists show the error and the server's reply.
        uploads_page = admin_client.get("/admin/media_pipeline/upload/?status__exact=failed")
        assert "cut off" in uploads_page.content.decode() or "damaged" in (
            uploads_page.content.decode()
        )
        emails_page = admin_client.get("/admin/mailer/outgoingemail/").content.decode()
        assert "550 5.1.1 mailbox unavailable" in emails_page

        response = admin_client.post(
            "/admin/media_pipeline/upload/",
            {"action": "retry_failed", "_selected_action": [str(u.id) for u in broken]},
            follow=True,
        )
        assert "2 upload(s) queued again" in response.content.decode()
        for upload in broken:
            assert final(alice_client, upload.id)["status"] == "ready"
            assert Upload.objects.get(id=upload.id).attempts == 1
            assert len(stored_files(upload)) == expected_renditions(upload)

        # The refusal put the address on the suppression list; the operator who knows the
        # mailbox exists now takes it off before trying again.
        from mailer.models import Suppression

        entry = Suppression.objects.get(address="bob@example.com")
        admin_client.post(f"/admin/mailer/suppression/{entry.id}/delete/", {"post": "yes"})
        response = admin_client.post(
            "/admin/mailer/outgoingemail/",
            {"action": "retry_failed", "_selected_action": [str(refused.id)]},
            follow=True,
        )
        assert "1 failed message(s) queued again" in response.content.decode()
        sent = wait_for(
            lambda: (e := OutgoingEmail.objects.get(id=refused.id)).status == "sent" and e,
            what="the retried email to go out",
        )
        assert sent.server_reply.startswith("250")
        assert len(inbox.to("bob@example.com")) == 1
    finally:
        worker.stop()


def test_housekeeping_stays_out_of_flower_and_the_results(
    worker_env, purged_queues, alice_client, tmp_path
):
    from django_celery_results.models import TaskResult

    env = {**worker_env, "SWEEP_INTERVAL_SECONDS": "0.5"}
    flower, base = start_flower(env=env, log_dir=tmp_path, auth=AUTH)
    worker = start_worker(queues="media,email,default", env=env, log_dir=tmp_path)
    beat = start_beat(env=env, log_dir=tmp_path)
    try:
        wait_for(
            lambda: len(re.findall(r"sweep_stale_uploads\[.*\] succeeded", worker.output())) >= 4,
            timeout=40,
            what="beat's sweeps to run on the worker",
        )
        upload_id = alice_client.post("/api/uploads/", {"file": image_file()}).json()["id"]
        assert final(alice_client, upload_id)["status"] == "ready"
        wait_for(
            lambda: any(upload_id in t.get("args", "") for t in flower_tasks(base).values()),
            what="Flower to list the upload's task",
        )
        names = {t.get("name") for t in flower_tasks(base).values()}
        assert not any(name and "sweep" in name for name in names), names
        assert not TaskResult.objects.filter(task_name__contains="sweep").exists()
    finally:
        beat.stop()
        worker.stop()
        flower.stop()


def test_a_media_process_over_its_memory_budget_is_replaced_after_its_task(
    worker_env, purged_queues, alice_client, tmp_path
):
    env = {**worker_env, "WORKER_MAX_MEMORY_PER_CHILD_KB": "1000"}  # always exceeded
    worker = start_worker(queues="media,email,default", env=env, log_dir=tmp_path, concurrency=1)
    try:
        for _ in range(2):
            upload_id = alice_client.post("/api/uploads/", {"file": image_file()}).json()["id"]
            assert final(alice_client, upload_id)["status"] == "ready"
        # Each upload's "ready" line was logged by another pool process.
        makers = wait_for(
            lambda: (
                (
                    found := re.findall(
                        r"(ForkPoolWorker-\d+): upload=\S+ status=ready", worker.output()
                    )
                )
                and len(found) == 2
                and found
            ),
            what="both ready lines in the worker's log",
        )
        assert makers[0] != makers[1], makers
    finally:
        worker.stop()
