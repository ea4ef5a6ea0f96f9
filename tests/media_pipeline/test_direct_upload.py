"""Direct uploads, browser to media host, on moto's real S3 server: each endpoint and refusal,
the sweep of abandoned multipart uploads, and the worker refusing what the browser lied about.

moto does not enforce the conditions of presigned POSTs (size, type), just as a misconfigured
media host might not: the tests send what the browser claimed not to, and the worker must
catch it.
"""

import io
import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from media_pipeline import direct
from media_pipeline.models import DirectUpload, Upload
from tests.bigfiles import noise_png
from tests.factories import jpeg_bytes
from tests.imagecorpus import pdf_document, polyglot_png_html
from tests.media_pipeline.test_pipeline import wait_until_final
from tests.media_pipeline.test_s3_storage import BUCKET, keys, s3_server, s3_settings
from tests.servers import start_worker

pytestmark = [pytest.mark.django_db(transaction=True)]
MB = 1024 * 1024
__all__ = ["s3_server", "s3_settings"]  # fixtures


@pytest.fixture
def media_host(s3_server, s3_settings, settings):
    # moto's servers in one process share their state: start from an empty bucket.
    requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=10).raise_for_status()
    s3_server.client.create_bucket(Bucket=BUCKET)
    settings.MEDIA_DIRECT_PART_BYTES = 5 * MB
    settings.MEDIA_DIRECT_MAX_UPLOAD_BYTES = 200 * MB
    return s3_settings


def start(client, size, content_type="image/jpeg", filename="photo.jpg"):
    return client.post(
        "/api/uploads/direct/",
        {"filename": filename, "size": size, "content_type": content_type},
        content_type="application/json",
    )


def post_file(instructions: dict, data: bytes) -> requests.Response:
    """What the page does with a presigned POST: its fields, then the file."""
    return requests.post(
        instructions["url"],
        data=instructions["fields"],
        files={"file": ("photo.jpg", data)},
        timeout=30,
    )


def put_part(url: str, data: bytes) -> str:
    response = requests.put(url, data=data, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


def complete(client, upload_id, parts):
    return client.post(
        f"/api/uploads/{upload_id}/complete/",
        {"parts": parts},
        content_type="application/json",
    )


def send_multipart(client, data: bytes, *, content_type="image/png") -> str:
    """Start, PUT every part, complete: the upload's id."""
    body = start(client, len(data), content_type).json()
    size = body["part_size"]
    parts = [
        {"number": p["number"], "etag": put_part(p["url"], data[(p["number"] - 1) * size :][:size])}
        for p in body["parts"]
    ]
    assert complete(client, body["id"], parts).status_code == 202
    return body["id"]


def multipart_uploads(s3_server) -> list:
    return s3_server.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_small_file_is_one_presigned_post_then_queued(media_host, s3_server, alice_client, user):
    data = jpeg_bytes(400, 300)
    response = start(alice_client, len(data))
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "url", "fields"}
    key = body["fields"]["key"]
    assert key.startswith(f"incoming/{user.pk}/")  # the owner's prefix, a random name
    assert body["url"].startswith(s3_server.endpoint)
    assert post_file(body, data).status_code in (200, 201, 204)

    response = complete(alice_client, body["id"], [])
    assert response.status_code == 202
    upload = response.json()
    assert upload["id"] == body["id"] and upload["status"] == "queued"
    assert not DirectUpload.objects.exists()
    row = Upload.objects.get(id=body["id"])
    assert row.original.name == key and row.original_bytes == len(data)
    # Completing again (a lost answer) answers the same, and queues nothing new.
    assert complete(alice_client, body["id"], []).json()["id"] == body["id"]
    assert Upload.objects.count() == 1


@pytest.mark.integration
def test_a_large_file_goes_in_parts_and_resumes_from_the_stored_ones(
    media_host, s3_server, alice_client
):
    data = noise_png(12 * MB)
    response = start(alice_client, len(data), "image/png", "big.png")
    assert response.status_code == 201
    body = response.json()
    assert body["part_size"] == 5 * MB
    assert [p["number"] for p in body["parts"]] == [1, 2, 3]
    size = body["part_size"]
    chunk = {n: data[(n - 1) * size : n * size] for n in (1, 2, 3)}
    etags = {n: put_part(body["parts"][n - 1]["url"], chunk[n]) for n in (1, 2)}

    # A reloaded page asks what the media host has, and gets fresh URLs for the rest.
    listed = alice_client.get(f"/api/uploads/{body['id']}/parts/").json()
    assert [(p["number"], p["etag"], p["size"]) for p in listed["parts"]] == [
        (1, etags[1], size),
        (2, etags[2], size),
    ]
    assert [p["number"] for p in listed["missing"]] == [3]
    etags[3] = put_part(listed["missing"][0]["url"], chunk[3])

    # Every part, once each, or nothing is completed.
    short = complete(alice_client, body["id"], [{"number": 1, "etag": etags[1]}])
    assert short.status_code == 400 and "3 parts" in short.json()["error"]
    wrong = [{"number": n, "etag": '"0000"'} for n in (1, 2, 3)]
    assert complete(alice_client, body["id"], wrong).status_code == 409
    parts = [{"number": n, "etag": etags[n]} for n in (3, 1, 2)]
    response = complete(alice_client, body["id"], parts)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    key = Upload.objects.get(id=body["id"]).original.name
    stored = s3_server.client.head_object(Bucket=BUCKET, Key=key)
    assert stored["ContentLength"] == len(data)
    assert multipart_uploads(s3_server) == []
    assert alice_client.get(f"/api/uploads/{body['id']}/parts/").status_code == 409


