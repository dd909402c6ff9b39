"""Hostile OTLP input gives rows or a counted rejection with a reason, never an exception from deep inside.

A receiver answers ``partial_success`` from :class:`~otel_lens.export.OtlpBatch`; these pin what it can
rely on: bad ids reject just that span or record, values that can be stored are stored (in range), and
bytes that are not an OTLP request raise one :class:`~otel_lens.export.OtlpPayloadError` with a one-line
message. Every batch is then written to a real SQLite store, which must accept it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_lens.export import (
    OtlpPayloadError,
    encode_logs_request,
    encode_trace_request,
    parse_logs_request,
    parse_trace_request,
)
from otel_lens.settings import Settings
from otel_lens.store import codec
from otel_lens.store.schema import models_for
from otel_lens.store.shared import SharedStore, acquire, release

TRACE = bytes(range(1, 17))
T0 = 1_704_067_200 * 10**9
U64_MAX = 2**64 - 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SharedStore]:
    shared = acquire(Settings.load(environ={}, database=str(tmp_path / "otlp.db"), sweep_interval=0))
    yield shared
    release(shared)


def _request(*spans: Span) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.scope.name = "hostile"
    scope_spans.spans.extend(spans)
    return request


def _span(span_id: int, **fields: object) -> Span:
    values: dict[str, object] = {"trace_id": TRACE, "span_id": span_id.to_bytes(8, "big"), "name": f"s{span_id}"}
    values.update(fields)
    values.setdefault("start_time_unix_nano", T0)
    values.setdefault("end_time_unix_nano", T0 + 10)
    return Span(**values)  # type: ignore[arg-type]


def _stored_spans(store: SharedStore) -> dict[str, dict[str, object]]:
    models = models_for(store.db)
    return {row["name"]: row for row in models.span.select().dicts()}


def test_spans_with_bad_ids_are_rejected_with_reasons_and_the_rest_stored(store: SharedStore) -> None:
    """A trace id not 16 bytes or all zero, a span id not 8 bytes, a parent id of another length: each rejects its
    span alone, counted, and the error line says why; the valid span of the same request is stored."""
    request = _request(
        _span(1, trace_id=TRACE[:15]),
        _span(2, trace_id=bytes(16)),
        Span(trace_id=TRACE, span_id=b"\x01" * 9, name="long id"),
        _span(4, parent_span_id=b"\x01\x02\x03"),
        _span(5),
    )
    result = encode_trace_request(request)
    assert result.rejected == 4
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith("4 spans rejected: ")
    for reason in ("trace id (15 bytes)", "trace id (16 bytes, all zero)", "span id (9 bytes)", "parent span id (3"):
        assert reason in result.error
    assert store.write_spans(result.batch) == 1
    assert set(_stored_spans(store)) == {"s5"}


def test_storable_oddities_are_stored_in_range(store: SharedStore) -> None:
    """An empty name, times past 2**63 or reversed, an unknown kind and status code, a link to an invalid id (dropped
    and counted), an all-zero parent (a root): stored, in the store's range, none fails the batch."""
    bad_link = Span.Link(trace_id=TRACE[:8], span_id=b"\x01" * 8)
    good_link = Span.Link(trace_id=TRACE, span_id=b"\x02" * 8, flags=0x301, trace_state="k=v")
    request = _request(
        _span(1, name=""),
        _span(2, start_time_unix_nano=U64_MAX, end_time_unix_nano=U64_MAX),
        _span(3, start_time_unix_nano=T0 + 50, end_time_unix_nano=T0),  # ends before it starts
        _span(4, kind=9, parent_span_id=bytes(8), links=[bad_link, good_link]),
        _span(5, events=[Span.Event(name="late", time_unix_nano=U64_MAX)]),
    )
    request.resource_spans[0].scope_spans[0].spans[3].status.code = 7  # type: ignore[assignment]
    result = encode_trace_request(request)
    assert (result.rejected, result.error) == (0, None)
    assert store.write_spans(result.batch) == 5
    spans = _stored_spans(store)
    assert "" in spans
    assert (spans["s2"]["start_ns"], spans["s2"]["duration_ns"]) == (2**63 - 1, 0)
    assert (spans["s3"]["start_ns"], spans["s3"]["duration_ns"]) == (T0 + 50, 0)
    odd = spans["s4"]
    assert (odd["kind"], odd["status_code"], odd["parent_span_id"]) == (0, 0, None)
    assert codec.loads(odd["links"]) == [[TRACE.hex(), (b"\x02" * 8).hex(), None, 0x301, "k=v", None]]
    assert codec.loads(odd["extras"]) == [None, 0, 0, 1]  # the invalid link, counted as dropped
    assert codec.loads(spans["s5"]["events"]) == [["late", U64_MAX, None]]


