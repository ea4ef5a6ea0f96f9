"""`manage.py worker`, the one way workers start, and both Procfiles' worker lines, started
as written: they consume the queues the web publishes to.

Each test run has its own queue namespace (CELERY_QUEUE_NAMESPACE, as deployments sharing
one broker do), so a worker started on the bare queue names would never see the upload.
"""

import os
import subprocess

import pytest
from django.core.management import call_command

from tests.config.test_deploy_files import ROOT, heroku_env, procfile, stop_group
from tests.factories import image_file, jpeg_bytes
from tests.servers import free_port, wait_for


def test_manage_py_worker_runs_celery_on_the_namespaced_queues_with_a_cold_stop(monkeypatch):
    from celery_app import worker_command

    started = []
    monkeypatch.setattr(
        os, "execv", lambda path, argv: started.append((argv, os.environ["REMAP_SIGTERM"]))
    )
    monkeypatch.setenv("REMAP_SIGTERM", "unset below; restored after the test")
    monkeypatch.delenv("REMAP_SIGTERM")
    call_command("worker", "email", "default", concurrency=2)
    assert started == [(worker_command(["email", "default"], concurrency=2), "SIGQUIT")]

    monkeypatch.setenv("REMAP_SIGTERM", "SIGTERM")  # the environment's choice wins
    call_command("worker", "media")
    assert started[-1] == (worker_command(["media"]), "SIGTERM")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["Procfile.local", "Procfile"])
def test_procfile_workers_process_an_upload_in_a_queue_namespace(
    name, worker_env, purged_queues, alice_client, inbox, tmp_path
):
    from celery_app import NAMESPACE

    if not NAMESPACE:
        pytest.skip("needs CELERY_QUEUE_NAMESPACE (scripts/test sets one for each run)")
    # heroku_env: production settings against the test's services, the venv first on PATH
    # (as `make run` puts it for Procfile.local).
    env = heroku_env(worker_env, free_port())
    if name == "Procfile.local":
        env["DJANGO_SETTINGS_MODULE"] = worker_env["DJANGO_SETTINGS_MODULE"]
    env.update(MEDIA_CONCURRENCY="1", EMAIL_CONCURRENCY="1")
    workers = {}
    try:
        for process in ("worker-media", "worker-email"):
            log_path = tmp_path / f"{process}.log"
            with open(log_path, "wb") as log:
                popen = subprocess.Popen(
                    ["bash", "-c", procfile(name)[process]], cwd=ROOT, env=env,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            workers[process] = (popen, log_path)
        for process, (popen, log_path) in workers.items():
            wait_for(
                lambda p=popen, log=log_path: "ready." in log.read_text() or p.poll() is not None,
                timeout=60,
                what=f"{name} {process} to start",
            )
            assert popen.poll() is None, log_path.read_text()[-3000:]

        response = alice_client.post(
            "/api/uploads/", {"file": image_file("namespaced.jpg", jpeg_bytes(400, 300))}
        )
        assert response.status_code == 202, response.content
        url = response.json()["url"]
        body = wait_for(
            lambda: (b := alice_client.get(url).json())["status"] in ("ready", "failed") and b,
            timeout=60,
            what=f"the upload to be processed by {name}'s worker-media",
        )
        assert body["status"] == "ready", body["error"]
        message = wait_for(
            lambda: inbox.to("alice@example.com"),
            what=f"the ready email sent by {name}'s worker-email",
        )[0]
        assert "namespaced.jpg" in message["Subject"]
    finally:
        for popen, _ in workers.values():
            stop_group(popen)
