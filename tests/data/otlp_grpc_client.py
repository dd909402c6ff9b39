"""A client process for the OTLP/gRPC receiver tests: the official OTLP/gRPC exporters beside in-memory ones.

Usage: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT [OTEL_EXPORTER_OTLP_HEADERS=…]
       python otlp_grpc_client.py OUT.json [gzip|none]

Configured the way an application is, by the environment alone (the endpoint, the token header), it sends
the scenario of ``_otlp_client.py`` with ``opentelemetry-exporter-otlp-proto-grpc``.
"""

from __future__ import annotations

import sys

from _otlp_client import send  # beside this script: its folder is sys.path[0]
from grpc import Compression
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

compression = Compression.Gzip if len(sys.argv) > 2 and sys.argv[2] == "gzip" else Compression.NoCompression
send(sys.argv[1], lambda: OTLPSpanExporter(compression=compression), OTLPLogExporter(compression=compression))
