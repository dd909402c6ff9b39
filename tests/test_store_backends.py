"""The same store behaviour on every backend: each test runs on SQLite and on PostgreSQL (``database_url``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store import codec
from otel_lens.store.migrations import latest_version, read_version
from otel_lens.store.schema import Models, models_for
from otel_lens.store.shared import WriteStore
from otel_lens.testing import IncrementalIdGenerator

_HOUR_NS = 3600 * 10**9


def _models(store: WriteStore | None) -> Models:
    assert store is not None
    return models_for(store.db)


def _spans(build: Callable[[Tracer], None], service: str = "svc", first_trace: int = 1) -> list[ReadableSpan]:
    """Finished spans a real TracerProvider makes for ``build(tracer)``, not exported anywhere yet."""
    memory = InMemorySpanExporter()
    ids = IncrementalIdGenerator()
    ids._trace, ids._span = first_trace - 1, (first_trace - 1) * 1000
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), id_generator=ids, shutdown_on_exit=False
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests.backends", "1.0"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _logs(emit: Callable[[Any], None]) -> list[ReadableLogRecord]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "logsvc"}), shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    emit(provider.get_logger("tests.backends"))
    provider.shutdown()
    return list(memory.get_finished_logs())


@pytest.fixture
def log_exporter(settings: Settings) -> Iterator[LensLogExporter]:
    exporter = LensLogExporter(settings)
    yield exporter
    exporter.shutdown()


def _trace_tree(tracer: Tracer, start: int = 1_000) -> None:
    """root → (a → a1, b failing): four spans with explicit times."""
    with tracer.start_as_current_span("root", start_time=start, end_on_exit=False) as root:
        with tracer.start_as_current_span("a", start_time=start + 100, end_on_exit=False) as a:
            with tracer.start_as_current_span("a1", start_time=start + 200, end_on_exit=False) as a1:
                a1.end(end_time=start + 300)
            a.end(end_time=start + 400)
        with tracer.start_as_current_span("b", start_time=start + 500, end_on_exit=False) as b:
            b.set_status(Status(StatusCode.ERROR, "boom"))
            b.end(end_time=start + 900)
        root.end(end_time=start + 1_000)


def test_span_round_trip_keeps_every_field(tracer_provider: TracerProvider, span_exporter: LensSpanExporter) -> None:
    """Spans exported by a real provider come back with ids, parent, times, status, attributes and events."""
    tracer = tracer_provider.get_tracer("checkout", "2.1")
    with tracer.start_as_current_span("parent", start_time=1_000, end_on_exit=False) as parent:
        with tracer.start_as_current_span("child", start_time=2_000, end_on_exit=False) as child:
            child.set_attribute("http.route", "/items/{id}")
            child.set_attribute("big", 2**62)
            child.add_event("cache.miss", {"key": "k1"}, timestamp=2_500)
            child.set_status(Status(StatusCode.ERROR, "boom"))
            child.end(end_time=3_000)
        parent.end(end_time=5_000)
    m = _models(span_exporter.store)
    rows = {
        row["name"]: row
        for row in m.span.select(m.span, m.trace.trace_id).join(m.trace, on=(m.span.trace_row == m.trace.id)).dicts()
    }
    assert bytes(rows["child"]["parent_span_id"]) == bytes(rows["parent"]["span_id"]) == (1).to_bytes(8, "big")
    assert bytes(rows["child"]["trace_id"]) == (1).to_bytes(16, "big")
    assert (rows["child"]["start_ns"], rows["child"]["duration_ns"]) == (2_000, 1_000)
    assert (rows["child"]["status_code"], rows["child"]["status_message"]) == (2, "boom")
    assert codec.loads(rows["child"]["attributes"]) == {"http.route": "/items/{id}", "big": 2**62}
    assert codec.loads(rows["child"]["events"]) == [["cache.miss", 2_500, {"key": "k1"}]]
    scope = m.scope.get_by_id(rows["child"]["scope_id"])
    assert (scope.name, scope.version) == ("checkout", "2.1")
    assert m.resource.get_by_id(rows["child"]["resource_id"]).service == "test-service"


def test_log_round_trip_keeps_body_severity_and_context(log_exporter: LensLogExporter) -> None:
    """Log records come back with body, severity and attributes; exporting them again stores nothing new."""

    def emit(logger: Any) -> None:
        logger.emit(severity_number=SeverityNumber.WARN, severity_text="WARN", body={"disk": 91}, attributes={"a": 1})
        logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body="plain")

    records = _logs(emit)
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    assert log_exporter.export(records) is LogRecordExportResult.SUCCESS
    log = _models(log_exporter.store).log
    rows = list(log.select().order_by(log.severity_number).dicts())
    assert [codec.loads(row["body"]) for row in rows] == ["plain", {"disk": 91}]
    assert [row["severity_text"] for row in rows] == ["INFO", "WARN"]
    assert codec.loads(rows[1]["attributes"]) == {"a": 1}


@pytest.mark.parametrize("order", ["children first", "root first", "one by one backwards"])
def test_rollup_is_exact_for_out_of_order_and_duplicate_batches(span_exporter: LensSpanExporter, order: str) -> None:
    """The trace rollup ends the same however the batches arrive, and re-sent batches are counted once."""
    spans = _spans(_trace_tree)  # finish order: a1, a, b, root
    if order == "children first":
        batches = [spans[:2], spans[1:3], spans[3:], spans[:2]]
    elif order == "root first":
        batches = [spans[3:], spans[:3], spans]
    else:
        batches = [[span] for span in reversed(spans)] + [[spans[0], spans[0]]]
    for batch in batches:
        assert span_exporter.export(batch) is SpanExportResult.SUCCESS
    m = _models(span_exporter.store)
    assert m.span.select().count() == 4
    (trace,) = m.trace.select().dicts()
    assert (trace["root_name"], trace["service"], trace["root_rank"]) == ("root", "svc", 2)
    assert (trace["start_ns"], trace["end_ns"]) == (1_000, 2_000)
    assert (trace["span_count"], trace["error_count"]) == (4, 1)
    assert bytes(trace["root_span_id"]) == (1).to_bytes(8, "big")


def test_genai_usage_totals_count_each_span_once(span_exporter: LensSpanExporter) -> None:
    """Token totals per hour, service, provider and model add up every GenAI span exactly once."""
    now = (time.time_ns() // _HOUR_NS) * _HOUR_NS

    def build(tracer: Tracer) -> None:
        for index, (model, tokens) in enumerate([("m1", 10), ("m1", 5), ("m2", 7)]):
            with tracer.start_as_current_span(f"chat {model}", start_time=now + index, end_on_exit=False) as span:
                span.set_attribute("gen_ai.provider.name", "openai")
                span.set_attribute("gen_ai.request.model", model)
                span.set_attribute("gen_ai.usage.input_tokens", tokens)
                span.set_attribute("gen_ai.usage.output_tokens", 1)
                span.end(end_time=now + 100 + index)

    spans = _spans(build, service="llm")
    assert span_exporter.export(spans[:2]) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS  # overlaps the first batch
    usage = _models(span_exporter.store).usage
    totals = {row["model"]: row for row in usage.select().dicts()}
    assert {model: (r["span_count"], r["input_tokens"], r["output_tokens"]) for model, r in totals.items()} == {
        "m1": (2, 15, 2),
        "m2": (1, 7, 1),
    }
    assert {(r["bucket_ns"], r["service"], r["provider"]) for r in totals.values()} == {(now, "llm", "openai")}


def test_prune_by_age_deletes_old_traces_and_logs_whole(
    span_exporter: LensSpanExporter, log_exporter: LensLogExporter
) -> None:
    """A retention pass deletes data older than the age limit with its rollup, and keeps the rest."""
    now = time.time_ns()
    old, new = now - 48 * _HOUR_NS, now - 60 * 10**9
    assert span_exporter.export(_spans(lambda t: _trace_tree(t, old))) is SpanExportResult.SUCCESS
    recent = _spans(lambda t: _trace_tree(t, new), first_trace=2)

    def emit(logger: Any) -> None:
        logger.emit(timestamp=old, body="old", severity_number=SeverityNumber.INFO)
        logger.emit(timestamp=new, body="new", severity_number=SeverityNumber.INFO)

    assert span_exporter.export(recent) is SpanExportResult.SUCCESS
    assert log_exporter.export(_logs(emit)) is LogRecordExportResult.SUCCESS
    store = span_exporter.store
    assert store is not None
    summary = store.prune(max_age=24 * 3600, max_size=0)
    assert (summary.traces_deleted, summary.spans_deleted, summary.logs_deleted) == (1, 4, 1)
    m = _models(store)
    assert [t["start_ns"] for t in m.trace.select().dicts()] == [new]
    kept = m.span.select(m.trace.trace_id).join(m.trace, on=(m.span.trace_row == m.trace.id)).tuples()
    assert {bytes(trace_id) for (trace_id,) in kept} == {(2).to_bytes(16, "big")}
    assert [codec.loads(row["body"]) for row in m.log.select().dicts()] == ["new"]


def _store_400_heavy_traces(span_exporter: LensSpanExporter) -> WriteStore:
    """400 one-span traces of ~2 KB each, an hour old, oldest first (span ``s<n>`` starts n ms after the first)."""
    now = time.time_ns() - 3600 * 10**9
    filler = "x" * 2000

    def build(tracer: Tracer) -> None:
        for index in range(400):
            with tracer.start_as_current_span(f"s{index}", start_time=now + index * 10**6, end_on_exit=False) as span:
                span.set_attribute("payload", f"{index}{filler}")
                span.end(end_time=now + index * 10**6 + 1)

    spans = _spans(build)
    for start in range(0, len(spans), 100):
        assert span_exporter.export(spans[start : start + 100]) is SpanExportResult.SUCCESS
    store = span_exporter.store
    assert store is not None
    return store


def test_prune_by_size_deletes_the_oldest_first(span_exporter: LensSpanExporter) -> None:
    """Over the size budget, the oldest traces go first until the store fits, and the newest stay."""
    store = _store_400_heavy_traces(span_exporter)
    full = store.size()
    summary = store.prune(max_age=0, max_size=full * 3 // 4)
    m = _models(store)
    kept = sorted(int(row["name"][1:]) for row in m.span.select().dicts())
    assert 0 < len(kept) < 400
    assert summary.spans_deleted == summary.traces_deleted == 400 - len(kept)
    assert kept == list(range(400 - len(kept), 400))  # the newest ones, contiguous
    assert m.trace.select().count() == len(kept)  # no span without its rollup, no rollup without spans


def test_size_prune_deletes_about_what_the_budget_needs(span_exporter: LensSpanExporter) -> None:
    """A budget of half the store keeps roughly half the traces: the sweep does not overshoot to empty."""
    store = _store_400_heavy_traces(span_exporter)
    # On PostgreSQL the rollups (the hourly latency rows, one per span name here, and their 6-hour and day
    # sums once the hour is sealed: about half of this small store) and the other tables are kept while
    # their hour has spans: no trace deleted reclaims them, so the budget is half of the spans, traces, logs.
    fixed = 0
    if isinstance(_models(store).span._meta.database, pw.PostgresqlDatabase):
        fixed = store.size() - int(_models(store).span._meta.database.execute_sql(
            "SELECT pg_total_relation_size('lens_spans') + pg_total_relation_size('lens_traces') "
            "+ pg_total_relation_size('lens_logs')"
        ).fetchone()[0])  # fmt: skip
    summary = store.prune(max_age=0, max_size=(store.size() - fixed) // 2 + fixed)
    kept = _models(store).span.select().count()
    assert 80 <= kept <= 230, f"kept {kept} of 400 traces for a budget of half the store ({summary})"


def test_nul_characters_never_fail_a_batch(span_exporter: LensSpanExporter, log_exporter: LensLogExporter) -> None:
    """NUL in span names, status messages, attributes, resources and log text is stored (RELIABILITY 14)."""

    def build(tracer: Tracer) -> None:
        with tracer.start_as_current_span("na\x00me", attributes={"k\x00": "v\x00"}) as span:
            span.set_status(Status(StatusCode.ERROR, "bad\x00status"))

    spans = _spans(build, service="svc\x00nul")
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS

    def emit(logger: Any) -> None:
        logger.emit(body="log\x00body", severity_text="WA\x00RN", attributes={"a": "\x00"})

    assert log_exporter.export(_logs(emit)) is LogRecordExportResult.SUCCESS
    store = span_exporter.store
    assert store is not None
    nul = "\ufffd" if store.location.kind == "postgresql" else "\x00"  # PostgreSQL text cannot hold U+0000
    m = _models(store)
    (span,) = m.span.select().dicts()
    assert (span["name"], span["status_message"]) == (f"na{nul}me", f"bad{nul}status")
    assert codec.loads(span["attributes"]) == {"k\x00": "v\x00"}  # JSON escapes NUL: kept exactly
    assert m.resource.get_by_id(span["resource_id"]).service == f"svc{nul}nul"
    assert m.trace.get().root_name == f"na{nul}me"
    (log,) = m.log.select().dicts()
    assert (codec.loads(log["body"]), log["severity_text"]) == ("log\x00body", f"WA{nul}RN")


def test_reopening_a_store_does_not_migrate_again(settings: Settings) -> None:
    """A second exporter on an existing store finds it at the latest schema version and migrates nothing."""
    first = LensSpanExporter(settings)
    store = first.store
    assert store is not None
    m = _models(store)
    before = m.meta.get(m.meta.key == f"migrated_to_{latest_version()}").value
    first.shutdown()
    second = LensSpanExporter(settings)
    try:
        assert second.store is not None
        assert read_version(second.store.db) == latest_version()
        m = _models(second.store)
        assert m.meta.get(m.meta.key == f"migrated_to_{latest_version()}").value == before
    finally:
        second.shutdown()


def test_bodies_are_stored_once_and_swept_with_their_spans(span_exporter: LensSpanExporter) -> None:
    """A body seen by several spans is one lens_bodies row; retention removes it once its spans are gone."""
    old = time.time_ns() - 30 * 24 * 3600 * 10**9
    new = time.time_ns() - 60 * 10**9
    shared_body = "q" * 5000  # compressed: above the 1 KiB threshold

    def build(tracer: Tracer) -> None:
        for index, start in enumerate((old, old + 1, new)):
            body = shared_body if index < 2 else "fresh body"
            with tracer.start_as_current_span(
                f"req{index}", start_time=start, end_on_exit=False, attributes={"lens.body.request": body}
            ) as span:
                span.end(end_time=start + 1000)

    assert span_exporter.export(_spans(build)) is SpanExportResult.SUCCESS
    store = span_exporter.store
    assert store is not None
    m = _models(store)
    bodies = {row["size"]: row for row in m.body.select().dicts()}
    assert sorted(bodies) == [len("fresh body"), 5000]
    assert bodies[5000]["encoding"] == "zlib" and len(bytes(bodies[5000]["content"])) < 5000
    stored = {row["name"]: codec.loads(row["attributes"]) for row in m.span.select().dicts()}
    assert stored["req0"]["lens.body.request"] == stored["req1"]["lens.body.request"]
    assert stored["req0"]["lens.body.request"].startswith("sha256:")
    store.prune(max_age=7 * 24 * 3600, max_size=0)
    assert [row["size"] for row in m.body.select().dicts()] == [len("fresh body")]


def test_earliest_root_wins_whichever_batch_brings_it(span_exporter: LensSpanExporter) -> None:
    """Two local roots of one trace (remote parents) exported latest first: the earliest names the trace."""
    from opentelemetry import trace as trace_api
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    remote = SpanContext(0x5151, 0x99, is_remote=True, trace_flags=TraceFlags(1))

    def build(tracer: Tracer) -> None:
        parent = trace_api.set_span_in_context(NonRecordingSpan(remote))
        for name, start in (("first-request", 1_000), ("retry-request", 5_000)):
            with tracer.start_as_current_span(name, context=parent, start_time=start, end_on_exit=False) as span:
                span.end(end_time=start + 100)

    first, retry = _spans(build)
    assert span_exporter.export([retry]) is SpanExportResult.SUCCESS
    assert span_exporter.export([first]) is SpanExportResult.SUCCESS
    store = span_exporter.store
    assert store is not None
    (rollup,) = _models(store).trace.select().dicts()
    assert (rollup["root_name"], rollup["root_rank"], rollup["span_count"]) == ("first-request", 1, 2)
    assert (rollup["start_ns"], rollup["end_ns"]) == (1_000, 5_100)


_DIALECT_CHECKS = re.compile(
    r"\bis_postgres\b|\bPostgresqlDatabase\b|\bSqliteDatabase\b|\bself\._postgres\b|\bself\._path is None"
    r"|[\"'](?:sqlite|postgresql)[\"']|^\s*(?:import|from)\s+(?:sqlite3|psycopg|fcntl)\b",
    re.MULTILINE,
)
_BACKEND_MODULES = (
    "otel_lens/store/_backends/",
    "otel_lens/store/_postgres.py",
    # `otel-lens sql`'s runners: read-only SQL is made safe by each dialect's own means (an authorizer,
    # a read-only transaction); query/_sql.py picks one by the backend's kind.
    "otel_lens/query/_sql_sqlite.py",
    "otel_lens/query/_sql_printf.py",  # the SQLite runner's bounded printf(), on a side sqlite3 connection
    "otel_lens/query/_sql_postgres.py",
    # otel_lens.testing's PostgreSQL server for tests: it is about that one dialect by purpose.
    "otel_lens/testing/_postgres.py",
)


def test_no_dialect_checks_outside_the_backend_modules() -> None:
    """Issue 9 item 3's done-when: only the backend modules know which dialect they talk to.

    Everything else asks its backend object, so a new backend is a new module in store/_backends/.
    Matched: the five ways the dialect used to be asked (is_postgres, isinstance of a Peewee
    database class, self._postgres, a Location kind compared with a name, a missing SQLite path)
    and imports of a driver or of the file lock.
    """
    root = Path(__file__).resolve().parent.parent
    found = []
    for path in sorted((root / "otel_lens").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(_BACKEND_MODULES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if _DIALECT_CHECKS.search(code):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


def test_the_dialect_check_finds_what_it_forbids() -> None:
    """The check above is not vacuous: each form the dialect was asked in before matches it."""
    for line in (
        "if is_postgres(db):",
        "self._postgres = isinstance(db, pw.PostgresqlDatabase)",
        'if self.location.kind == "postgresql":',
        "if self._path is None:",
        "import sqlite3",
        "from psycopg import errors",
        "import fcntl",
    ):
        assert _DIALECT_CHECKS.search(line), line
