"""``otel-lens prune``: apply retention now (age, then size) and show what was reclaimed; the one writing command."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, spinner, stdout_console
from otel_lens.cli._options import add_database, add_json, duration, open_for, size
from otel_lens.cli._views import render_prune

NAME = "prune"
HELP = "apply retention now and show what was reclaimed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument("--max-age", type=duration, help="delete data older than this (default: the retention setting)")
    parser.add_argument("--max-size", type=size, help="then delete the oldest data beyond this size")


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store, spinner(f"pruning {store.location}…"):
        summary = store.prune(max_age=args.max_age, max_size=args.max_size)
    if args.json:
        print_json(summary.as_dict())
    else:
        render_prune(summary, stdout_console())
    return 0
