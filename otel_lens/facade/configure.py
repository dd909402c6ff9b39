"""``configure()``: one call that stores an application's spans and logs, whatever OTel setup it already has.

With no SDK providers set it creates a TracerProvider and a LoggerProvider (resource and sampler
from the standard ``OTEL_*`` variables) and sets them globally. With providers already set (the
application's own OTLP or console setup) it adds its processors to them and leaves their
exporters alone, and the providers it adds take the resource of the application's (so logs are
stored under the service its spans name). Calling it again returns the same handle, so nothing is
exported twice. Storage that cannot be opened never stops the application: one warning, nothing stored.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_lens.export import RunningSpanProcessor
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.facade import _exit, _state, _threads
from otel_lens.facade._batch import BatchOptions, LensLogProcessor, LensSpanProcessor
from otel_lens.facade._handler import StoreHandler
from otel_lens.facade._routing import route_stdlib_logging
from otel_lens.query import Store, open_store
from otel_lens.settings import Settings, SettingsKeywords, running_spans_enabled
from otel_lens.store.errors import StoreError

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11; only type checkers read it

_logger = logging.getLogger(__name__)
_lock = threading.RLock()
_current: Lens | None = None
_inherited_readers: list[Store] = []  # read connections inherited across fork(): kept, never closed


class ConfigureOptions(SettingsKeywords, total=False):
    """``configure()``'s keywords: every setting plus the facade's own two (see :func:`configure`)."""

    capture_logging: bool
    propagate_threads: bool
    running_spans: bool


_FACADE_KEYWORDS = ("capture_logging", "propagate_threads", "running_spans")  # configure()'s own keywords, not Settings


class Lens:
    """The handle :func:`configure` returns: flush, shut down, and reach the store."""

    def __init__(self, settings: Settings, disabled: bool = False) -> None:
        self.settings = settings
        self.disabled = disabled
        self.unavailable: str | None = None  # why nothing is stored, when the database could not be opened
        self.span_processor: LensSpanProcessor | None = None
        self.running_processor: RunningSpanProcessor | None = None  # spans still open, stored as running
        self.log_processor: LensLogProcessor | None = None
        self.tracer_provider: TracerProvider | None = None
        self.logger_provider: LoggerProvider | None = None
        self.owned_providers: list[TracerProvider | LoggerProvider] = []  # made by configure(), not the app
        self._handler: StoreHandler | None = None
        self._threads = False  # configure() turned the threading instrumentation on (shutdown turns it off)
        self._reader: Store | None = None
        self._reader_pid = 0
        self._closed = False

    @property
    def store(self) -> Store | None:
        """The read API on this app's database (what ``otel_lens.open_store`` gives); it keeps working
        after :meth:`shutdown`, since reading needs no exporter. ``None`` when otel-lens is disabled
        (``OTEL_SDK_DISABLED=true``).

        Raises:
            StoreError: the database could not be opened when :func:`configure` ran (the message says why),
                or cannot be read now.
        """
        if self.disabled:
            return None
        if self.unavailable is not None:
            raise StoreError(f"otel-lens stores nothing in this process: {self.unavailable}")
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
        if self._threads:
            _threads.stop()
        # Finished spans first, then the running processor marks what is still open abandoned.
        for processor in (self.span_processor, self.running_processor, self.log_processor):
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


def configure(**options: Unpack[ConfigureOptions]) -> Lens:
    """Store this process's spans and logs in the otel-lens database; returns a :class:`Lens` handle.

    Keywords are the ``OTEL_EXPORTER_LENS_*`` settings (``database=``, ``retention=``, …) plus:

    - ``service_name=``: the service of the providers configure() creates. When the application already
      set a provider, its resource is kept (and used for the provider configure() adds beside it): a
      different ``service_name=`` is not applied, and one warning names the service in use.
    - ``capture_logging=`` (default ``True``): records of the application's stdlib loggers are stored
      too, through a handler on the root logger; the loggers' own levels decide what gets through.
    - ``propagate_threads=`` (default ``True``): turn on OpenTelemetry's threading instrumentation, so
      spans started in ``threading.Thread`` and ``ThreadPoolExecutor`` work nest under the span that
      started or submitted it (left as is when already on; turned off by ``shutdown()`` only if this did it).
    - ``running_spans=`` (default ``OTEL_EXPORTER_LENS_RUNNING_SPANS``, else ``True``): spans open longer
      than the export interval (at least 1 s) are stored as running, and as abandoned when the process dies
      (:class:`~otel_lens.RunningSpanProcessor`).

    ``OTEL_SDK_DISABLED=true`` makes this a no-op. A database that cannot be opened (its directory cannot
    be created, it is not an otel-lens database, the server is down…) does not stop the application: one
    warning says why, nothing is stored, and ``lens.store`` raises :class:`StoreError` with the reason.

    Raises:
        SettingsError: a setting or ``OTEL_BSP_*``/``OTEL_BLRP_*`` value does not parse.
    """
    global _current
    settings: dict[str, Any] = dict(options)
    with _lock:
        if _current is not None:
            _warn_if_ignored(_current, settings)
            return _current
        capture_logging = bool(settings.pop("capture_logging", True))
        propagate_threads = bool(settings.pop("propagate_threads", True))
        running_spans = settings.pop("running_spans", None)
        running_spans = running_spans_enabled() if running_spans is None else bool(running_spans)
        resolved = Settings.load(**settings)
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            lens = Lens(resolved, disabled=True)
            _state.activate(resolved)
            _current = lens
            return lens
        span_options, log_options = BatchOptions("OTEL_BSP"), BatchOptions("OTEL_BLRP")
        lens = Lens(resolved)
        _state.activate(resolved)  # also without storage: Logger and lens_fn run with these settings
        try:
            span_exporter = LensSpanExporter(resolved)  # opens the store: a bad database fails here
            log_exporter = LensLogExporter(resolved)  # the same store, already open
        except StoreError as exc:
            # Storage is a convenience beside the application, never a reason for it not to start.
            lens.unavailable = str(exc)
            _logger.warning("otel-lens: spans and logs are not stored: %s", exc)
            _current = lens
            return lens
        resource = _resource(resolved, "service_name" in settings)
        _attach_traces(lens, span_exporter, span_options, resource, running_spans)
        _attach_logs(lens, log_exporter, log_options, resource)
        if capture_logging:
            lens._handler = route_stdlib_logging()
        if propagate_threads:
            lens._threads = _threads.start()
        _current = lens
        atexit.register(lens.shutdown)
        _flush_on_sigterm()
        return lens


def _warn_if_ignored(current: Lens, settings: dict[str, Any]) -> None:
    """A second configure() returns the first handle: say which different keywords it did not apply."""
    wanted = {name: value for name, value in settings.items() if name not in _FACADE_KEYWORDS}
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


def _resource(settings: Settings, service_name_given: bool) -> Resource:
    """The resource of the providers configure() creates: the application's, when it set a provider.

    One resource for both signals, so logs are stored under the service their spans name (an app with its
    own TracerProvider used to get its logs stored as ``unknown_service:python``). ``service_name=`` is
    not forced onto an existing resource: the app's other exporters send that resource too, and the store
    would then disagree with them; a differing one is reported instead.
    """
    existing: Resource | None = None
    tracer_provider, logger_provider = trace.get_tracer_provider(), _logs.get_logger_provider()
    if isinstance(tracer_provider, TracerProvider):
        existing = tracer_provider.resource
    elif isinstance(logger_provider, LoggerProvider):
        existing = logger_provider.resource
    if existing is None:
        return Resource.create({"service.name": settings.service_name} if settings.service_name else {})
    in_use = existing.attributes.get("service.name")
    if service_name_given and settings.service_name and settings.service_name != in_use:
        _logger.warning(
            "otel-lens: service_name=%r not applied: the application's providers already name the service %r "
            "(set it on their Resource, or with OTEL_SERVICE_NAME)",
            settings.service_name,
            in_use,
        )
    return existing


def _attach_traces(
    lens: Lens, exporter: LensSpanExporter, options: BatchOptions, resource: Resource, running: bool = True
) -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        if type(provider) is not trace.ProxyTracerProvider:
            _logger.warning(
                "otel-lens: the global tracer provider is a %s, not the OTel SDK's; spans will not be stored",
                type(provider).__name__,
            )
            exporter.shutdown()
            return
        provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
        trace.set_tracer_provider(provider)
        lens.owned_providers.append(provider)
    elif _exports_to_lens(getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())):
        exporter.shutdown()  # e.g. OTEL_TRACES_EXPORTER=lens under opentelemetry-instrument: already stored
        return
    lens.tracer_provider = provider
    lens.span_processor = LensSpanProcessor(exporter, options)
    provider.add_span_processor(lens.span_processor)
    if running:  # after the batch processor: at the provider's shutdown, finished spans are stored first
        lens.running_processor = RunningSpanProcessor(exporter, max(options.schedule_delay_s, 1.0))
        provider.add_span_processor(lens.running_processor)


def _attach_logs(lens: Lens, exporter: LensLogExporter, options: BatchOptions, resource: Resource) -> None:
    provider = _logs.get_logger_provider()
    if not isinstance(provider, LoggerProvider):
        if type(provider).__name__ not in ("ProxyLoggerProvider", "NoOpLoggerProvider"):
            _logger.warning(
                "otel-lens: the global logger provider is a %s, not the OTel SDK's; logs will not be stored",
                type(provider).__name__,
            )
            exporter.shutdown()
            return
        provider = LoggerProvider(resource=resource)
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


def current_lens() -> Lens | None:
    """The handle of the ``configure()`` in effect, or None (never called, or shut down since)."""
    return _current
