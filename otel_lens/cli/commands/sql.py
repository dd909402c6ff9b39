"""``otel-lens sql QUERY``: one read-only SQL statement over the views ``spans``, ``traces``, ``logs``.

Output: a table on a terminal, CSV when piped (or ``--csv``), JSON objects with ``--json`` (as
``sqlite3 -json`` prints them). Rows past ``--limit`` are counted and said on stderr, never printed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import orjson
from rich import box
from rich.table import Table
from rich.text import Text

from otel_lens._units import parse_duration
from otel_lens.cli._console import stderr_console, stdout_console
from otel_lens.cli._options import add_database, add_json, limit, open_for
from otel_lens.query import SQL_ROW_LIMIT, SQL_TIMEOUT_S, SqlResult, run_sql

NAME = "sql"
HELP = "one read-only SQL query over the views spans, traces and logs"
_EXAMPLES = """views: spans, traces, logs (hex ids, RFC 3339 times, duration_ms, JSON attributes); e.g.
  otel-lens sql "SELECT http_route, count(*), max(duration_ms) FROM spans WHERE kind = 'SERVER' GROUP BY 1"
  otel-lens sql "SELECT name, json_extract(attributes, '$.\\"http.route\\"') FROM spans LIMIT 5"
"""


def _timeout(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 5s or 500ms") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than 0")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_database(parser)
    add_json(parser, help="print the rows as a JSON array of objects")
    parser.add_argument(
        "query", metavar="QUERY", help="one SELECT (or WITH …; on SQLite also EXPLAIN or a reading PRAGMA)"
    )
    parser.add_argument("--csv", action="store_true", help="print CSV (the default when stdout is not a terminal)")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=SQL_TIMEOUT_S,
        help=f"stop the query after this long (default {SQL_TIMEOUT_S:g}s)",
    )
    parser.add_argument(
        "--limit",
        type=limit,
        default=SQL_ROW_LIMIT,
        help=f"print at most this many rows (default {SQL_ROW_LIMIT})",
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):  # PostgreSQL's json columns arrive decoded
        return orjson.dumps(value).decode()
    return str(value)


def render_table(result: SqlResult) -> None:
    console = stdout_console()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name in result.columns:
        table.add_column(name, overflow="fold")
    for row in result.rows:
        # Text, not str: a stored value such as "[red]" is data, not rich markup.
        table.add_row(*(Text(_cell(v)) if v is not None else Text("NULL", style="dim") for v in row))
    console.print(table)


def write_csv(result: SqlResult) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([_cell(v) for v in row] for row in result.rows)


def run(args: argparse.Namespace) -> int:
    with open_for(args) as store:
        result = run_sql(store, args.query, timeout=args.timeout, limit=args.limit)
    if args.json:
        sys.stdout.write(orjson.dumps(result.records(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.csv or not sys.stdout.isatty():
        write_csv(result)
    else:
        render_table(result)
    sys.stdout.flush()
    notice = result.more_notice()
    if notice:
        stderr_console().print(notice, style="yellow", markup=False, highlight=False)
    return 0
