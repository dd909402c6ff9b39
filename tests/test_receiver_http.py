"""The OTLP/HTTP receiver's answers to hostile and odd input (RELIABILITY 26), on a real ``otel-lens serve``.

One server for the module; every test checks the status and the ``google.rpc.Status`` body the OTLP/HTTP
spec asks for, and the last ones that the server still serves and that nothing bad was stored.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otel_lens.testing import SpanFactory
from tests._receiver import Served, lens, serving

PROTOBUF = {"Content-Type": "application/x-protobuf"}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("receiver") / "lens.db") as running:
        yield running


@pytest.fixture(scope="module")
def database(served: Served) -> Path:
    return served.database


@pytest.fixture
def factory() -> Iterator[SpanFactory]:
    spans = SpanFactory(service="hostile-test")
    yield spans
    spans.shutdown()


def _request(factory: SpanFactory, label: str, traces: int = 1) -> ExportTraceServiceRequest:
    return encode_spans(factory.traces(traces, 2, label=label))


def _post(
    served: Served, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/traces"
) -> httpx.Response:
    return httpx.post(served.otlp + path, content=body, headers=PROTOBUF if headers is None else headers, timeout=60)


def _status(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status()
    status.ParseFromString(response.content)
    return status


def _stored_labels(database: Path) -> list[str]:
    return sorted(t["root_name"] for t in lens(database, "traces", "--limit", "1000"))


def test_a_valid_request_is_200_with_an_empty_response(served: Served, factory: SpanFactory, database: Path) -> None:
    """A plain protobuf request is answered 200 with an ExportTraceServiceResponse and no partial_success."""
    response = _post(served, _request(factory, "valid").SerializeToString())
    assert response.status_code == 200
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    assert not message.HasField("partial_success")
    assert "root valid" in _stored_labels(database)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff garbage", b"\x0a\xff\xff\xff\x0f", b"\x0a\x05abc"],
    ids=["random", "length-past-end", "truncated"],
)
def test_garbage_protobuf_is_400(served: Served, body: bytes) -> None:
    """Bytes that are not an ExportTraceServiceRequest: 400 with a Status saying so in one line."""
    response = _post(served, body)
    assert response.status_code == 400
    status = _status(response)
    assert status.code == 3 and status.message.startswith("not an OTLP traces request") and "\n" not in status.message


def test_a_truncated_real_request_is_400(served: Served, factory: SpanFactory, database: Path) -> None:
    """A real request cut in half: 400, and none of its spans is stored."""
    data = _request(factory, "cut", traces=20).SerializeToString()
    assert _post(served, data[: len(data) // 2 + 3]).status_code == 400
    assert "root cut" not in _stored_labels(database)


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", ""])
def test_a_wrong_content_type_is_415(served: Served, factory: SpanFactory, content_type: str) -> None:
    """Anything but application/x-protobuf or application/json is 415, naming what to send."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = _post(served, _request(factory, "typed").SerializeToString(), headers)
    assert response.status_code == 415
    assert "application/x-protobuf" in _status(response).message


def test_an_unknown_content_encoding_is_415(served: Served, factory: SpanFactory) -> None:
    """A Content-Encoding the receiver cannot undo (br) is refused, not misread as protobuf."""
    response = _post(served, b"xx", {**PROTOBUF, "Content-Encoding": "br"})
    assert response.status_code == 415 and "gzip" in _status(response).message


def test_a_body_past_the_cap_is_413(served: Served) -> None:
    """A body over 16 MiB is refused with 413 from its Content-Length, before it is stored anywhere."""
    response = _post(served, b"\x00" * (17 * MiB))
    assert response.status_code == 413
    assert "larger than" in _status(response).message


