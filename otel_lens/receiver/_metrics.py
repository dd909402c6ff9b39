"""``/v1/metrics``: otel-lens stores no metrics, so every data point is counted as rejected and the request answered.

Answering 200 with ``partial_success.rejected_data_points`` (rather than 404 or 501) tells an exporter
the points were seen and will never be stored, so it does not retry them forever, and its log says why.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["REJECTED", "count_json_points", "count_proto_points"]

REJECTED = "otel-lens stores traces and logs, not metrics: {} data points dropped (send metrics to a metrics backend)"
_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")
_JSON_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def count_proto_points(body: bytes) -> int:
    """Data points in a protobuf ``ExportMetricsServiceRequest`` (raises ValueError when it does not parse)."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as exc:  # protobuf's DecodeError and kin
        raise ValueError(f"not an OTLP metrics request ({len(body)} bytes of protobuf): {exc}") from None
    count = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind in _KINDS:
                    count += len(getattr(metric, kind).data_points)
    return count


def count_json_points(body: bytes) -> int:
    """Data points in an OTLP/JSON metrics request (raises ValueError when it is not one)."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    count = 0
    for resource_metrics in _list(request, "resourceMetrics", "resource_metrics"):
        for scope_metrics in _list(resource_metrics, "scopeMetrics", "scope_metrics"):
            for metric in _list(scope_metrics, "metrics"):
                for kind in _JSON_KINDS:
                    data = metric.get(kind) if isinstance(metric, dict) else None
                    if isinstance(data, dict):
                        count += len(_list(data, "dataPoints", "data_points"))
    return count


def _list(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        raise ValueError("not an OTLP/JSON metrics request (expected objects with resourceMetrics)")
    for key in keys:
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f"not an OTLP/JSON metrics request: {key} is not a list")
            return value
    return []
