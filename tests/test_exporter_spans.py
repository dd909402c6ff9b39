"""LensSpanExporter: what a real TracerProvider's spans look like once stored, and exact trace rollups."""

from __future__ import annotations

import math

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from otel_lens.export.spans import LensSpanExporter
from otel_lens.testing import IncrementalIdGenerator
from tests._store_helpers import count, models, spans_by_name, traces


def _recorded_spans(build: object) -> list[ReadableSpan]:
    """Finished spans made by a real provider running ``build(tracer)``, not yet exported anywhere."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "svc"}), id_generator=IncrementalIdGenerator(), shutdown_on_exit=False
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests", "1.0"))  # type: ignore[operator]
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_span_fields_are_stored(tracer_provider: TracerProvider, span_exporter: LensSpanExporter) -> None:
    """Name, kind, ids, parent, times, status, attributes, events, links, resource and scope all land."""
    tracer = tracer_provider.get_tracer("checkout", "2.1")
    link = Link(SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1)), {"why": "batch"})
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER, start_time=1_000, end_on_exit=False) as parent:
        with tracer.start_as_current_span("child", links=[link], start_time=2_000, end_on_exit=False) as child:
            child.set_attribute("http.route", "/items/{id}")
            child.add_event("cache.miss", {"key": "k1"}, timestamp=2_500)
            child.set_status(Status(StatusCode.ERROR, "boom"))
            child.end(end_time=3_000)
        parent.end(end_time=5_000)

    stored = spans_by_name(span_exporter.store)
    parent_row, child_row = stored["parent"], stored["child"]
    assert bytes(parent_row["trace_id"]) == (1).to_bytes(16, "big")
    assert bytes(parent_row["span_id"]) == (1).to_bytes(8, "big")
    assert parent_row["parent_span_id"] is None
    assert bytes(child_row["parent_span_id"]) == (1).to_bytes(8, "big")
    assert parent_row["kind"] == SpanKind.SERVER.value
    assert child_row["kind"] == SpanKind.INTERNAL.value
    assert (child_row["start_ns"], child_row["duration_ns"]) == (2_000, 1_000)
    assert (child_row["status_code"], child_row["status_message"]) == (2, "boom")
    assert child_row["attributes"] == {"http.route": "/items/{id}"}
    assert child_row["events"] == [["cache.miss", 2_500, {"key": "k1"}]]
    # The fourth item is the link's OTLP flags (schema 3): sampled | has-is-remote | is-remote.
    assert child_row["links"] == [[f"{0xABC:032x}", f"{0xDEF:016x}", {"why": "batch"}, 0x301]]
    assert child_row["extras"] is None  # no tracestate, nothing dropped
    m = models(span_exporter.store)
    resource = m.resource.get_by_id(child_row["resource_id"])
    assert resource.service == "test-service"
    scope = m.scope.get_by_id(child_row["scope_id"])
    assert (scope.name, scope.version) == ("checkout", "2.1")
    assert count(span_exporter.store, "resource") == 1  # deduplicated across spans


def test_every_attribute_type_round_trips(tracer_provider: TracerProvider, span_exporter: LensSpanExporter) -> None:
    """str, bool, int, float, sequences of each, NaN/inf and odd text come back as they went in."""
    tracer = tracer_provider.get_tracer("t")
    attributes = {
        "s": "text",
        "b": True,
        "i": -7,
        "f": 2.25,
        "ss": ["a", "b"],
        "bs": [True, False],
        "is": [1, 2, 3],
        "fs": [0.5, 1.5],
        "inf": math.inf,
        "nul": "a\x00b",
        "snow": "☃",
    }
    with tracer.start_as_current_span("typed", attributes=attributes):
        pass
    stored = spans_by_name(span_exporter.store)["typed"]["attributes"]
    assert stored == {**attributes, "ss": ["a", "b"], "bs": [True, False], "is": [1, 2, 3], "fs": [0.5, 1.5]}


def test_odd_values_are_stored_without_crashing(span_exporter: LensSpanExporter) -> None:
    """Lone surrogates in names and attributes, bytes and huge ints still store (scenario 14)."""

    def build(tracer: trace.Tracer) -> None:
        with tracer.start_as_current_span("name\ud800", attributes={"bad": "x\udfff", "nan": math.nan}) as span:
            span.set_status(Status(StatusCode.ERROR, "msg\ud800"))

    spans = _recorded_spans(build)
    spans[0]._attributes._dict["bytes"] = b"\x00\xfe"  # type: ignore[union-attr]  # the SDK drops bytes; exporters must not
    spans[0]._attributes._dict["huge"] = 2**90  # type: ignore[union-attr]
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS
    stored = spans_by_name(span_exporter.store)
    (row,) = stored.values()
    assert row["name"] == "name\ufffd"
    assert row["status_message"] == "msg\ufffd"
    assert row["attributes"]["bad"] == "x\ufffd"
    assert math.isnan(row["attributes"]["nan"])
    assert row["attributes"]["bytes"] == b"\x00\xfe"
    assert row["attributes"]["huge"] == 2**90


def test_oversized_values_are_truncated_with_marker(span_exporter: LensSpanExporter) -> None:
    """A 5 MB attribute, a 10k list and 1000 attributes make a bounded row with visible markers (scenario 13)."""

    def build(tracer: trace.Tracer) -> None:
        with tracer.start_as_current_span("big") as span:
            span.set_attribute("five_mb", "x" * 5_000_000)
            span.set_attribute("ten_k", list(range(10_000)))
            span.add_event("e", {f"k{i}": "v" * 2000 for i in range(1000)})

    spans = _recorded_spans(build)
    for i in range(1000):
        spans[0]._attributes._dict[f"a{i}"] = "y" * 2000  # type: ignore[union-attr]  # past the SDK's 128 limit
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS
    m = models(span_exporter.store)
    raw = m.span.select(m.span.attributes, m.span.events).dicts().get()
    assert len(raw["attributes"].encode()) <= 512 * 1024
    assert len(raw["events"].encode()) <= 512 * 1024
    assert "truncated" in raw["attributes"]
    attributes = spans_by_name(span_exporter.store)["big"]["attributes"]
    assert attributes["five_mb"].endswith("chars truncated]")
    assert attributes["ten_k"][-1].endswith("items truncated]")


def test_export_twice_is_stored_once(span_exporter: LensSpanExporter) -> None:
    """Re-exporting a batch (or an overlapping one) adds no span and no rollup count."""

    def build(tracer: trace.Tracer) -> None:
        with tracer.start_as_current_span("root"):
            for _ in range(3):
                with tracer.start_as_current_span("child"):
                    pass

    spans = _recorded_spans(build)
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans[1:] + spans[:1]) is SpanExportResult.SUCCESS
    assert count(span_exporter.store, "span") == 4
    (rollup,) = traces(span_exporter.store).values()
    assert (rollup["span_count"], rollup["error_count"], rollup["root_name"]) == (4, 0, "root")


def test_large_overlapping_batches_are_stored_and_counted_once(span_exporter: LensSpanExporter) -> None:
    """Batches larger than one multi-row INSERT (SQLite inserts spans 64 rows a statement, the rest row by
    row), re-exported overlapping and with spans repeated inside one statement, store each span once and
    count it once in the trace and latency rollups."""

    def build(tracer: trace.Tracer) -> None:
        for index in range(30):
            with tracer.start_as_current_span(f"root {index}"):
                for _ in range(4):
                    with tracer.start_as_current_span("child"):
                        pass

    spans = _recorded_spans(build)  # 150 spans: two whole chunks of 64 and a remainder
    assert span_exporter.export(spans[:64]) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS  # its first statement all stored, the rest new
    # Old and new mixed: a first statement holding 32 spans twice, then spans already stored, then new ones.
    again = spans[:32] + spans[:32] + spans[90:] + spans[:90]
    assert span_exporter.export(again) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans[::-1]) is SpanExportResult.SUCCESS  # every span stored already
    assert count(span_exporter.store, "span") == 150
    rollups = traces(span_exporter.store)
    assert len(rollups) == 30
    assert {row["span_count"] for row in rollups.values()} == {5}
    assert sorted(row["root_name"] for row in rollups.values()) == sorted(f"root {i}" for i in range(30))
    latency = models(span_exporter.store).latency
    assert sum(row.span_count for row in latency.select()) == 150


def test_rollup_is_exact_when_children_arrive_before_the_root(span_exporter: LensSpanExporter) -> None:
    """Batches in any order, split anywhere, with overlaps, give the same rollup as one batch."""

    def build(tracer: trace.Tracer) -> None:
        with tracer.start_as_current_span("GET /", start_time=100, end_on_exit=False) as root:
            for i in range(6):
                with tracer.start_as_current_span(f"step{i}", start_time=200 + i, end_on_exit=False) as step:
                    if i % 2:
                        step.set_status(Status(StatusCode.ERROR))
                    step.end(end_time=300 + i)
            root.end(end_time=1_000)

    spans = _recorded_spans(build)  # children end (and are listed) before their root
    root = spans[-1]
    assert root.name == "GET /"
    for batch in (spans[:2], spans[4:6], spans[1:4], [root], spans[5:]):
        assert span_exporter.export(batch) is SpanExportResult.SUCCESS
    (rollup,) = traces(span_exporter.store).values()
    assert rollup["root_name"] == "GET /"
    assert rollup["root_rank"] == 2
    assert bytes(rollup["root_span_id"]) == root.context.span_id.to_bytes(8, "big")
    assert rollup["service"] == "svc"
    assert (rollup["start_ns"], rollup["end_ns"]) == (100, 1_000)
    assert (rollup["span_count"], rollup["error_count"]) == (7, 3)


def test_remote_parent_counts_as_local_root(span_exporter: LensSpanExporter) -> None:
    """A server span continuing a remote trace names the trace until a true root arrives."""
    remote = SpanContext(0x77, 0x99, is_remote=True, trace_flags=TraceFlags(1))

    def build(tracer: trace.Tracer) -> None:
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        with tracer.start_as_current_span("inner", context=ctx, start_time=10):
            pass
        with (
            tracer.start_as_current_span("server", context=ctx, start_time=20, kind=SpanKind.SERVER),
            tracer.start_as_current_span("child", start_time=30),
        ):
            pass

    spans = _recorded_spans(build)
    by_name = {s.name: s for s in spans}
    assert span_exporter.export([by_name["child"]]) is SpanExportResult.SUCCESS
    assert traces(span_exporter.store)[(0x77).to_bytes(16, "big")]["root_name"] == "child"
    assert span_exporter.export([by_name["inner"], by_name["server"]]) is SpanExportResult.SUCCESS
    rollup = traces(span_exporter.store)[(0x77).to_bytes(16, "big")]
    assert rollup["root_rank"] == 1
    assert rollup["root_name"] in ("inner", "server")
    assert rollup["span_count"] == 3
    stored = spans_by_name(span_exporter.store)
    assert stored["server"]["flags"] & 0x300 == 0x300  # has-is-remote and is-remote


def test_genai_usage_totals_are_kept_at_export(span_exporter: LensSpanExporter) -> None:
    """Token counts from GenAI semconv attributes are summed per hour/service/provider/model, once per span."""

    def build(tracer: trace.Tracer) -> None:
        for model, tokens in (("gpt-x", 10), ("gpt-x", 5), ("claude-y", 7)):
            attributes = {
                "gen_ai.provider.name": "acme",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tokens,
                "gen_ai.usage.output_tokens": tokens * 2,
                "gen_ai.usage.cache_read.input_tokens": 1,
            }
            with tracer.start_as_current_span(f"chat {model}", attributes=attributes, start_time=3_600 * 10**9 + 5):
                pass
        with tracer.start_as_current_span(
            "legacy", attributes={"gen_ai.system": "old", "gen_ai.usage.prompt_tokens": 3}
        ):
            pass

    spans = _recorded_spans(build)
    assert span_exporter.export(spans[:2]) is SpanExportResult.SUCCESS
    assert span_exporter.export(spans) is SpanExportResult.SUCCESS  # overlaps: counted once
    m = models(span_exporter.store)
    rows = {(r["provider"], r["model"]): r for r in m.usage.select().dicts()}
    gpt = rows[("acme", "gpt-x")]
    assert (gpt["span_count"], gpt["input_tokens"], gpt["output_tokens"], gpt["cache_read_tokens"]) == (2, 15, 30, 2)
    assert gpt["bucket_ns"] == 3_600 * 10**9
    assert gpt["service"] == "svc"
    assert rows[("acme", "claude-y")]["input_tokens"] == 7
    assert rows[("old", "")]["input_tokens"] == 3


def test_export_of_nothing_succeeds(span_exporter: LensSpanExporter) -> None:
    assert span_exporter.export([]) is SpanExportResult.SUCCESS
