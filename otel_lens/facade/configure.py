"""``configure()``: one call that stores an application's spans and logs, whatever OTel setup it already has.

With no SDK providers set it creates a TracerProvider and a LoggerProvider (resource and sampler
from the standard ``OTEL_*`` variables) and sets them globally. With providers already set (the
application's own OTLP or console setup) it adds its processors to them and leaves their
exporters alone. Calling it again returns the same handle, so nothing is exported twice.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.facade import _exit, _state
from otel_lens.facade._batch import BatchOptions, LensLogProcessor, LensSpanProcessor
from otel_lens.facade._handler import StoreHandler
from otel_lens.query import Store, open_store
from otel_lens.settings import Settings

_logger = logging.getLogger(__name__)
_lock = threading.RLock()
_current: Lens | None = None
_inherited_readers: list[Store] = []  # read connections inherited across fork(): kept, never closed


class Lens:
    """The handle :func:`configure` returns: flush, shut down, and reach the store."""

    def __init__(self, settings: Settings, disabled: bool = False) -> None:
        self.settings = settings
        self.disabled = disabled
        self.span_processor: LensSpanProcessor | None = None
        self.log_processor: LensLogProcessor | None = None
        self.tracer_provider: TracerProvider | None = None
        self.logger_provider: LoggerProvider | None = None
        self.owned_providers: list[TracerProvider | LoggerProvider] = []  # made by configure(), not the app
        self._handler: StoreHandler | None = None
        self._reader: Store | None = None
        self._reader_pid = 0
        self._closed = False

    @property
    def store(self) -> Store | None:
        """The read API on this app's database (what ``otel_lens.open_store`` gives); it keeps working
        after :meth:`shutdown`, since reading needs no exporter. ``None`` when otel-lens is disabled
        (``OTEL_SDK_DISABLED=true``)."""
        if self.disabled:
            return None
        if self._reader is not None and self._reader_pid != os.getpid():
            _inherited_readers.append(self._reader)  # a forked child never uses nor closes the parent's
            self._reader = None
        if self._reader is None:
            self._reader = open_store(self.settings.database)
            self._reader_pid = os.getpid()
        return self._reader

    @property
    def dropped(self) -> int:
        """Spans and log records dropped because the store stayed behind a full queue (normally 0)."""
        return sum(p.dropped for p in (self.span_processor, self.log_processor) if p is not None)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Store everything ended or logged so far; False if that took longer than ``timeout_millis``."""
        ok = True
        for processor in (self.span_processor, self.log_processor):
            if processor is not None:
                ok = processor.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self) -> None:
        """Flush, stop storing and release the store; idempotent. A later :func:`configure` starts afresh."""
        global _current
        with _lock:
            if self._closed:
                return
            self._closed = True
            if _current is self:
                _current = None
                _state.activate(None)
        atexit.unregister(self.shutdown)
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
        for processor in (self.span_processor, self.log_processor):
            if processor is not None:
                processor.shutdown()
        for provider in self.owned_providers:
            provider.shutdown()  # our processors are already shut down; this ends the providers' atexit work
        reader, self._reader = self._reader, None
        if reader is not None:
            if self._reader_pid == os.getpid():
                reader.close()
            else:
                _inherited_readers.append(reader)


def configure(**settings: Any) -> Lens:
    """Store this process's spans and logs in the otel-lens database; returns a :class:`Lens` handle.

    Keywords are the ``OTEL_EXPORTER_LENS_*`` settings (``database=``, ``retention=``, …) plus
    ``service_name=`` and ``capture_logging=`` (default ``True``: records of the application's
    stdlib loggers are stored too, through a handler on the root logger; the loggers' own levels
    decide what gets through). ``OTEL_SDK_DISABLED=true`` makes this a no-op.

    Raises:
        SettingsError: a setting or ``OTEL_BSP_*``/``OTEL_BLRP_*`` value does not parse.
        StoreError: the database cannot be opened (the message names it and says why).
    """
    global _current
    with _lock:
        if _current is not None:
            _warn_if_ignored(_current, settings)
            return _current
        capture_logging = bool(settings.pop("capture_logging", True))
        resolved = Settings.load(**settings)
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            lens = Lens(resolved, disabled=True)
            _state.activate(resolved)
            _current = lens
            return lens
        span_options, log_options = BatchOptions("OTEL_BSP"), BatchOptions("OTEL_BLRP")
        lens = Lens(resolved)
        span_exporter = LensSpanExporter(resolved)  # opens the store: a bad database fails here, clearly
        log_exporter = LensLogExporter(resolved)
        _attach_traces(lens, span_exporter, span_options)
        _attach_logs(lens, log_exporter, log_options)
        if capture_logging:
            lens._handler = _route_stdlib_logging()
        _state.activate(resolved)
        _current = lens
        atexit.register(lens.shutdown)
        _flush_on_sigterm()
        return lens


def _warn_if_ignored(current: Lens, settings: dict[str, Any]) -> None:
    """A second configure() returns the first handle: say which different keywords it did not apply."""
    wanted = dict(settings)
    wanted.pop("capture_logging", None)
    try:
        resolved = Settings.load(**wanted)
    except Exception:
        return
    ignored = sorted(
        name
        for name in wanted
        if wanted[name] is not None and getattr(resolved, name) != getattr(current.settings, name)
    )
    if ignored:
        _logger.warning(
            "otel-lens: configure() was already called; its settings stay and these keywords were ignored: %s "
            "(call lens.shutdown() first to configure again)",
            ", ".join(ignored),
        )


