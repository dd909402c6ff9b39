"""``otel-lens diff TRACE_A TRACE_B`` (or ``TRACE --previous``): two traces aligned span by span."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._diff_view import render_diff
from otel_lens.cli._options import add_database, add_json, open_for
from otel_lens.query import diff_traces, previous_trace, trace_id_prefix

NAME = "diff"
HELP = "two traces aligned span by span: added, removed, slower/faster, status, attribute and token changes"


def _trace_id(text: str) -> str:
    try:
        return trace_id_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument("trace_a", type=_trace_id, metavar="TRACE_A", help="a trace id or a unique prefix of one")
    parser.add_argument(
        "trace_b", type=_trace_id, metavar="TRACE_B", nargs="?", help="the trace to compare it with (B)"
    )
    parser.add_argument(
        "--previous",
        action="store_true",
        help="compare TRACE_A with the latest earlier trace of the same root name and service (A becomes B)",
    )


def run(args: argparse.Namespace) -> int:
    if (args.trace_b is None) == (not args.previous):
        raise ValueError("give TRACE_B, or --previous to compare with the trace before TRACE_A (not both)")
    with open_for(args) as store:
        if args.previous:
            a, b = previous_trace(store, args.trace_a), args.trace_a
        else:
            a, b = args.trace_a, args.trace_b
        diff = diff_traces(store, a, b)
    if args.json:
        print_json(diff.as_dict())
    else:
        render_diff(diff, stdout_console())
    return 0
