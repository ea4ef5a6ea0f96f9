"""An upload over the size limit answers 413 on every server the project runs under.

Sent over real HTTP to `manage.py runserver` (`make run`) and to gunicorn (Heroku, compose),
each on a free loopback port: the body is declared and sent in full, as a browser or an API
client sends it.
"""

import pytest
import requests

from tests.servers import WEB_SERVERS, start_web_server

LIMIT = 1_048_576  # MEDIA_MAX_UPLOAD_BYTES for these servers
# Well past the limit and its 256 KB envelope; within what the middleware reads and drops.
OVERSIZED = 2 * 1024 * 1024
BOUNDARY = "size-limit-test"

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=WEB_SERVERS)
def server(request, worker_env, tmp_path):
    env = {**worker_env, "MEDIA_MAX_UPLOAD_BYTES": str(LIMIT), "DJANGO_DEBUG": "false"}
    process, base = start_web_server(request.param, env=env, log_path=tmp_path / "server.log")
    try:
        yield base, process
    finally:
        process.stop()


def oversized_form() -> tuple[bytes, dict]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    body = head + b"\xff" * (OVERSIZED - len(head) - len(tail)) + tail
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def test_api_upload_over_the_limit_is_a_413_with_json(server):
    base, process = server
    body, headers = oversized_form()
    with requests.Session() as session:
        response = session.post(f"{base}/api/uploads/", data=body, headers=headers, timeout=30)
        assert response.status_code == 413, process.output()[-3000:]
        assert "the limit is 1 MB per file" in response.json()["error"]
        # The same client goes on working (the refused body was not read as a request).
        assert session.get(f"{base}/healthz", timeout=10).status_code == 200
    assert "AssertionError" not in process.output()


def test_form_upload_over_the_limit_is_a_413_page(server):
    base, process = server
    body, headers = oversized_form()
    response = requests.post(f"{base}/", data=body, headers=headers, timeout=30)
    assert response.status_code == 413, process.output()[-3000:]
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Not accepted" in response.text and "the limit is" in response.text
    assert "AssertionError" not in process.output()
