"""Per-user upload rate limit (API and page) and storage quota: refused clearly, nothing stored."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core.models import RateLimitWindow
from media_pipeline.models import Upload
from tests.factories import image_file, jpeg_bytes

pytestmark = pytest.mark.django_db


def originals() -> list[str]:
    return sorted(p.name for p in (Path(django_settings.MEDIA_ROOT) / "originals").glob("*"))


def api_upload(client, name="photo.jpg", data=None):
    return client.post("/api/uploads/", {"file": image_file(name, data)})


def test_the_api_answers_429_with_retry_after_past_the_rate(alice_client, settings):
    settings.UPLOAD_RATE_LIMIT = "2/h"
    assert api_upload(alice_client, "a.jpg").status_code == 202
    assert api_upload(alice_client, "b.jpg").status_code == 202
    stored = originals()
    refused = api_upload(alice_client, "c.jpg")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert "too many files" in refused.json()["error"]
    assert "try again in" in refused.json()["error"]
    assert Upload.objects.count() == 2 and originals() == stored


def test_a_new_window_accepts_again(alice_client, settings):
    settings.UPLOAD_RATE_LIMIT = "1/h"
    assert api_upload(alice_client, "a.jpg").status_code == 202
    assert api_upload(alice_client, "b.jpg").status_code == 429
    # As an hour later: the counted window is the previous one.
    RateLimitWindow.objects.update(window_end=RateLimitWindow.objects.get().window_end - 3600)
    assert api_upload(alice_client, "c.jpg").status_code == 202


def test_the_limit_is_per_user(alice_client, client, other_user, settings):
    settings.UPLOAD_RATE_LIMIT = "1/h"
    assert api_upload(alice_client).status_code == 202
    client.force_login(other_user)
    assert api_upload(client).status_code == 202


def test_the_upload_page_answers_429_with_a_page(alice_client, settings):
    settings.UPLOAD_RATE_LIMIT = "1/h"
    assert alice_client.post("/", {"file": image_file("a.jpg")}).status_code == 302
    stored = originals()
    refused = alice_client.post("/", {"file": image_file("b.jpg")})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in refused.content and b"too many files" in refused.content
    assert Upload.objects.count() == 1 and originals() == stored


def test_files_past_the_rate_in_one_post_are_named(alice_client, settings):
    settings.UPLOAD_RATE_LIMIT = "1/h"
    response = alice_client.post(
        "/", {"file": [image_file("a.jpg"), image_file("b.jpg")]}, follow=True
    )
    page = response.content.decode()
    assert "a.jpg: queued." in page and "b.jpg: You have uploaded too many files" in page
    assert list(Upload.objects.values_list("original_name", flat=True)) == ["a.jpg"]


def test_past_the_quota_is_a_413_and_nothing_is_stored(alice_client, settings):
    data = jpeg_bytes(400, 300)
    settings.UPLOAD_QUOTA_BYTES = 2 * len(data) + 10
    assert api_upload(alice_client, "a.jpg", data).status_code == 202
    assert api_upload(alice_client, "b.jpg", data).status_code == 202
    stored = originals()
    refused = api_upload(alice_client, "c.jpg", data)
    assert refused.status_code == 413
    assert "storage quota" in refused.json()["error"]
    assert "Delete some images" in refused.json()["error"]
    assert Upload.objects.count() == 2 and originals() == stored
    # Deleting makes room again.
    assert alice_client.delete(f"/api/uploads/{Upload.objects.first().id}/").status_code == 204
    assert api_upload(alice_client, "d.jpg", data).status_code == 202


def test_past_the_quota_the_page_says_so(alice_client, settings):
    settings.UPLOAD_QUOTA_BYTES = 1000
    response = alice_client.post("/", {"file": image_file("big.jpg")}, follow=True)
    assert "big.jpg: This file" in response.content.decode()
    assert "storage quota" in response.content.decode()
    assert not Upload.objects.exists()
