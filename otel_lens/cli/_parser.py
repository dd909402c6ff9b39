"""The ``otel-lens`` argument parser: the top-level flags plus one sub-parser per module of :mod:`.commands`."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Sequence
from typing import Any

from otel_lens.cli._options import add_database, add_json, allow_dash_values
from otel_lens.cli.commands import COMMANDS


def _version() -> str:
    try:
        return importlib.metadata.version("otel-lens")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


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
    """The whole command line; a parsed namespace carries its command's ``run`` as ``args.run``."""
    parser = _Parser(
        prog="otel-lens",
        description=(
            "Read the spans and logs otel-lens stored: traces, waterfalls, logs, latency stats, GenAI usage, cost"
            " and sessions, trace diffs, read-only SQL; export and import OTLP/JSON; prune. `serve` runs the web"
            " viewer and also receives OTLP (HTTP; gRPC with grpcio) and writes what it receives to the store (--no-otlp"
            " to only read); `mcp` serves the store to coding agents."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    # --database and --json are accepted before the command too; given on both sides, the later one wins.
    add_database(parser, top=True)
    add_json(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP)
        command.add_arguments(sub)
        allow_dash_values(sub)  # "--since -1h" reaches the duration check
        sub.set_defaults(run=command.run)
    parser.commands = dict(subparsers.choices)
    return parser
