"""Cursor paging of the trace list and the log list: a page of results and the opaque cursor of the next one.

Pages are keyset pages (``WHERE key < cursor ORDER BY key DESC LIMIT n``), so a page costs the same on
the first screen and the thousandth, and records stored while someone pages never shift what the next
page holds. A cursor is ``<nanoseconds>.<tie-breaker>`` (the trace id in hex, or the log's arrival id):
readable, but clients only pass it back.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from otel_lens.query.results import LogRecord, TraceSummary

_TRACE_CURSOR = re.compile(r"^(\d{1,19})\.([0-9a-f]{32})$")
_LOG_CURSOR = re.compile(r"^(\d{1,19})\.(\d{1,19})$")
_MAX_INT = 2**63 - 1


def trace_cursor(summary: TraceSummary) -> str:
    return f"{summary.start_ns}.{summary.trace_id}"


def parse_trace_cursor(text: str | None) -> tuple[int, bytes] | None:
    """The (start_ns, trace_id) key of a trace-list cursor; ``None`` when not given.

    Raises:
        ValueError: ``text`` is not a cursor this module made.
    """
    if text is None or text == "":
        return None
    match = _TRACE_CURSOR.match(str(text).strip().lower())
    if match is None or int(match.group(1)) > _MAX_INT:
        raise ValueError(f"before={text!r} is not a trace-list cursor; pass back the `next` of a previous page")
    return int(match.group(1)), bytes.fromhex(match.group(2))


def log_cursor(record: LogRecord) -> str:
    return f"{record.timestamp_ns}.{record.id}"


def parse_log_cursor(text: str | None) -> tuple[int, int] | None:
    """The (timestamp_ns, id) key of a log-list cursor; ``None`` when not given.

    Raises:
        ValueError: ``text`` is not a cursor this module made.
    """
    if text is None or text == "":
        return None
    match = _LOG_CURSOR.match(str(text).strip())
    if match is None or int(match.group(1)) > _MAX_INT or int(match.group(2)) > _MAX_INT:
        raise ValueError(f"before={text!r} is not a log-list cursor; pass back the `next` of a previous page")
    return int(match.group(1)), int(match.group(2))


@dataclasses.dataclass(frozen=True)
class TracePage:
    """One page of the trace list, newest first; ``next`` is the cursor of the following page (None: last)."""

    traces: list[TraceSummary]
    next: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"traces": [trace.as_dict() for trace in self.traces], "next": self.next}


@dataclasses.dataclass(frozen=True)
class LogPage:
    """One page of the log list, newest first; ``next`` is the cursor of the following page (None: last)."""

    logs: list[LogRecord]
    next: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"logs": [log_dict(record) for record in self.logs], "next": self.next}


def log_dict(record: LogRecord) -> dict[str, Any]:
    """A log record's JSON shape plus its arrival ``id`` (what the viewer de-duplicates live records by)."""
    return record.as_dict() | {"id": record.id}
