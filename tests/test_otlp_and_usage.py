"""OTLP/JSON export round-trips through the official protobuf parser; GenAI usage totals are exact across batches."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.export.spans import LensSpanExporter
from otel_lens.query import PriceTable
from otel_lens.settings import Settings
from otel_lens.testing import IncrementalIdGenerator
from tests._read_helpers import T0, build_sample

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(value: object) -> object:
    """OTLP/JSON writes ids as hex where generic proto3 JSON expects base64; OTLP receivers convert just these."""
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in _ID_FIELDS and isinstance(v, str)
            else _hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids_to_base64(v) for v in value]
    return value


def test_otlp_json_export_round_trips_through_the_protobuf_parser(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """export --format otlp-json: one ExportTraceServiceRequest per line that json_format parses strictly,
    with ids, times, kinds, statuses, attributes, events and resources equal to what was stored."""
    sample = build_sample(settings)
    with open_store(settings.database) as store:
        stored = {s.span_id: s for trace in store.traces() for s in store.trace(trace.trace_id).spans}
    assert main(["export", "--format", "otlp-json", "--database", settings.database]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    seen = {}
    for line in lines:
        request = json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(line))), ExportTraceServiceRequest())
        for resource_spans in request.resource_spans:
            resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                assert (scope_spans.scope.name, scope_spans.scope.version) == ("tests.read", "1.0")
                for span in scope_spans.spans:
                    seen[span.span_id.hex()] = (span, resource)
    assert set(seen) == set(stored)
    for span_id, (span, resource) in seen.items():
        want = stored[span_id]
        assert span.trace_id.hex() == want.trace_id
        assert (span.parent_span_id.hex() or None) == want.parent_span_id
        assert (span.name, span.start_time_unix_nano, span.end_time_unix_nano) == (
            want.name,
            want.start_ns,
            want.end_ns,
        )
        assert span.kind == {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3}[want.kind]
        assert (span.status.code, span.status.message) == (
            {"UNSET": 0, "ERROR": 2}[want.status_code],
            want.status_message or "",
        )
        assert resource["service.name"] == want.service
        attributes = json_format.MessageToDict(span)["attributes"] if want.attributes else []
        decoded = {a["key"]: next(iter(a["value"].values())) for a in attributes}
        assert {k: str(v) for k, v in decoded.items()} == {k: str(v) for k, v in want.attributes.items()}
        assert [(e.name, e.time_unix_nano) for e in span.events] == [(e.name, e.time_ns) for e in want.events]
    chat = seen[stored_by_trace(stored, sample.chat_trace)][0]
    tokens = {kv.key: kv.value for kv in chat.attributes}
    assert tokens["gen_ai.usage.input_tokens"].int_value == 1200


def stored_by_trace(stored: dict, trace_id: str) -> str:  # type: ignore[type-arg]
    return next(span_id for span_id, span in stored.items() if span.trace_id == trace_id)


def test_export_of_one_trace_and_odd_values(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """export --trace writes just that trace; bytes, NaN, huge ints and nested values still parse."""
    provider = TracerProvider(resource=Resource.create({"service.name": "odd"}), id_generator=IncrementalIdGenerator(),
                              shutdown_on_exit=False)  # fmt: skip
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(settings)))
    span = provider.get_tracer("odd").start_span(
        "odd", start_time=T0,
        attributes={"bytes": b"\x00\xff", "nan": float("nan"), "list": [1, 2], "bools": [True, False], "text": "ok"},
    )  # fmt: skip
    span.end(end_time=T0 + 10)
    provider.shutdown()
    assert main(["export", "--format", "otlp-json", "--trace", "0" * 31 + "1", "--database", settings.database]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    request = json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(line))), ExportTraceServiceRequest())
    attributes = {kv.key: kv.value for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert attributes["bytes"].bytes_value == b"\x00\xff"
    assert attributes["nan"].double_value != attributes["nan"].double_value
    assert [v.int_value for v in attributes["list"].array_value.values] == [1, 2]


GENAI_SPANS = [
    # (provider key, provider, request model, response model, input, output, cache read, cache creation)
    ("gen_ai.provider.name", "openai", "gpt-4o", "gpt-4o-2024-08-06", 100, 20, 50, 0),
    ("gen_ai.provider.name", "openai", "gpt-4o", "gpt-4o-2024-08-06", 300, 40, 0, 0),
    ("gen_ai.system", "anthropic", "claude-sonnet-4", None, 1000, 200, 600, 100),
    ("gen_ai.system", "anthropic", "claude-sonnet-4", None, 10, 5, 0, 0),
    ("gen_ai.provider.name", "openai", "gpt-4o-mini", None, 7, 3, 0, 0),
]


def _genai_spans() -> list:  # type: ignore[type-arg]
    memory = InMemorySpanExporter()
    providers = {}
    for index, (key, provider, request_model, response_model, inp, out, cache_read, cache_creation) in enumerate(
        GENAI_SPANS
    ):
        service = "agent" if index % 2 == 0 else "batch"
        if service not in providers:
            providers[service] = TracerProvider(
                resource=Resource.create({"service.name": service}), shutdown_on_exit=False
            )
            providers[service].add_span_processor(SimpleSpanProcessor(memory))
        attributes = {key: provider, "gen_ai.request.model": request_model, "gen_ai.usage.input_tokens": inp,
                      "gen_ai.usage.output_tokens": out}  # fmt: skip
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        if cache_read:
            attributes["gen_ai.usage.cache_read.input_tokens"] = cache_read
        if cache_creation:
            attributes["gen_ai.usage.cache_creation.input_tokens"] = cache_creation
        span = providers[service].get_tracer("genai").start_span(f"chat {request_model}", start_time=T0 + index,
                                                                 attributes=attributes)  # fmt: skip
        span.end(end_time=T0 + index + 1000)
    for provider in providers.values():
        provider.shutdown()
    return list(memory.get_finished_spans())


def test_usage_is_exact_across_batches_and_re_exports(settings: Settings, tmp_path: Path) -> None:
    """Spans with GenAI semconv attributes, exported in several batches and partly twice, give exact totals
    per model (response model preferred), provider (gen_ai.provider.name or gen_ai.system) and service."""
    spans = _genai_spans()
    exporter = LensSpanExporter(settings)
    try:
        for batch in (spans[:2], spans[2:3], spans[3:], spans[1:4], spans):  # the last two are re-exports
            assert exporter.export(batch).name == "SUCCESS"
    finally:
        exporter.shutdown()
    with open_store(settings.database) as store:
        by_model = {row.key: row for row in store.usage(since=None, by="model")}
        assert set(by_model) == {"gpt-4o-2024-08-06", "claude-sonnet-4", "gpt-4o-mini"}
        gpt = by_model["gpt-4o-2024-08-06"]
        assert (gpt.span_count, gpt.input_tokens, gpt.output_tokens, gpt.cache_read_tokens) == (2, 400, 60, 50)
        claude = by_model["claude-sonnet-4"]
        assert (claude.input_tokens, claude.cache_read_tokens, claude.cache_creation_tokens) == (1010, 600, 100)
        by_provider = {row.key: (row.span_count, row.total_tokens) for row in store.usage(since=None, by="provider")}
        assert by_provider == {"openai": (3, 470), "anthropic": (2, 1215)}
        by_service = {row.key: row.input_tokens for row in store.usage(since=None, by="service")}
        assert by_service == {"agent": 100 + 1000 + 7, "batch": 300 + 10}
        prices = PriceTable({"gpt-4o": {"input": 2.0, "output": 8.0}, "anthropic/claude-sonnet-4": {"input": 3,
                             "output": 15, "cache_read": 0.3, "cache_creation": 3.75}})  # fmt: skip
        costed = {row.key: row for row in store.usage(since=None, by="model", prices=prices, bundled_prices=False)}
        gpt = costed["gpt-4o-2024-08-06"]
        assert gpt.cost == pytest.approx((400 * 2 + 60 * 8) / 1e6)  # a dated version of gpt-4o
        assert (gpt.price_key, gpt.price_match) == ("gpt-4o", "prefix")
        mini = costed["gpt-4o-mini"]  # another model, not a version of gpt-4o
        assert (mini.cost, mini.price_key, mini.price_match) == (None, None, None)
        claude = costed["claude-sonnet-4"]
        assert claude.cost == pytest.approx((310 * 3 + 600 * 0.3 + 100 * 3.75 + 205 * 15) / 1e6)
        assert (claude.price_key, claude.price_match) == ("anthropic/claude-sonnet-4", "exact")
        assert store.usage(since="1h") == []


def test_price_table_errors_name_the_problem(tmp_path: Path) -> None:
    """A price table that is not JSON, or has a bad price, is refused with a message naming the file and model."""
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PriceTable.load(bad)
    bad.write_text(json.dumps({"m": {"input": -1, "output": 1}}))
    with pytest.raises(ValueError, match="'m'"):
        PriceTable.load(bad)
    with pytest.raises(ValueError, match="cannot read"):
        PriceTable.load(tmp_path / "missing.json")
