"""Counters kept in the database, so every process on every host adds to the same figure."""

from django.db import models


class Counter(models.Model):
    """One monotonic counter (or one histogram bucket), summed across processes and hosts.

    Worker processes come and go (prefork children are replaced, dynos restart), so a
    counter held in process memory would be lost or need a scrape per process. Here each
    increment is an upsert in the transaction of the change it counts.
    """

    name = models.CharField(max_length=64)
    # Canonical label set, "key=value,key=value" sorted by key ("" for none).
    labels = models.CharField(max_length=255, blank=True)
    value = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="one_counter_per_label_set")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} = {self.value:g}"
