"""A real worker records the thumbnail before the larger sizes, and reuses an exact copy's files."""

from pathlib import Path

import pytest
from django.conf import settings

from media_pipeline.models import Rendition
from tests.factories import image_file
from tests.imagecorpus import photo_jpeg
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def ready(client, url):
    body = wait_for(
        lambda: (b := client.get(url).json())["status"] in ("ready", "failed") and b,
        timeout=60,
        what=f"{url} to be ready or failed",
    )
    assert body["status"] == "ready", body["error"]
    return body


def test_the_thumbnail_is_recorded_first_and_an_exact_copy_reuses_the_files(
    celery_worker, alice_client
):
    data = photo_jpeg(2400, 1600, seed=11)
    first = alice_client.post("/api/uploads/", {"file": image_file("p.jpg", data)}).json()
    ready(alice_client, first["url"])

    rows = list(Rendition.objects.filter(upload_id=first["id"]))
    thumbs = [r for r in rows if r.name == "thumb"]
    larger = [r for r in rows if r.name != "thumb"]
    assert thumbs and larger
    assert max(r.created_at for r in thumbs) < min(r.created_at for r in larger)

    copy = alice_client.post("/api/uploads/", {"file": image_file("p-copy.jpg", data)}).json()
    body = ready(alice_client, copy["url"])
    assert body["duplicate_of"] == first["id"]  # an exact copy: its source's look
    assert sorted(r["url"] for r in body["renditions"]) == sorted(
        r["url"] for r in alice_client.get(first["url"]).json()["renditions"]
    )
    for rendition in body["renditions"]:
        assert alice_client.get(rendition["url"]).status_code == 200


def test_the_thumbnail_shows_while_the_larger_sizes_cannot_be_stored(
    worker_env, purged_queues, alice_client, tmp_path
):
    """The larger sizes are held up (their file's place is taken by a folder, which storage
    refuses, a transient error the task retries): the thumbnail is recorded and shown all
    along, and the rest follows once the way is clear."""
    data = photo_jpeg(2400, 1600, seed=12)
    upload = alice_client.post("/api/uploads/", {"file": image_file("q.jpg", data)}).json()
    blocked = Path(settings.MEDIA_ROOT, "renditions", upload["id"], "medium.jpg")
    blocked.mkdir(parents=True)
    worker = start_worker(
        queues="media",
        env={**worker_env, "MEDIA_RETRY_BACKOFF_SECONDS": "0.5"},
        log_dir=tmp_path,
        concurrency=1,
    )
    try:
        wait_for(
            lambda: Rendition.objects.filter(upload_id=upload["id"]).exists(),
            timeout=60,
            what="the thumbnail's rows",
        )
        body = alice_client.get(upload["url"]).json()
        assert body["status"] == "processing"
        assert {r["name"] for r in body["renditions"]} == {"thumb"}
        assert upload["placeholder"]["color"] == "" and body["placeholder"]["color"]
        page = alice_client.get(upload["page"]).content.decode()
        assert "renditions/" in page and "<picture>" in page  # shown before the rest
        blocked.rmdir()
        body = ready(alice_client, upload["url"])
        assert {r["name"] for r in body["renditions"]} == {"thumb", "medium", "large"}
    finally:
        worker.stop()
