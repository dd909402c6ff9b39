"""Flags several commands share, checked while parsing, and the store a command reads (:func:`open_for`).

A command module calls ``add_database(parser)``, ``add_json(parser)``, ``add_since(parser, …)`` … in its
``add_arguments`` and ``open_for(args)`` in its ``run``; a value that does not parse is an argparse usage
error naming the flag (exit 2), never a failure later inside a query.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sized
from typing import Any

from otel_lens._units import parse_duration, parse_size, unitless
from otel_lens.cli._wait import wait_for_store
from otel_lens.query import LEVELS, MAX_LIMIT, Store, missing_unit, open_store, trace_id_prefix
from otel_lens.settings import default_database_path

_NEGATIVE = re.compile(r"^-\.?\d")


def allow_dash_values(parser: argparse.ArgumentParser) -> None:
    """Let ``parser`` take ``-1h`` or ``-5MB`` as a flag's value, as it takes ``-5``, so the flag's type says why
    it is refused instead of argparse's "expected one argument" (which sent users to look for a typo).

    argparse takes a word starting with ``-`` for a flag unless it looks like a negative number (the
    parser's ``_negative_number_matcher``): a number with a unit is added to what looks like one. None of
    otel-lens's flags is a dash and a digit, so no flag is mistaken for a value.
    """
    known: re.Pattern[str] | None = getattr(parser, "_negative_number_matcher", None)
    if known is None:  # a Python whose argparse works otherwise: "expected one argument" stays, nothing breaks
        return
    parser._negative_number_matcher = re.compile(f"(?:{known.pattern})|^-\\d+(?:\\.\\d+)?[a-zA-Zµ]+$")


def _negative(text: str, example: str, parse: Callable[[str], object]) -> None:
    stripped = text.strip()
    if not _NEGATIVE.match(stripped):
        return
    rest = stripped[1:]
    try:  # "-1h" → "1h"; "-5" → the example, as a bare number is refused too
        parse(rest)
        suggestion = example if unitless(rest) else rest
    except ValueError:
        suggestion = example
    raise argparse.ArgumentTypeError(f"{text!r} is negative; use e.g. {suggestion}")


def duration(text: str) -> str:
    """An argparse type: a duration such as ``90s``, ``30m``, ``1h`` or ``7d`` (kept as text for the query)."""
    _negative(text, "1h", parse_duration)  # "--since -1h": a window already counts back from now
    hint = missing_unit(text)  # "--min-duration 5": ms or s? Neither guessed: the unit is asked for
    if hint is not None:
        raise argparse.ArgumentTypeError(hint)
    try:
        parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 90s, 30m, 1h or 7d") from None
    return text


def size(text: str) -> str:
    """An argparse type: a size such as ``500MB`` or ``1GiB``."""
    _negative(text, "500MB", parse_size)
    number = unitless(text)  # "prune --max-size 5" read as 5 bytes emptied the store: the unit is asked for
    if number is not None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no unit; say which: {number}B, {number}KiB, {number}MB or {number}GiB (0 = no limit)"
        )
    try:
        parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; use e.g. 500MB or 1GiB (0 = no limit)") from None
    return text


def limit(text: str) -> int:
    """An argparse type: a whole number from 1 to the read API's largest limit."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return value


def trace_id(text: str) -> str:
    """An argparse type: a trace id or a prefix of one (hex)."""
    try:
        return trace_id_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def level(text: str) -> str:
    """An argparse type: a log level name, lower-cased."""
    if text.strip().lower() not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level; use debug, info, warn, error or fatal")
    return text.strip().lower()


def _database(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a file path, sqlite:///path or postgresql://host/db")
    return text


def _default(top: bool, value: Any) -> Any:
    # Given before the command (``top``) and after it: the later one wins. After the command the default
    # is SUPPRESS, so not giving the flag there keeps what was given before it.
    return value if top else argparse.SUPPRESS


def add_database(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--database DB`` (else ``$OTEL_EXPORTER_LENS_DATABASE``, else the default path)."""
    default_path = str(default_database_path()).replace("%", "%%")
    parser.add_argument(
        "--database",
        type=_database,
        metavar="DB",
        default=_default(top, None),
        help=f"a file path, sqlite:///path or postgresql://… (default: $OTEL_EXPORTER_LENS_DATABASE, "
        f"else {default_path})",
    )


def add_json(parser: argparse.ArgumentParser, help: str = "print machine-readable JSON", *, top: bool = False) -> None:
    """``--json``: machine-readable output instead of the text view."""
    parser.add_argument("--json", action="store_true", default=_default(top, False), help=help)


def add_since(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """``--since DURATION``: the time window (``None``: no window unless given)."""
    parser.add_argument("--since", type=duration, default=default, help=help)


def add_limit(parser: argparse.ArgumentParser, default: int) -> None:
    """``--limit N``: at most N results."""
    parser.add_argument("--limit", type=limit, default=default, help=f"at most this many (default {default})")


def one_more(limit: int) -> int:
    """The limit to ask the store for: one row past ``limit`` tells :func:`note_if_cut` whether more matched."""
    return min(limit + 1, MAX_LIMIT)


def note_if_cut(found: Sized, limit: int, what: str) -> None:
    """After the output: when ``found`` (read with :func:`one_more`) has more than ``limit``, one line on stderr.

    ``traces --json`` printed 50 of 1115 traces with nothing said, and a script took them for all; stdout
    stays exactly the ``limit`` rows shown, the note goes to stderr (after them, so a terminal shows it last).
    """
    if len(found) > limit:
        sys.stdout.flush()
        sys.stderr.write(
            f"otel-lens: showing the newest {limit} {what}; more match (use --limit N, up to {MAX_LIMIT})\n"
        )


def add_trace(parser: argparse.ArgumentParser, help: str) -> None:
    """``--trace ID``: one trace, by id or unique prefix."""
    parser.add_argument("--trace", type=trace_id, metavar="ID", help=help)


def open_for(args: argparse.Namespace, *, wait: bool = False) -> Store:
    """The store ``--database`` names, for reading; with ``wait``, polls until it exists (``logs --follow``).

    Raises:
        StoreError: the database is missing (unless waiting), locked, corrupt, foreign or too new.
    """
    if wait:
        return wait_for_store(args.database)
    return open_store(args.database)
