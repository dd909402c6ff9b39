"""The ``otel-lens`` command line: sub-commands and flags as CONTRACT.md lists them, checked while parsing."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Sequence
from typing import Any

from otel_lens._units import parse_duration, parse_size
from otel_lens.query._filters import LEVELS, MAX_LIMIT, STATS_GROUPS, USAGE_GROUPS, missing_unit, trace_id_prefix
from otel_lens.settings import default_database_path


def _duration(text: str) -> str:
    hint = missing_unit(text)  # "--min-duration 5": ms or s? Neither guessed: the unit is asked for
    if hint is not None:
        raise argparse.ArgumentTypeError(hint)
    try:
        parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 90s, 30m, 1h or 7d") from None
    return text


def _size(text: str) -> str:
    try:
        parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; use e.g. 500MB or 1GiB (0 = no limit)") from None
    return text


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return value


def _trace_id(text: str) -> str:
    try:
        return trace_id_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _level(text: str) -> str:
    if text.strip().lower() not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level; use debug, info, warn, error or fatal")
    return text.strip().lower()


def _database(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a file path, sqlite:///path or postgresql://host/db")
    return text


def _version() -> str:
    try:
        return importlib.metadata.version("otel-lens")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _add_common(parser: argparse.ArgumentParser, top: bool, json_help: str = "print machine-readable JSON") -> None:
    """--database and --json, accepted before the command (``top``) and after it; the later one wins.

    After the command their default is SUPPRESS, so not giving them there keeps what was given before it.
    """
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    default_path = str(default_database_path()).replace("%", "%%")
    parser.add_argument(
        "--database",
        type=_database,
        metavar="DB",
        default=default(None),
        help=f"a file path, sqlite:///path or postgresql://… (default: $OTEL_EXPORTER_LENS_DATABASE, "
        f"else {default_path})",
    )
    parser.add_argument("--json", action="store_true", default=default(False), help=json_help)


class _Parser(argparse.ArgumentParser):
    """Reports an unknown flag with the usage of the command it was given to, not the top-level usage."""

    commands: dict[str, argparse.ArgumentParser]

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            command = self.commands.get(getattr(parsed, "command", None) or "", self)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="otel-lens",
        description="Read the spans and logs otel-lens stored: list, show, tail, summarize, prune, export.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_common(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _Parser(add_help=False)
    _add_common(common, top=False)

    traces = commands.add_parser("traces", parents=[common], help="recent traces, newest first")
    traces.add_argument("--service", help="only traces whose root span is of this service")
    traces.add_argument("--name", help="only traces whose root span has this name")
    traces.add_argument("--errors", action="store_true", help="only traces with a failed span")
    traces.add_argument("--since", type=_duration, help="only traces started within this time (e.g. 1h)")
    traces.add_argument("--min-duration", type=_duration, help="only traces at least this long (e.g. 100ms)")
    traces.add_argument("--limit", type=_limit, default=50, help="at most this many (default 50)")

    show = commands.add_parser("show", parents=[common], help="one trace as a waterfall with its logs")
    show.add_argument("trace_id", type=_trace_id, metavar="TRACE_ID", help="a trace id or a unique prefix of one")
    show.add_argument(
        "--attributes", action="store_true", help="list every attribute of every span (and of its events)"
    )

    logs = commands.add_parser("logs", parents=[common], help="log records, newest first")
    logs.add_argument("--trace", type=_trace_id, metavar="ID", help="only records of this trace (id or unique prefix)")
    logs.add_argument("--level", type=_level, help="only this level and above: debug, info, warn, error, fatal")
    logs.add_argument("--since", type=_duration, help="only records within this time (e.g. 1h)")
    logs.add_argument(
        "--search",
        metavar="TEXT",
        help="only records whose message, event name or attributes contain TEXT (case-insensitive)",
    )
    logs.add_argument("--limit", type=_limit, default=200, help="at most this many (default 200)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new records as they are stored")

    stats = commands.add_parser(
        "stats",
        parents=[common],
        help="count, error rate and p50/p95/p99 per span name",
        description="Count, error rate and nearest-rank p50/p95/p99 latency per span name (or service). Counts "
        "are exact. Percentiles come from hourly histograms kept as spans are stored: within ±3.125% of the "
        "exact value, and exact for a window that lies inside one hour (e.g. --since 5m just after the hour).",
    )
    stats.add_argument("--since", type=_duration, default="24h", help="the window (default 24h)")
    stats.add_argument("--by", choices=STATS_GROUPS, default="name", help="group by span name or service")

    usage = commands.add_parser("usage", parents=[common], help="GenAI token usage (and cost) over a window")
    usage.add_argument("--since", type=_duration, default="24h", help="the window, in whole hours (default 24h)")
    usage.add_argument("--by", choices=USAGE_GROUPS, default="model", help="group by model, provider or service")
    usage.add_argument("--prices", metavar="FILE", help="a JSON price table: model → price per million tokens")
    usage.add_argument(
        "--no-bundled-prices",
        action="store_true",
        help="price only from --prices, not from the genai-prices package (extra otel-lens[prices])",
    )

    prune = commands.add_parser("prune", parents=[common], help="apply retention now and show what was reclaimed")
    prune.add_argument("--max-age", type=_duration, help="delete data older than this (default: the retention setting)")
    prune.add_argument("--max-size", type=_size, help="then delete the oldest data beyond this size")

    export = commands.add_parser("export", help="spans (and logs) as OTLP/JSON, one request per trace per line")
    _add_common(export, top=False, json_help="accepted and ignored: export always prints OTLP/JSON")
    export.add_argument("--since", type=_duration, help="only traces started (log records made) within this time")
    export.add_argument("--trace", type=_trace_id, metavar="ID", help="only this trace (id or unique prefix)")
    export.add_argument(
        "--signal",
        choices=("traces", "logs", "all"),
        default="traces",
        help="traces: an ExportTraceServiceRequest per trace (the default); logs: an ExportLogsServiceRequest "
        "per 1000 log records; all: the traces, then the logs",
    )
    export.add_argument(
        "--format", choices=("otlp-json",), default="otlp-json", help="the output format (default otlp-json)"
    )
    parser.commands = dict(commands.choices)
    return parser