def test_every_any_value_kind_and_deep_nesting(store: SharedStore) -> None:
    """AnyValue strings, bools, ints, doubles, bytes (any bytes, not UTF-8), arrays, kvlists and unset values become
    their Python values; nesting far past the store's limits is cut, never a RecursionError."""
    deep = AnyValue(string_value="bottom")
    for _ in range(25):  # 75 message levels: protobuf refuses more than 100
        deep = AnyValue(kvlist_value={"values": [KeyValue(key="k", value=deep)]})
    attributes = [
        KeyValue(key="s", value=AnyValue(string_value="ü")),
        KeyValue(key="b", value=AnyValue(bool_value=True)),
        KeyValue(key="i", value=AnyValue(int_value=-(2**63))),
        KeyValue(key="d", value=AnyValue(double_value=float("inf"))),
        KeyValue(key="raw", value=AnyValue(bytes_value=b"\xff\xfe\x00")),
        KeyValue(key="arr", value=AnyValue(array_value={"values": [AnyValue(int_value=1), AnyValue()]})),
        KeyValue(key="map", value=AnyValue(kvlist_value={"values": [KeyValue(key="x", value=AnyValue(int_value=2))]})),
        KeyValue(key="unset", value=AnyValue()),
        KeyValue(key="deep", value=deep),
    ]
    result = encode_trace_request(_request(_span(1, attributes=attributes)))
    assert store.write_spans(result.batch) == 1
    stored = codec.loads(_stored_spans(store)["s1"]["attributes"])
    assert {k: stored[k] for k in ("s", "b", "i", "raw", "arr", "map", "unset")} == {
        "s": "ü",
        "b": True,
        "i": -(2**63),
        "raw": b"\xff\xfe\x00",
        "arr": [1, None],
        "map": {"x": 2},
        "unset": None,
    }
    assert stored["d"] == float("inf")
    level = stored["deep"]
    for _ in range(codec.MAX_DEPTH - 1):
        level = level["k"]
    assert "nesting truncated" in str(level)


def test_log_records_with_bad_ids_are_rejected_and_odd_ones_stored(store: SharedStore) -> None:
    """Log ids of the wrong length reject the record; all-zero ids mean none; times past 2**63 are clamped; an
    unknown severity number is kept; a bytes body that is not UTF-8 is stored as bytes."""
    odd = LogRecord(time_unix_nano=U64_MAX, trace_id=bytes(16), span_id=bytes(8), event_name="odd")
    odd.body.bytes_value = b"\xc3\x28"  # not UTF-8: fine in bytes
    odd.severity_number = 99  # type: ignore[assignment]  # not a SeverityNumber: kept as sent
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.extend(
        [
            LogRecord(time_unix_nano=T0, trace_id=TRACE[:4], body=AnyValue(string_value="short trace id")),
            LogRecord(time_unix_nano=T0, span_id=b"\x01" * 7, body=AnyValue(string_value="short span id")),
            odd,
            LogRecord(body=AnyValue(string_value="no times at all")),
        ]
    )
    result = encode_logs_request(request)
    assert result.rejected == 2
    assert (
        result.error
        == "2 log records rejected: 1 with an invalid trace id (4 bytes); 1 with an invalid span id (7 bytes)"
    )
    assert store.write_logs(result.batch) == 2
    rows = {row["event_name"]: row for row in models_for(store.db).log.select().dicts()}
    odd = rows["odd"]
    assert (odd["timestamp_ns"], odd["trace_id"], odd["span_id"], odd["severity_number"]) == (2**63 - 1, None, None, 99)
    assert codec.loads(odd["body"]) == b"\xc3\x28"
    assert rows[None]["timestamp_ns"] == rows[None]["observed_ns"] == 0


def _bad_utf8_traces() -> bytes:
    return _request(_span(1, name="@@")).SerializeToString().replace(b"@@", b"\xff\xfe")


def _bad_utf8_logs() -> bytes:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.append(LogRecord(severity_text="@@"))
    return request.SerializeToString().replace(b"@@", b"\xff\xfe")


@pytest.mark.parametrize(
    ("signal", "data", "reason"),
    [
        ("traces", _bad_utf8_traces(), "UTF-8"),
        ("logs", _bad_utf8_logs(), "UTF-8"),
        ("traces", _bad_utf8_traces()[:-3], ""),  # cut short
        ("logs", b"\x0a\xff\xff\xff\xff\x0f", ""),  # a length past the end
        ("traces", b"not protobuf at all, just text", ""),
    ],
    ids=["traces-invalid-utf8", "logs-invalid-utf8", "traces-truncated", "logs-bad-length", "traces-text"],
)
def test_bytes_that_are_not_a_request_raise_one_clear_error(signal: str, data: bytes, reason: str) -> None:
    """Payloads that do not parse (a string field that is not UTF-8, a truncated message, plain text) raise
    OtlpPayloadError with a one-line message naming the signal and the cause; nothing else escapes."""
    parse = parse_trace_request if signal == "traces" else parse_logs_request
    with pytest.raises(OtlpPayloadError) as caught:
        parse(data)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"not an OTLP {signal} request ({len(data)} bytes of protobuf): ")
    assert reason in message


def test_a_valid_payload_parses_and_stores(store: SharedStore) -> None:
    """The happy path of the parse helpers: bytes of a real request become the same spans."""
    data = _request(_span(1), _span(2, parent_span_id=(1).to_bytes(8, "big"))).SerializeToString()
    result = encode_trace_request(parse_trace_request(data))
    assert store.write_spans(result.batch) == 2
    assert _stored_spans(store)["s2"]["parent_span_id"] == (1).to_bytes(8, "big")
