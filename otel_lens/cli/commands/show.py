"""``otel-lens show``: one trace as a waterfall tree with its logs under their spans (or its JSON)."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import add_database, add_json, open_for, trace_id
from otel_lens.cli._waterfall import render_trace

NAME = "show"
HELP = "one trace as a waterfall with its logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument("trace_id", type=trace_id, metavar="TRACE_ID", help="a trace id or a unique prefix of one")
    parser.add_argument(
        "--attributes", action="store_true", help="list every attribute of every span (and of its events)"
    )


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        if args.json:  # the JSON straight from the stored rows (Store.trace_dict), without the list row
            data = store.trace_dict(args.trace_id)
            del data["summary"]
            print_json(data)
        else:
            render_trace(store.trace(args.trace_id), stdout_console(), every_attribute=args.attributes)
    return 0
