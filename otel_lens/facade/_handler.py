"""A stdlib ``logging.Handler`` that sends records into the OTel logs pipeline (and so into the store).

It emits through the global LoggerProvider at emit time, so it works whether it was created before
or after :func:`configure`, with the trace and span ids of the current span. Records raised while
this handler is already emitting on the thread, or by otel-lens' own work, are dropped: a logging
call inside the pipeline must never loop back into it. Records of otel-lens's own loggers (``otel_lens.*``:
configure()'s warnings and the like) are dropped too: they are diagnostics for the person at the terminal,
printed on stderr as before, not the application's logs.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any

from opentelemetry import _logs, context
from opentelemetry._logs import LogRecord, SeverityNumber

from otel_lens._guard import is_internal
from otel_lens._own_logs import is_own_logger

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_BANDS = (
    (logging.CRITICAL, SeverityNumber.FATAL),
    (logging.ERROR, SeverityNumber.ERROR),
    (logging.WARNING, SeverityNumber.WARN),
    (logging.INFO, SeverityNumber.INFO),
    (logging.DEBUG, SeverityNumber.DEBUG),
)


def severity(levelno: int) -> SeverityNumber:
    """The OTel severity of a stdlib level (levels between the named ones keep their offset, up to 3)."""
    for floor, number in _BANDS:
        if levelno >= floor:
            return SeverityNumber(min(number.value + min((levelno - floor) // 2, 3), 24))
    return SeverityNumber.TRACE


def attribute_value(value: Any) -> Any:
    """``value`` if OTel accepts it as an attribute, else its ``str``."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record."""
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


class StoreHandler(logging.Handler):
    """Sends stdlib log records to the global OTel LoggerProvider, with the current span's ids."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._busy = threading.local()
        self._loggers: dict[tuple[int, str], Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "on", False) or is_internal() or is_own_logger(record.name):
            return
        self._busy.on = True
        try:
            provider = _logs.get_logger_provider()
            key = (id(provider), record.name)
            logger = self._loggers.get(key)
            if logger is None:
                logger = self._loggers[key] = provider.get_logger(record.name)
            logger.emit(self.translate(record))
        except Exception:
            self.handleError(record)
        finally:
            self._busy.on = False

    def translate(self, record: logging.LogRecord) -> LogRecord:
        attributes = {k: attribute_value(v) for k, v in extras(record).items()}
        attributes["code.file.path"] = record.pathname
        attributes["code.function.name"] = record.funcName
        attributes["code.line.number"] = record.lineno
        if record.exc_info and record.exc_info[0] is not None:
            kind, exc, tb = record.exc_info
            attributes["exception.type"] = kind.__name__
            attributes["exception.message"] = str(exc)
            attributes["exception.stacktrace"] = "".join(traceback.format_exception(kind, exc, tb))
        return LogRecord(
            timestamp=int(record.created * 1e9),
            observed_timestamp=time.time_ns(),
            context=context.get_current(),
            severity_text=_SEVERITY_TEXT.get(record.levelname, record.levelname),
            severity_number=severity(record.levelno),
            body=record.getMessage(),
            attributes=attributes,
        )
