"""``otel-lens usage``: GenAI token usage (and cost, from a price table or genai-prices) over a window."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stderr_console, stdout_console
from otel_lens.cli._options import add_database, add_json, add_since, open_for
from otel_lens.cli._usage import render_usage
from otel_lens.query import USAGE_GROUPS, PriceTable, bundled_prices

NAME = "usage"
HELP = "GenAI token usage (and cost) over a window"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    add_since(parser, "24h", "the window, in whole hours (default 24h)")
    parser.add_argument("--by", choices=USAGE_GROUPS, default="model", help="group by model, provider or service")
    parser.add_argument("--prices", metavar="FILE", help="a JSON price table: model → price per million tokens")
    parser.add_argument(
        "--no-bundled-prices",
        action="store_true",
        help="price only from --prices, not from the genai-prices package (extra otel-lens[prices])",
    )


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        prices = PriceTable.load(args.prices) if args.prices else None
        bundled = not args.no_bundled_prices
        rows = store.usage(since=args.since, by=args.by, prices=prices, bundled_prices=bundled)
    if args.json:
        print_json([row.as_dict() for row in rows])
        return 0
    priced = prices is not None or (bundled and bundled_prices() is not None)
    render_usage(rows, stdout_console(), args.by, priced=priced, notes=stderr_console(), prices_off=not bundled)
    return 0