@pytest.mark.integration
@pytest.mark.parametrize(
    ("size", "content_type", "status", "words"),
    [
        (201 * MB, "image/jpeg", 413, "limit is 200 MB"),
        (1000, "application/pdf", 400, "not a picture"),
        (1000, "image/svg+xml", 400, "not a picture"),
        (1000, "text/html", 400, "not a picture"),
        (0, "image/jpeg", 400, "empty"),
        (-5, "image/jpeg", 400, "size"),
        ("12", "image/jpeg", 400, "size"),
        (None, "image/jpeg", 400, "size"),
    ],
)
def test_refusals_say_why_and_start_nothing(
    media_host, s3_server, alice_client, size, content_type, status, words
):
    response = start(alice_client, size, content_type)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert not DirectUpload.objects.exists()
    assert multipart_uploads(s3_server) == []


@pytest.mark.integration
def test_the_quota_and_the_upload_rate_hold_on_the_direct_path_too(
    media_host, s3_server, alice_client, settings
):
    settings.UPLOAD_QUOTA_BYTES = 20 * MB
    settings.UPLOAD_RATE_LIMIT = "3/h"  # every attempt counts: the refused one too
    over = start(alice_client, 21 * MB, "image/png")
    assert over.status_code == 413 and "quota" in over.json()["error"]

    settings.UPLOAD_QUOTA_BYTES = 0
    assert start(alice_client, 1000).status_code == 201
    assert start(alice_client, 1000).status_code == 201
    limited = start(alice_client, 1000)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0 and limited.json()["error"]
    assert DirectUpload.objects.count() == 2
    assert multipart_uploads(s3_server) == []


