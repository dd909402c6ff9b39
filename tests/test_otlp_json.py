"""OTLP/JSON requests store exactly the rows their protobuf form stores (``otel_lens.export.parse_json_*_request``).

The JSON comes from real encoders no one here wrote: the official OTLP/JSON encoder
(``opentelemetry-exporter-otlp-json-common``, what the JSON file and HTTP exporters send) and protobuf's own
``json_format`` in both field spellings (lowerCamelCase, and the proto's snake_case). The reference is the
protobuf adapter fed the official protobuf encoder's request for the very same SDK objects, so any field the
JSON path reads differently (ids, times, flags, dropped counts, scope attributes, schema URLs, bodies) shows.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.exporter.otlp.json.common._log_encoder import encode_logs as json_encode_logs
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_encode_spans
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as proto_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as proto_encode_spans

from otel_lens._redact import Redactor
from otel_lens.cli import main
from otel_lens.export import (
    OtlpBatch,
    encode_logs_request,
    encode_trace_request,
    parse_json_logs_request,
    parse_json_trace_request,
)
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release
from tests._otlp_records import ROOT_TRACE, sdk_logs, sdk_spans

_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _ids_to_hex(value: Any) -> Any:
    """protobuf's generic JSON mapping writes bytes as base64; OTLP/JSON writes ids as hex (and only ids)."""
    if isinstance(value, dict):
        return {k: base64.b64decode(v).hex() if k in _ID_KEYS else _ids_to_hex(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ids_to_hex(v) for v in value]
    return value


def _numbers_for_strings(value: Any) -> Any:
    """The same JSON with every decimal string (int64s) as a JSON number, which OTLP/JSON readers must accept."""
    if isinstance(value, dict):
        return {k: _numbers_for_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_for_strings(v) for v in value]
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) > 3 else value


def _protobuf_json(message: Message, snake_case: bool) -> bytes:
    as_dict = json_format.MessageToDict(message, preserving_proto_field_name=snake_case)
    return orjson.dumps(_ids_to_hex(as_dict))


def _same_rows(got: OtlpBatch, want: OtlpBatch) -> None:
    assert (got.rejected, got.error, got.invalid) == (0, None, False)
    assert got.batch == want.batch


@pytest.mark.parametrize("encoding", ["official json encoder", "json_format camelCase", "json_format snake_case",
                                      "int64s as numbers"])  # fmt: skip
def test_spans_store_the_rows_their_protobuf_form_stores(encoding: str) -> None:
    """Every span field (ids, parent, tracestate, flags, kinds, times, status, attributes of every type, events,
    links with flags/tracestate, dropped counts, resources and scopes with schema URLs and scope attributes)
    read from OTLP/JSON gives the rows the protobuf adapter gives for the same spans."""
    spans = sdk_spans()
    request = proto_encode_spans(spans)
    want = encode_trace_request(request)
    body = {
        "official json encoder": lambda: orjson.dumps(json_encode_spans(spans).to_dict()),
        "json_format camelCase": lambda: _protobuf_json(request, snake_case=False),
        "json_format snake_case": lambda: _protobuf_json(request, snake_case=True),
        "int64s as numbers": lambda: orjson.dumps(_numbers_for_strings(orjson.loads(_protobuf_json(request, False)))),
    }[encoding]()
    if encoding == "json_format snake_case":
        assert b'"start_time_unix_nano"' in body and b'"startTimeUnixNano"' not in body
    if encoding == "int64s as numbers":
        assert b'"startTimeUnixNano":17' in body
    _same_rows(parse_json_trace_request(body), want)
    # The cases are really in there (the comparison is not over empty rows).
    assert len(want.batch.rows) == len(spans) == 7 and len(want.batch.resources) == 2 and len(want.batch.scopes) == 3
    root = next(row for row in want.batch.rows if row[3] == "GET /orders/{id}")
    assert root[13] is not None and "vendor=v1" in root[13]  # tracestate and dropped counts in the extras column


@pytest.mark.parametrize("encoding", ["official json encoder", "json_format camelCase", "json_format snake_case"])
def test_logs_store_the_rows_their_protobuf_form_stores(encoding: str) -> None:
    """Log records (bodies of every shape incl. bytes and maps, severities, trace context, flags, event names,
    dropped counts, scope attributes and schema URLs) read from OTLP/JSON give the protobuf adapter's rows."""
    records = sdk_logs()
    request = proto_encode_logs(records)
    want = encode_logs_request(request)
    if encoding == "official json encoder":
        body = orjson.dumps(json_encode_logs(records).to_dict())
    else:
        body = _protobuf_json(request, snake_case=encoding.endswith("snake_case"))
    _same_rows(parse_json_logs_request(body), want)
    assert len(want.batch.rows) == len(records) == 6


