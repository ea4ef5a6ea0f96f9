"""The media host: originals and renditions on S3-compatible storage (moto's real HTTP server)."""

import contextlib
import io

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from tests.factories import image_file, jpeg_bytes
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.servers import free_port, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
BUCKET = "media-test"


@pytest.fixture
def s3_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    server.endpoint, server.port, server.client = endpoint, port, client
    yield server
    with contextlib.suppress(Exception):  # already stopped by the test
        server.stop()


@pytest.fixture
def s3_settings(s3_server, settings):
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": s3_server.endpoint,
        "region_name": "us-east-1",
        "access_key": "test",
        "secret_key": "test",
        "addressing_style": "path",
        "querystring_auth": True,
        "file_overwrite": True,
        "default_acl": None,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "media_pipeline.storage.MediaS3Storage", "OPTIONS": options},
    }
    return {
        "MEDIA_S3_BUCKET": BUCKET,
        "MEDIA_S3_ENDPOINT_URL": s3_server.endpoint,
        "MEDIA_S3_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "MEDIA_S3_ADDRESSING_STYLE": "path",
    }


def keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.mark.parametrize("engine", ["pillow", "vips"])
def test_renditions_are_stored_on_the_media_host(
    engine, s3_server, s3_settings, worker_env, alice_client, tmp_path
):
    env = {**worker_env, **s3_settings, "MEDIA_IMAGE_ENGINE": engine}
    worker = start_worker(queues="media,email", env=env, log_dir=tmp_path)
    try:
        response = alice_client.post(
            "/api/uploads/", {"file": image_file("sea.jpg", jpeg_bytes(2600, 1700))}
        )
        assert response.status_code == 202
        body = wait_until_final(alice_client, response.json()["url"])
    finally:
        worker.stop()
    assert body["status"] == "ready", body["error"]
    stored = keys(s3_server.client)
    assert any(key.startswith("originals/") for key in stored)
    assert len(body["renditions"]) >= 6
    for rendition in body["renditions"]:
        # The API hands out signed URLs straight to the media host.
        assert rendition["url"].startswith(s3_server.endpoint)
        assert "Signature" in rendition["url"] or "X-Amz-Signature" in rendition["url"]
        key = f"renditions/{body['id']}/{rendition['name']}." + (
            "jpg" if rendition["format"] == "jpeg" else rendition["format"]
        )
        assert key in stored
        data = s3_server.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert len(data) == rendition["bytes"]
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (rendition["width"], rendition["height"])
            assert image.format.lower() == rendition["format"]


def test_media_host_down_mid_task_is_retried_until_it_is_back(
    s3_server, s3_settings, worker_env, alice_client, tmp_path
):
    from media_pipeline.models import Upload

    response = alice_client.post("/api/uploads/", {"file": image_file("a.jpg")})
    upload_id = response.json()["id"]
    s3_server.stop()  # the media host goes away with the original on it
    env = {
        **worker_env,
        **s3_settings,
        "MEDIA_RETRY_BACKOFF_SECONDS": "0.5",
        "MEDIA_MAX_RETRIES": "20",
    }
    worker = start_worker(queues="media,email", env=env, log_dir=tmp_path)
    try:
        wait_for(
            lambda: "retry" in worker.output().lower(),
            timeout=60,
            what="the worker to retry the task",
        )
        upload = Upload.objects.get(id=upload_id)
        assert upload.status in ("queued", "processing")
        assert not upload.renditions.exists()

        restarted = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_server.port, verbose=False)
        restarted.start()
        try:
            body = wait_until_final(alice_client, response.json()["url"], timeout=120)
        finally:
            restarted.stop()
    finally:
        worker.stop()
    assert body["status"] == "ready", body["error"]
    assert len(body["renditions"]) >= 6
