"""The ``otel-lens`` sub-commands, one module each; :data:`COMMANDS` lists them in the order ``--help`` shows.

A command module defines ``NAME`` (the sub-command), ``HELP`` (one line for the command list),
``add_arguments(parser)`` (its flags, beside its body, shared ones from ``cli/_options.py``) and
``run(args) -> int`` (opens what it reads, prints, returns the exit code). A new command is a new
module here plus one entry in :data:`COMMANDS`; nothing else dispatches on its name.
"""

from __future__ import annotations

import argparse
from typing import Protocol

from otel_lens.cli.commands import (
    diff,
    export,
    import_,
    logs,
    mcp,
    prune,
    serve,
    session,
    sessions,
    show,
    sql,
    stats,
    traces,
    usage,
)


class Command(Protocol):
    """What the dispatcher needs of a command module."""

    NAME: str
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: tuple[Command, ...] = (
    traces,
    show,
    logs,
    stats,
    usage,
    sessions,
    session,
    prune,
    export,
    import_,
    sql,
    diff,
    mcp,
    serve,
)

__all__ = ["COMMANDS", "Command"]
