"""``otel-lens show``: captured request/response bodies under their span, bounded so a large one stays readable."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text

from otel_lens._keys import BODY_CONTENT_TYPE, BODY_KEYS, BODY_SIZE, BODY_TRUNCATED
from otel_lens._units import format_size
from otel_lens.cli._format import one_line
from otel_lens.query import SpanRecord

TERMINAL_LINES = 6
"""On a terminal a body shows this many lines (each cut to the width); ``show --json`` has the rest."""
PIPED_CHARS = 2048
"""Piped, a body shows whole up to this many characters, so one huge body cannot flood a log or a grep."""
GONE = "(body no longer stored)"


def body_lines(span: SpanRecord, terminal: bool) -> Iterator[tuple[Text, int]]:
    """For each captured body of ``span``: a header (role, content type, size), then its text, bounded.

    Each line comes with the lines it may wrap over on a terminal: 2 for a header, 1 for the body's
    own lines (cut at the width, as a viewer of the first lines would show them).
    """
    for key in BODY_KEYS:
        if key not in span.attributes:
            continue
        header = Text(f"{key.rsplit('.', 1)[1]} body", "bold")
        facts = _facts(span, key)
        if facts:
            header.append(f" ({facts})", "dim")
        if key in span.missing_bodies:
            yield header + Text(f" {GONE}", "yellow"), 2
            continue
        yield header + Text(":"), 2
        value = span.attributes[key]
        for line in _text_lines(value if isinstance(value, str) else one_line(value, PIPED_CHARS), terminal):
            yield line, 1


def _facts(span: SpanRecord, key: str) -> str:
    facts = []
    content_type = span.attributes.get(key + BODY_CONTENT_TYPE)
    if content_type:
        facts.append(str(content_type))
    size = span.attributes.get(key + BODY_SIZE)
    if isinstance(size, int) and not isinstance(size, bool):
        facts.append(format_size(size))
    if span.attributes.get(key + BODY_TRUNCATED) is True:
        facts.append("truncated when captured")
    return ", ".join(facts)


def _text_lines(text: str, terminal: bool) -> Iterator[Text]:
    lines = text.splitlines() or [""]
    if terminal:
        for line in lines[:TERMINAL_LINES]:
            yield Text("  " + line.expandtabs(4))
        if len(lines) > TERMINAL_LINES:
            more = len(lines) - TERMINAL_LINES
            yield Text(f"  … {more} more line{'s' * (more != 1)} (show --json for all)", "dim")
        return
    shown = text[:PIPED_CHARS]
    for line in shown.splitlines() or [""]:
        yield Text("  " + line)
    if len(text) > PIPED_CHARS:
        yield Text(f"  … {len(text) - PIPED_CHARS:,} more characters (show --json prints the whole body)", "dim")
