"""``otel-lens stats``: count, error rate and p50/p95/p99 per span name (or per service) over a window."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import add_database, add_json, add_since, open_for
from otel_lens.cli._views import render_stats
from otel_lens.query import STATS_GROUPS, STATS_HISTOGRAMS

NAME = "stats"
HELP = "count, error rate and p50/p95/p99 per span name"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Count, error rate and nearest-rank p50/p95/p99 latency per span name (or service). Counts are exact. "
        "Percentiles come from hourly histograms kept as spans are stored: within ±3.125% of the exact value, "
        "and exact for a window that lies inside one hour (e.g. --since 5m just after the hour)."
    )
    add_database(parser)
    add_json(parser)
    add_since(parser, "24h", "the window (default 24h)")
    parser.add_argument("--by", choices=STATS_GROUPS, default="name", help="group by span name or service")
    parser.add_argument(
        "--histogram",
        choices=STATS_HISTOGRAMS,
        default="chart",
        help="with --json: each row's latency histogram as at most 40 log-spaced bins (chart, the default), "
        "every fine bin the percentiles come from (fine), or none (an empty list)",
    )


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        rows = store.stats(since=args.since, by=args.by)
    if args.json:
        print_json([row.as_dict(args.histogram) for row in rows])
    else:
        render_stats(rows, stdout_console(), args.by)
    return 0
