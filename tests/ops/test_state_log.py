"""One logfmt line per state change, carrying the row's id and, when ready, phase timings."""

import logging

import pytest
from django.db import transaction

from core.statelog import logfmt
from mailer import services as mail
from media_pipeline import services
from media_pipeline.models import Upload
from tests.factories import image_file, jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_logfmt_quotes_what_would_break_a_line_apart():
    line = logfmt(upload="abc", status="failed", reason='It is "cut" off', empty="", n=3)
    assert line == 'upload=abc status=failed reason="It is \\"cut\\" off" empty="" n=3'
    assert logfmt(skip=None, ok=1) == "ok=1"


def lines_about(caplog, row_id) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "state" and str(row_id) in r.getMessage()
    ]


def test_an_uploads_story_is_one_grep_of_its_id(user, caplog, settings):
    settings.MEDIA_IMAGE_ENGINE = "pillow"
    caplog.set_level(logging.INFO, logger="state")
    upload = services.accept_upload(owner=user, file=image_file(data=jpeg_bytes(1400, 1000)))
    services.process_upload(upload_id=upload.id)
    story = lines_about(caplog, f"upload={upload.id}")
    assert story[0].startswith(f"upload={upload.id} status=queued")
    assert story[1] == f"upload={upload.id} status=processing attempt=1"
    ready = story[2]
    assert ready.startswith(f"upload={upload.id} status=ready")
    for phase in ("decode_ms=", "resize_ms=", "encode_ms=", "store_ms="):
        assert phase in ready


def test_a_failure_and_a_retry_are_told_with_their_reason(user, caplog):
    caplog.set_level(logging.INFO, logger="state")
    upload = services.accept_upload(owner=user, file=image_file())
    services.fail_upload(upload_id=upload.id, reason="This JPEG is cut off.")
    services.retry_upload(upload=Upload.objects.get(id=upload.id), by="admin")
    story = lines_about(caplog, f"upload={upload.id}")
    assert f'upload={upload.id} status=failed reason="This JPEG is cut off."' in story
    assert f"upload={upload.id} status=queued retried_by=admin" in story


def test_an_emails_story_is_one_grep_of_its_id(caplog):
    caplog.set_level(logging.INFO, logger="state")
    with transaction.atomic():
        email = mail.queue_email(
            kind="upload_failed", to="a@example.com",
            context={"upload": None, "user": None, "page_url": "http://x/"},
        )  # fmt: skip
    mail.send_email(email_id=email.id)
    story = lines_about(caplog, f"email={email.id}")
    statuses = [line.split()[1] for line in story]
    assert statuses[:1] == ["status=queued"] and "status=sending" in statuses
    assert statuses[-1] == "status=sent"