def _request(*spans: dict[str, Any], **group: Any) -> bytes:
    scope_group = {"scope": {"name": "hand"}, "spans": list(spans), **group}
    return orjson.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [scope_group]}]})


def _span(span_id: str = "00000000000000b2", **fields: Any) -> dict[str, Any]:
    return {"traceId": f"{ROOT_TRACE:032x}", "spanId": span_id, "name": "s", "startTimeUnixNano": "1",
            "endTimeUnixNano": "2", **fields}  # fmt: skip


def test_ids_of_the_wrong_form_reject_their_span_with_a_reason() -> None:
    """Ids that are not hex of the right length (base64 ids from a generic protobuf JSON writer, too short,
    not hex, all zero) reject their span alone, counted, each reason on the one error line; upper-case hex
    and an empty parent id are fine; a link with a bad id is dropped and counted in droppedLinksCount."""
    result = parse_json_trace_request(
        _request(
            _span(traceId=base64.b64encode(bytes(range(1, 17))).decode()),
            _span(traceId="abc"),
            _span(spanId="zz" * 8),
            _span(traceId="0" * 32),
            _span(parentSpanId="0102"),
            _span("00000000000000C3", traceId=f"{ROOT_TRACE:032X}", parentSpanId=""),
            _span("00000000000000c4", links=[{"traceId": "nothex", "spanId": "00000000000000b2"}]),
        )
    )
    assert result.rejected == 5 and not result.invalid
    assert result.error is not None and "\n" not in result.error and result.error.startswith("5 spans rejected: ")
    for reason in (
        "trace id (24 characters, not 32 hex digits; OTLP/JSON ids are hex, not base64)",
        "trace id (3 characters, not 32 hex digits)",
        "span id (16 characters, not 16 hex digits)",
        "trace id (16 bytes, all zero)",
        "parent span id (4 characters, not 16 hex digits)",
    ):
        assert reason in result.error
    stored = {row[1]: row for row in result.batch.rows}
    assert set(stored) == {bytes.fromhex("00000000000000c3"), bytes.fromhex("00000000000000c4")}
    assert stored[bytes.fromhex("00000000000000c3")][2] is None  # "" parent: a root span
    assert orjson.loads(stored[bytes.fromhex("00000000000000c4")][13]) == [None, 0, 0, 1]  # the dropped link


def test_enum_names_unknown_fields_and_nulls_are_read_as_protobuf_json_reads_them() -> None:
    """Enum proto names (SPAN_KIND_SERVER, STATUS_CODE_ERROR), unknown fields (ignored, as the spec says),
    null for absent fields, int64s and flags as strings, "NaN"/"Infinity" doubles and URL-safe unpadded
    base64 bytes give what their canonical forms give."""
    odd = _span(kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR", "message": None}, flags="257",
                futureField={"x": 1}, events=None, attributes=[
                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                    {"key": "inf", "value": {"double_value": "-Infinity"}},
                    {"key": "raw", "value": {"bytesValue": "-_8"}},
                    {"key": "unset", "value": {}},
                    {"key": "n", "value": {"intValue": 7, "unknown": 1}},
                ])  # fmt: skip
    canonical = _span(kind=2, status={"code": 2}, flags=257, attributes=[
                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                    {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                    {"key": "raw", "value": {"bytesValue": "+/8="}},
                    {"key": "unset", "value": {}},
                    {"key": "n", "value": {"intValue": "7"}},
                ])  # fmt: skip
    got, want = parse_json_trace_request(_request(odd)), parse_json_trace_request(_request(canonical))
    assert got.error is None and got.batch == want.batch
    (row,) = got.batch.rows
    assert (row[4], row[5], row[8]) == (1, 257, 2)  # SERVER in the store's numbering, flags, ERROR
    assert orjson.loads(row[10]) == {"nan": {"$float": "NaN"}, "inf": {"$float": "-Infinity"}, "raw": {"$bytes": "+/8="},
                                     "unset": None, "n": 7}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b"\xff\xfe", "invalid JSON"),
        (b'{"a": "\\ud800"}', "invalid JSON"),
        (b"[]", "expected a JSON object, got an array"),
        (b'{"resourceSpans": {}}', "resourceSpans: expected an array, got an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}', "resourceSpans[0].scopeSpans[0].spans[0]: expected"),
        (_request(_span(name=5)), "resourceSpans[0].scopeSpans[0].spans[0].name: expected a string, got a number"),
        (_request(_span(startTimeUnixNano="-1")), "spans[0].startTimeUnixNano: -1 is out of range"),
        (_request(_span(endTimeUnixNano="1.5")), "spans[0].endTimeUnixNano: expected an integer"),
        (_request(_span(flags=2**32)), "spans[0].flags: 4294967296 is out of range"),
        (_request(_span(attributes={"k": "v"})), "spans[0].attributes: expected an array, got an object"),
        (_request(_span(attributes=[{"key": 1}])), "spans[0].attributes[0].key: expected a string"),
        (
            _request(_span(attributes=[{"key": "k", "value": {"intValue": str(2**63)}}])),
            "intValue: 9223372036854775808 is out of range",
        ),
        (_request(_span(attributes=[{"key": "k", "value": {"bytesValue": "!!"}}])), "bytesValue: not base64"),
        (_request(_span(attributes=[{"key": "k", "value": {"boolValue": "yes"}}])), "boolValue: expected a boolean"),
        (_request(_span(events=[{"name": ["x"]}])), "spans[0].events[0].name: expected a string, got an array"),
        (_request(_span(links=[{"traceId": 1}])), "spans[0].links[0].traceId: expected a string"),
        (_request(_span(kind="SERVER")), "spans[0].kind: expected an integer"),
        (_request(_span(), scope=[]), "resourceSpans[0].scopeSpans[0].scope: expected an object, got an array"),
        (_request(_span(traceId=16)), "spans[0].traceId: expected a string, got a number"),
    ],
)
def test_a_body_that_is_not_an_otlp_json_request_is_refused_in_one_line_naming_the_field(
    body: bytes, where: str
) -> None:
    """Not JSON, not UTF-8, a lone surrogate, or a value of the wrong type or range anywhere: an empty batch,
    ``invalid`` (a receiver's 400) and one line naming the field by its path — never an exception."""
    result = parse_json_trace_request(body)
    assert result.invalid and result.rejected == 0 and result.batch.rows == []
    assert result.error is not None and "\n" not in result.error and where in result.error, result.error
    assert result.error.startswith("not an OTLP/JSON traces request: ")


