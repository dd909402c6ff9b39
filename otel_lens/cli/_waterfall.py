"""``otel-lens show``: a trace as a waterfall tree, with each span's timing bar, errors, key attributes and logs."""

from __future__ import annotations

import collections
from collections.abc import Iterator

from rich.console import Console
from rich.text import Text

from otel_lens.cli._bodies import body_lines
from otel_lens.cli._format import LEVEL_STYLES, duration, level, one_line, utc
from otel_lens.query.results import LogRecord, SpanRecord, TraceDetail

BAR_WIDTH = 30
_KEY_ATTRIBUTES = (
    "http.request.method",
    "http.method",
    "http.route",
    "url.path",
    "http.target",
    "http.response.status_code",
    "http.status_code",
    "rpc.system",
    "rpc.method",
    "db.system.name",
    "db.system",
    "db.operation.name",
    "db.query.text",
    "db.statement",
    "messaging.system",
    "messaging.destination.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "lens.source",
    "error.type",
)
_MAX_KEY_ATTRIBUTES = 6
_GUTTER = 8 + 1 + 8 + 1 + BAR_WIDTH + 2 + 1  # offset, duration, |bar|, space
_PIPED_VALUE = 2000  # piped, values print whole up to this many characters (a terminal cuts lines to its width)


def render_trace(detail: TraceDetail, console: Console) -> None:
    """Print ``detail`` as a waterfall; plain text when ``console`` is not a terminal.

    On a terminal every line is cut to the width with "…": a line the terminal wrapped would break the tree.
    """
    terminal = console.is_terminal
    for line in waterfall_lines(detail, terminal):
        if terminal:
            line.truncate(console.width, overflow="ellipsis")
        console.print(line, soft_wrap=True)


def waterfall_lines(detail: TraceDetail, terminal: bool = False) -> Iterator[Text]:
    summary = detail.summary
    spans = detail.spans
    start = min([summary.start_ns, *(s.start_ns for s in spans)])
    end = max([summary.end_ns, *(s.end_ns for s in spans)])
    total = max(end - start, 1)
    errors = summary.error_count
    yield Text.assemble(("Trace ", "bold"), (summary.trace_id, "bold cyan"))
    header = Text()
    header.append(summary.root_name, "bold")
    header.append(f"  service {summary.service or '-'}  started {utc(summary.start_ns)} UTC")
    header.append(f"  {duration(summary.duration_ms)}  {summary.span_count} span{'s' * (summary.span_count != 1)}")
    header.append(f"  {errors} error{'s' * (errors != 1)}", "bold red" if errors else "")
    yield header
    yield Text("")

    by_span = {span.span_id: span for span in spans}
    children: dict[str | None, list[SpanRecord]] = collections.defaultdict(list)
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in by_span else None
        children[parent].append(span)
    logs_by_span: dict[str | None, list[LogRecord]] = collections.defaultdict(list)
    for log in detail.logs:
        logs_by_span[log.span_id if log.span_id in by_span else None].append(log)

    def walk(span: SpanRecord, prefix: str, last: bool, root: bool) -> Iterator[Text]:
        kids = sorted(children.get(span.span_id, []), key=lambda s: (s.start_ns, s.span_id))
        connector = "" if root else ("└─ " if last else "├─ ")
        yield _span_line(span, start, total, prefix + connector)
        child_prefix = prefix + ("" if root else ("   " if last else "│  "))
        detail_prefix = child_prefix + ("│  " if kids else "   ")
        for text in _details(span, logs_by_span.get(span.span_id, []), terminal):
            yield Text(" " * _GUTTER + detail_prefix) + text
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
            yield Text("  ") + _log_text(log, terminal)


def _bar(span: SpanRecord, start: int, total: int) -> str:
    first = int((span.start_ns - start) * BAR_WIDTH / total)
    last = -(-(span.end_ns - start) * BAR_WIDTH // total)  # ceiling: a span always covers its last cell
    first = min(max(first, 0), BAR_WIDTH - 1)
    last = min(max(last, first + 1), BAR_WIDTH)
    return " " * first + "█" * (last - first) + " " * (BAR_WIDTH - last)


def _span_line(span: SpanRecord, start: int, total: int, tree: str) -> Text:
    failed = span.status_code == "ERROR"
    line = Text()
    line.append(f"{'+' + duration((span.start_ns - start) / 1e6):>8} ", "dim")
    line.append(f"{duration(span.duration_ms):>8} ", "bold")
    line.append("|")
    line.append(_bar(span, start, total), "red" if failed else "cyan")
    line.append("| ")
    line.append(tree, "dim")
    line.append(span.name, "bold red" if failed else "bold")
    if span.kind != "INTERNAL":
        line.append(f"  {span.kind.lower()}", "dim")
    if span.service and span.parent_span_id is None:
        line.append(f"  [{span.service}]", "magenta")
    return line


def _details(span: SpanRecord, logs: list[LogRecord], terminal: bool) -> Iterator[Text]:
    width = 80 if terminal else _PIPED_VALUE
    keys = [k for k in _KEY_ATTRIBUTES if k in span.attributes][:_MAX_KEY_ATTRIBUTES]
    if keys:
        yield Text("  ".join(f"{k}={one_line(span.attributes[k], width)}" for k in keys), "dim")
    yield from _problems(span, 200 if terminal else _PIPED_VALUE)
    yield from body_lines(span, terminal)
    for log in logs:
        yield _log_text(log, terminal)


def _problems(span: SpanRecord, width: int) -> Iterator[Text]:
    """The error status and the recorded exceptions, each said once.

    The SDK sets the status of a span that raised to ``"Type: message"`` and also records an exception
    event with the same text; that is one problem, shown as one line.
    """
    status = one_line(span.status_message or "", width) if span.status_code == "ERROR" else None
    exceptions = []
    for event in span.events:
        if event.name == "exception":
            kind = one_line(event.attributes.get("exception.type", "exception"), 80)
            message = one_line(event.attributes.get("exception.message", ""), width)
            text = f"{kind}: {message}" if message else kind
            if status is not None and status in (text, message):
                status = text  # the status says the same: keep the fuller text once
                continue
            exceptions.append(text)
    if status is not None:
        yield Text(f"✗ error: {status or 'status ERROR'}", "bold red")
    for text in exceptions:
        yield Text(f"✗ exception {text}", "red")


def _log_text(log: LogRecord, terminal: bool) -> Text:
    name = level(log.severity_number, log.severity_text)
    text = Text()
    text.append(utc(log.timestamp_ns, with_date=False), "dim")
    text.append(" ")
    text.append(name, LEVEL_STYLES.get(name, ""))
    text.append(" ")
    text.append(one_line(log.body, 200 if terminal else _PIPED_VALUE))
    return text
