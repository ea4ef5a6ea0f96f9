"""Workers that come and go: uploads wait for a worker; a worker never clobbers user edits."""

import json

import pytest

from tests.factories import distinct_jpeg, image_file, jpeg_bytes
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_caption_edited_while_processing_survives(worker_env, alice_client, tmp_path):
    """The stale-object trap: the worker must not write back a caption it read earlier."""
    from media_pipeline.models import Upload

    worker = start_worker(queues="media,email", env=worker_env, log_dir=tmp_path)
    try:
        # A big image keeps the worker busy long enough for the edit to land mid-work;
        # tried a few times, since the edit must really meet the worker in `processing`.
        big = jpeg_bytes(6000, 4000)
        for attempt in range(3):
            response = alice_client.post(
                "/api/uploads/",
                {"file": image_file(data=distinct_jpeg(big, attempt)), "caption": "old"},
            )
            url, upload_id = response.json()["url"], response.json()["id"]
            wait_for(
                lambda: Upload.objects.get(id=upload_id).status != "queued",  # noqa: B023
                what="the worker to claim the upload",
                interval=0.005,
            )
            patched = alice_client.patch(
                url, json.dumps({"caption": f"new {attempt}"}), content_type="application/json"
            ).json()
            body = wait_until_final(alice_client, url)
            assert body["status"] == "ready"
            assert body["caption"] == f"new {attempt}"
            if patched["status"] == "processing":
                break
        else:
            pytest.fail("The caption edit never landed while the worker was processing")
    finally:
        worker.stop()


def test_uploads_queued_with_no_worker_are_processed_when_one_starts(
    worker_env, purged_queues, alice_client, tmp_path
):
    urls = [
        alice_client.post("/api/uploads/", {"file": image_file(f"p{i}.jpg")}).json()["url"]
        for i in range(4)
    ]
    assert all(alice_client.get(url).json()["status"] == "queued" for url in urls)
    worker = start_worker(queues="media,email", env=worker_env, log_dir=tmp_path)
    try:
        bodies = [wait_until_final(alice_client, url) for url in urls]
    finally:
        worker.stop()
    assert [body["status"] for body in bodies] == ["ready"] * 4
