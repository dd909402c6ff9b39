"""How the terminal marks running and abandoned spans and traces (``show``, ``traces``).

A running span shows its elapsed time so far; an abandoned one (its process stopped beating, or exited
leaving it open) how long it is known to have run. The words are the JSON's ``state`` values.
"""

from __future__ import annotations

from rich.text import Text

from otel_lens.cli._format import duration
from otel_lens.query import SpanRecord, TraceSummary

STATE_STYLES = {"running": "bold yellow", "abandoned": "bold magenta"}


def span_mark(span: SpanRecord) -> Text:
    """``  running 2.5s so far`` / ``  abandoned after 2.5s``; empty for an ended span."""
    if span.state == "running":
        return Text(f"  running {duration(span.duration_ms)} so far", STATE_STYLES["running"])
    if span.state == "abandoned":
        return Text(f"  abandoned after {duration(span.duration_ms)}", STATE_STYLES["abandoned"])
    return Text("")


def bar_style(span: SpanRecord) -> str | None:
    """The bar's colour for a span that has not ended (None: the usual one)."""
    return "yellow" if span.state == "running" else ("magenta" if span.state == "abandoned" else None)


def open_counts(spans: list[SpanRecord]) -> str:
    """``  + 1 running, 2 abandoned`` for a trace's spans that have not ended (the summary counts ended ones)."""
    running = sum(1 for span in spans if span.state == "running")
    abandoned = sum(1 for span in spans if span.state == "abandoned")
    parts = [f"{running} running"] * bool(running) + [f"{abandoned} abandoned"] * bool(abandoned)
    return f" + {', '.join(parts)}" if parts else ""


def trace_suffix(summary: TraceSummary) -> str:
    """`` [running]`` / `` [abandoned]`` after a trace's root name in the list; empty when it ended."""
    return f" [{summary.state}]" if summary.state in STATE_STYLES else ""
