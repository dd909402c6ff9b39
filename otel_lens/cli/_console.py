"""Where CLI output goes: rich consoles (plain text when not a terminal), JSON on stdout, progress on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from otel_lens.cli._safe_text import SafeConsole

_DEFAULT_WIDTH = 120
PIPED_WIDTH = 1_000_000
"""Off a terminal nothing is cut or wrapped to a width: one line per row, whole values, for grep and scripts."""


def _width(stream: TextIO) -> int | None:
    if stream.isatty():
        return None  # rich asks the terminal
    try:
        return max(int(os.environ.get("COLUMNS", "")), 40)
    except ValueError:
        return _DEFAULT_WIDTH


def stdout_console(stream: TextIO | None = None) -> Console:
    """The console for what the user asked to see: colour and fitting to the width only on a terminal."""
    stream = stream if stream is not None else sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return SafeConsole(file=stream, width=width, highlight=False, emoji=False, soft_wrap=False)


def stderr_console() -> Console:
    return SafeConsole(file=sys.stderr, width=_width(sys.stderr), highlight=False, emoji=False, stderr=True)


def print_json(value: Any, stream: TextIO | None = None, lines: bool = False) -> None:
    """``value`` as JSON on stdout: indented, or one compact object per line when ``lines``."""
    stream = stream if stream is not None else sys.stdout
    option = orjson.OPT_NON_STR_KEYS if lines else orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2
    stream.write(orjson.dumps(value, option=option).decode() + "\n")


def show_progress() -> bool:
    """Progress goes to stderr, and only when a person is watching it."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Any]:
    """A progress bar on stderr (a no-op outside a terminal); yields ``advance(n)``."""
    if not show_progress():
        yield lambda n=1: None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


@contextlib.contextmanager
def spinner(description: str) -> Iterator[None]:
    """A spinner with elapsed time on stderr for work whose size is unknown (a no-op outside a terminal)."""
    if not show_progress():
        yield
        return
    with stderr_console().status(Text(description)):  # plain text: paths may hold [brackets]
        yield
