"""The library through the API: alt text and description, list filters, bulk delete and retry."""

import datetime
import json
import uuid
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from media_pipeline import services
from media_pipeline.models import Upload
from tests.factories import image_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_publishing(monkeypatch):
    """Accepted and retried uploads stay queued here: no worker takes part in these tests."""
    monkeypatch.setattr(services, "publish_accepted", lambda upload_id: None)


def make(owner, name="photo.jpg", **fields) -> Upload:
    upload = services.accept_upload(owner=owner, file=image_file(name))
    if fields:
        Upload.objects.filter(id=upload.id).update(**fields)
        upload.refresh_from_db()
    return upload


def patch(client, upload, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.patch(f"/api/uploads/{upload.id}/", data, content_type="application/json")


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [u["name"] for u in response.json()["results"]]


def bulk(client, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/uploads/bulk/", data, content_type="application/json")


# --- alt text and description ------------------------------------------------------------------


def test_alt_text_and_description_are_patched_apart_from_the_caption(alice_client, user):
    upload = make(user, caption="Summer")
    response = patch(
        alice_client,
        upload,
        {"alt_text": "  A red kite over a beach  ", "description": "Taken at noon.\nWindy."},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["alt_text"] == "A red kite over a beach"
    assert body["description"] == "Taken at noon.\nWindy."
    assert body["caption"] == "Summer"
    assert body["needs_alt_text"] is False
    upload.refresh_from_db()
    assert (upload.caption, upload.alt_text) == ("Summer", "A red kite over a beach")

    assert patch(alice_client, upload, {"alt_text": ""}).json()["needs_alt_text"] is True


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"alt_text": "x" * 251}, "at most 250"),
        ({"description": "x" * 5001}, "at most 5000"),
        ({"alt_text": 7}, "must be text"),
        ({"alt_text": None}, "must be text"),
        ({"alt": "a kite"}, "Unknown field"),
        ({}, "one or more"),
        ("[]", "one or more"),
        ("{not json", "JSON object"),
    ],
)
def test_bad_texts_are_a_400_and_change_nothing(alice_client, user, body, words):
    upload = make(user, alt_text="Before", caption="Kept")
    response = patch(alice_client, upload, body)
    assert response.status_code == 400
    assert words in response.json()["error"]
    upload.refresh_from_db()
    assert (upload.alt_text, upload.caption, upload.description) == ("Before", "Kept", "")


def test_a_long_caption_with_an_alt_text_changes_neither(alice_client, user):
    upload = make(user)
    response = patch(alice_client, upload, {"alt_text": "Fine", "caption": "x" * 501})
    assert response.status_code == 400
    assert Upload.objects.get(id=upload.id).alt_text == ""


def test_another_users_upload_cannot_be_patched(client, user, other_user):
    upload = make(user)
    client.force_login(other_user)
    assert patch(client, upload, {"alt_text": "Mine now"}).status_code == 404
    assert Upload.objects.get(id=upload.id).alt_text == ""


# --- filters ---------------------------------------------------------------------------------


@pytest.fixture
def library(user, other_user):
    now = timezone.now()
    make(user, "harbour.jpg", caption="Boats at dawn", status="ready", original_format="jpeg")
    make(user, "kite.png", alt_text="A red kite", status="failed", original_format="png")
    make(user, "garden.jpg", status="ready", original_format="jpeg")
    make(other_user, "harbour-bob.jpg", caption="Boats", status="ready")
    Upload.objects.filter(original_name="garden.jpg").update(
        created_at=now - datetime.timedelta(days=10)
    )
    return now


def test_search_matches_caption_alt_text_and_file_name(alice_client, library):
    assert names(alice_client.get("/api/uploads/?q=boats")) == ["harbour.jpg"]
    assert names(alice_client.get("/api/uploads/?q=RED KITE")) == ["kite.png"]
    assert names(alice_client.get("/api/uploads/?q=garden")) == ["garden.jpg"]
    assert names(alice_client.get("/api/uploads/?q=nothing-like-it")) == []


