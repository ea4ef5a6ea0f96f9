"""GET /metrics in the Prometheus text format, built at scrape time.

Everything comes from Postgres (states, ages, counters pushed by the workers) plus a
passive declare per queue at the broker: one scrape of any web process sees the whole
deployment, whatever the number of worker processes and hosts.
"""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from ops import broker, counters, selectors

PREFIX = "media_service"


def _gauge(name: str, documentation: str, labels=(), samples=()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))
    for label_values, value in samples:
        family.add_metric(list(label_values), value)
    return family


def _counter_family(values, name: str, documentation: str, labels: tuple[str, ...]):
    family = CounterMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))
    for (counter, key), value in sorted(values.items()):
        if counter == name:
            found = counters.parse_labels(key)
            family.add_metric([found.get(label, "") for label in labels], value)
    return family


def _histogram_family(values, name: str, documentation: str, buckets) -> HistogramMetricFamily:
    cumulative, total = counters.histogram(values, name, buckets)
    family = HistogramMetricFamily(f"{PREFIX}_{name}", documentation)
    family.add_metric([], buckets=cumulative, sum_value=total)
    return family


class ServiceCollector:
    """A prometheus_client collector reading the service's state at each scrape."""

    def __init__(self, with_broker: bool = True):
        self.with_broker = with_broker

    def collect(self):
        snap = selectors.snapshot()
        yield _gauge(
            "uploads", "Uploads in each state.", ["status"],
            [((status,), n) for status, n in snap.uploads.items()],
        )  # fmt: skip
        yield _gauge(
            "emails", "Outgoing emails in each state.", ["status"],
            [((status,), n) for status, n in snap.emails.items()],
        )  # fmt: skip
        yield _gauge(
            "queue_oldest_age_seconds",
            "Seconds the oldest queued row of each queue has waited (from the database).",
            ["queue"],
            [((queue,), age) for queue, age in snap.oldest_queued_age.items()],
        )
        yield _gauge(
            "uploads_failed_last_hour", "Uploads that ended failed in the last hour.",
            samples=[((), snap.uploads_failed_last_hour)],
        )  # fmt: skip
        yield _gauge(
            "uploads_ready_last_15_minutes", "Uploads that ended ready in the last 15 minutes.",
            samples=[((), snap.uploads_ready_last_15m)],
        )  # fmt: skip
        yield _gauge(
            "emails_sent_last_15_minutes", "Emails sent in the last 15 minutes.",
            samples=[((), snap.emails_sent_last_15m)],
        )  # fmt: skip
        yield _gauge(
            "emails_failed_last_hour", "Emails that ended failed in the last hour.",
            samples=[((), snap.emails_failed_last_hour)],
        )  # fmt: skip
        if self.with_broker:
            yield from self._broker_families()

        values = counters.read()
        yield _histogram_family(
            values, "upload_processing_seconds",
            "Seconds from a worker's claim to the upload's outcome.",
            selectors.PROCESSING_BUCKETS,
        )  # fmt: skip
        yield _histogram_family(
            values, "upload_ready_latency_seconds",
            "Seconds from the upload's 202 (or its retry) to ready.",
            selectors.LATENCY_BUCKETS,
        )  # fmt: skip
        yield _counter_family(
            values, "uploads_finished", "Uploads that ended, by outcome.", ("status",)
        )
        yield _counter_family(
            values, "uploads_retried", "Failed uploads put back in the queue, by whom.", ("by",)
        )
        yield _counter_family(
            values, "email_sends",
            "Attempts at handing an email to the mail server, by outcome and kind of failure.",
            ("outcome", "reason"),
        )  # fmt: skip
        yield _counter_family(
            values, "sweep_republished",
            "Messages published again by the sweep, by kind of row and why (unpublished, "
            "abandoned by a dead worker, lost by the broker).",
            ("kind", "reason"),
        )  # fmt: skip
        yield _counter_family(
            values, "notifications_skipped",
            "Upload notifications not queued, by kind and why (unverified address, opted "
            "out, suppressed, no address).",
            ("kind", "reason"),
        )  # fmt: skip

    def _broker_families(self):
        stats = broker.queue_stats()
        yield _gauge(
            "broker_up", "1 if the broker answered this scrape's queue questions.",
            samples=[((), 0 if stats is None else 1)],
        )  # fmt: skip
        if stats is None:
            return
        yield _gauge(
            "queue_messages", "Messages waiting in each queue (from the broker).", ["queue"],
            [((kind,), s["messages"]) for kind, s in stats.items()],
        )  # fmt: skip
        consumers = [
            ((kind,), s["consumers"]) for kind, s in stats.items() if s["consumers"] is not None
        ]
        if consumers:
            yield _gauge(
                "queue_consumers", "Consumers of each queue (RabbitMQ only).", ["queue"], consumers
            )


def render(*, with_broker: bool = True) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(with_broker=with_broker))
    return generate_latest(registry)