def test_a_gzip_bomb_is_413_and_memory_stays_bounded(served: Served) -> None:
    """1 GiB of zeros in ~1 MiB of gzip: decompression stops at the cap (413) and the server's RSS stays small."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(MiB)
    body = b"".join(bomb.compress(chunk) for _ in range(1024)) + bomb.flush()
    assert len(body) < 2 * MiB
    response = _post(served, body, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "once decompressed" in _status(response).message
    assert psutil.Process(served.viewer.process.pid).memory_info().rss < 400 * MiB


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"x" * 1000)[:-20]], ids=["not-gzip", "truncated"])
def test_bad_gzip_is_400(served: Served, body: bytes) -> None:
    """A body that does not gunzip (garbage, or cut short) is 400, not 500."""
    response = _post(served, body, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 400 and "gzip" in _status(response).message


def test_a_gzip_body_of_several_members_is_read_whole(served: Served, factory: SpanFactory, database: Path) -> None:
    """Two gzip members one after the other are one valid gzip body (RFC 1952): both are read and stored.

    The request is cut between two top-level messages; protobuf concatenation is a merge, so the two
    halves decompressed together are the whole request, and only reading every member stores both traces.
    """
    first, second = _request(factory, "member-one"), _request(factory, "member-two")
    body = gzip.compress(first.SerializeToString()) + gzip.compress(second.SerializeToString())
    response = _post(served, body, {**PROTOBUF, "Content-Encoding": "gzip"})
    assert response.status_code == 200, response.content
    assert {"root member-one", "root member-two"} <= set(_stored_labels(database))


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_bytes_after_the_compressed_end_are_400(
    served: Served, factory: SpanFactory, database: Path, encoding: str, compress: Any
) -> None:
    """Bytes after the end of a gzip/deflate body that are not another gzip member are 400, nothing stored."""
    label = f"trailing-{encoding}"
    body = compress(_request(factory, label).SerializeToString()) + b"trailing garbage"
    response = _post(served, body, {**PROTOBUF, "Content-Encoding": encoding})
    assert response.status_code == 400
    assert "after its end" in _status(response).message
    assert f"root {label}" not in _stored_labels(database)


def test_invalid_ids_are_a_partial_success(served: Served, factory: SpanFactory, database: Path) -> None:
    """Spans with ids of the wrong length are rejected by count (partial_success), the rest of the request stored."""
    request = _request(factory, "mixed", traces=3)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 5
    spans[1].span_id = b""
    response = _post(served, request.SerializeToString())
    assert response.status_code == 200
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    assert message.partial_success.rejected_spans == 2
    assert "2 spans rejected" in message.partial_success.error_message
    stored = sum(t["span_count"] for t in lens(database, "traces", "--limit", "1000") if t["root_name"] == "root mixed")
    assert stored == 4  # 6 sent, 2 rejected


def test_a_huge_attribute_and_many_attributes_are_stored_within_caps(
    served: Served, factory: SpanFactory, database: Path
) -> None:
    """A 10 MB attribute value and 200 000 attributes on one span are stored cut to the store's caps, not refused."""
    request = _request(factory, "huge")
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="big", value={"string_value": "x" * (10 * 1000 * 1000)})
    for n in range(200_000):
        span.attributes.add(key=f"k{n}", value={"int_value": n})
    response = _post(served, request.SerializeToString())
    assert response.status_code == 200
    trace_id = span.trace_id.hex()
    stored = {s["span_id"]: s for s in lens(database, "show", trace_id)["spans"]}[span.span_id.hex()]
    assert len(stored["attributes"]) < 10_000
    assert len(str(stored["attributes"].get("big", ""))) < 1_000_000


def test_methods_and_routes(served: Served) -> None:
    """GET on an OTLP route is 405 (Allow: POST); an unknown path on the OTLP port is 404; both Status bodies."""
    response = httpx.get(served.otlp + "/v1/traces", timeout=60)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert _status(response).code == 12
    assert httpx.post(served.otlp + "/v1/spans", content=b"", headers=PROTOBUF, timeout=60).status_code == 404


def test_metrics_are_answered_as_rejected(served: Served) -> None:
    """/v1/metrics: 200 with partial_success counting every data point as rejected, saying metrics are not stored."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("m").create_counter("requests")
    for route in ("/a", "/b", "/c"):
        counter.add(1, {"route": route})
    provider.get_meter("m").create_histogram("latency").record(3.5)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    response = _post(served, encode_metrics(data).SerializeToString(), path="/v1/metrics")
    assert response.status_code == 200
    message = ExportMetricsServiceResponse()
    message.ParseFromString(response.content)
    assert message.partial_success.rejected_data_points == 4
    assert "not metrics" in message.partial_success.error_message


def test_the_viewer_port_receives_too(served: Served, factory: SpanFactory, database: Path) -> None:
    """POST /v1/traces on the viewer's port is the same receiver; the viewer's pages still answer."""
    response = httpx.post(served.viewer.url + "/v1/traces", content=_request(factory, "via-viewer").SerializeToString(),
                          headers=PROTOBUF, timeout=60)  # fmt: skip
    assert response.status_code == 200
    assert "root via-viewer" in _stored_labels(database)
    assert httpx.get(served.viewer.url + "/api/traces", timeout=60).status_code == 200


def test_a_foreign_host_header_is_refused(served: Served, factory: SpanFactory) -> None:
    """The OTLP port has the viewer's DNS-rebinding guard: a Host that is not a loopback name gets 403, answered
    like every other OTLP error: a google.rpc.Status in the request's encoding (protobuf, or JSON)."""
    response = _post(served, _request(factory, "rebound").SerializeToString(), {**PROTOBUF, "Host": "evil.example"})
    assert response.status_code == 403
    status = _status(response)
    assert status.code == 7 and "Host" in status.message  # 7: PERMISSION_DENIED
    as_json = _post(served, b"{}", {"Content-Type": "application/json", "Host": "evil.example"})
    assert as_json.status_code == 403 and as_json.headers["content-type"] == "application/json"
    assert as_json.json()["code"] == 7 and "Host" in as_json.json()["message"]


def test_after_all_that_the_server_still_serves(served: Served, factory: SpanFactory, database: Path) -> None:
    """The server is alive and storing after every hostile request above, and only valid spans were stored."""
    assert served.viewer.process.poll() is None
    assert _post(served, _request(factory, "last").SerializeToString()).status_code == 200
    labels = set(_stored_labels(database))
    assert "root last" in labels
    assert labels <= {
        *("root valid", "root mixed", "root huge", "root via-viewer", "root last"),
        *("root member-one", "root member-two"),
    }
