"""The CLI's one-line error text: how any failure reads on stderr (``otel-lens: error: …``), in one place.

The store side words its own messages (``StoreError`` and friends are already one sentence); this
module only turns an exception, or a message, into the single line the user sees.
"""

from __future__ import annotations

import sys

from otel_lens.cli._safe_text import safe_text

PREFIX = "otel-lens: error: "


def one_line(text: str) -> str:
    """``text`` on one line: newlines, tabs and runs of spaces become single spaces."""
    return " ".join(text.split())


def error_text(exc: BaseException) -> str:
    """What ``exc`` says, on one line (a ``LookupError`` without its ``repr`` quotes); its type when it says nothing."""
    # str(KeyError("x")) is "'x'": a lookup error's message is its first argument, not its repr.
    message = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
    return one_line(message) or type(exc).__name__


def write_error(message: str) -> None:
    """Print ``message`` as the one ``otel-lens: error: …`` line on stderr."""
    sys.stderr.write(f"{PREFIX}{safe_text(one_line(message), one_line=True)}\n")  # it may quote stored text
