"""``otel-lens sessions``: sessions and GenAI conversations, latest activity first, with their totals."""

from __future__ import annotations

import argparse

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import add_database, add_json, add_limit, add_since, duration, open_for
from otel_lens.cli._sessions_view import render_sessions

NAME = "sessions"
HELP = "sessions and GenAI conversations, latest activity first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    parser.add_argument("--kind", choices=("session", "conversation"), help="only sessions, or only conversations")
    parser.add_argument("--service", help="only those whose first trace's root span is of this service")
    add_since(parser, None, "only those active within this time (e.g. 1h)")
    parser.add_argument("--until", type=duration, help="only those active before this long ago (e.g. 1h)")
    parser.add_argument("--search", metavar="TEXT", help="only those whose id contains TEXT")
    add_limit(parser, 50)


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        page = store.sessions(
            kind=args.kind,
            service=args.service,
            since=args.since,
            until=args.until,
            search=args.search,
            limit=args.limit,
        )
    if args.json:
        print_json([session.as_dict() for session in page.sessions])
    else:
        render_sessions(page.sessions, stdout_console(), more=page.next is not None)
    return 0
