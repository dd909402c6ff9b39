"""What reading OTLP/JSON costs a receiver, per span: our direct reader against protobuf's ``json_format``.

The same realistic spans (``_spans.SpanFactory``: 5 per trace, a few attributes and an event each) are
encoded once by the official encoders, in 512-span requests: OTLP/JSON by
``opentelemetry-exporter-otlp-json-common`` (what the JSON exporters send) and protobuf by
``opentelemetry-exporter-otlp-proto-common``. Each variant turns request bodies into store rows:

- ``direct``: ``parse_json_trace_request`` (orjson → the neutral model → the row builder), what otel-lens uses;
- ``ParseDict``: orjson, ids hex → base64, ``json_format.ParseDict`` into the protobuf message, then the
  protobuf adapter (``encode_trace_request``) — the other way the brief allowed;
- ``protobuf``: ``parse_trace_request`` + ``encode_trace_request`` on the protobuf body, for scale.

Medians of interleaved repeats (the machine is shared). The goal: the direct reader at least 2× faster than
the ParseDict route (it was the reason to keep it), and within 2× of protobuf.
"""

from __future__ import annotations

import argparse
import base64
import gc
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from _report import Table, median, spread
from _spans import SpanFactory, batches
from google.protobuf import json_format
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as json_encode_spans
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as proto_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_lens.export import encode_trace_request, parse_json_trace_request, parse_trace_request

_IDS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids_to_base64(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode() if k in _IDS and v else _hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids_to_base64(v) for v in value]
    return value


def _via_parse_dict(body: bytes) -> object:
    message = json_format.ParseDict(_hex_ids_to_base64(orjson.loads(body)), ExportTraceServiceRequest(),
                                    ignore_unknown_fields=True)  # fmt: skip
    return encode_trace_request(message)


def _time(read: Callable[[bytes], object], bodies: Sequence[bytes]) -> float:
    gc.collect()
    started = time.perf_counter()
    for body in bodies:
        read(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=4_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spans = SpanFactory().traces(args.traces)
    work = batches(spans, 512)
    json_bodies = [orjson.dumps(json_encode_spans(batch).to_dict()) for batch in work]
    proto_bodies = [proto_encode_spans(batch).SerializeToString() for batch in work]
    direct_rows = [parse_json_trace_request(body).batch for body in json_bodies]
    assert direct_rows == [_via_parse_dict(body).batch for body in json_bodies]  # type: ignore[attr-defined]
    variants: dict[str, tuple[Callable[[bytes], object], list[bytes]]] = {
        "direct (parse_json_trace_request)": (parse_json_trace_request, json_bodies),
        "ParseDict + protobuf adapter": (_via_parse_dict, json_bodies),
        "protobuf (parse + encode_trace_request)": (
            lambda b: encode_trace_request(parse_trace_request(b)),
            proto_bodies,
        ),
    }
    for read, bodies in variants.values():
        _time(read, bodies)  # warm-up
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, (read, bodies) in variants.items():
            results[name].append(_time(read, bodies) / len(spans) * 1e6)
    table = Table(f"OTLP request body → rows: {len(spans)} spans in {len(work)} requests, median of {args.repeats}")
    for name, values in results.items():
        table.add(name, f"{median(values):.2f} µs/span", spread(values, lambda v: f"{v:.2f}"))
    direct, parse_dict, proto = (median(values) for values in results.values())
    table.goal("ParseDict route / direct", parse_dict / direct, "≥ 2×", parse_dict / direct >= 2.0)
    table.goal("direct / protobuf", direct / proto, "≤ 2×", direct / proto <= 2.0)
    table.print()


if __name__ == "__main__":
    main()
