"""A digest whose closing worker is killed while it holds the countdown is still sent, once."""

import os
import signal

import pytest

from mailer.models import Digest, OutgoingEmail
from tests.mailer.test_recipient_safety_live import finish, member, uploads
from tests.servers import start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_killed_worker_holding_the_close_loses_no_digest(
    worker_env, purged_queues, inbox, django_user_model, settings, tmp_path
):
    settings.MAILER_DIGEST_WINDOW_SECONDS = 4
    doomed = start_worker(queues="email", env=worker_env, log_dir=tmp_path, name="doomed")
    try:
        ivan = member(django_user_model, "ivan")
        for upload in uploads(ivan, 3):
            finish(upload)
        # The worker holds the countdown message, unacknowledged, until the window ends.
        wait_for(
            lambda: "mailer.digest_tasks.close_digest" in doomed.output(),
            what="the worker to hold the close task",
        )
        doomed.signal(signal.SIGKILL)
        doomed.popen.wait(timeout=10)
    finally:
        doomed.stop()
    assert not inbox.to("ivan@example.com") and Digest.objects.get().closed_at is None

    # The broker hands the message to the next worker, which closes the digest when due.
    heir = start_worker(
        queues="email", env=worker_env, log_dir=tmp_path, name=f"heir-{os.getpid()}"
    )
    try:
        message = wait_for(lambda: inbox.to("ivan@example.com"), what="the digest")[0]
        assert message["Subject"] == "3 images ready on Media service"
        digest = Digest.objects.get()
        assert digest.closed_at and digest.items.count() == 3
        wait_for(lambda: OutgoingEmail.objects.get().status == "sent", what="the row sent")
        assert len(inbox.to("ivan@example.com")) == 1
    finally:
        heir.stop()
