"""Digests: one open per owner, closed once, never early, and swept when their task is lost."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import EmailPreferences
from mailer import digests
from mailer.models import Digest, DigestItem, OutgoingEmail
from media_pipeline.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(django_user_model):
    owner = django_user_model.objects.create_user("hana", "hana@example.com", "pass-pass-123")
    EmailPreferences.objects.create(user=owner, verified_email=owner.email)
    return owner


def upload(owner, name="a.jpg"):
    return Upload.objects.create(owner=owner, original="originals/x.jpg", original_name=name)


def test_outcomes_join_the_open_digest_and_each_moves_its_send_time(owner, settings):
    settings.MAILER_DIGEST_WINDOW_SECONDS = 60
    settings.MAILER_DIGEST_MAX_WAIT_SECONDS = 90
    first = digests.add(user=owner, upload=upload(owner), kind="upload_ready")
    assert first.send_after > first.opened_at
    Digest.objects.filter(id=first.id).update(opened_at=timezone.now() - timedelta(seconds=60))
    second = digests.add(user=owner, upload=upload(owner), kind="upload_failed")
    assert second.id == first.id and DigestItem.objects.filter(digest=first).count() == 2
    # Never past the longest wait after the first outcome.
    second.refresh_from_db()
    assert second.send_after <= second.opened_at + timedelta(seconds=90)


def test_the_same_outcome_twice_is_one_item(owner):
    one = upload(owner)
    digests.add(user=owner, upload=one, kind="upload_ready")
    digests.add(user=owner, upload=one, kind="upload_ready")
    assert DigestItem.objects.count() == 1


def test_a_digest_closes_once_and_never_before_its_time(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        digest = digests.add(user=owner, upload=upload(owner, "one.jpg"), kind="upload_ready")
    assert len(callbacks) == 1  # the close task, published on commit
    assert digests.close(digest_id=digest.id) > 0  # early: seconds left, nothing sent
    assert OutgoingEmail.objects.count() == 0

    later = digest.send_after + timedelta(seconds=1)
    assert digests.close(digest_id=digest.id, now=later) == 0
    assert digests.close(digest_id=digest.id, now=later) == 0  # a second closer: nothing
    email = OutgoingEmail.objects.get()
    assert email.kind == "upload_digest" and email.dedupe_key == f"upload_digest:{digest.id}"
    assert "one.jpg" in email.body_text and "one.jpg" in email.body_html
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.headers["List-Unsubscribe"].startswith("<http")

    # The next outcome opens a new digest.
    again = digests.add(user=owner, upload=upload(owner), kind="upload_ready")
    assert again.id != digest.id


def test_the_sweep_closes_digests_whose_task_was_lost(owner):
    digest = digests.add(user=owner, upload=upload(owner), kind="upload_ready")
    assert digests.close_due() == 0
    assert digests.close_due(now=digest.send_after + timedelta(seconds=1)) == 1
    assert Digest.objects.get().closed_at and OutgoingEmail.objects.count() == 1


def test_a_digest_sends_nothing_when_its_owner_opted_out_or_its_uploads_are_gone(owner):
    digest = digests.add(user=owner, upload=upload(owner), kind="upload_ready")
    EmailPreferences.objects.filter(user=owner).update(notifications="none")
    digests.close(digest_id=digest.id, now=digest.send_after)
    assert Digest.objects.get(id=digest.id).skipped_reason == "opted_out"

    EmailPreferences.objects.filter(user=owner).update(notifications="digest")
    gone = upload(owner)
    digest = digests.add(user=owner, upload=gone, kind="upload_ready")
    gone.delete()
    digests.close(digest_id=digest.id, now=digest.send_after)
    assert Digest.objects.get(id=digest.id).skipped_reason == "empty"
    assert OutgoingEmail.objects.count() == 0


def test_only_one_digest_is_open_per_owner(owner):
    from django.db import IntegrityError

    digests.add(user=owner, upload=upload(owner), kind="upload_ready")
    with pytest.raises(IntegrityError), transaction.atomic():
        Digest.objects.create(user=owner, send_after=timezone.now())
