"""``Logger``: a stdlib-compatible logger writing human lines to stderr and records to the store.

stderr gets ``HH:MM:SS.mmm INF [abcd1234] message`` (the bracket holds the first 8 hex digits of
the current trace id, and is left out outside a span) or, with ``OTEL_EXPORTER_LENS_LOG_FORMAT=json``,
one JSON object per line. The store gets the record through the OTel logs pipeline, with the
current trace and span ids. Nothing is ever written to stdout.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import traceback
from typing import Any

import orjson
from opentelemetry import trace

from otel_lens.facade import _state
from otel_lens.facade._handler import StoreHandler, attribute_value, extras

_LEVELS = {"DEBUG": "DBG", "INFO": "INF", "WARNING": "WRN", "ERROR": "ERR", "CRITICAL": "CRT"}


def _ids() -> tuple[str | None, str | None]:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"


def format_text(record: logging.LogRecord) -> str:
    """``HH:MM:SS.mmm LVL [trace8] message key=value`` plus the traceback, if any."""
    clock = datetime.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
    trace_id, _ = _ids()
    level = _LEVELS.get(record.levelname, record.levelname[:3])
    parts = [f"{clock}.{int(record.msecs):03d}", level]
    if trace_id is not None:
        parts.append(f"[{trace_id[:8]}]")
    parts.append(record.getMessage())
    parts.extend(
        f"{key}={value!r}" if isinstance(value, str) and " " in value else f"{key}={value}"
        for key, value in extras(record).items()
    )
    line = " ".join(parts)
    if record.exc_info and record.exc_info[0] is not None:
        line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    return line


def format_json(record: logging.LogRecord) -> str:
    """One JSON object: ``timestamp, level, message, logger, trace_id, span_id`` (+ extras, exception)."""
    trace_id, span_id = _ids()
    moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
    data: dict[str, Any] = {
        "timestamp": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "trace_id": trace_id,
        "span_id": span_id,
    }
    for key, value in extras(record).items():
        data.setdefault(key, attribute_value(value))
    if record.exc_info and record.exc_info[0] is not None:
        data["exception"] = "".join(traceback.format_exception(*record.exc_info))
    try:
        return orjson.dumps(data, default=str).decode()
    except TypeError:  # ints past 64 bits, lone surrogates: the line is still written, in plain json
        return json.dumps(data, default=str, ensure_ascii=True)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (never stdout), in the configured format."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            settings, _ = _state.current()
            line = format_json(record) if settings.log_format == "json" else format_text(record)
            stream = sys.stderr
            if stream is not None:
                stream.write(line + "\n")
                stream.flush()
        except Exception:
            self.handleError(record)


_stderr_handler = _StderrHandler()
_store_handler = StoreHandler()


class Logger(logging.Logger):
    """A stdlib :class:`logging.Logger` that writes to stderr and to the otel-lens store.

    It is not registered in the stdlib logger tree and does not propagate, so a root handler
    (including the one :func:`configure` adds) never sees its records twice.

    Args:
        name: the logger name (stored as the record's instrumentation scope).
        level: the lowest level handled; ``INFO`` unless given.
    """

    def __init__(self, name: str, level: int | str = logging.INFO) -> None:
        super().__init__(name, level)
        self.propagate = False
        self.addHandler(_stderr_handler)
        self.addHandler(_store_handler)

    def warn(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Same as :meth:`warning` (without the stdlib's deprecation warning)."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.warning(msg, *args, **kwargs)