def test_status_format_and_dates_narrow_the_list(alice_client, library):
    today = library.date().isoformat()
    assert names(alice_client.get("/api/uploads/?status=failed")) == ["kite.png"]
    assert names(alice_client.get("/api/uploads/?format=jpeg")) == ["harbour.jpg", "garden.jpg"]
    # Newest first, as without a filter.
    assert names(alice_client.get(f"/api/uploads/?since={today}")) == ["kite.png", "harbour.jpg"]
    assert names(alice_client.get(f"/api/uploads/?until={today}")) == [
        "kite.png",
        "harbour.jpg",
        "garden.jpg",
    ]
    # A date-time is a moment, not a day: garden.jpg, made ten days ago, is left out.
    moment = urlencode({"since": (library - datetime.timedelta(days=1)).isoformat()})
    assert names(alice_client.get(f"/api/uploads/?{moment}")) == ["kite.png", "harbour.jpg"]
    old = (library - datetime.timedelta(days=5)).date().isoformat()
    assert names(alice_client.get(f"/api/uploads/?until={old}")) == ["garden.jpg"]
    assert names(alice_client.get(f"/api/uploads/?status=ready&since={old}")) == ["harbour.jpg"]
    # Not failed and without alt text: the images shown with nothing for a screen reader.
    assert names(alice_client.get("/api/uploads/?alt=missing")) == ["harbour.jpg", "garden.jpg"]


def test_filters_stay_paginated(alice_client, library):
    first = names(alice_client.get("/api/uploads/?format=jpeg&limit=1"))
    second = names(alice_client.get("/api/uploads/?format=jpeg&limit=1&offset=1"))
    assert first + second == ["harbour.jpg", "garden.jpg"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=done", "Unknown status"),
        ("format=bmp", "Unknown format"),
        ("since=yesterday", "not a date"),
        ("until=2026-02-30", "not a date"),
        ("since=2026-05-02&until=2026-05-01", "after the end"),
        ("alt=present", "alt=missing"),
        ("q=" + "x" * 201, "at most 200"),
    ],
)
def test_a_filter_that_makes_no_sense_is_a_400(alice_client, library, query, words):
    response = alice_client.get(f"/api/uploads/?{query}")
    assert response.status_code == 400
    assert words in response.json()["error"]


# --- bulk actions ----------------------------------------------------------------------------


def test_bulk_delete_touches_only_the_owners_uploads_and_reports_each_id(
    alice_client, user, other_user
):
    mine = [make(user, f"mine-{n}.jpg") for n in range(2)]
    kept = make(user, "kept.jpg")
    bobs = make(other_user, "bobs.jpg")
    stranger = str(uuid.uuid4())
    ids = [str(mine[0].id), str(bobs.id), stranger, "not-an-id", str(mine[1].id)]

    response = bulk(alice_client, {"action": "delete", "ids": ids})
    assert response.status_code == 200
    assert response.json() == {
        "action": "delete",
        "results": [
            {"id": str(mine[0].id), "outcome": "deleted"},
            {"id": str(bobs.id), "outcome": "not_found"},
            {"id": stranger, "outcome": "not_found"},
            {"id": "not-an-id", "outcome": "not_found"},
            {"id": str(mine[1].id), "outcome": "deleted"},
        ],
    }
    assert set(Upload.objects.values_list("original_name", flat=True)) == {"kept.jpg", "bobs.jpg"}
    assert kept.original.storage.exists(bobs.original.name)
    assert not kept.original.storage.exists(mine[0].original.name)


