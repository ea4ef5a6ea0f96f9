"""The JSON API over session auth: accept, read, caption, isolation, refusals."""

import json

import pytest

from tests.factories import image_file, jpeg_bytes

pytestmark = pytest.mark.django_db


def post_upload(client, file):
    return client.post("/api/uploads/", {"file": file})


def test_upload_is_accepted_and_queued(alice_client, user):
    response = post_upload(alice_client, image_file())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["url"] == f"/api/uploads/{body['id']}/"
    assert response["Location"] == body["url"]

    detail = alice_client.get(body["url"]).json()
    assert detail["status"] == "queued"
    assert detail["original"] == {
        "width": 1200,
        "height": 900,
        "bytes": len(jpeg_bytes()),
        "format": "jpeg",
        "url": detail["original"]["url"],
    }
    assert detail["renditions"] == []
    assert detail["error"] == ""


def test_anonymous_gets_401(client):
    assert client.post("/api/uploads/", {"file": image_file()}).status_code == 401
    assert client.get("/api/uploads/").status_code == 401


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.jpg", b"just some text, not a picture\n" * 20, "image"),
        ("empty.jpg", b"", "empty"),
        ("doc.jpg", b"%PDF-1.7\n1 0 obj <<>> endobj\n" * 10, "image"),
        ("page.png", b"<!doctype html><html><body>hi</body></html>", "image"),
    ],
)
def test_not_an_image_is_a_400_in_plain_words(alice_client, name, data, words):
    response = post_upload(alice_client, image_file(name, data))
    assert response.status_code == 400
    message = response.json()["error"]
    assert words in message.lower()
    assert "Traceback" not in message


def test_no_file_field_is_a_400(alice_client):
    response = alice_client.post("/api/uploads/", {"other": "x"})
    assert response.status_code == 400
    assert "file" in response.json()["error"]


def test_over_the_byte_limit_is_a_413(alice_client, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 10_000
    response = post_upload(alice_client, image_file(data=jpeg_bytes(1200, 900)))
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_a_huge_body_is_refused_from_its_length_alone(alice_client, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 1000
    body = b"x" * 400_000
    response = alice_client.post(
        "/api/uploads/", data=body, content_type="multipart/form-data; boundary=zzz"
    )
    assert response.status_code == 413


def test_nothing_is_stored_when_refused(alice_client, settings, tmp_path):
    from media_pipeline.models import Upload

    post_upload(alice_client, image_file("bad.jpg", b"nope" * 100))
    assert Upload.objects.count() == 0


def test_another_users_upload_is_a_404(alice_client, client, other_user):
    upload_url = post_upload(alice_client, image_file()).json()["url"]
    original_url = alice_client.get(upload_url).json()["original"]["url"]
    assert alice_client.get(original_url).status_code == 200

    client.force_login(other_user)
    assert client.get(upload_url).status_code == 404
    assert client.patch(upload_url, "{}", content_type="application/json").status_code == 404
    assert client.get(original_url).status_code == 404
    assert client.get("/api/uploads/").json()["results"] == []


def test_caption_patch(alice_client):
    url = post_upload(alice_client, image_file()).json()["url"]
    response = alice_client.patch(
        url, json.dumps({"caption": "Sunset over the bay"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["caption"] == "Sunset over the bay"
    assert alice_client.get(url).json()["caption"] == "Sunset over the bay"


@pytest.mark.parametrize(
    "payload",
    ["not json", json.dumps([1]), json.dumps({"caption": 5}), json.dumps({"caption": "x" * 501})],
)
def test_bad_caption_patch_is_a_400(alice_client, payload):
    url = post_upload(alice_client, image_file()).json()["url"]
    response = alice_client.patch(url, payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]


def test_user_file_name_is_metadata_only(alice_client):
    from media_pipeline.models import Upload

    post_upload(alice_client, image_file("../../etc/passwd.jpg"))
    upload = Upload.objects.get()
    assert upload.original_name == "passwd.jpg"
    assert upload.original.name.startswith("originals/")
    assert "passwd" not in upload.original.name and ".." not in upload.original.name


def test_api_enforces_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/api/uploads/", {"file": image_file()}).status_code == 403
    client.get("/")  # sets the CSRF cookie, as the upload page does
    token = client.cookies["csrftoken"].value
    response = client.post("/api/uploads/", {"file": image_file()}, headers={"X-CSRFToken": token})
    assert response.status_code == 202


def test_renditions_are_configurable(settings):
    from media_pipeline.services import rendition_specs

    settings.MEDIA_RENDITIONS = ["small:200", "big:1600"]
    settings.MEDIA_RENDITION_FORMATS = ["jpeg"]
    specs = rendition_specs()
    assert [(s.name, s.long_edge, s.formats) for s in specs] == [
        ("small", 200, ("jpeg",)),
        ("big", 1600, ("jpeg",)),
    ]
