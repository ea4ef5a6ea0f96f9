"""Flower on the same broker, behind basic auth, sees both workers and their tasks."""

import pytest
import requests

from tests.factories import image_file
from tests.servers import start_flower, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
AUTH = ("ops", "s3cret-flower")


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
            tasks = get_json(f"{base}/api/tasks", auth=AUTH) or {}
            names = {t["name"]: t["state"] for t in tasks.values() if t.get("name")}
            return (
                names
                if names.get("media_pipeline.tasks.process_upload") == "SUCCESS"
                and names.get("mailer.tasks.send_email") == "SUCCESS"
                else None
            )

        names = wait_for(tasks_done, timeout=60, what="Flower to show both tasks succeeded")
        assert set(names) >= {"media_pipeline.tasks.process_upload", "mailer.tasks.send_email"}
        tasks = get_json(f"{base}/api/tasks", auth=AUTH)
        process_task = next(
            t for t in tasks.values() if t["name"] == "media_pipeline.tasks.process_upload"
        )
        assert upload_id in process_task["args"]
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