def test_bulk_retry_queues_the_failed_ones_only(alice_client, user, other_user):
    failed = make(user, "failed.jpg", status="failed", error="Could not decode.")
    ready = make(user, "ready.jpg", status="ready")
    bobs_failed = make(other_user, "bobs.jpg", status="failed", error="Could not decode.")

    response = bulk(
        alice_client,
        {"action": "retry", "ids": [str(failed.id), str(ready.id), str(bobs_failed.id)]},
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": str(failed.id), "outcome": "queued"},
        {"id": str(ready.id), "outcome": "not_retryable", "status": "ready"},
        {"id": str(bobs_failed.id), "outcome": "not_found"},
    ]
    statuses = dict(Upload.objects.values_list("original_name", "status"))
    assert statuses == {"failed.jpg": "queued", "ready.jpg": "ready", "bobs.jpg": "failed"}
    assert Upload.objects.get(id=failed.id).error == ""


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"action": "archive", "ids": ["x"]}, "Unknown action"),
        ({"action": "delete", "ids": []}, "at least one"),
        ({"action": "delete", "ids": "abc"}, "list"),
        ({"action": "delete", "ids": [1, 2]}, "list"),
        ({"action": "delete"}, "list"),
        ({"action": "delete", "ids": [str(uuid.uuid4()) for _ in range(101)]}, "At most 100"),
        ("[1]", "JSON object"),
        ("nope", "JSON object"),
    ],
)
def test_a_bulk_request_that_makes_no_sense_is_a_400_and_touches_nothing(
    alice_client, user, body, words
):
    upload = make(user)
    response = bulk(alice_client, body)
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert Upload.objects.filter(id=upload.id).exists()


def test_bulk_needs_a_login_and_a_post(alice_client):
    from django.test import Client

    assert bulk(Client(), {"action": "delete", "ids": ["x"]}).status_code == 401
    assert alice_client.get("/api/uploads/bulk/").status_code == 405


# --- what a client may send that a database or parser cannot take ------------------------------


def test_texts_with_control_characters_or_lone_surrogates_are_stored_without_them(
    alice_client, user
):
    """Postgres refuses NUL in text and UTF-8 has no lone surrogate: both were a 500."""
    upload = make(user)
    body = '{"alt_text": "A\\u0000 kite\\ud800", "description": "line\\r\\none\\ttab\\u0007"}'
    response = patch(alice_client, upload, body)
    assert response.status_code == 200, response.content
    upload.refresh_from_db()
    assert (upload.alt_text, upload.description) == ("A kite", "line\r\none\ttab")
    posted = alice_client.post(
        "/api/uploads/", {"file": image_file("n.jpg"), "caption": "Cap\x00tion"}
    )
    assert posted.status_code == 202 and posted.json()["caption"] == "Caption"
    for search in ("kite%00", "ki%00te"):
        assert names(alice_client.get(f"/api/uploads/?q={search}")) == [upload.original_name]


def test_json_nested_too_deep_is_a_400(alice_client, user):
    upload = make(user)
    deep = "[" * 100_000 + "]" * 100_000
    assert patch(alice_client, upload, deep).status_code == 400
    assert bulk(alice_client, deep).status_code == 400


def test_an_offset_past_any_library_is_an_empty_page(alice_client, user):
    make(user)
    assert names(alice_client.get("/api/uploads/?offset=9223372036854775808")) == []


def test_an_unknown_or_other_users_upload_is_a_json_404(alice_client, other_user):
    bobs = make(other_user)
    for path in (f"/api/uploads/{bobs.id}/", f"/api/uploads/{uuid.uuid4()}/"):
        response = alice_client.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "No such upload."}
    assert alice_client.post(f"/api/uploads/{bobs.id}/retry/").json()["error"]


def test_a_search_finds_every_word_in_any_order_and_any_text(alice_client, user):
    make(user, "beach.jpg", caption="Sunset on the beach")
    make(user, "dunes.jpg", caption="Sunset", alt_text="Dunes by the sea")
    make(user, "noon.jpg", caption="The beach at noon")
    assert names(alice_client.get("/api/uploads/?q=beach sunset")) == ["beach.jpg"]
    assert names(alice_client.get("/api/uploads/?q=sunset DUNES")) == ["dunes.jpg"]
    assert sorted(names(alice_client.get("/api/uploads/?q=beach"))) == ["beach.jpg", "noon.jpg"]


def test_one_upload_spelt_several_ways_is_deleted_once(alice_client, user):
    upload = make(user)
    spellings = [str(upload.id), str(upload.id).upper(), "{" + upload.id.hex + "}"]
    response = bulk(alice_client, {"action": "delete", "ids": spellings})
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(upload.id), "outcome": "deleted"}]
    assert not Upload.objects.filter(id=upload.id).exists()
