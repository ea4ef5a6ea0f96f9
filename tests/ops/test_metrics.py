"""/metrics, HireFire's endpoint, the queue_age command and the dashboard, on real rows."""

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from mailer.models import OutgoingEmail
from media_pipeline.models import Upload
from ops import counters

pytestmark = pytest.mark.django_db
TOKEN = "scrape-me-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    return settings


def make_upload(owner, status, *, queued_ago=0.0, finished_ago=None):
    now = timezone.now()
    return Upload.objects.create(
        owner=owner,
        status=status,
        original="originals/x.jpg",
        queued_at=now - timedelta(seconds=queued_ago),
        finished_at=None if finished_ago is None else now - timedelta(seconds=finished_ago),
    )


def make_email(status, *, queued_ago=0.0, n=[0]):  # noqa: B006 (a counter for unique ids)
    n[0] += 1
    return OutgoingEmail.objects.create(
        kind="upload_ready", to="a@example.com", subject="s", body_text="b",
        message_id=f"<{n[0]}@test>", status=status,
        queued_at=timezone.now() - timedelta(seconds=queued_ago),
    )  # fmt: skip


def scrape(client, **headers):
    return client.get("/metrics", headers=headers)


def samples(response) -> dict[tuple[str, tuple], float]:
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_do_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    assert scrape(client, Authorization="Bearer anything").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Bearer ", "Basic " + base64.b64encode(b"prom:wrong").decode(), "xyz"],
)
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = scrape(client, **headers)
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"]
    assert b"media_service" not in response.content


def test_metrics_answer_to_bearer_and_basic_auth(client, metrics_on):
    bearer = scrape(client, Authorization=f"Bearer {TOKEN}")
    basic = scrape(
        client, Authorization="Basic " + base64.b64encode(f"prometheus:{TOKEN}".encode()).decode()
    )
    assert bearer.status_code == basic.status_code == 200
    assert bearer["Content-Type"].startswith("text/plain")
    assert "no-cache" in bearer["Cache-Control"] or "max-age=0" in bearer["Cache-Control"]


def test_metrics_report_states_ages_and_recent_outcomes(client, metrics_on, user):
    make_upload(user, "queued", queued_ago=120)
    make_upload(user, "queued", queued_ago=30)
    make_upload(user, "processing")
    make_upload(user, "ready", finished_ago=60)
    make_upload(user, "ready", finished_ago=3600)  # outside the 15-minute window
    make_upload(user, "failed", finished_ago=600)
    make_upload(user, "failed", finished_ago=7200)  # outside the hour
    make_email("queued", queued_ago=45)
    make_email("sent")
    values = samples(scrape(client, Authorization=f"Bearer {TOKEN}"))

    def value(name, **labels):
        return values[(name, tuple(sorted(labels.items())))]

    assert value("media_service_uploads", status="queued") == 2
    assert value("media_service_uploads", status="processing") == 1
    assert value("media_service_uploads", status="ready") == 2
    assert value("media_service_uploads", status="failed") == 2
    assert value("media_service_emails", status="queued") == 1
    assert 120 <= value("media_service_queue_oldest_age_seconds", queue="media") < 130
    assert 45 <= value("media_service_queue_oldest_age_seconds", queue="email") < 55
    assert value("media_service_uploads_failed_last_hour") == 1
    assert value("media_service_uploads_ready_last_15_minutes") == 1


def test_oldest_age_is_zero_when_nothing_waits(client, metrics_on, user):
    make_upload(user, "ready", finished_ago=1)
    values = samples(scrape(client, Authorization=f"Bearer {TOKEN}"))
    assert values[("media_service_queue_oldest_age_seconds", (("queue", "media"),))] == 0
    assert values[("media_service_queue_oldest_age_seconds", (("queue", "email"),))] == 0


def test_counters_pushed_by_workers_are_served(client, metrics_on):
    counters.increment("uploads_finished", {"status": "ready"}, 3)
    counters.increment("email_sends", {"outcome": "permanent", "reason": "5xx"})
    counters.increment("sweep_republished", {"kind": "upload", "reason": "lost"}, 4)
    for seconds in (0.2, 0.4, 7):
        counters.observe("upload_processing_seconds", seconds, (0.25, 0.5, 10))
    values = samples(scrape(client, Authorization=f"Bearer {TOKEN}"))
    assert values[("media_service_uploads_finished_total", (("status", "ready"),))] == 3
    key = ("media_service_email_sends_total", (("outcome", "permanent"), ("reason", "5xx")))
    assert values[key] == 1
    republished = (
        "media_service_sweep_republished_total",
        (("kind", "upload"), ("reason", "lost")),
    )
    assert values[republished] == 4
    assert values[("media_service_upload_processing_seconds_count", ())] == 3
    assert values[("media_service_upload_processing_seconds_bucket", (("le", "0.25"),))] == 1
    assert values[("media_service_upload_processing_seconds_bucket", (("le", "0.5"),))] == 2
    assert values[("media_service_upload_processing_seconds_bucket", (("le", "+Inf"),))] == 3


