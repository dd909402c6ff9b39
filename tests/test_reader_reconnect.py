"""Long-running readers (a ``Store``, the viewer) survive the server dropping their PostgreSQL connection."""

from __future__ import annotations

import logging

import psycopg
import pytest

from otel_lens.query import open_store
from tests._web import build_demo, serve

pytestmark = pytest.mark.postgres


def _terminate_lens_sessions(url: str) -> int:
    """Kill every otel-lens session on the test database from another connection, as a failover would."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'otel-lens' AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_store_read_after_the_connection_was_killed_reconnects(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A read on a ``Store`` whose shared connection the server killed reopens it and answers, read-only still."""
    build_demo(postgres_url)
    store = open_store(postgres_url)
    try:
        before = store.traces(limit=100)
        assert before
        assert _terminate_lens_sessions(postgres_url) == 1
        with caplog.at_level(logging.INFO, logger="otel_lens"):
            after = store.traces(limit=100)
        assert [t.trace_id for t in after] == [t.trace_id for t in before]
        assert any("reconnected to database" in r.getMessage() for r in caplog.records)
        assert store.traces(limit=100)  # and the reconnected session keeps working
        with pytest.raises(Exception, match="read-only"):  # the new session refuses writes like the first
            store._reader.run(lambda models: models.span._meta.database.execute_sql("DELETE FROM lens_spans"))
    finally:
        store.close()


def test_viewer_answers_after_its_connection_was_killed(postgres_url: str) -> None:
    """``otel-lens serve`` on PostgreSQL: after ``pg_terminate_backend`` of its session ``/api/traces`` is 200 again."""
    build_demo(postgres_url)
    with serve(postgres_url) as running, running.client() as client:
        first = client.get("/api/traces")
        assert first.status_code == 200, first.text
        assert _terminate_lens_sessions(postgres_url) >= 1
        again = client.get("/api/traces")
        assert again.status_code == 200, again.text
        assert again.json()["traces"] == first.json()["traces"]
