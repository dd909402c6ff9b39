"""A client process for the receiver tests: the official OTLP/HTTP exporters beside in-memory ones.

Usage: python otlp_http_client.py ENDPOINT OUT.json [gzip|deflate|none] [TOKEN]

Sends the scenario of ``_otlp_client.py`` to ENDPOINT with the official
``opentelemetry-exporter-otlp-proto-http`` exporters, the token (if any) as an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import sys

from _otlp_client import send  # beside this script: its folder is sys.path[0]
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

endpoint, out = sys.argv[1], sys.argv[2]
compression = Compression(sys.argv[3]) if len(sys.argv) > 3 else Compression.NoCompression
headers = {"Authorization": f"Bearer {sys.argv[4]}"} if len(sys.argv) > 4 else None
send(
    out,
    lambda: OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=compression, headers=headers),
    OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", compression=compression, headers=headers),
)
