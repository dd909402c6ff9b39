"""``Logger``: the stdlib logger of a name, writing human lines to stderr and records to the store.

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
import threading
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
# logging's own module lock (re-entrant): the manager holds it while it makes a logger, and may then call
# Logger() itself (logging.setLoggerClass(Logger)); a lock of ours taken before it would be taken in the
# opposite order by the two paths, and two threads creating loggers at once could deadlock.
_adopt_lock: Any = getattr(logging, "_lock", None) or threading.RLock()
_making = threading.local()  # set while Logger() asks the logging manager for a logger
_lens_classes: dict[type[logging.Logger], type[Logger]] = {}


def _console(handler: logging.Handler) -> bool:
    """Whether ``handler`` prints to the terminal (stderr or stdout), where otel-lens's line already is."""
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream = handler.stream
    if stream is None or any(stream is s for s in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)):
        return True
    try:
        return stream.fileno() in (1, 2)
    except Exception:  # StringIO and the like: a capture, not the terminal
        return False


def _bridge(handler: logging.Handler) -> bool:
    """Whether ``handler`` sends records to OTel (ours on the root logger, the SDK's or contrib's LoggingHandler)."""
    return isinstance(handler, StoreHandler) or type(handler).__module__.startswith("opentelemetry.")


class Logger(logging.Logger):
    """The stdlib logger of ``name``, writing its records to stderr in otel-lens's format and to the store.

    ``Logger(name) is logging.getLogger(name)``: the logger is the one in the stdlib tree (made an instance
    of this class), so ``logging.config.dictConfig``, ``setLevel``, filters and ``disabled`` apply to it as
    to any logger, and records of its child loggers propagate through it as usual. Its own records are
    printed once (never on stdout) and stored once, then passed to the handlers of the logger and its
    ancestors like any record, except console handlers (a ``StreamHandler`` on stderr or stdout: the line
    is already there) and OTel log bridges (it is already stored). Set ``propagate = False`` to keep its
    records from the application's other handlers (files, sockets) too.

    Args:
        name: the logger name (stored as the record's instrumentation scope).
        level: the lowest level handled (set on the logger, as ``setLevel`` does). When omitted, the level
            configured for it or a parent below the root applies; with none, ``INFO`` (``DEBUG`` if the
            root logger is at ``DEBUG``). That default is the Logger's own: child loggers keep theirs.
    """

    def __new__(cls, name: str, level: int | str | None = None) -> Logger:
        if getattr(_making, "on", False):
            # logging.setLoggerClass(Logger): the manager is making the logger our getLogger() below asked for.
            made = super().__new__(cls)
            logging.Logger.__init__(made, name)
            return made
        with _adopt_lock:
            _making.on = True
            try:
                logger = logging.getLogger(name)
            finally:
                _making.on = False
            if not isinstance(logger, Logger):
                # Made ours in place: code already holding this logger (or dictConfig, later) sees the same object.
                logger.__class__ = _lens_class(type(logger))
            if level is not None:
                logger.setLevel(level)
        return logger  # type: ignore[return-value]  # an instance of cls, per the line above

    def __init__(self, name: str, level: int | str | None = None) -> None:
        """Nothing to set up: ``__new__`` returned a logger that keeps the state it has (handlers, level)."""

    def getEffectiveLevel(self) -> int:
        """The stdlib rule up to the root; instead of the root's default WARNING, INFO (or the root's, if lower)."""
        logger: logging.Logger | None = self
        while logger is not None and logger.parent is not None:  # every logger but the root
            if logger.level:
                return logger.level
            logger = logger.parent
        root = logging.getLogger()
        return min(root.level, logging.INFO) if self is not root else root.level

    def callHandlers(self, record: logging.LogRecord) -> None:
        """otel-lens's stderr line and the store, then the configured handlers (see the class docstring)."""
        _stderr_handler.handle(record)
        _store_handler.handle(record)
        logger: logging.Logger | None = self
        while logger is not None:
            for handler in logger.handlers:
                if record.levelno >= handler.level and not _console(handler) and not _bridge(handler):
                    handler.handle(record)
            logger = logger.parent if logger.propagate else None

    def warn(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Same as :meth:`warning` (without the stdlib's deprecation warning)."""
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.warning(msg, *args, **kwargs)


def _lens_class(base: type[logging.Logger]) -> type[Logger]:
    """:class:`Logger`, or for a logger made by another class (``logging.setLoggerClass``, the root) a subclass
    of both, so that class's behaviour stays."""
    if base is logging.Logger:
        return Logger
    found = _lens_classes.get(base)
    if found is None:
        found = _lens_classes[base] = type(base.__name__, (Logger, base), {})
    return found
