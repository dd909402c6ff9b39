"""``otel-lens export``: stored traces (and logs) as OTLP/JSON lines, for any OTLP tool to read back."""

from __future__ import annotations

import argparse
import sys

import orjson

from otel_lens.cli._console import progress_bar
from otel_lens.cli._options import add_database, add_json, add_since, add_trace, open_for
from otel_lens.query import export_logs_request, export_request

NAME = "export"
HELP = "spans (and logs) as OTLP/JSON, one request per trace per line"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser, "accepted and ignored: export always prints OTLP/JSON")
    add_since(parser, None, "only traces started (log records made) within this time")
    add_trace(parser, "only this trace (id or unique prefix)")
    parser.add_argument(
        "--signal",
        choices=("traces", "logs", "all"),
        default="traces",
        help="traces: an ExportTraceServiceRequest per trace (the default); logs: an ExportLogsServiceRequest "
        "per 1000 log records; all: the traces, then the logs",
    )
    parser.add_argument(
        "--format", choices=("otlp-json",), default="otlp-json", help="the output format (default otlp-json)"
    )


def run(args: argparse.Namespace) -> int:
    """OTLP/JSON lines: an ExportTraceServiceRequest per trace, then (``--signal logs|all``) an
    ExportLogsServiceRequest per page of log records in arrival order."""
    out = sys.stdout
    with open_for(args) as store:
        if args.signal in ("traces", "all"):
            total = 1 if args.trace else store.trace_count(since=args.since)
            with progress_bar("exporting traces", total) as advance:
                for spans in store.iter_trace_spans(since=args.since, trace_id=args.trace):
                    out.write(orjson.dumps(export_request(spans)).decode() + "\n")
                    advance(1)
        if args.signal in ("logs", "all"):
            with progress_bar("exporting logs", None) as advance:
                for records in store.iter_log_pages(since=args.since, trace_id=args.trace):
                    out.write(orjson.dumps(export_logs_request(records)).decode() + "\n")
                    advance(len(records))
    out.flush()
    return 0
