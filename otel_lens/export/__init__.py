"""The write path: spans and log records from any source → the neutral model → the row builder → rows for the store.

Sources are adapters: the OTel SDK's exporters (``spans.py``, ``logs.py`` over ``encode.py``) and OTLP
protobuf and OTLP/JSON requests (``_otlp.py``, ``_otlp_json.py``, for a receiver). ``_model.py`` is the neutral model, ``_builder.py`` the
one row builder that applies every policy. Other layers use the names below.
"""

from otel_lens.export._import import ImportSummary, import_otlp_json
from otel_lens.export._otlp import (
    OtlpBatch,
    OtlpPayloadError,
    encode_logs_request,
    encode_trace_request,
    parse_logs_request,
    parse_trace_request,
)
from otel_lens.export._otlp_json import parse_json_logs_request, parse_json_trace_request
from otel_lens.export._running import RunningSpanProcessor
from otel_lens.export.encode import encode_logs, encode_spans
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter

__all__ = [
    "ImportSummary",
    "LensLogExporter",
    "LensSpanExporter",
    "OtlpBatch",
    "OtlpPayloadError",
    "RunningSpanProcessor",
    "encode_logs",
    "encode_logs_request",
    "encode_spans",
    "encode_trace_request",
    "import_otlp_json",
    "parse_json_logs_request",
    "parse_json_trace_request",
    "parse_logs_request",
    "parse_trace_request",
]
