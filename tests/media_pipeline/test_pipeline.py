"""End to end on real services: API -> RabbitMQ -> real worker -> storage -> SMTP -> API."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from tests.factories import image_file, jpeg_bytes
from tests.servers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_until_final(client, url, timeout=60):
    return wait_for(
        lambda: (body := client.get(url).json())["status"] in ("ready", "failed") and body,
        timeout=timeout,
        what=f"{url} to be ready or failed",
    )


def test_upload_becomes_ready_with_renditions_and_email(celery_worker, alice_client, inbox):
    from media_pipeline.services import rendition_specs

    response = alice_client.post(
        "/api/uploads/", {"file": image_file("beach.jpg", jpeg_bytes(3000, 2000))}
    )
    assert response.status_code == 202
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready", body["error"]
    assert body["original"]["width"] == 3000

    specs = {spec.name: spec for spec in rendition_specs()}
    assert {"thumb", "large"} <= set(specs)
    seen = set()
    for rendition in body["renditions"]:
        spec = specs[rendition["name"]]
        expected_long = min(spec.long_edge, 3000)
        assert max(rendition["width"], rendition["height"]) == expected_long
        fetched = alice_client.get(rendition["url"])
        assert fetched.status_code == 200
        data = b"".join(fetched.streaming_content)
        assert len(data) == rendition["bytes"]
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (rendition["width"], rendition["height"])
            assert image.format.lower() == rendition["format"]
        seen.add((rendition["name"], rendition["format"]))
    assert {("thumb", "jpeg"), ("large", "jpeg")} <= seen

    message = wait_for(lambda: inbox.to("alice@example.com"), what="the ready email")[0]
    assert "beach.jpg" in message["Subject"]
    assert "ready" in message["Subject"]
    assert message.get_body(("plain",)) is not None
    assert message.get_body(("html",)) is not None

    from mailer.models import OutgoingEmail

    sent = wait_for(lambda: OutgoingEmail.objects.filter(status="sent").first(), what="sent row")
    assert sent.message_id == message["Message-ID"]


def test_exif_orientation_is_applied(celery_worker, alice_client):
    # Orientation 6: stored 1200x900, displayed 900x1200.
    response = alice_client.post(
        "/api/uploads/", {"file": image_file(data=jpeg_bytes(1200, 900, exif_orientation=6))}
    )
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready"
    thumb = next(r for r in body["renditions"] if r["name"] == "thumb")
    assert thumb["height"] > thumb["width"]


def test_undecodable_file_fails_clearly_and_owner_is_told(celery_worker, alice_client, user, inbox):
    """A file that got past the cheap checks but does not decode ends `failed`, clearly."""
    from django.core.files.base import ContentFile
    from django.db import transaction

    from media_pipeline import services
    from media_pipeline.models import Upload

    # A JPEG cut short, stored as if the web process had accepted it.
    upload = Upload(owner=user, original_name="cut.jpg", original_format="jpeg")
    upload.original.save("cut.jpg", ContentFile(jpeg_bytes(1600, 1200)[:3000]), save=False)
    with transaction.atomic():
        upload.save()
        transaction.on_commit(lambda: services.publish_processing(upload.id))

    body = wait_until_final(alice_client, f"/api/uploads/{upload.id}/")
    assert body["status"] == "failed"
    assert "cut off" in body["error"] or "damaged" in body["error"]
    assert "Traceback" not in body["error"]
    message = wait_for(lambda: inbox.to("alice@example.com"), what="the failure email")[0]
    assert "could not" in message["Subject"].lower()
    assert body["error"] in message.get_body(("plain",)).get_content()

    # The worker survived and takes the next upload.
    response = alice_client.post("/api/uploads/", {"file": image_file()})
    assert wait_until_final(alice_client, response.json()["url"])["status"] == "ready"


def test_truncated_upload_is_refused_at_the_door(alice_client):
    response = alice_client.post(
        "/api/uploads/", {"file": image_file("cut.jpg", jpeg_bytes(1600, 1200)[:3000])}
    )
    assert response.status_code == 400
    assert "cut off" in response.json()["error"] or "incomplete" in response.json()["error"]


def test_retry_overwrites_renditions_instead_of_adding(celery_worker, alice_client):
    from media_pipeline import services
    from media_pipeline.models import Rendition, Upload

    response = alice_client.post("/api/uploads/", {"file": image_file()})
    body = wait_until_final(alice_client, response.json()["url"])
    assert body["status"] == "ready"
    before = sorted(Rendition.objects.values_list("file", flat=True))
    # Run the work again as a redelivery would.
    Upload.objects.filter(id=body["id"]).update(status="processing")
    services.process_upload(upload_id=body["id"], reclaim=True)
    after = sorted(Rendition.objects.values_list("file", flat=True))
    assert before == after
    folder = f"renditions/{body['id']}"
    assert len(default_storage.listdir(folder)[1]) == len(before)


def test_task_results_are_stored_in_the_database(celery_worker, alice_client):
    from django_celery_results.models import TaskResult

    response = alice_client.post("/api/uploads/", {"file": image_file()})
    wait_until_final(alice_client, response.json()["url"])
    result = wait_for(
        lambda: TaskResult.objects.filter(
            task_name="media_pipeline.tasks.process_upload", status="SUCCESS"
        ).first(),
        what="a stored task result",
    )
    assert response.json()["id"] in result.task_args  # result_extended keeps the arguments
    assert result.worker