def _flush_on_sigterm() -> None:
    """Store what is queued when SIGTERM ends the process, then die of SIGTERM as before (see ``_exit``)."""
    _exit.flush_on_sigterm(_shut_down_current)


def _shut_down_current() -> None:
    lens = _current
    if lens is not None:
        lens.shutdown()


def _resource(settings: Settings) -> Resource:
    return Resource.create({"service.name": settings.service_name} if settings.service_name else {})


def _attach_traces(lens: Lens, exporter: LensSpanExporter, options: BatchOptions) -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        if type(provider) is not trace.ProxyTracerProvider:
            _logger.warning(
                "otel-lens: the global tracer provider is a %s, not the OTel SDK's; spans will not be stored",
                type(provider).__name__,
            )
            exporter.shutdown()
            return
        provider = TracerProvider(resource=_resource(lens.settings))  # sampler from OTEL_TRACES_SAMPLER
        trace.set_tracer_provider(provider)
        lens.owned_providers.append(provider)
    elif _exports_to_lens(getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())):
        exporter.shutdown()  # e.g. OTEL_TRACES_EXPORTER=lens under opentelemetry-instrument: already stored
        return
    lens.tracer_provider = provider
    lens.span_processor = LensSpanProcessor(exporter, options)
    provider.add_span_processor(lens.span_processor)


def _attach_logs(lens: Lens, exporter: LensLogExporter, options: BatchOptions) -> None:
    provider = _logs.get_logger_provider()
    if not isinstance(provider, LoggerProvider):
        if type(provider).__name__ not in ("ProxyLoggerProvider", "NoOpLoggerProvider"):
            _logger.warning(
                "otel-lens: the global logger provider is a %s, not the OTel SDK's; logs will not be stored",
                type(provider).__name__,
            )
            exporter.shutdown()
            return
        provider = LoggerProvider(resource=_resource(lens.settings))
        _logs.set_logger_provider(provider)
        lens.owned_providers.append(provider)
    elif _exports_to_lens(
        getattr(getattr(provider, "_multi_log_record_processor", None), "_log_record_processors", None)
    ):
        exporter.shutdown()
        return
    lens.logger_provider = provider
    lens.log_processor = LensLogProcessor(exporter, options)
    provider.add_log_record_processor(lens.log_processor)


def _exports_to_lens(processors: Any) -> bool:
    """Whether one of an existing provider's processors already feeds an otel-lens exporter."""
    for processor in processors or ():
        if isinstance(processor, (LensSpanProcessor, LensLogProcessor)):
            if not processor.is_shutdown:
                return True
            continue
        candidates = [getattr(processor, name, None) for name in ("span_exporter", "exporter", "_exporter")]
        inner = getattr(processor, "_batch_processor", None)
        candidates.append(getattr(inner, "_exporter", None))
        if any(isinstance(c, (LensSpanExporter, LensLogExporter)) and c.store is not None for c in candidates):
            return True
    return False


def _route_stdlib_logging() -> StoreHandler | None:
    """Add the store handler to the root logger without changing what the application sees on stderr.

    With no root handler, Python prints warnings through its last-resort handler, and a later
    ``logging.basicConfig()`` configures the root logger; a handler of ours would silently stop both.
    So a stand-in for the last-resort handler is added beside ours, and ``basicConfig`` is wrapped
    to set ours aside while it runs (it then configures as if otel-lens were not there).
    """
    root = logging.getLogger()
    for handler in root.handlers:
        # The application (or opentelemetry-instrument) already sends stdlib records to OTel.
        if isinstance(handler, StoreHandler) or type(handler).__name__ == "LoggingHandler":
            return None
    handler = StoreHandler()
    if not root.handlers:
        root.addHandler(_LastResort())
    root.addHandler(handler)
    _keep_basic_config_working()
    return handler


class _LastResort(logging.StreamHandler):  # type: ignore[type-arg]
    """What Python prints with no handler configured: WARNING and above, the bare message, on stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.setLevel(logging.WARNING)
        self.addFilter(_no_other_handler)

    @property
    def stream(self) -> Any:  # sys.stderr at the time of each record, as logging.lastResort does
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _no_other_handler(record: logging.LogRecord) -> bool:
    """Python's last resort speaks only when no handler at all was found for the record: the same here."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(h, (StoreHandler, _LastResort)) for h in logger.handlers):
            return False
        if not logger.propagate:
            break
        logger = logger.parent
    return True


def _keep_basic_config_working() -> None:
    original = logging.basicConfig
    if getattr(original, "_otel_lens", False):
        return

    @functools.wraps(original)
    def basic_config(**kwargs: Any) -> None:
        root = logging.getLogger()
        ours = [h for h in root.handlers if isinstance(h, (StoreHandler, _LastResort))]
        if len(ours) == len(root.handlers):  # nothing but otel-lens: configure as on a fresh root
            for handler in ours:
                root.removeHandler(handler)
        original(**kwargs)
        for handler in ours:
            if (isinstance(handler, StoreHandler) and handler not in root.handlers) or (
                not isinstance(handler, StoreHandler) and not root.handlers
            ):
                root.addHandler(handler)

    basic_config._otel_lens = True  # type: ignore[attr-defined]
    logging.basicConfig = basic_config
