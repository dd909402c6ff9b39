"""The ``otel-lens`` sub-commands: each reads through :func:`~otel_lens.query.open_store` and prints a view or JSON."""

from __future__ import annotations

import argparse
import sys
import time

import orjson

from otel_lens.cli._console import print_json, progress_bar, spinner, stderr_console, stdout_console
from otel_lens.cli._usage import render_usage
from otel_lens.cli._views import log_line, render_logs, render_prune, render_stats, render_traces
from otel_lens.cli._waterfall import render_trace
from otel_lens.query._bundled_prices import bundled_prices
from otel_lens.query.otlp import export_logs_request, export_request
from otel_lens.query.prices import PriceTable
from otel_lens.query.store import Store

FOLLOW_INTERVAL_S = 0.5


def traces(store: Store, args: argparse.Namespace) -> int:
    found = store.traces(
        service=args.service,
        name=args.name,
        status="error" if args.errors else None,
        since=args.since,
        min_duration=args.min_duration,
        limit=args.limit,
    )
    if args.json:
        print_json([trace.as_dict() for trace in found])
    else:
        render_traces(found, stdout_console())
    return 0


def show(store: Store, args: argparse.Namespace) -> int:
    detail = store.trace(args.trace_id)
    if args.json:
        print_json(detail.as_dict())
    else:
        render_trace(detail, stdout_console(), every_attribute=args.attributes)
    return 0


def logs(store: Store, args: argparse.Namespace) -> int:
    filters = {"trace_id": args.trace, "level": args.level, "since": args.since, "search": args.search}
    if not args.follow:
        found = store.logs(limit=args.limit, **filters)
        if args.json:
            print_json([record.as_dict() for record in found])
        else:
            render_logs(found, stdout_console())
        return 0
    # Like tail -f: the latest records oldest first, then each new one as it is stored. The feed starts
    # before the latest are read, so a record stored in between is in both: printed once (by id). The feed
    # returns every record once even when PostgreSQL commits ids out of order (query/_live.py).
    console = stdout_console()
    feed = store.live(traces=False, trace_id=args.trace, level=args.level, search=args.search)
    recent = store.logs(limit=args.limit, **filters)
    shown = {record.id for record in recent}
    batch = list(reversed(recent))
    while True:
        for record in batch:
            if args.json:
                print_json(record.as_dict(), lines=True)
            else:
                console.print(log_line(record, console.is_terminal), soft_wrap=True)
        sys.stdout.flush()
        time.sleep(FOLLOW_INTERVAL_S)
        batch = [record for record in feed.poll().logs if record.id not in shown]


def stats(store: Store, args: argparse.Namespace) -> int:
    rows = store.stats(since=args.since, by=args.by)
    if args.json:
        print_json([row.as_dict() for row in rows])
    else:
        render_stats(rows, stdout_console(), args.by)
    return 0


def usage(store: Store, args: argparse.Namespace) -> int:
    prices = PriceTable.load(args.prices) if args.prices else None
    bundled = not args.no_bundled_prices
    rows = store.usage(since=args.since, by=args.by, prices=prices, bundled_prices=bundled)
    if args.json:
        print_json([row.as_dict() for row in rows])
        return 0
    priced = prices is not None or (bundled and bundled_prices() is not None)
    render_usage(rows, stdout_console(), args.by, priced=priced, notes=stderr_console())
    return 0


def prune(store: Store, args: argparse.Namespace) -> int:
    with spinner(f"pruning {store.location}…"):
        summary = store.prune(max_age=args.max_age, max_size=args.max_size)
    if args.json:
        print_json(summary.as_dict())
    else:
        render_prune(summary, stdout_console())
    return 0


def export(store: Store, args: argparse.Namespace) -> int:
    """OTLP/JSON lines: an ExportTraceServiceRequest per trace, then (``--signal logs|all``) an
    ExportLogsServiceRequest per page of log records in arrival order."""
    out = sys.stdout
    signal = getattr(args, "signal", "traces")
    if signal in ("traces", "all"):
        total = 1 if args.trace else store.trace_count(since=args.since)
        with progress_bar("exporting traces", total) as advance:
            for spans in store.iter_trace_spans(since=args.since, trace_id=args.trace):
                out.write(orjson.dumps(export_request(spans)).decode() + "\n")
                advance(1)
    if signal in ("logs", "all"):
        with progress_bar("exporting logs", None) as advance:
            for records in store.iter_log_pages(since=args.since, trace_id=args.trace):
                out.write(orjson.dumps(export_logs_request(records)).decode() + "\n")
                advance(len(records))
    out.flush()
    return 0


COMMANDS = {
    "traces": traces,
    "show": show,
    "logs": logs,
    "stats": stats,
    "usage": usage,
    "prune": prune,
    "export": export,
}
