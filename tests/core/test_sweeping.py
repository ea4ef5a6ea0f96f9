"""The sweep's rules on real rows: what it publishes again, and what it leaves waiting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.sweeping import missing_messages, sweep
from media_pipeline.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast(settings):
    settings.UNPUBLISHED_GRACE_SECONDS = 10
    settings.REPUBLISH_AFTER_SECONDS = 600
    return settings


def rows(owner, n, *, status="queued", published_ago=None, claimed_ago=None, created_ago=0):
    now = timezone.now()
    made = []
    for i in range(n):
        upload = Upload.objects.create(
            owner=owner,
            status=status,
            original="originals/x.jpg",
            published_at=None
            if published_ago is None
            else now - timedelta(seconds=published_ago - i),
            claimed_at=None if claimed_ago is None else now - timedelta(seconds=claimed_ago),
        )
        Upload.objects.filter(id=upload.id).update(created_at=now - timedelta(seconds=created_ago))
        made.append(upload.id)
    return made


def run(held):
    published = []

    def publish(row_id):
        published.append(row_id)
        Upload.objects.filter(id=row_id).update(published_at=timezone.now())
        return True

    counts = sweep(
        Upload, queued="queued", working="processing", lease_seconds=300,
        publish=publish, messages_held=lambda: held,
    )  # fmt: skip
    return counts, published


def test_missing_messages():
    assert missing_messages(50, 50) == 0
    assert missing_messages(50, 60) == 0  # stale duplicates in the queue: nothing missing
    assert missing_messages(50, 47) == 3
    assert missing_messages(50, None) == 0


def test_a_long_queue_is_not_published_again(fast, user):
    rows(user, 40, published_ago=3600)  # waited an hour in a long queue
    assert run(held=40) == ({}, [])


def test_only_as_many_as_the_queue_lacks_are_published_again_oldest_first(fast, user):
    ids = rows(user, 40, published_ago=3600)
    counts, published = run(held=37)
    assert counts == {"lost": 3}
    assert published == ids[:3]


def test_a_purged_queue_is_refilled(fast, user):
    ids = rows(user, 40, published_ago=3600)
    counts, published = run(held=0)
    assert counts == {"lost": 40}
    assert sorted(published) == sorted(ids)
    # Next sweep: the queue holds them again, and nothing more goes out.
    assert run(held=40) == ({}, [])


def test_young_rows_are_not_taken_for_lost(fast, user):
    rows(user, 5, published_ago=60)
    assert run(held=0) == ({}, [])


def test_when_the_broker_cannot_say_nothing_is_published_on_a_guess(fast, user):
    rows(user, 5, published_ago=3600)
    unpublished = rows(user, 2, created_ago=60)
    abandoned = rows(user, 1, status="processing", claimed_ago=3600)
    counts, published = run(held=None)
    assert counts == {"unpublished": 2, "abandoned": 1}
    assert sorted(published) == sorted(unpublished + abandoned)


def test_unpublished_rows_wait_out_their_grace(fast, user):
    rows(user, 3, created_ago=2)
    assert run(held=0) == ({}, [])
