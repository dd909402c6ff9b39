"""Running spans in one process, on the real store (SQLite and PostgreSQL): what is counted, replaced and kept.

A real TracerProvider with the exporter (synchronous, for deterministic tests) and a
:class:`~otel_lens.RunningSpanProcessor` whose check is called directly instead of waiting for its interval.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.util.types import AnyValue

from otel_lens import RunningSpanProcessor, open_store
from otel_lens.export import LensSpanExporter, encode_spans
from otel_lens.settings import Settings
from otel_lens.store.errors import StoreError
from otel_lens.testing import IncrementalIdGenerator

USAGE: dict[str, AnyValue] = {
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-test",
    "gen_ai.usage.input_tokens": 11,
    "gen_ai.usage.output_tokens": 5,
}


@pytest.fixture
def running(span_exporter: LensSpanExporter) -> Iterator[RunningSpanProcessor]:
    processor = RunningSpanProcessor(span_exporter, interval_s=3600)  # checked by hand, never by its thread
    yield processor
    processor.shutdown()


@pytest.fixture
def provider(span_exporter: LensSpanExporter, running: RunningSpanProcessor) -> Iterator[TracerProvider]:
    made = TracerProvider(
        resource=Resource.create({"service.name": "svc"}), id_generator=IncrementalIdGenerator(), shutdown_on_exit=False
    )
    made.add_span_processor(SimpleSpanProcessor(span_exporter))
    made.add_span_processor(running)
    yield made


def test_a_running_span_is_listed_as_root_but_counted_only_when_it_ends(
    provider: TracerProvider, running: RunningSpanProcessor, database_url: str
) -> None:
    """A running root names its trace (not the child that ended first); span_count, usage and stats count
    it once, when it ends; its running row is replaced (one span, ended)."""
    tracer = provider.get_tracer("t")
    root = tracer.start_span("agent", attributes=USAGE)
    tracer.start_span("tool", context=trace.set_span_in_context(root)).end()
    with open_store(database_url) as store:
        assert store.traces()[0].root_name == "tool"  # before the check: the child is the provisional root
        assert running.check(everything=True) == 1
        (summary,) = store.traces()
        assert (summary.root_name, summary.state, summary.span_count) == ("agent", "running", 1)
        assert [t.trace_id for t in store.traces(running=True)] == [summary.trace_id]
        states = {s.name: s.state for s in store.trace(summary.trace_id).spans}
        assert states == {"agent": "running", "tool": "ended"}
        assert store.usage() == []
        assert {row.key: row.count for row in store.stats()} == {"tool": 1}
        assert running.check(everything=True) == 0  # written once, not again at every check
        root.end()
        (summary,) = store.traces()
        assert (summary.root_name, summary.state, summary.span_count) == ("agent", "ended", 2)
        assert store.traces(running=True) == []
        spans = store.trace(summary.trace_id).spans
        assert sorted((s.name, s.state) for s in spans) == [("agent", "ended"), ("tool", "ended")]
        assert [(u.span_count, u.input_tokens, u.output_tokens) for u in store.usage()] == [(1, 11, 5)]
        assert {row.key: row.count for row in store.stats()} == {"agent": 1, "tool": 1}


def test_a_re_export_of_the_ended_span_changes_nothing(
    provider: TracerProvider, running: RunningSpanProcessor, span_exporter: LensSpanExporter, database_url: str
) -> None:
    """Exporting the finished span again (a retried batch) after it replaced its running row: still one row,
    counted once, no running row coming back."""
    tracer = provider.get_tracer("t")
    root = tracer.start_span("agent", attributes=USAGE)
    running.check(everything=True)
    root.end()
    ended: ReadableSpan = root._readable_span()  # type: ignore[attr-defined]
    span_exporter.export([ended])
    span_exporter.export([ended])
    with open_store(database_url) as store:
        (summary,) = store.traces()
        assert (summary.span_count, summary.state) == (1, "ended")
        assert [(s.name, s.state) for s in store.trace(summary.trace_id).spans] == [("agent", "ended")]
        assert [u.span_count for u in store.usage()] == [1]


def test_a_running_row_for_a_span_already_stored_ended_is_not_written(
    provider: TracerProvider, span_exporter: LensSpanExporter, database_url: str
) -> None:
    """The race of a span ending between the processor's look and its write: the running row written after
    the ended row is skipped, so an ended span never shows running again."""
    tracer = provider.get_tracer("t")
    span = tracer.start_span("quick")
    open_copy: ReadableSpan = span._readable_span()  # type: ignore[attr-defined]  # as the processor saw it
    span.end()
    store = span_exporter.write_store
    assert store is not None
    assert store.write_running(encode_spans([open_copy]), 10**9) == 0
    with open_store(database_url) as reader:
        (summary,) = reader.traces()
        assert (summary.state, summary.span_count) == ("ended", 1)
        assert [s.state for s in reader.trace(summary.trace_id).spans] == ["ended"]


def test_shutdown_leaves_open_spans_abandoned_and_later_ends_still_replace_them(
    provider: TracerProvider, running: RunningSpanProcessor, database_url: str
) -> None:
    """At shutdown every open span is stored and reads as abandoned at once; the processor stores nothing
    after it (spans started later are ignored)."""
    tracer = provider.get_tracer("t")
    tracer.start_span("left-open")
    running.shutdown()
    tracer.start_span("after-shutdown")
    with open_store(database_url) as store:
        (summary,) = store.traces()
        assert (summary.root_name, summary.state, summary.span_count) == ("left-open", "abandoned", 0)
        (span,) = store.trace(summary.trace_id).spans
        assert span.state == "abandoned" and span.as_dict()["end_time_unix_nano"] is None


def test_the_processor_refuses_a_shut_down_exporter(settings: Settings) -> None:
    """A clear error, not a processor writing nowhere."""
    exporter = LensSpanExporter(settings)
    exporter.shutdown()
    with pytest.raises(StoreError, match="not shut down"):
        RunningSpanProcessor(exporter)


def test_a_schema_5_store_reads_without_running_tables_and_migrates_to_6(tmp_path: Path) -> None:
    """Readers of a store no writer has migrated yet see only ended spans; the next writer adds the tables."""
    database = tmp_path / "old.db"
    exporter = LensSpanExporter(Settings.load(environ={}, database=str(database), sweep_interval=0))
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("old").end()
    provider.shutdown()
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("DROP TABLE lens_running")
        connection.execute("DROP TABLE lens_writers")
    connection.execute("PRAGMA user_version = 5")
    connection.close()
    with open_store(database) as store:
        assert [(t.root_name, t.state) for t in store.traces()] == [("old", "ended")]
        assert store.traces(running=True) == []
    LensSpanExporter(Settings.load(environ={}, database=str(database), sweep_interval=0)).shutdown()
    tables = {row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")}
    assert {"lens_running", "lens_writers"} <= tables


def test_retention_deletes_running_rows_with_their_trace_and_forgets_idle_writers(
    provider: TracerProvider, running: RunningSpanProcessor, span_exporter: LensSpanExporter, database_url: str
) -> None:
    """A pruned trace takes its running rows along (no orphan rows); a heartbeat row nothing refers to is
    forgotten, and the still-living writer makes a new one with its next running span. (The writer's beat is
    set back to make its run abandoned: retention keeps a run while a live writer runs it.)"""
    tracer = provider.get_tracer("t")
    tracer.start_span("old-run")
    running.check(everything=True)
    store = span_exporter.write_store
    assert store is not None

    def count(table: str) -> int:
        return int(store.db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    assert (count("lens_running"), count("lens_writers")) == (1, 1)
    store.db.execute_sql("UPDATE lens_writers SET beat_ns = 0")  # as if its process had died long ago
    summary = store.prune(max_age=1e-6)  # everything started more than a microsecond ago
    assert summary.traces_deleted == 1
    assert (count("lens_running"), count("lens_writers")) == (0, 0)
    tracer.start_span("new-run")
    running.check(everything=True)
    assert (count("lens_running"), count("lens_writers")) == (1, 1)
    with open_store(database_url) as reader:
        assert [(t.root_name, t.state) for t in reader.traces()] == [("new-run", "running")]


def test_otlp_export_leaves_spans_that_did_not_end_out(
    provider: TracerProvider, running: RunningSpanProcessor, database_url: str
) -> None:
    """OTLP has no open spans: ``iter_trace_spans`` (what ``export`` reads), by window or by trace id, gives
    the ended spans only, while ``trace()`` shows the running one too."""
    tracer = provider.get_tracer("t")
    root = tracer.start_span("agent")
    tracer.start_span("tool", context=trace.set_span_in_context(root)).end()
    running.check(everything=True)
    with open_store(database_url) as store:
        (summary,) = store.traces()
        assert sorted(s.name for s in store.trace(summary.trace_id).spans) == ["agent", "tool"]
        assert [[s.name for s in spans] for spans in store.iter_trace_spans()] == [["tool"]]
        assert [[s.name for s in spans] for spans in store.iter_trace_spans(trace_id=summary.trace_id)] == [["tool"]]


def test_a_span_started_after_one_ended_and_was_freed_is_still_written_as_running(
    provider: TracerProvider, running: RunningSpanProcessor, database_url: str
) -> None:
    """Spans are keyed by the id of their context; CPython gives a freed object's address to the next one, so
    the next span may get the ended span's key. It must be written as running all the same (it used to be
    taken for the ended span, "already written", for its whole life)."""
    tracer = provider.get_tracer("t")
    for i in range(20):  # with the old key bookkeeping a reused address showed up within a few rounds
        span = tracer.start_span(f"step-{i}")
        assert running.check(everything=True) == 1, f"step-{i} was not written as running"
        span.end()
        del span
        gc.collect()
    with open_store(database_url) as store:
        assert sorted(t.state for t in store.traces()) == ["ended"] * 20


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the failure is made with a SQLite trigger
def test_a_running_row_whose_replacement_rolled_back_does_not_run_on(
    provider: TracerProvider, running: RunningSpanProcessor, database_url: str
) -> None:
    """The transaction storing a finished span deletes its running row; when that transaction fails after the
    delete (here: a trigger aborting a later statement of it) the row is still there. The writer must not take
    it for gone (it then read "running", beaten by the process's heartbeat, while anything else ran): its next
    transaction (a heartbeat) deletes it, as its finished span was dropped with the failed batch."""
    tracer = provider.get_tracer("t")
    root = tracer.start_span("agent")
    tool = tracer.start_span("tool", context=trace.set_span_in_context(root))
    assert running.check(everything=True) == 2
    with sqlite3.connect(database_url) as connection:
        for table in ("lens_latency", "lens_latency_levels"):
            connection.execute(
                f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
    tool.end()  # its batch fails and is dropped (logged): the running row's delete is rolled back
    with sqlite3.connect(database_url) as connection:
        assert connection.execute("SELECT COUNT(*) FROM lens_running").fetchone()[0] == 2
        for table in ("lens_latency", "lens_latency_levels"):
            connection.execute(f"DROP TRIGGER fail_{table}")
    with open_store(database_url) as store:
        (summary,) = store.traces()
        running.check()  # the heartbeat's transaction, while "agent" still runs
        assert {s.name: s.state for s in store.trace(summary.trace_id).spans} == {"agent": "running"}
        root.end()
        (summary,) = store.traces()
        assert (summary.state, summary.span_count) == ("ended", 1)
        assert [(s.name, s.state) for s in store.trace(summary.trace_id).spans] == [("agent", "ended")]


@pytest.mark.parametrize("by", ["size", "age"])
def test_retention_keeps_a_trace_while_a_live_writer_runs_it(
    provider: TracerProvider, running: RunningSpanProcessor, span_exporter: LensSpanExporter, database_url: str, by: str
) -> None:
    """A long run's root started before everything else, so size pruning (oldest start first) used to delete it
    first, running rows and all, while it ran; age pruning deleted it once it ran longer than the age limit.
    Both keep it while its writer beats (and a size pass over budget with only running traces left ends),
    and prune it as any other trace once it is abandoned."""
    tracer = provider.get_tracer("t")
    root = tracer.start_span("agent")
    tracer.start_span("step", context=trace.set_span_in_context(root)).end()
    assert running.check(everything=True) == 1
    for i in range(30):
        tracer.start_span(f"done-{i}", attributes={"payload": "x" * 2000}).end()
    store = span_exporter.write_store
    assert store is not None

    def prune() -> int:
        assert store is not None
        summary = store.prune(max_size=1) if by == "size" else store.prune(max_age=1e-6)  # 1 byte: never met
        return summary.traces_deleted

    assert prune() == 30
    with open_store(database_url) as reader:
        (summary,) = reader.traces()
        assert (summary.root_name, summary.state) == ("agent", "running")
        assert sorted((s.name, s.state) for s in reader.trace(summary.trace_id).spans) == [
            ("agent", "running"),
            ("step", "ended"),
        ]
        running.shutdown()  # a clean exit: the run reads abandoned, and is pruned as any other trace
        assert reader.traces()[0].state == "abandoned"
        assert prune() == 1
        assert reader.traces() == []
