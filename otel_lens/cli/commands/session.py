"""``otel-lens session ID``: one session or conversation as its turns (traces), with tokens, cost and messages."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import add_database, add_json, open_for
from otel_lens.cli._sessions_view import render_session

NAME = "session"
HELP = "one session or conversation as turns: tokens, cost, latency, errors, messages"


def _session_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a session or conversation id (or a unique start of one)")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument(
        "session_id", type=_session_id, metavar="ID", help="a session or conversation id, or a unique start of one"
    )
    parser.add_argument(
        "--kind", choices=("session", "conversation"), help="when a session and a conversation share ID"
    )
    parser.add_argument("--prices", metavar="FILE", help="a JSON price table: model → price per million tokens")
    parser.add_argument(
        "--no-bundled-prices", action="store_true", help="price only from --prices, not from genai-prices"
    )


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        detail = store.session(
            args.session_id, kind=args.kind, prices=args.prices, bundled_prices=not args.no_bundled_prices
        )
    if args.json:
        print_json(detail.as_dict())
    else:
        render_session(detail, stdout_console())
    return 0