@pytest.mark.integration
def test_malformed_requests_and_other_users(media_host, alice_client, client, other_user):
    bad = alice_client.post("/api/uploads/direct/", "nope", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    body = start(alice_client, 12 * MB, "image/png").json()
    assert complete(alice_client, body["id"], "all of them").status_code == 400

    client.force_login(other_user)  # another user's upload does not exist for them
    assert client.get(f"/api/uploads/{body['id']}/parts/").status_code == 404
    assert complete(client, body["id"], []).status_code == 404
    assert client.delete(f"/api/uploads/{body['id']}/").status_code == 404
    assert DirectUpload.objects.filter(id=body["id"]).exists()
    client.logout()
    assert start(client, 1000).status_code == 401


@pytest.mark.integration
def test_delete_aborts_an_unfinished_upload_and_still_deletes_a_finished_one(
    media_host, s3_server, alice_client
):
    data = noise_png(6 * MB)
    body = start(alice_client, len(data), "image/png").json()
    put_part(body["parts"][0]["url"], data[: 5 * MB])
    assert len(multipart_uploads(s3_server)) == 1
    assert alice_client.delete(f"/api/uploads/{body['id']}/").status_code == 204
    assert multipart_uploads(s3_server) == []
    assert not DirectUpload.objects.exists()
    assert keys(s3_server.client) == []

    upload_id = send_multipart(alice_client, data)
    key = Upload.objects.get(id=upload_id).original.name
    assert key in keys(s3_server.client)
    assert alice_client.delete(f"/api/uploads/{upload_id}/").status_code == 204
    assert not Upload.objects.exists()
    assert key not in keys(s3_server.client)


def test_without_a_media_host_the_client_is_told_to_use_the_web_path(alice_client):
    response = start(alice_client, 1000)
    assert response.status_code == 501
    body = response.json()
    assert body["upload_url"] == "/api/uploads/"
    assert "POST /api/uploads/" in body["error"]
    assert not DirectUpload.objects.exists()


# --- the sweep --------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_sweep_aborts_abandoned_multipart_uploads(
    media_host, s3_server, alice_client, settings
):
    settings.MEDIA_DIRECT_UPLOAD_EXPIRY = 3600
    data = noise_png(6 * MB)
    stale = start(alice_client, len(data), "image/png").json()
    put_part(stale["parts"][0]["url"], data[: 5 * MB])
    DirectUpload.objects.filter(id=stale["id"]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    fresh = start(alice_client, len(data), "image/png").json()
    # A multipart upload the media host holds without any row (its abort once failed).
    # (moto dates every multipart upload in 2010, so this one counts as old at once.)
    s3_server.client.create_multipart_upload(Bucket=BUCKET, Key="incoming/1/orphan")

    assert direct.sweep_abandoned(now=timezone.now()) == 2  # the stale one and the orphan
    assert [str(i) for i in DirectUpload.objects.values_list("id", flat=True)] == [fresh["id"]]
    assert len(multipart_uploads(s3_server)) == 1  # the fresh one's
    later = timezone.now() + timedelta(hours=2)
    assert direct.sweep_abandoned(now=later) == 1  # the fresh one, stale by then
    assert multipart_uploads(s3_server) == []
    assert not DirectUpload.objects.exists()
    assert keys(s3_server.client) == []


# --- the worker's check -----------------------------------------------------------------------


@pytest.mark.integration
def test_the_worker_checks_the_head_and_tail_only_before_decoding(media_host, s3_server):
    data = noise_png(12 * MB)
    s3_server.client.put_object(Bucket=BUCKET, Key="incoming/1/big", Body=data)
    client, bucket = direct.s3_client()
    from media_pipeline.ranged import RangedObject

    raw = RangedObject(client, bucket, "incoming/1/big", len(data))
    with io.BufferedReader(raw, buffer_size=64 * 1024) as stream:
        info = direct.imaging.inspect_image(stream, limits=direct.limits())
    assert (info.format, info.width) == ("png", 6400)
    assert raw.fetched < 512 * 1024  # of 12 MB


@pytest.mark.integration
def test_the_worker_refuses_what_the_browser_lied_about(
    media_host, s3_server, worker_env, purged_queues, alice_client, tmp_path
):
    truthful = jpeg_bytes(800, 600)
    three_mb = noise_png(3 * MB)
    lies = {
        # claimed 1 MB, stored 3 MB (moto, like a host without the POST's conditions, took it)
        "bigger": (1 * MB, "image/png", three_mb, "announced 1.0 MB"),
        "pdf": (len(pdf_document()), "image/jpeg", pdf_document(), "PDF"),
        "polyglot": (len(polyglot_png_html()), "image/png", polyglot_png_html(), "extra data"),
    }
    sent = {}
    for name, (claimed, kind, data, _) in {
        "truthful": (len(truthful), "image/jpeg", truthful, ""),
        **lies,
    }.items():
        body = start(alice_client, claimed, kind, f"{name}.jpg").json()
        assert post_file(body, data).status_code in (200, 201, 204)
        assert complete(alice_client, body["id"], []).status_code == 202
        sent[name] = (body["id"], body["fields"]["key"])

    worker = start_worker(queues="media,email", env={**worker_env, **media_host}, log_dir=tmp_path)
    try:
        final = {
            name: wait_until_final(alice_client, f"/api/uploads/{upload_id}/", timeout=90)
            for name, (upload_id, _) in sent.items()
        }
    finally:
        worker.stop()
    assert final["truthful"]["status"] == "ready", final["truthful"]["error"]
    assert final["truthful"]["original"]["format"] == "jpeg"
    # Its look is taken by the worker, from the pixels it decodes for the thumbnail.
    assert final["truthful"]["placeholder"]["color"].startswith("#")
    assert Upload.objects.get(id=sent["truthful"][0]).phash is not None
    assert sent["truthful"][1] in keys(s3_server.client)
    for name, (_, _, _, words) in lies.items():
        assert final[name]["status"] == "failed", name
        assert words in final[name]["error"], (name, final[name]["error"])
        assert sent[name][1] not in keys(s3_server.client), f"{name}: the object was kept"
        assert final[name]["renditions"] == []
    print(json.dumps({name: body["error"] for name, body in final.items()}, indent=1))


# --- the page ---------------------------------------------------------------------------------


def test_the_page_sends_through_the_web_without_a_media_host(alice_client):
    page = alice_client.get("/").content.decode()
    assert "data-direct-url" not in page and "direct_upload.js" not in page
    assert "up to 50 MB each" in page


@pytest.mark.integration
def test_the_page_sends_straight_to_the_media_host_when_there_is_one(media_host, alice_client):
    page = alice_client.get("/").content.decode()
    assert 'data-direct-url="/api/uploads/direct/"' in page
    assert "direct_upload.js" in page
    assert "up to 200 MB each" in page
