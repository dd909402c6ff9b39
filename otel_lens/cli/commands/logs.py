"""``otel-lens logs``: log records, newest first, or followed as they are stored (``--follow``, like ``tail -f``)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from otel_lens.cli._console import print_json, stdout_console
from otel_lens.cli._options import (
    add_database,
    add_json,
    add_limit,
    add_since,
    add_trace,
    level,
    note_if_cut,
    one_more,
    open_for,
)
from otel_lens.cli._views import log_line, render_logs
from otel_lens.query import Store

NAME = "logs"
HELP = "log records, newest first"
FOLLOW_INTERVAL_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    add_json(parser)
    add_trace(parser, "only records of this trace (id or unique prefix)")
    parser.add_argument("--level", type=level, help="only this level and above: debug, info, warn, error, fatal")
    add_since(parser, None, "only records within this time (e.g. 1h)")
    parser.add_argument(
        "--search",
        metavar="TEXT",
        help="only records whose message, event name or attributes contain TEXT (case-insensitive)",
    )
    add_limit(parser, 200)
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new records as they are stored")


def run(args: argparse.Namespace) -> int:
    # --follow may start before the application stored anything: it waits for the database to appear.
    with open_for(args, wait=args.follow) as store:
        if args.follow:
            return _follow(store, args)
        found = store.logs(limit=one_more(args.limit), **_filters(args))
        shown = found[: args.limit]
        if args.json:
            print_json([record.as_dict() for record in shown])
        else:
            render_logs(shown, stdout_console())
        note_if_cut(found, args.limit, "log records")
        return 0


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"trace_id": args.trace, "level": args.level, "since": args.since, "search": args.search}


def _follow(store: Store, args: argparse.Namespace) -> int:
    """Like tail -f: the latest records oldest first, then each new one as it is stored.

    The feed starts before the latest are read, so a record stored in between is in both: printed once
    (by id). The feed returns every record once even when PostgreSQL commits ids out of order
    (``query/_live.py``).
    """
    filters = _filters(args)
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
