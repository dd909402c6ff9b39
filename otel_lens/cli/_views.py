"""Text views of the list commands: traces, logs, stats and prune summaries (usage: :mod:`otel_lens.cli._usage`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_lens._units import format_size
from otel_lens.cli._events import log_message
from otel_lens.cli._format import LEVEL_STYLES, duration, level, local_time, utc_offset
from otel_lens.cli._safe_text import safe_text
from otel_lens.cli._states import trace_suffix
from otel_lens.query import LogRecord, PruneSummary, StatRow, TraceSummary


def _table(*columns: tuple[str, str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for title, justify in columns:
        table.add_column(title, justify=justify, no_wrap=title not in ("root span", "name", "service"))  # type: ignore[arg-type]
    return table


def render_traces(traces: Sequence[TraceSummary], console: Console) -> None:
    """The trace list; piped, every value whole on one line per trace; on a terminal, fitted to its width."""
    if not traces:
        console.print("no traces match", style="dim")
        return
    id_length = 32
    if console.is_terminal:
        id_length = short_id_length([trace.trace_id for trace in traces])
    # Local time; the header says the offset when every start shares it, else each time carries its own.
    offsets = {utc_offset(trace.start_ns) for trace in traces}
    time_title = f"time ({offsets.pop()})" if len(offsets) == 1 else "time"
    rows = [
        {
            time_title: local_time(trace.start_ns, with_offset=time_title == "time"),
            "trace": trace.trace_id[:id_length],
            "root span": safe_text(trace.root_name, one_line=True) + trace_suffix(trace),  # one row per trace
            "service": safe_text(trace.service or "-", one_line=True),
            "duration": duration(trace.duration_ms),
            "spans": str(trace.span_count),
            "errors": str(trace.error_count),
        }
        for trace in traces
    ]
    layout = _fit_trace_columns(rows, console.width, time_title) if console.is_terminal else None
    titles = list(rows[0]) if layout is None else list(layout.widths)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold",
                  padding=(0, 1) if layout is None or layout.gap == _GAP else (0, 1, 0, 0))  # fmt: skip
    for title in titles:
        width = None if layout is None else layout.widths[title]
        justify = "right" if title in ("duration", "spans", "errors") else "left"
        header = layout.time_header if layout is not None and title == time_title else title
        table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis", max_width=width)  # type: ignore[arg-type]
    styles = {"trace": "cyan"}
    for trace, row in zip(traces, rows, strict=True):
        failed = trace.error_count > 0
        styles["root span"] = "bold red" if failed else ""
        styles["errors"] = "bold red" if failed else "dim"
        cells = {title: row[title] for title in titles}
        if layout is not None and layout.time_slice is not None:
            cells[time_title] = cells[time_title][layout.time_slice]
        table.add_row(*(Text(value, styles.get(title, "")) for title, value in cells.items()))
    console.print(table)


def short_id_length(trace_ids: Sequence[str], shortest: int = 12) -> int:
    """The shortest prefix length (at least ``shortest``) that tells the listed trace ids apart."""
    length = shortest
    while length < 32 and len({trace_id[:length] for trace_id in trace_ids}) < len(set(trace_ids)):
        length += 1
    return length


_GAP, _GAP_NARROW = 3, 2  # the space a SIMPLE_HEAD table puts between columns; 2 without the left padding
_MIN_ROOT, _MIN_SERVICE = 16, 8
_MIN_NAME = 8  # below this the trace id goes: a name cut to a few letters says nothing
_DAY, _CLOCK = slice(5, 19), slice(11, 19)  # "MM-DD HH:MM:SS", "HH:MM:SS" of "YYYY-MM-DD HH:MM:SS.mmm"


@dataclasses.dataclass
class _Layout:
    widths: dict[str, int]  # the columns shown, by title, in order
    gap: int
    time_slice: slice | None  # what of the local time is shown (None: all of it)
    time_header: str


def _fit_trace_columns(rows: list[dict[str, str]], width: int, time_title: str) -> _Layout:
    """Columns that fit ``width``, keeping time, root span, duration, spans and errors (and the trace id
    ``show`` needs) on every width a terminal has.

    In turn, until the row fits: the time loses its year and milliseconds (and its date too when every
    listed trace started today), the columns move closer, the service narrows (a third of the room for
    names) and then goes, and the root span is cut with "…"; when the name would still have fewer than 8
    columns, the date goes from the time, then (below ~50 columns) the trace id.
    """
    natural = {title: max(len(title), *(len(row[title]) for row in rows)) for title in rows[0]}
    columns = dict(natural)
    layout = _Layout(columns, _GAP, None, time_title)

    def fixed() -> int:  # the width of everything but the names, gaps included
        return sum(w for t, w in columns.items() if t not in ("root span", "service")) + layout.gap * (len(columns) - 1)

    def fits() -> bool:
        return fixed() + sum(w for t, w in columns.items() if t in ("root span", "service")) <= width

    if not fits():
        today = local_time(time.time_ns())[:10]
        all_today = {row[time_title][:10] for row in rows} == {today}
        layout.time_slice = _CLOCK if all_today else _DAY
        layout.time_header = "time"
        columns[time_title] = max(len("time"), layout.time_slice.stop - layout.time_slice.start)
    if not fits():
        layout.gap = _GAP_NARROW
    if not fits():
        room = width - fixed()
        if room >= _MIN_ROOT + _MIN_SERVICE:
            service = min(natural["service"], max(_MIN_SERVICE, room // 3))
            columns["root span"] = min(natural["root span"], room - service)
            columns["service"] = min(natural["service"], room - columns["root span"])
        else:
            columns.pop("service")
            if width - fixed() < _MIN_NAME and layout.time_slice == _DAY:
                layout.time_slice = _CLOCK  # the date goes before the id
                columns[time_title] = _CLOCK.stop - _CLOCK.start
            if width - fixed() < _MIN_NAME:
                columns.pop("trace")
            columns["root span"] = max(min(natural["root span"], width - fixed()), 1)
    return layout


_TERMINAL_MESSAGE = 500


def log_line(log: LogRecord, terminal: bool = False) -> Text:
    """One log record on one line: time, level, short trace id, service/logger, body (or event and summary).

    On a terminal a long body or message content is cut to a few lines' worth; piped it is whole.
    """
    name = level(log.severity_number, log.severity_text)
    line = Text()
    line.append(local_time(log.timestamp_ns, with_offset=True), "dim")
    line.append(" ")
    line.append(name, LEVEL_STYLES.get(name, ""))
    line.append(" ")
    line.append(f"[{log.trace_id[:8] if log.trace_id else '-' * 8}]", "cyan")
    origin = "/".join(part for part in (log.service, log.logger) if part)  # service/logger: one token
    if origin:
        line.append(f" {origin}", "magenta")
    line.append(": " if origin else " ")
    line.append(log_message(log, _TERMINAL_MESSAGE if terminal else None))
    return line


def render_logs(logs: Sequence[LogRecord], console: Console) -> None:
    if not logs:
        console.print("no log records match", style="dim")
        return
    for log in logs:
        console.print(log_line(log, console.is_terminal), soft_wrap=True)


_NUMBERS = ("count", "errors", "error rate", "p50", "p95", "p99")
_MIN_STAT_NAME, _MIN_STAT_SERVICE = 28, 12


def render_stats(rows: Sequence[StatRow], console: Console, by: str) -> None:
    """One row per kind of span (name, kind, and service when several are listed) or per service.

    The numbers stay whole. When the columns do not fit the terminal, kind and service join the name
    cell, which wraps inside its column instead of being cut.
    """
    if not rows:
        console.print("no spans in this window", style="dim")
        return
    by_name = by == "name"
    with_service = by_name and len({row.service for row in rows}) > 1
    numbers = [_stat_numbers(row) for row in rows]
    labels = [[row.key or "-"] for row in rows]
    if by_name:
        for label, row in zip(labels, rows, strict=True):
            label.append((row.kind or "-").lower())
            if with_service:
                label.append(row.service or "-")
    natural = [
        max(len(title), *(len(label[i]) for label in labels)) for i, title in enumerate(_label_titles(by, labels))
    ]
    natural += [max(len(title), *(len(cells[i]) for cells in numbers)) for i, title in enumerate(_NUMBERS)]
    # Separate kind and service columns while the name keeps a readable column beside them.
    room = console.width - sum(natural[len(labels[0]) :]) - 2 * len(_NUMBERS)
    wanted = min(natural[0], _MIN_STAT_NAME) + sum(min(w, _MIN_STAT_SERVICE) + 2 for w in natural[1 : len(labels[0])])
    compact = console.is_terminal and room < wanted
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
    titles = [by] if compact else _label_titles(by, labels)
    for title in titles:
        table.add_column(title, overflow="fold")
    for title in _NUMBERS:
        table.add_column(title, justify="right", no_wrap=True)
    styles = ("", "dim", "magenta")
    for row, label, cells in zip(rows, labels, numbers, strict=True):
        parts = [Text(text, style) for text, style in zip(label, styles[: len(label)], strict=True)]
        label_cells = [Text("  ").join(parts)] if compact else parts
        failed = "bold red" if row.error_count else "dim"
        table.add_row(*label_cells, cells[0], Text(cells[1], failed), Text(cells[2], failed), *cells[3:])
    console.print(table)


def _label_titles(by: str, labels: list[list[str]]) -> list[str]:
    return [by, "kind", "service"][: len(labels[0])]


def _stat_numbers(row: StatRow) -> list[str]:
    return [
        str(row.count),
        str(row.error_count),
        f"{row.error_rate:.1%}",
        duration(row.p50_ms),
        duration(row.p95_ms),
        duration(row.p99_ms),
    ]


def render_prune(summary: PruneSummary, console: Console) -> None:
    if summary.skipped:
        console.print(f"skipped: {summary.skipped}", style="yellow", markup=False)  # paths may hold [brackets]
        return
    console.print(
        f"deleted {summary.traces_deleted:,} traces ({summary.spans_deleted:,} spans), "
        f"{summary.logs_deleted:,} log records, {summary.bodies_deleted:,} bodies in {summary.seconds:.2f}s"
    )
    console.print(
        f"size {format_size(summary.bytes_before)} → {format_size(summary.bytes_after)} "
        f"(reclaimed {format_size(summary.bytes_reclaimed)})"
    )
