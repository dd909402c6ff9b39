"""``otel-lens traces``: recent traces, newest first, filtered by service, root name, errors, age and duration."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import (
    add_database,
    add_json,
    add_limit,
    add_since,
    duration,
    note_if_cut,
    one_more,
    open_for,
)
from otel_lens.cli._views import render_traces

NAME = "traces"
HELP = "recent traces, newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument("--service", help="only traces whose root span is of this service")
    parser.add_argument("--name", help="only traces whose root span has this name")
    parser.add_argument("--errors", action="store_true", help="only traces with a failed span")
    add_since(parser, None, "only traces started within this time (e.g. 1h)")
    parser.add_argument("--min-duration", type=duration, help="only traces at least this long (e.g. 100ms)")
    parser.add_argument(
        "--running", action="store_true", help="only traces with a span still running (stored while it is open)"
    )
    add_limit(parser, 50)


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        found = store.traces(
            service=args.service,
            name=args.name,
            status="error" if args.errors else None,
            since=args.since,
            min_duration=args.min_duration,
            limit=one_more(args.limit),
            running=args.running,
        )
    shown = found[: args.limit]
    if args.json:
        print_json([trace.as_dict() for trace in shown])
    else:
        render_traces(shown, stdout_console())
    note_if_cut(found, args.limit, "traces")
    return 0
