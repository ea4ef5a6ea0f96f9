"""Counters in the database: upserts that add up across threads, processes and hosts."""

import threading

import pytest
from django.db import connection, transaction

from ops import counters
from ops.models import Counter

pytestmark = pytest.mark.django_db(transaction=True)


def test_increment_creates_then_adds_and_keeps_label_sets_apart():
    counters.increment("jobs", {"status": "ready"})
    counters.increment("jobs", {"status": "ready"}, 2)
    counters.increment("jobs", {"status": "failed"})
    counters.increment("jobs")
    values = counters.read("jobs")
    assert values == {("jobs", "status=ready"): 3, ("jobs", "status=failed"): 1, ("jobs", ""): 1}


def test_labels_are_canonical_whatever_their_order():
    counters.increment("sends", {"outcome": "sent", "reason": ""})
    counters.increment("sends", {"reason": "", "outcome": "sent"})
    assert Counter.objects.get(name="sends").value == 2


def test_increment_rolls_back_with_the_change_it_counts():
    with pytest.raises(RuntimeError), transaction.atomic():
        counters.increment("jobs")
        raise RuntimeError("the counted change failed")
    assert counters.read("jobs") == {}


def test_histogram_is_cumulative_with_sum_and_count():
    buckets = (1, 5, 10)
    for seconds in (0.5, 0.9, 3, 7, 42):
        counters.observe("took", seconds, buckets)
    cumulative, total = counters.histogram(counters.read("took"), "took", buckets)
    assert cumulative == [("1", 2), ("5", 3), ("10", 4), ("+Inf", 5)]
    assert total == pytest.approx(53.4)
    assert counters.read("took_count") == {("took_count", ""): 5}


def test_concurrent_increments_from_many_connections_all_count():
    """Each thread has its own database connection, as each worker process would."""
    threads, per_thread = 6, 40

    def work():
        try:
            for _ in range(per_thread):
                with transaction.atomic():
                    counters.increment("hits", {"queue": "media"})
                    counters.observe("took", 0.3, (1,))
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert counters.read("hits") == {("hits", "queue=media"): threads * per_thread}
    assert counters.read("took_count")[("took_count", "")] == threads * per_thread
