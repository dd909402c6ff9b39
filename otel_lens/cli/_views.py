"""Text views of the list commands: traces, logs, stats, usage and prune summaries."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_lens._units import format_size
from otel_lens.cli._format import LEVEL_STYLES, duration, level, one_line, utc
from otel_lens.query.results import LogRecord, StatRow, TraceSummary, UsageRow
from otel_lens.store.sweeper import PruneSummary


def _table(*columns: tuple[str, str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for title, justify in columns:
        table.add_column(title, justify=justify, no_wrap=title not in ("root span", "name", "service"))  # type: ignore[arg-type]
    return table


def render_traces(traces: Sequence[TraceSummary], console: Console) -> None:
    if not traces:
        console.print("no traces match", style="dim")
        return
    table = _table(
        ("time (UTC)", "left"),
        ("trace", "left"),
        ("root span", "left"),
        ("service", "left"),
        ("duration", "right"),
        ("spans", "right"),
        ("errors", "right"),
    )
    for trace in traces:
        failed = trace.error_count > 0
        table.add_row(
            utc(trace.start_ns),
            Text(trace.trace_id, "cyan"),
            Text(trace.root_name, "bold red" if failed else ""),
            Text(trace.service or "-"),
            duration(trace.duration_ms),
            str(trace.span_count),
            Text(str(trace.error_count), "bold red" if failed else "dim"),
        )
    console.print(table)


def log_line(log: LogRecord) -> Text:
    """One log record on one line: time, level, short trace id, service/logger, body."""
    name = level(log.severity_number, log.severity_text)
    line = Text()
    line.append(utc(log.timestamp_ns), "dim")
    line.append(" ")
    line.append(name, LEVEL_STYLES.get(name, ""))
    line.append(" ")
    line.append(f"[{log.trace_id[:8] if log.trace_id else '-' * 8}]", "cyan")
    origin = "/".join(part for part in (log.service, log.logger) if part)  # service/logger: one token
    if origin:
        line.append(f" {origin}", "magenta")
    line.append(": " if origin else " ")
    line.append(one_line(log.body, 2000))
    return line


def render_logs(logs: Sequence[LogRecord], console: Console) -> None:
    if not logs:
        console.print("no log records match", style="dim")
        return
    for log in logs:
        console.print(log_line(log), soft_wrap=True)


def render_stats(rows: Sequence[StatRow], console: Console, by: str) -> None:
    if not rows:
        console.print("no spans in this window", style="dim")
        return
    table = _table((by, "left"), ("count", "right"), ("errors", "right"), ("error rate", "right"),
                   ("p50", "right"), ("p95", "right"), ("p99", "right"))  # fmt: skip
    for row in rows:
        failed = row.error_count > 0
        table.add_row(
            Text(row.key or "-"),
            str(row.count),
            Text(str(row.error_count), "bold red" if failed else "dim"),
            Text(f"{row.error_rate:.1%}", "bold red" if failed else "dim"),
            duration(row.p50_ms),
            duration(row.p95_ms),
            duration(row.p99_ms),
        )
    console.print(table)


def render_usage(rows: Sequence[UsageRow], console: Console, by: str, priced: bool) -> None:
    if not rows:
        console.print("no GenAI usage in this window", style="dim")
        return
    columns = [(by, "left"), ("spans", "right"), ("input", "right"), ("output", "right"),
               ("cache read", "right"), ("cache write", "right"), ("total", "right")]  # fmt: skip
    if priced:
        columns.append(("cost", "right"))
    table = _table(*columns)
    for row in rows:
        cells: list[str | Text] = [
            Text(row.key or "(unknown)"),
            f"{row.span_count:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.cache_read_tokens:,}",
            f"{row.cache_creation_tokens:,}",
            f"{row.total_tokens:,}",
        ]
        if priced:
            cells.append(Text("?", "yellow") if row.cost is None else f"{row.cost:,.4f}")
        table.add_row(*cells)
    console.print(table)


def render_prune(summary: PruneSummary, console: Console) -> None:
    if summary.skipped:
        console.print(f"skipped: {summary.skipped}", style="yellow")
        return
    console.print(
        f"deleted {summary.traces_deleted:,} traces ({summary.spans_deleted:,} spans), "
        f"{summary.logs_deleted:,} log records, {summary.bodies_deleted:,} bodies in {summary.seconds:.2f}s"
    )
    console.print(
        f"size {format_size(summary.bytes_before)} → {format_size(summary.bytes_after)} "
        f"(reclaimed {format_size(summary.bytes_reclaimed)})"
    )
