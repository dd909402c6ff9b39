"""Stores of many spans for the stats tests, written through the real store writer in big batches.

Going through SDK providers costs a transaction per span; the distributions tests need thousands of
spans, so they hand ``EncodedBatch`` rows (the exporter's output format) to the shared store instead.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_lens.export.encode import encode_resource, encode_scope
from otel_lens.settings import Settings
from otel_lens.store.rows import EncodedBatch
from otel_lens.store.shared import acquire, release

HOUR_NS = 3600 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z, an hour boundary

Span = tuple[str, str, int, int, int, bool]
"""(service, name, kind, start_ns, duration_ns, failed)."""


def span_rows(spans: Iterable[Span], services: list[str], salt: bytes = b"") -> list[list[Any]]:
    """Encoded span rows, one trace per span (ids derived from the span itself, so exporting it again
    repeats them)."""
    rows = []
    for span in spans:
        service, name, kind, start, duration, failed = span
        digest = hashlib.blake2b(repr(span).encode() + salt, digest_size=24).digest()
        rows.append(
            [digest[:16], digest[16:], None, name, kind, 0x101, start, duration,
             2 if failed else 0, "boom" if failed else None, None, None, None, None,
             services.index(service), 0]
        )  # fmt: skip
    return rows


def write(settings: Settings, spans: list[Span], batch: int = 2000, salt: bytes = b"") -> int:
    """Store ``spans`` in batches of ``batch``; returns how many were new."""
    services = sorted({span[0] for span in spans})
    resources = [encode_resource(Resource.create({"service.name": s})) for s in services]
    scopes = [encode_scope(InstrumentationScope("tests.stats", "1.0"))]
    rows = span_rows(spans, services, salt)
    store = acquire(settings)
    try:
        new = 0
        for start in range(0, len(rows), batch):
            # The writer swaps resource indexes for row ids in place: hand it copies, so a rerun repeats them.
            chunk = [list(row) for row in rows[start : start + batch]]
            new += store.write_spans(EncodedBatch(chunk, resources, scopes), timeout=120)
        return new
    finally:
        release(store)


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]
