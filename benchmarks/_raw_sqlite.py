"""The raw-sqlite3 baseline the facade benchmarks compare the store with: SDK spans as one row each.

What a hand-written exporter storing into SQLite would do, with nothing otel-lens adds (no trace
summary, no latency histogram, no redaction, no resource or scope rows): the ids, times, status,
attributes and events as one row, in one transaction per batch, with a unique id index and a time index
as any queryable store needs (``indexed=False`` leaves them out). Same journal mode, synchronous level
and page-cache budget as the store, so both hold the same SQLite memory and cache hits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_lens.store.database import _PRAGMAS


class RawSqliteSpans(SpanExporter):
    """Stores each span as one row of ``spans`` in ``path``."""

    def __init__(self, path: str, indexed: bool = True) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=normal")
        self.db.execute(f"pragma cache_size={dict(_PRAGMAS)['cache_size']}")
        self.db.execute(
            "create table if not exists spans (trace_id blob, span_id blob, parent_span_id blob, name text, "
            "kind int, start_ns int, end_ns int, status_code int, status_message text, attributes text, events text)"
        )
        if indexed:
            self.db.execute("create unique index if not exists spans_ids on spans (trace_id, span_id)")
            self.db.execute("create index if not exists spans_start on spans (start_ns)")

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        rows = []
        for s in spans:
            c, p = s.context, s.parent
            rows.append(
                (
                    c.trace_id.to_bytes(16, "big"),
                    c.span_id.to_bytes(8, "big"),
                    p.span_id.to_bytes(8, "big") if p else None,
                    s.name,
                    s.kind.value,
                    s.start_time,
                    s.end_time,
                    s.status.status_code.value,
                    s.status.description,
                    orjson.dumps(dict(s.attributes)).decode(),
                    orjson.dumps([[e.name, e.timestamp, dict(e.attributes or {})] for e in s.events]).decode()
                    if s.events
                    else None,
                )
            )
        self.db.execute("begin")
        self.db.executemany("insert into spans values (?,?,?,?,?,?,?,?,?,?,?)", rows)
        self.db.execute("commit")
        return SpanExportResult.SUCCESS

    def count(self) -> int:
        return int(self.db.execute("select count(*) from spans").fetchone()[0])
