"""OTLP/JSON over HTTP (``Content-Type: application/json``) into a real ``otel-lens serve``.

The bodies are the OTLP specification's own examples (opentelemetry-proto ``examples/trace.json`` and
``logs.json``, written out by hand): hex ids, camelCase, int64 times as strings. Answers are JSON too.
Only their times are moved to an hour ago: the examples' 2018 would be swept at once by retention (7 days).
"""

from __future__ import annotations

import copy
import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests._receiver import Served, lens, serving

JSON = {"Content-Type": "application/json"}
T0 = (time.time_ns() - 3600 * 10**9) // 10**9 * 10**9  # the examples' 1544712660000000000, an hour ago
TRACE = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeSpans": [{
            "scope": {"name": "my.library", "version": "1.0.0",
                      "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
            "spans": [{
                "traceId": "5B8EFFF798038103D269B633813FC60C",
                "spanId": "EEE19B7EC3C1B174",
                "parentSpanId": "EEE19B7EC3C1B173",
                "name": "I'm a server span",
                "startTimeUnixNano": str(T0),
                "endTimeUnixNano": str(T0 + 10**9),
                "kind": 2,
                "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}],
            }],
        }],
    }]
}  # fmt: skip
LOGS = {
    "resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeLogs": [{
            "scope": {"name": "my.library", "version": "1.0.0"},
            "logRecords": [{
                "timeUnixNano": str(T0 + 3 * 10**8),
                "observedTimeUnixNano": str(T0 + 3 * 10**8),
                "severityNumber": 10,
                "severityText": "Information",
                "traceId": "5B8EFFF798038103D269B633813FC60C",
                "spanId": "EEE19B7EC3C1B174",
                "body": {"stringValue": "Example log record"},
                "attributes": [
                    {"key": "string.attribute", "value": {"stringValue": "some string"}},
                    {"key": "boolean.attribute", "value": {"boolValue": True}},
                    {"key": "int.attribute", "value": {"intValue": "10"}},
                    {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                    {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
                    {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}},
                ],
            }],
        }],
    }]
}  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("receiver-json") / "lens.db") as running:
        yield running


@pytest.fixture(scope="module")
def database(served: Served) -> Path:
    return served.database


def _post(served: Served, body: Any, path: str = "/v1/traces", **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(served.otlp + path, content=content, headers={**JSON, **headers}, timeout=60)


def test_the_spec_example_trace_is_stored(served: Served, database: Path) -> None:
    """The spec's example ExportTraceServiceRequest in JSON: 200 with a JSON ``{}``, the span stored as sent."""
    response = _post(served, TRACE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json" and response.json() == {}
    (span,) = lens(database, "show", "5b8efff798038103d269b633813fc60c")["spans"]
    assert span["span_id"] == "eee19b7ec3c1b174" and span["parent_span_id"] == "eee19b7ec3c1b173"
    assert (span["name"], span["kind"]) == ("I'm a server span", "SERVER")
    assert (span["start_time_unix_nano"], span["end_time_unix_nano"]) == (T0, T0 + 10**9)
    assert span["attributes"] == {"my.span.attr": "some value"}
    assert span["resource"] == {"service.name": "my.service"}
    assert span["scope"] == {"name": "my.library", "version": "1.0.0",
                             "attributes": {"my.scope.attribute": "some scope attribute"}}  # fmt: skip


def test_the_spec_example_log_is_stored(served: Served, database: Path) -> None:
    """The spec's example log record in JSON, gzip-compressed: stored with every attribute type it has."""
    response = _post(served, gzip.compress(orjson.dumps(LOGS)), "/v1/logs", **{"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json() == {}
    (log,) = [entry for entry in lens(database, "logs", "--limit", "100") if entry["body"] == "Example log record"]
    assert (log["severity_number"], log["severity_text"]) == (10, "Information")
    assert (log["trace_id"], log["span_id"]) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174")
    assert log["attributes"] == {
        "string.attribute": "some string", "boolean.attribute": True, "int.attribute": 10,
        "double.attribute": 637.704, "array.attribute": ["many", "values"],
        "map.attribute": {"some.map.key": "some value"},
    }  # fmt: skip


def test_a_bad_id_is_a_json_partial_success(served: Served, database: Path) -> None:
    """A span whose id is not 16 hex digits is rejected by count in a JSON ``partialSuccess`` (int64 as a string)."""
    body = copy.deepcopy(TRACE)
    good = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    good["traceId"] = "0af7651916cd43dd8448eb211c80319c"
    bad = {**good, "spanId": "abc"}
    body["resourceSpans"][0]["scopeSpans"][0]["spans"] = [good, bad]
    response = _post(served, body)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "1 spans rejected" in partial["errorMessage"]
    assert len(lens(database, "show", "0af7651916cd43dd8448eb211c80319c")["spans"]) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"resourceSpans": 5}'], ids=["syntax", "array", "shape"])
def test_json_that_is_not_a_request_is_400_with_a_json_status(served: Served, body: bytes) -> None:
    """Invalid JSON, or JSON of the wrong shape: 400 with a JSON google.rpc.Status naming what was wrong."""
    response = _post(served, body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 3 and "OTLP/JSON traces request" in status["message"]


def test_json_metrics_are_answered_as_rejected(served: Served) -> None:
    """/v1/metrics in JSON: 200 with ``partialSuccess.rejectedDataPoints`` counting the points."""
    body = {"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "requests", "sum": {"dataPoints": [{"asInt": "1"}, {"asInt": "2"}]}},
        {"name": "latency", "histogram": {"dataPoints": [{"count": "3"}]}},
    ]}]}]}  # fmt: skip
    response = _post(served, body, "/v1/metrics")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedDataPoints"] == "3"


def test_errors_answer_in_json_for_a_json_request(served: Served) -> None:
    """A refused JSON request (wrong method here) gets its Status in JSON, as the spec asks."""
    response = httpx.put(served.otlp + "/v1/traces", content=b"{}", headers=JSON, timeout=60)
    assert response.status_code == 405 and response.json()["code"] == 12
