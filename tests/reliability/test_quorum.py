"""CELERY_QUEUE_TYPE=quorum on a real RabbitMQ: quorum queues, and retries with a countdown
through Celery's native delayed delivery (topic exchanges)."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from django.core.files.base import ContentFile

from tests.factories import jpeg_bytes
from tests.servers import ROOT, Process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PUBLISH = textwrap.dedent(
    """
    import django, sys
    django.setup()
    from media_pipeline.tasks import process_upload
    # A countdown goes through the delayed-delivery exchanges, as a retry's does.
    process_upload.apply_async(args=[sys.argv[1]], countdown=2)
    """
)


def delete_namespace(env: dict) -> None:
    code = textwrap.dedent(
        """
        import django
        django.setup()
        from celery_app import app
        with app.connection_for_write() as conn:
            for queue in app.amqp.queues.values():
                bound = queue.bind(conn.default_channel)
                bound.delete()
                bound.exchange.delete()
        """
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=60, check=False)


def test_quorum_queues_carry_work_and_delayed_retries(worker_env, user, tmp_path):
    if not os.environ.get("BROKER_URL", "").startswith("amqp"):
        pytest.skip("quorum queues are a RabbitMQ feature; the Redis pass leaves this out")
    from media_pipeline.models import Upload

    namespace = f"quorum{os.getpid()}."
    env = {**worker_env, "CELERY_QUEUE_TYPE": "quorum", "CELERY_QUEUE_NAMESPACE": namespace}
    upload = Upload(owner=user, original_name="q.jpg", original_format="jpeg")
    upload.original.save("q.jpg", ContentFile(jpeg_bytes(800, 600)), save=False)
    upload.save()

    worker = Process(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q",
         f"{namespace}media", "-n", f"{namespace}media@%h", "--without-gossip",
         "--without-mingle", "--loglevel=INFO"],
        env=env, log_path=tmp_path / "quorum-worker.log",
    )  # fmt: skip
    try:
        wait_for(lambda: "ready." in worker.output() or not worker.alive(), timeout=60,
                 what="the quorum worker")  # fmt: skip
        assert worker.alive(), worker.output()[-3000:]
        published = subprocess.run([sys.executable, "-c", PUBLISH, str(upload.id)], cwd=ROOT,
                                   env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert published.returncode == 0, published.stderr
        wait_for(lambda: Upload.objects.get(id=upload.id).status == "ready", timeout=60,
                 what="the upload to be processed through the quorum queue")  # fmt: skip
        if shutil.which("rabbitmqctl"):
            listing = subprocess.run(["rabbitmqctl", "list_queues", "name", "type"],
                                     capture_output=True, text=True, timeout=60).stdout  # fmt: skip
            types = dict(x.split()[:2] for x in listing.splitlines() if len(x.split()) == 2)
            assert types[f"{namespace}media"] == "quorum", listing
    finally:
        worker.stop()
        delete_namespace(env)
