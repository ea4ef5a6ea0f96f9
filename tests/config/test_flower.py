"""Flower on the same broker, behind basic auth, sees both workers and their tasks."""

import pytest
import requests

from tests.factories import image_file
from tests.servers import start_flower, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
AUTH = ("ops", "s3cret-flower")
PROCESS = "media_pipeline.tasks.process_upload"
SEND = "mailer.tasks.send_email"


def get_json(url, **kwargs):
    try:
        response = requests.get(url, timeout=5, **kwargs)
    except requests.ConnectionError:
        return None
    return response.json() if response.status_code == 200 else None


def test_flower_shows_both_workers_and_their_tasks(worker_env, alice_client, tmp_path):
    flower, base = start_flower(env=worker_env, log_dir=tmp_path, auth=AUTH)
    media = start_worker(queues="media", env=worker_env, log_dir=tmp_path, name="flower-media")
    email = start_worker(queues="email", env=worker_env, log_dir=tmp_path, name="flower-email")
    try:
        assert requests.get(f"{base}/api/workers", timeout=5).status_code == 401
        assert (
            requests.get(f"{base}/api/workers", auth=("ops", "wrong"), timeout=5).status_code == 401
        )

        response = alice_client.post("/api/uploads/", {"file": image_file()})
        upload_id = response.json()["id"]

        def tasks_done():
            # Flower hears every worker on the broker (other runs too): this run's tasks only.
            tasks = (get_json(f"{base}/api/tasks", auth=AUTH) or {}).values()
            from mailer.models import OutgoingEmail

            email = OutgoingEmail.objects.filter(dedupe_key=f"upload_ready:{upload_id}").first()
            args = {PROCESS: f"['{upload_id}']", SEND: f"[{email.id if email else None}]"}
            done = [
                t
                for t in tasks
                if t.get("name") in args
                and t["args"] == args[t["name"]]
                and t["state"] == "SUCCESS"
            ]
            return done if {t["name"] for t in done} >= {PROCESS, SEND} else None

        done = wait_for(tasks_done, timeout=60, what="Flower to show both tasks succeeded")
        process_task = next(t for t in done if t["name"] == PROCESS)
        assert process_task["routing_key"].endswith("media")

        workers = wait_for(
            lambda: (
                (w := get_json(f"{base}/api/workers", auth=AUTH, params={"refresh": "1"}))
                and len([n for n in w if n.startswith("flower-")]) >= 2
                and w
            ),
            timeout=30,
            what="Flower to list both workers",
        )
        assert any(n.startswith("flower-media-") for n in workers)
        assert any(n.startswith("flower-email-") for n in workers)
    finally:
        for process in (media, email, flower):
            process.stop()
