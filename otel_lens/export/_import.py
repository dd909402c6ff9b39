"""``otel-lens import``'s write half: OTLP/JSON lines (one request per line) → the OTLP/JSON adapter → the store.

The lines are what ``otel-lens export`` writes (an ``ExportTraceServiceRequest`` per trace, an
``ExportLogsServiceRequest`` per page of log records) and what the official OTLP JSON file exporters
write. Each line is read by the receiver's adapter (:mod:`._otlp_json`) into the neutral model and
stored by the one row builder, so an imported span is the row the SDK exporter or the receiver would
have stored: re-importing stores nothing twice (spans are keyed by trace and span id, log records by
their content digest).

A line that is not a request, or whose spans cannot be stored, is reported as ``file:line: reason``
and skipped; every other line is imported. Consecutive lines are written together, up to
:data:`CHUNK` items per transaction (a trace per line would otherwise be a commit per trace).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from otel_lens._guard import internal
from otel_lens._redact import Redactor
from otel_lens.export._builder import build_logs, build_spans
from otel_lens.export._otlp import _Rejections
from otel_lens.export._otlp_json import json_logs, json_spans, reason
from otel_lens.export._otlp_json_values import Shape, kind_of
from otel_lens.settings import Settings
from otel_lens.store.shared import WriteStore, acquire, release

__all__ = ["CHUNK", "MAX_ERRORS", "ImportSummary", "import_otlp_json"]

CHUNK = 4096
"""Spans (or log records) written in one transaction at most, whatever the lines they came on."""
MAX_ERRORS = 100
"""Error lines kept in the summary; the rest are only counted (a file of garbage must not fill memory)."""
_SIGNALS = {
    "resourceSpans": "traces",
    "resource_spans": "traces",
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
}


@dataclasses.dataclass
class ImportSummary:
    """What an import read and stored; ``errors`` are the ``file:line: reason`` lines of what it skipped."""

    lines: int = 0
    spans: int = 0
    """Spans read from the lines (the rejected not counted)."""
    spans_stored: int = 0
    """Of those, the ones new to the store (a re-import stores 0)."""
    logs: int = 0
    logs_stored: int = 0
    rejected: int = 0
    """Spans and log records that could not be stored (an invalid id, say)."""
    bad_lines: int = 0
    """Lines not (entirely) imported; the first :data:`MAX_ERRORS` of them are in ``errors``."""
    errors: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Pending:
    """The neutral items of consecutive lines of one signal, written together."""

    def __init__(self, store: WriteStore, redactor: Redactor, summary: ImportSummary) -> None:
        self.store, self.redactor, self.summary = store, redactor, summary
        self.signal: str | None = None
        self.items: list[Any] = []

    def add(self, signal: str, items: list[Any]) -> None:
        if signal != self.signal:
            self.flush()
            self.signal = signal
        self.items.extend(items)
        if len(self.items) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        items, self.items = self.items, []
        with internal():
            if self.signal == "traces":
                self.summary.spans_stored += self.store.write_spans(build_spans(items, self.redactor))
            else:
                self.summary.logs_stored += self.store.write_logs(build_logs(items, self.redactor))


def import_otlp_json(
    sources: Iterable[tuple[str, Iterable[bytes]]],
    settings: Settings,
    on_line: Callable[[ImportSummary], object] | None = None,
) -> ImportSummary:
    """Store every OTLP/JSON line of ``sources`` (``(name, lines)`` pairs) in ``settings.database``.

    ``on_line`` is called after each line (progress). Lines that cannot be imported are in the summary's
    ``errors``; the rest is stored whatever they are.

    Raises:
        StoreError: the database cannot be opened or written (what was written before stays stored).
    """
    summary = ImportSummary()
    store = acquire(settings)
    try:
        pending = _Pending(store, Redactor(settings.redact), summary)
        for name, lines in sources:
            for number, line in enumerate(lines, 1):
                summary.lines += 1
                problem = _read(line, pending, summary)
                if problem is not None:
                    summary.bad_lines += 1
                    if len(summary.errors) < MAX_ERRORS:
                        summary.errors.append(f"{name}:{number}: {problem}")
                if on_line is not None:
                    on_line(summary)
        pending.flush()
    finally:
        release(store)
    return summary


def _read(line: bytes, pending: _Pending, summary: ImportSummary) -> str | None:
    """Queue the items of one line; the reason when (some of) it cannot be imported."""
    if not line.strip():
        return None
    try:
        request = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"not an OTLP/JSON request: {reason(exc)}"
    if request.__class__ is not dict:
        return f"not an OTLP/JSON request: expected a JSON object, got {kind_of(request)}"
    signals = {_SIGNALS[key] for key in request if key in _SIGNALS}
    if not signals:
        return None if not request else "not an OTLP/JSON request: no resourceSpans or resourceLogs"
    if len(signals) > 1:
        return "not an OTLP/JSON request: it has " + " and ".join(sorted(signals)) + " (one request per line)"
    (signal,) = signals
    if signal == "metrics":
        return "metrics are not imported (otel-lens stores traces and logs)"
    rejections = _Rejections("spans" if signal == "traces" else "log records")
    try:
        items = json_spans(request, rejections) if signal == "traces" else json_logs(request, rejections)
    except Shape as exc:
        return f"not an OTLP/JSON {signal} request: {reason(exc)}"
    pending.add(signal, items)
    if signal == "traces":
        summary.spans += len(items)
    else:
        summary.logs += len(items)
    if not rejections.reasons:
        return None
    result = rejections.result(build_spans(()))  # only its count and its one line
    summary.rejected += result.rejected
    return result.error