def test_metrics_say_when_the_broker_is_away(client, metrics_on, settings, monkeypatch):
    from ops import broker

    monkeypatch.setattr(broker, "queue_stats", lambda *a, **k: None)
    values = samples(scrape(client, Authorization=f"Bearer {TOKEN}"))
    assert values[("media_service_broker_up", ())] == 0
    assert not any(name == "media_service_queue_messages" for name, _ in values)
    # The database's numbers are still served.
    assert ("media_service_queue_oldest_age_seconds", (("queue", "media"),)) in values


def test_hirefire_info_gives_each_worker_process_its_queue_age(client, settings, user):
    settings.HIREFIRE_TOKEN = "hf-token"
    make_upload(user, "queued", queued_ago=90)
    assert client.get("/hirefire/wrong/info").status_code == 404
    response = client.get("/hirefire/hf-token/info")
    assert response.status_code == 200
    body = response.json()
    by_name = {item["name"]: item["value"] for item in body}
    assert set(by_name) == {"worker-media", "worker-email"}
    assert 90 <= by_name["worker-media"] < 100
    assert by_name["worker-email"] == 0


def test_hirefire_endpoint_does_not_exist_without_a_token(client, settings):
    settings.HIREFIRE_TOKEN = ""
    assert client.get("/hirefire//info").status_code == 404
    assert client.get("/hirefire/x/info").status_code == 404


def test_queue_age_command_prints_text_and_autoscaler_shapes(user, capsys):
    make_upload(user, "queued", queued_ago=30)
    call_command("queue_age")
    text = capsys.readouterr().out
    assert "media: oldest queued 3" in text and "1 queued" in text
    call_command("queue_age", format="hirefire")
    hirefire = json.loads(capsys.readouterr().out)
    assert {item["name"] for item in hirefire} == {"worker-media", "worker-email"}
    call_command("queue_age", format="judoscale")
    report = json.loads(capsys.readouterr().out)
    media_time = next(m for m in report["metrics"] if m[2] == "queue_time" and m[3] == "media")
    assert 30_000 <= media_time[1] < 40_000  # milliseconds
    assert [m for m in report["metrics"] if m[2] == "queue_depth" and m[3] == "media"][0][1] == 1


class ReportCatcher(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def judoscale_server():
    ReportCatcher.received, ReportCatcher.status = [], 204
    server = HTTPServer(("127.0.0.1", 0), ReportCatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_queue_age_posts_the_judoscale_report(settings, user, judoscale_server, capsys):
    settings.JUDOSCALE_URL = f"http://127.0.0.1:{judoscale_server.server_port}/api/abc"
    make_upload(user, "queued", queued_ago=5)
    call_command("queue_age", post=True)
    path, report = ReportCatcher.received[-1]
    assert path == "/api/abc/v3/reports"
    assert any(m[2] == "queue_time" and m[3] == "media" and m[1] >= 5000 for m in report["metrics"])


def test_queue_age_post_says_clearly_what_failed(settings, judoscale_server):
    settings.JUDOSCALE_URL = ""
    with pytest.raises(CommandError, match="JUDOSCALE_URL"):
        call_command("queue_age", post=True)
    ReportCatcher.status = 500
    settings.JUDOSCALE_URL = f"http://127.0.0.1:{judoscale_server.server_port}"
    with pytest.raises(CommandError, match="did not take the report"):
        call_command("queue_age", post=True)


def test_dashboard_is_for_staff_only(client, alice_client):
    assert client.get("/admin/dashboard/").status_code == 302
    assert alice_client.get("/admin/dashboard/").status_code == 302


def test_dashboard_shows_the_same_numbers_as_metrics(admin_client, metrics_on, user):
    make_upload(user, "queued", queued_ago=200)
    make_upload(user, "failed", finished_ago=60)
    make_upload(user, "ready", finished_ago=60)
    page = admin_client.get("/admin/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    snap = page.context["snap"]
    assert snap.uploads["queued"] == 1 and snap.uploads_failed_last_hour == 1
    assert snap.uploads_ready_last_15m == 1
    assert 200 <= snap.oldest_queued_age["media"] < 210
    assert 'id="uploads-failed-hour"' in html
    assert '<tr data-queue="media">' in html
    # The admin's index links to it.
    assert "/admin/dashboard/" in admin_client.get("/admin/").content.decode()


def test_skipped_notifications_are_served_with_their_reason(client, metrics_on):
    counters.increment("notifications_skipped", {"kind": "upload_ready", "reason": "unverified"})
    values = samples(scrape(client, Authorization=f"Bearer {TOKEN}"))
    key = (
        "media_service_notifications_skipped_total",
        (("kind", "upload_ready"), ("reason", "unverified")),
    )
    assert values[key] == 1
