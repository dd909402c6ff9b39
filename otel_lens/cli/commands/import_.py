"""``otel-lens import``: OTLP/JSON lines (as ``export`` writes them, or the OTLP JSON file exporters) into the store.

The one command besides ``prune`` that writes: it stores through the write path's OTLP/JSON adapter and
row builder (``otel_lens.export``), the same rows the receiver would store for those requests, so an
``export`` of the result gives the same bytes back. Importing a file twice stores it once.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import sys
from collections.abc import Iterable, Iterator
from typing import IO

from otel_lens.cli._console import print_json, progress_bar
from otel_lens.cli._errors import write_error
from otel_lens.cli._options import add_database, add_json
from otel_lens.export import ImportSummary, import_otlp_json
from otel_lens.query import resolve_database
from otel_lens.settings import Settings

NAME = "import"
HELP = "store OTLP/JSON lines (export's output, OTLP JSON files) in the database; importing twice stores once"
EXIT_ERROR = 1
_SHOWN_ERRORS = 20  # on stderr; --json has the first 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="OTLP/JSON lines: one ExportTraceServiceRequest or ExportLogsServiceRequest per line ('-': stdin; "
        "*.gz is read decompressed)",
    )
    add_database(parser)
    add_json(parser, "print the summary (counts and the lines not imported) as JSON")


@contextlib.contextmanager
def _opened(names: list[str]) -> Iterator[list[tuple[str, Iterable[bytes]]]]:
    """Every file opened before anything is imported, so a mistyped name imports nothing."""
    with contextlib.ExitStack() as stack:
        opened: list[tuple[str, Iterable[bytes]]] = []
        for name in names:
            if name == "-":
                opened.append(("<stdin>", sys.stdin.buffer))
                continue
            try:
                stream: IO[bytes] = open(name, "rb")  # noqa: SIM115 - closed by the ExitStack
            except OSError as exc:
                raise ValueError(f"cannot read {name}: {exc.strerror or exc}; nothing was imported") from None
            stack.enter_context(stream)
            opened.append((name, _gunzipped(name, stream) if name.endswith(".gz") else stream))
        yield opened


def _gunzipped(name: str, stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of a gzip file; a file that is not gzip (or is cut short) stops the import with one line."""
    with gzip.GzipFile(fileobj=stream, mode="rb") as lines:
        try:
            yield from lines
        except (OSError, EOFError) as exc:  # BadGzipFile, a truncated stream
            raise ValueError(f"cannot read {name}: {exc}; importing it again after fixing it is safe") from None


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    # No sweeping from a short-lived import: old data stays until a sweeper of a running process gets to it.
    settings = Settings.load(database=database, sweep_interval=0)
    with _opened(list(args.files)) as sources, progress_bar("importing lines", None) as advance:
        summary = import_otlp_json(sources, settings, on_line=lambda _: advance(1))
    if args.json:
        print_json(summary.as_dict())
    else:
        for error in summary.errors[:_SHOWN_ERRORS]:
            write_error(error)
        if summary.bad_lines > _SHOWN_ERRORS:
            write_error(f"… and {summary.bad_lines - _SHOWN_ERRORS} more lines not imported")
        sys.stdout.write(_summary_text(summary, database) + "\n")
    return EXIT_ERROR if summary.bad_lines else 0


def _summary_text(summary: ImportSummary, database: str) -> str:
    text = (
        f"imported {_count(summary.spans, 'span')} ({summary.spans_stored} new) and "
        f"{_count(summary.logs, 'log record')} ({summary.logs_stored} new) from {_count(summary.lines, 'line')} "
        f"into {database}"
    )
    if summary.bad_lines:
        text += f"; {_count(summary.bad_lines, 'line')} not imported"
        if summary.rejected:
            text += f" ({_count(summary.rejected, 'span or log record', 'spans or log records')} rejected)"
    return text


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
