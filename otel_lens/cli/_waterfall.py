"""``otel-lens show``: a trace as a waterfall tree, with each span's timing bar, errors, key attributes and logs.

Piped, nothing is cut or wrapped to a width (values are bounded, see ``_PIPED_VALUE``). On a terminal
the bar narrows with the width, and a span's name and each detail under it wrap onto indented lines
that keep the tree's rails, within a bound of lines per item: a line the terminal itself wrapped
would break the tree.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

from rich.console import Console
from rich.text import Text

from otel_lens.cli import _span_details as details
from otel_lens.cli import _states
from otel_lens.cli._bodies import body_lines
from otel_lens.cli._events import log_message
from otel_lens.cli._format import LEVEL_STYLES, duration, level, local_time
from otel_lens.cli._safe_text import safe_text
from otel_lens.cli._transcript import transcript_lines, without_message_records
from otel_lens.query import LogRecord, SpanRecord, TraceDetail

BAR_WIDTH = 30
"""The timeline bar piped and on wide terminals; narrower terminals get a narrower one (down to 8)."""
_MIN_BAR = 8
_PIPED_VALUE = 2000  # piped, values print whole up to this many characters
_TERMINAL_VALUE = 2000  # on a terminal values are cut to this before wrapping, then to the lines below
_NAME_LINES = 3  # lines a span's name may wrap over on a terminal
_HEADER_LINES = 5
_ITEM_LINES = 4  # lines one detail (a log record, an event) may wrap over
_KEY_LINES = 6  # lines the key attributes may wrap over (at 80 columns about one attribute a line)
_ATTRIBUTE_LINES = 50  # with --attributes, lines one attribute may wrap over (2000 characters at 40 a line)
_MIN_TEXT = 16  # below this much room, a deep tree's lines are cut instead of wrapped into a column


def render_trace(detail: TraceDetail, console: Console, every_attribute: bool = False) -> None:
    """Print ``detail`` as a waterfall; plain and unwrapped when ``console`` is not a terminal.

    ``every_attribute`` lists every attribute of every span and every event's attributes.
    """
    width = console.width if console.is_terminal else None
    for line in waterfall_lines(detail, console, width, every_attribute):
        console.print(line, soft_wrap=True)


def bar_width(width: int | None) -> int:
    """30 cells piped and from 116 columns; at 80 columns 12, leaving the tree ~45 characters."""
    return BAR_WIDTH if width is None else min(BAR_WIDTH, max(_MIN_BAR, (width - 56) // 2))


def waterfall_lines(
    detail: TraceDetail, console: Console, width: int | None = None, every_attribute: bool = False
) -> Iterator[Text]:
    """The lines of the waterfall; ``width`` None means piped (nothing wrapped or cut to a width)."""
    summary = detail.summary
    spans = detail.spans
    start = min([summary.start_ns, *(s.start_ns for s in spans)])
    end = max([summary.end_ns, *(s.end_ns for s in spans)])
    total = max(end - start, 1)
    bar = bar_width(width)
    gutter = 8 + 1 + 8 + 1 + 1 + bar + 2  # "+offset duration |bar| "
    layout = _Layout(width)
    errors = summary.error_count
    yield Text.assemble(("Trace ", "bold"), (summary.trace_id, "bold cyan"))
    header = Text()
    header.append(summary.root_name, "bold")
    header.append(f"  service {summary.service or '-'}  started {local_time(summary.start_ns, with_offset=True)}")
    header.append(f"  {duration(summary.duration_ms)}  {summary.span_count} span{'s' * (summary.span_count != 1)}")
    header.append(_states.open_counts(spans))
    header.append(f"  {errors} error{'s' * (errors != 1)}", "bold red" if errors else "")
    yield from layout.place(Text(), "", "", header, _HEADER_LINES)
    yield Text("")

    by_span = {span.span_id: span for span in spans}
    children: dict[str | None, list[SpanRecord]] = collections.defaultdict(list)
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in by_span else None
        children[parent].append(span)
    logs_by_span: dict[str | None, list[LogRecord]] = collections.defaultdict(list)
    for log in detail.logs:
        logs_by_span[log.span_id if log.span_id in by_span else None].append(log)
    blank = Text(" " * gutter)

    def walk(span: SpanRecord, prefix: str, last: bool, root: bool) -> Iterator[Text]:
        kids = sorted(children.get(span.span_id, []), key=lambda s: (s.start_ns, s.span_id))
        connector = "" if root else ("└─ " if last else "├─ ")
        child_prefix = prefix + ("" if root else ("   " if last else "│  "))
        detail_prefix = child_prefix + ("│  " if kids else "   ")
        parent = by_span.get(span.parent_span_id or "")
        label = _label(span, parent)
        yield from layout.place(_timing(span, start, total, bar), prefix + connector, detail_prefix, label, _NAME_LINES)
        for item, lines in _details(span, logs_by_span.get(span.span_id, []), width is not None, every_attribute):
            yield from layout.place(blank, detail_prefix, detail_prefix, item, lines)
        for index, kid in enumerate(kids):
            yield from walk(kid, child_prefix, index == len(kids) - 1, False)

    roots = sorted(children.get(None, []), key=lambda s: (s.start_ns, s.span_id))
    for root in roots:
        yield from walk(root, "", True, True)
    stray = logs_by_span.get(None, [])
    if stray:
        yield Text("")
        yield Text("Logs outside the stored spans of this trace:", "bold")
        for log in stray:
            yield from layout.place(Text("  "), "", "", _log_text(log, width is not None), _ITEM_LINES)


class _Layout:
    """Places text after a head (the timing columns or blanks) and a tree prefix, wrapped to the width."""

    def __init__(self, width: int | None) -> None:
        self.width = width

    def place(self, head: Text, first: str, rest: str, text: Text, max_lines: int) -> Iterator[Text]:
        if self.width is None:
            yield head + Text(first, "dim") + text
            return
        room = self.width - len(head) - max(len(first), len(rest))
        if room < _MIN_TEXT or max_lines == 1:  # one line (or too deep to wrap readably): cut at the width
            line = head + Text(first, "dim") + text
            line.truncate(self.width, overflow="ellipsis")
            yield line
            return
        hang = min(len(text.plain) - len(text.plain.lstrip(" ")), room // 2)  # continuations keep the indent
        lines = _wrap(text, room, hang)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1].truncate((room if max_lines == 1 else room - hang) - 1)
            lines[-1].append("…", "dim")
        for index, line in enumerate(lines):
            if index == 0:
                yield head + Text(first, "dim") + line
            else:
                yield Text(" " * len(head)) + Text(rest + " " * hang, "dim") + line


def _wrap(text: Text, room: int, hang: int = 0) -> list[Text]:
    """``text`` in lines of at most ``room`` cells (continuations ``hang`` fewer), broken at a space past the
    first third of a line, else anywhere.

    Values (routes, SQL, URLs) are long runs with few spaces: a word wrap would leave a short first line
    ("GET") and push the rest down, so a break only moves back to a space that is not near the start.
    """
    plain = text.plain
    offsets = []
    position = 0
    width = room
    while len(plain) - position > width:
        cut = position + width
        space = plain.rfind(" ", position + width // 3, cut + 1)
        cut = space + 1 if space > position else cut
        offsets.append(cut)
        position = cut
        width = room - hang
    lines = list(text.divide(offsets))
    for line in lines:
        line.rstrip()
    return lines


def _bar(span: SpanRecord, start: int, total: int, cells: int) -> str:
    first = int((span.start_ns - start) * cells / total)
    last = -(-(span.end_ns - start) * cells // total)  # ceiling: a span always covers its last cell
    first = min(max(first, 0), cells - 1)
    last = min(max(last, first + 1), cells)
    return " " * first + "█" * (last - first) + " " * (cells - last)


def _timing(span: SpanRecord, start: int, total: int, cells: int) -> Text:
    line = Text()
    line.append(f"{'+' + duration((span.start_ns - start) / 1e6):>8} ", "dim")
    line.append(f"{duration(span.duration_ms):>8} ", "bold")
    line.append("|")
    style = _states.bar_style(span) or ("red" if span.status_code == "ERROR" else "cyan")
    line.append(_bar(span, start, total, cells), style)
    line.append("| ")
    return line


def _label(span: SpanRecord, parent: SpanRecord | None) -> Text:
    """Name, kind, and the service where it changes: at a root and where a call crosses into another service."""
    failed = span.status_code == "ERROR"
    line = Text(safe_text(span.name, one_line=True), "bold red" if failed else "bold")  # a waterfall row is one line
    if span.kind != "INTERNAL":
        line.append(f"  {span.kind.lower()}", "dim")
    if span.service and (parent is None or parent.service != span.service):
        line.append(f"  [{span.service}]", "magenta")
    return line + _states.span_mark(span)


def _details(
    span: SpanRecord, logs: list[LogRecord], terminal: bool, every_attribute: bool
) -> Iterator[tuple[Text, int]]:
    """Each thing shown under ``span``, with the lines it may wrap over on a terminal."""
    span, logs = without_message_records(span, logs)  # a GenAI span's messages print once, as its transcript
    limit = _TERMINAL_VALUE if terminal else _PIPED_VALUE
    if every_attribute:
        for item in details.all_attributes(span, limit):
            yield item, _ATTRIBUTE_LINES
    else:
        keys = details.key_attributes(span, limit)
        if keys is not None:
            yield keys, _KEY_LINES
    frames = details.STACK_FRAMES_TERMINAL if terminal else details.STACK_FRAMES_PIPED
    for item in details.problems(span, limit, frames):
        yield item, 2
    yield from transcript_lines(span, terminal)
    most = details.EVENTS_TERMINAL if terminal and not every_attribute else None
    for item in details.events(span, 200 if terminal else _PIPED_VALUE, most, every_attribute):
        yield item, _ATTRIBUTE_LINES if every_attribute else 2
    yield from body_lines(span, terminal)
    for log in logs:
        yield _log_text(log, terminal), _ITEM_LINES


def _log_text(log: LogRecord, terminal: bool) -> Text:
    name = level(log.severity_number, log.severity_text)
    text = Text()
    text.append(local_time(log.timestamp_ns, with_date=False), "dim")
    text.append(" ")
    text.append(name, LEVEL_STYLES.get(name, ""))
    text.append(" ")
    text.append(log_message(log, 200 if terminal else _PIPED_VALUE))
    return text