def test_log_payload_errors_and_bad_ids_are_reported_like_spans() -> None:
    """Logs: a bad shape refuses the body naming the field; an id that is not hex rejects the record alone; an
    absent trace context and body are stored as none."""
    bad = parse_json_logs_request(b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"severityNumber": true}]}]}]}')
    assert bad.invalid and bad.error is not None
    assert "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: expected an integer" in bad.error
    records = [{"timeUnixNano": "5", "traceId": "xyz"}, {"timeUnixNano": "6", "severityNumber": "SEVERITY_NUMBER_WARN"}]
    result = parse_json_logs_request(orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}))
    assert (result.rejected, result.invalid) == (1, False)
    assert result.error == "1 log records rejected: 1 with an invalid trace id (3 characters, not 32 hex digits)"
    (row,) = result.batch.rows
    assert (row[1], row[3], row[5], row[7]) == (6, 13, None, None)  # time, WARN, no body, no trace id


def _mutations(body: bytes) -> list[bytes]:
    """Every prefix of the body, every byte replaced in turn by a quote, a digit, a bracket and a high byte."""
    cuts = [body[:n] for n in range(len(body))]
    flips = [body[:i] + bytes([b]) + body[i + 1 :] for i in range(len(body)) for b in b'"7[\xc3']
    return cuts + flips


@pytest.mark.parametrize("parse", [parse_json_trace_request, parse_json_logs_request])
def test_truncated_and_corrupted_bodies_never_raise(parse: Callable[[bytes], OtlpBatch]) -> None:
    """Every truncation and thousands of one-byte corruptions of real requests give an OtlpBatch (stored rows,
    a rejection or a refusal with a one-line reason), never an exception."""
    if parse is parse_json_trace_request:
        body = orjson.dumps(json_encode_spans(sdk_spans()[:2]).to_dict())
    else:
        body = orjson.dumps(json_encode_logs(sdk_logs()[:2]).to_dict())
    outcomes = {"stored": 0, "rejected": 0, "invalid": 0}
    for mutated in _mutations(body):
        result = parse(mutated)
        assert result.error is None or "\n" not in result.error
        outcomes["invalid" if result.invalid else "rejected" if result.rejected else "stored"] += 1
    assert all(outcomes.values()), outcomes  # each kind of outcome happened


def test_secrets_are_redacted_and_the_batch_is_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The redactor a receiver passes applies to JSON input as to protobuf (the same row builder), and the rows
    are a batch a real store takes: `show --json` reads the span back with the secret replaced."""
    settings = Settings.load(environ={}, database=str(tmp_path / "json.db"), sweep_interval=0)
    attributes = [{"key": "api_key", "value": {"stringValue": "sk-secret"}}, {"key": "ok", "value": {"intValue": "1"}}]
    result = parse_json_trace_request(_request(_span(attributes=attributes)), Redactor(settings.redact))
    store = acquire(settings)
    try:
        assert store.write_spans(result.batch) == 1
    finally:
        release(store)
    assert main(["show", f"{ROOT_TRACE:032x}", "--json", "--database", settings.database]) == 0
    (span,) = orjson.loads(capsys.readouterr().out)["spans"]
    assert span["attributes"]["ok"] == 1 and "sk-secret" not in orjson.dumps(span).decode()
