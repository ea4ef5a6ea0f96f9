"""Increment counters and histograms held in the database (ops.models.Counter).

An increment is one upsert (`INSERT ... ON CONFLICT DO UPDATE SET value = value + n`), in
the caller's transaction: a counted change and its count commit or roll back together.
Histogram buckets are stored as plain per-bucket counts and made cumulative when read.
"""

import math
from collections.abc import Iterable, Mapping, Sequence

from django.db import connection

from ops.models import Counter

INF = math.inf


def label_key(labels: Mapping[str, object] | None) -> str:
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels or {}))


def parse_labels(key: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in key.split(",") if part)


def _upsert(rows: Iterable[tuple[str, str, float]]) -> None:
    # Sorted, so concurrent transactions lock the same rows in the same order (no deadlock).
    rows = sorted(rows)
    if not rows:
        return
    table = connection.ops.quote_name(Counter._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    # Only the quoted table name and placeholders are formatted in; values are parameters.
    sql = (
        f"INSERT INTO {table} (name, labels, value) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (name, labels) DO UPDATE SET value = {table}.value + excluded.value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [item for row in rows for item in row])


def increment(name: str, labels: Mapping[str, object] | None = None, amount: float = 1) -> None:
    _upsert([(name, label_key(labels), float(amount))])


def bucket_for(value: float, buckets: Sequence[float]) -> float:
    return next((bound for bound in buckets if value <= bound), INF)


def format_bound(bound: float) -> str:
    return "+Inf" if bound == INF else f"{bound:g}"


def observe(name: str, value: float, buckets: Sequence[float], labels=None) -> None:
    """Count one observation of a histogram: its bucket, the sum and the count."""
    base = dict(labels or {})
    le = format_bound(bucket_for(value, buckets))
    _upsert(
        [
            (f"{name}_bucket", label_key({**base, "le": le}), 1.0),
            (f"{name}_sum", label_key(base), float(value)),
            (f"{name}_count", label_key(base), 1.0),
        ]
    )


def read(prefix: str = "") -> dict[tuple[str, str], float]:
    """Every counter whose name starts with `prefix`: {(name, labels key): value}."""
    rows = Counter.objects.filter(name__startswith=prefix).values_list("name", "labels", "value")
    return {(name, labels): value for name, labels, value in rows}


def histogram(
    values: Mapping[tuple[str, str], float], name: str, buckets: Sequence[float]
) -> tuple[list[tuple[str, float]], float]:
    """Cumulative (le, count) pairs, ending at +Inf, and the sum, from read()'s values."""
    per_bound = {
        parse_labels(labels).get("le"): value
        for (counter, labels), value in values.items()
        if counter == f"{name}_bucket"
    }
    cumulative, running = [], 0.0
    for bound in [*buckets, INF]:
        running += per_bound.get(format_bound(bound), 0.0)
        cumulative.append((format_bound(bound), running))
    total = sum(value for (counter, _), value in values.items() if counter == f"{name}_sum")
    return cumulative, total
