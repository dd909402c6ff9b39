"""A long-running reader never stops writers, and the WAL it made grow is cut back once it stops."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult

from otel_lens import LensSpanExporter, Settings
from otel_lens.store.database import JOURNAL_SIZE_LIMIT
from tests._reliability import SpanFactory, file_size, integrity, rollup_mismatches


def test_long_reader_does_not_block_writers_and_wal_shrinks_after(sqlite_settings: Settings, db_path: Path) -> None:
    """Scenario 9: while another connection holds a read transaction, exports keep succeeding (the WAL grows
    past journal_size_limit since nothing can be checkpointed behind the reader); once the reader ends and more
    writes happen, the -wal file is back to at most journal_size_limit."""
    exporter = LensSpanExporter(sqlite_settings)
    factory = SpanFactory()
    wal = Path(f"{db_path}-wal")
    try:
        assert exporter.export(factory.traces(10, 5, label="before")) is SpanExportResult.SUCCESS
        reader = sqlite3.connect(db_path)
        reader.execute("BEGIN")
        seen = reader.execute("SELECT count(*) FROM lens_spans").fetchone()[0]  # the snapshot is now pinned
        batches = 0
        while file_size(wal) <= JOURNAL_SIZE_LIMIT * 1.25:
            spans = factory.traces(20, 5, label=f"held{batches}", payload=2048)
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            batches += 1
            assert batches < 400, "the WAL never grew: the reader's snapshot was not pinned"
        assert reader.execute("SELECT count(*) FROM lens_spans").fetchone()[0] == seen  # still its snapshot
        reader.rollback()
        reader.close()

        for number in range(10):
            assert exporter.export(factory.traces(5, 5, label=f"after{number}")) is SpanExportResult.SUCCESS
        assert file_size(wal) <= JOURNAL_SIZE_LIMIT
    finally:
        exporter.shutdown()
    assert integrity(db_path) == "ok"
    assert rollup_mismatches(db_path) == []
