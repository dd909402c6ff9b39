"""GenAI tokens over time: the hourly usage rows per bucket and model, provider or service (the usage chart)."""

from __future__ import annotations

import dataclasses
from typing import Any

import peewee as pw

from otel_lens.query.results import rfc3339
from otel_lens.store.schema import Models

MAX_POINTS = 5000  # (hour, group) points a series returns at most: 7 days of 30 models


@dataclasses.dataclass(frozen=True)
class UsagePoint:
    """Tokens of one group in one hour (``bucket_ns`` is the hour's start)."""

    by: str
    key: str
    bucket_ns: int
    span_count: int
    input_tokens: int
    output_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            self.by: self.key,
            "time": rfc3339(self.bucket_ns),
            "span_count": self.span_count,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }


def usage_series(models: Models, by: str, cutoff: int | None) -> list[UsagePoint]:
    """Per hour and ``by`` group, oldest hour first; one grouped scan of the hourly table (flat in span count)."""
    usage: Any = models.usage
    group = getattr(usage, by)
    query = (
        usage.select(
            usage.bucket_ns,
            group,
            pw.fn.SUM(usage.span_count),
            pw.fn.SUM(usage.input_tokens),
            pw.fn.SUM(usage.output_tokens),
        )
        .group_by(usage.bucket_ns, group)
        .order_by(usage.bucket_ns, group)
        .limit(MAX_POINTS)
    )
    if cutoff is not None:
        query = query.where(usage.bucket_ns >= cutoff - cutoff % (3600 * 10**9))
    return [
        UsagePoint(by, str(key), int(bucket), int(spans or 0), int(inputs or 0), int(outputs or 0))
        for bucket, key, spans, inputs, outputs in query.tuples()
    ]
