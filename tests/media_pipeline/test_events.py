"""The live pages' event stream: changed uploads pushed, resumable, bounded, owner only."""

import json
import threading
import time

import pytest
import requests
from django.utils import timezone

from media_pipeline.models import Upload
from tests.factories import image_file
from tests.imagecorpus import photo_jpeg
from tests.servers import WEB_SERVERS, start_web_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_streams(settings):
    settings.MEDIA_EVENTS_STREAM_SECONDS = 0.8
    settings.MEDIA_EVENTS_CHECK_SECONDS = 0.1


def events_of(body: str) -> list[dict]:
    """The `uploads` events of a stream's text, as (id, uploads) dicts."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "uploads":
            found.append({"id": fields["id"], "uploads": json.loads(fields["data"])["uploads"]})
    return found


def read_stream(response) -> str:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    return b"".join(response.streaming_content).decode()


def test_a_change_during_the_stream_is_pushed(alice_client, user, short_streams):
    upload = alice_client.post("/api/uploads/", {"file": image_file("x.jpg", photo_jpeg(320, 240))})
    upload_id = upload.json()["id"]
    # Its upload a while ago, before the overlap the stream looks back: only the change
    # made during the stream counts.
    Upload.objects.filter(id=upload_id).update(
        updated_at=timezone.now() - timezone.timedelta(seconds=10)
    )
    response = alice_client.get("/events/", {"since": time.time()})
    started = time.monotonic()

    def mark_processing() -> None:
        time.sleep(0.3)
        Upload.objects.filter(id=upload_id).update(status="processing", updated_at=timezone.now())

    thread = threading.Thread(target=mark_processing)
    thread.start()
    body = read_stream(response)
    thread.join()
    assert time.monotonic() - started < 5  # the stream ends by itself (bounded lifetime)
    assert body.startswith("retry: ")
    pushed = [u for event in events_of(body) for u in event["uploads"]]
    assert [u["status"] for u in pushed] == ["processing"]
    assert pushed[0]["id"] == upload_id and "placeholder" in pushed[0]


def test_a_reconnect_resumes_after_the_last_event(alice_client, short_streams):
    def upload(seed: int) -> str:
        data = photo_jpeg(320, 240, seed=seed)
        return alice_client.post("/api/uploads/", {"file": image_file("a.jpg", data)}).json()["id"]

    first = upload(1)
    time.sleep(2.2)  # more than the overlap the stream looks back
    second = upload(2)
    events = events_of(read_stream(alice_client.get("/events/", {"since": time.time() - 60})))
    assert [u["id"] for e in events for u in e["uploads"]] in ([first, second], [second, first])
    third = upload(3)
    resumed = events_of(
        read_stream(alice_client.get("/events/", HTTP_LAST_EVENT_ID=events[-1]["id"]))
    )
    ids = {u["id"] for e in resumed for u in e["uploads"]}
    # The third is new; the second is sent again (inside the overlap: harmless); not the first.
    assert third in ids and first not in ids


def test_only_the_owners_uploads_and_only_when_logged_in(
    client, alice_client, other_user, short_streams
):
    alice_client.post("/api/uploads/", {"file": image_file("a.jpg", photo_jpeg(320, 240))})
    client.force_login(other_user)
    assert events_of(read_stream(client.get("/events/", {"since": time.time() - 60}))) == []
    client.logout()
    assert client.get("/events/").status_code == 401


def test_under_asgi_the_stream_is_an_async_iterator(user, short_streams):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    upload = Upload.objects.create(owner=user, original="originals/x.jpg")

    async def follow() -> tuple[bool, str]:
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get("/events/", {"since": time.time() - 60})
        assert response.status_code == 200
        chunks = [chunk.decode() async for chunk in response.streaming_content]
        return response.is_async, "".join(chunks)

    is_async, body = async_to_sync(follow)()
    assert is_async  # no thread held between checks
    assert [u["id"] for e in events_of(body) for u in e["uploads"]] == [str(upload.id)]


@pytest.mark.integration
@pytest.mark.parametrize("kind", WEB_SERVERS)
def test_a_finished_stream_leaves_no_database_connection_open(
    kind, alice_client, worker_env, tmp_path
):
    """Under make run's runserver and under gunicorn, each stream hands its database
    connection back when it ends: an open tab reconnects every lifetime, for as long as it
    stays open (it held one connection per stream until Postgres had none left)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts the server's connections in pg_stat_activity")

    def servers_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    env = {**worker_env, "MEDIA_EVENTS_STREAM_SECONDS": "0.5"}
    process, base = start_web_server(kind, env=env, log_path=tmp_path / "web.log")
    try:
        tab = requests.Session()  # one kept-alive connection, as a browser tab reconnects
        tab.cookies["sessionid"] = alice_client.cookies["sessionid"].value
        tab.get(f"{base}/api/uploads/", timeout=10).raise_for_status()
        settled = servers_connections()  # what the server keeps between requests
        for _ in range(4):
            with tab.get(f"{base}/events/", timeout=10) as response:
                assert response.status_code == 200 and response.text.startswith("retry: ")
        tab.get(f"{base}/api/uploads/", timeout=10).raise_for_status()
        assert servers_connections() <= settled
    finally:
        process.stop()


def test_a_resume_time_from_the_browser_is_kept_within_bounds(alice_client, short_streams):
    """A Last-Event-ID ahead of the clock still gets the changes of the stream; one long past
    does not bring the whole library."""
    old = alice_client.post("/api/uploads/", {"file": image_file("a.jpg", photo_jpeg(64, 48))})
    Upload.objects.filter(id=old.json()["id"]).update(
        updated_at=timezone.now() - timezone.timedelta(days=3)
    )
    assert events_of(read_stream(alice_client.get("/events/", HTTP_LAST_EVENT_ID="0"))) == []
    new = alice_client.post("/api/uploads/", {"file": image_file("b.jpg", photo_jpeg(64, 48))})
    ahead = events_of(read_stream(alice_client.get("/events/", HTTP_LAST_EVENT_ID="1e10")))
    assert [u["id"] for e in ahead for u in e["uploads"]] == [new.json()["id"]]
