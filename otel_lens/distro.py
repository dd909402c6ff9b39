"""The otel-lens distro for ``opentelemetry-instrument``: local storage with no variables.

With otel-lens installed (and no other distro), ``opentelemetry-instrument python app.py`` stores
spans and logs in the local database: the distro defaults the exporters to ``lens`` (metrics off,
since there is no collector to send them to), sends stdlib logging records to the store, and raises
the batch processors' queue so a burst is not dropped. Every default yields to a variable the user set;
an unset logs exporter follows a set traces exporter (``otlp`` to an ``otel-lens serve`` takes the logs along).

When no package registers an SDK configurator (opentelemetry-distro does; otel-lens does not, so
the two never both configure and warn), the distro runs the SDK's standard environment-driven one.

Spans open longer than the export interval are stored as running, as under ``configure()``: a
:class:`~otel_lens.RunningSpanProcessor` is added beside the batch processor of the ``lens`` span exporter
(``OTEL_EXPORTER_LENS_RUNNING_SPANS=false`` leaves it out). Its thread runs in each forked worker too.

It also makes the zero-code path keep data as ``configure()`` does: what the batch processors hold
is stored when SIGTERM ends the process and when a uvicorn server shuts down (see ``facade/_exit``), a
SIGTERM then closes the store so that no ``-wal`` is left beside the database (a copy of the file holds it all),
a database that cannot be opened costs one warning line (the application runs, nothing is stored),
and a setting that does not parse (an ``OTEL_BSP_*``/``OTEL_BLRP_*`` value too) stops the start with one line naming it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from importlib.metadata import entry_points
from typing import Any, NoReturn

from opentelemetry import _logs, trace
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from wrapt import register_post_import_hook

from otel_lens.export import LensLogExporter, LensSpanExporter, RunningSpanProcessor
from otel_lens.facade import flush_after_uvicorn_shutdown, flush_on_sigterm, flush_providers, route_stdlib_logging
from otel_lens.settings import Settings, SettingsError, running_spans_enabled
from otel_lens.store.errors import StoreError
from otel_lens.store.shared import WriteStore, acquire, release

_logger = logging.getLogger("otel_lens.distro")

DEFAULTS = {
    "OTEL_TRACES_EXPORTER": "lens",
    "OTEL_LOGS_EXPORTER": "lens",
    "OTEL_METRICS_EXPORTER": "none",
    # The SDK defaults (2048 queued, 5 s delay) drop most of a burst and show data late.
    "OTEL_BSP_MAX_QUEUE_SIZE": "65536",
    "OTEL_BSP_SCHEDULE_DELAY": "500",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "65536",
    "OTEL_BLRP_SCHEDULE_DELAY": "500",
}
_EXPORTER_VARIABLES = ("OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER")
_LOGS_EXPORTERS_TOO = ("lens", "otlp", "console")  # trace exporters with a logs exporter of the same name
_SETTINGS_ERROR_EXIT = 2  # what the otel-lens CLI returns for bad input too
# What the SDK's batch processors read (in milliseconds or items), with an example of a valid value each.
_BATCH_VARIABLES = (
    ("SCHEDULE_DELAY", "500"),
    ("MAX_QUEUE_SIZE", "65536"),
    ("MAX_EXPORT_BATCH_SIZE", "512"),
    ("EXPORT_TIMEOUT", "30000"),
)
_SDK_MAX_QUEUE_SIZE = 2048  # the SDK's defaults, used where the variable is unset
_SDK_MAX_EXPORT_BATCH_SIZE = 512


class LensDistro(BaseDistro):  # type: ignore[misc]
    """Sets otel-lens defaults for ``opentelemetry-instrument`` (select it with ``OTEL_PYTHON_DISTRO=otel_lens``
    when another distro, such as opentelemetry-distro, is installed too)."""

    def _configure(self, **kwargs: Any) -> None:
        _logs_follow_traces()
        for name, value in DEFAULTS.items():
            os.environ.setdefault(name, value)
        _batch_variables_or_stop()  # before the SDK reads them: its own reading logs a traceback and goes on
        running_wanted = _lens_selected() and _running_spans_or_stop()  # a typo stops before anything opens
        store = _open_store_or_stop_storing() if _lens_selected() else None
        running = None
        try:
            if not list(entry_points(group="opentelemetry_configurator")):
                _OTelSDKConfigurator().configure(**kwargs)  # type: ignore[no-untyped-call]
            if store is not None and running_wanted:
                running = _add_running_processor()
        finally:
            if store is not None:
                release(store)  # the exporters hold their own reference to the same store by now
        _route_stdlib_logging()
        flush_on_sigterm(flush_providers)
        if running is not None:
            # After the flush: finished spans are stored first, then what is still open is marked abandoned
            # at once (the re-raised SIGTERM runs no atexit, so the provider's own shutdown never comes).
            flush_on_sigterm(running.shutdown)
        flush_on_sigterm(_shut_down_lens_processors)  # last: closes the store, so SQLite folds its -wal back in
        register_post_import_hook(flush_after_uvicorn_shutdown, "uvicorn.server")


def _logs_follow_traces() -> None:
    """With ``OTEL_TRACES_EXPORTER`` set and ``OTEL_LOGS_EXPORTER`` not, logs go where the traces go.

    ``OTEL_TRACES_EXPORTER=otlp`` pointed at an ``otel-lens serve`` (or a collector) with the logs left at
    the ``lens`` default would split one trace's spans and logs over two stores. Exporters with no logs
    counterpart are left out (``none`` when nothing is left).
    """
    if not os.environ.get("OTEL_TRACES_EXPORTER", "").strip() or "OTEL_LOGS_EXPORTER" in os.environ:
        return
    following = [name for name in _names("OTEL_TRACES_EXPORTER") if name in _LOGS_EXPORTERS_TOO]
    os.environ["OTEL_LOGS_EXPORTER"] = ",".join(following) or "none"


def _lens_selected() -> bool:
    return any("lens" in _names(variable) for variable in _EXPORTER_VARIABLES)


def _names(variable: str) -> list[str]:
    return [name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()]


def _batch_variables_or_stop() -> None:
    """Check the ``OTEL_BSP_*``/``OTEL_BLRP_*`` values the SDK's batch processors will read, as ``configure()`` does.

    The SDK reads each with ``int()``: one that does not parse logs a ValueError traceback and falls back
    to the SDK's default (a 5 s delay, a 2048 queue: neither the user's value nor the distro's), and one
    that parses but is not positive, or a batch larger than the queue, makes the processor raise, so
    opentelemetry-instrument logs another traceback and runs the app with nothing instrumented. A value
    that cannot work stops the start with one line, as a bad ``OTEL_EXPORTER_LENS_*`` setting does; an
    empty one counts as unset (the distro's default, else the SDK's), and a batch larger than the queue is
    cut to the queue, as ``configure()`` cuts it. Only the processors that will be built are checked.
    """
    for prefix, exporters in (("OTEL_BSP", "OTEL_TRACES_EXPORTER"), ("OTEL_BLRP", "OTEL_LOGS_EXPORTER")):
        if _names(exporters) in ([], ["none"]):
            continue
        values: dict[str, int] = {}
        for name, example in _BATCH_VARIABLES:
            variable = f"{prefix}_{name}"
            raw = os.environ.get(variable)
            if raw is None:
                continue
            if not raw.strip():
                os.environ.pop(variable)
                if variable in DEFAULTS:
                    os.environ[variable] = DEFAULTS[variable]
                    values[name] = int(DEFAULTS[variable])
                continue
            try:
                values[name] = int(raw)  # exactly what the SDK's processor will do with it
            except ValueError:
                values[name] = 0
            if values[name] <= 0:
                _stop(SettingsError(f"{variable}={raw!r} is not valid; use a positive whole number, e.g. {example}"))
        queue = values.get("MAX_QUEUE_SIZE", _SDK_MAX_QUEUE_SIZE)
        if values.get("MAX_EXPORT_BATCH_SIZE", _SDK_MAX_EXPORT_BATCH_SIZE) > queue:
            os.environ[f"{prefix}_MAX_EXPORT_BATCH_SIZE"] = str(queue)


def _running_spans_or_stop() -> bool:
    try:
        return running_spans_enabled()
    except SettingsError as exc:
        _stop(exc)


def _add_running_processor() -> RunningSpanProcessor | None:
    """Add a running-span processor after the batch processor of the ``lens`` span exporter, if the provider has one.

    The SDK's configurator keeps no reference to what it builds: the exporter is found on the global provider
    (a processor exposing ``span_exporter``, as the SDK's batch and simple processors do). Added after it, so
    at the provider's shutdown (atexit) finished spans are stored before open ones are marked abandoned.
    """
    provider = trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
    for processor in processors:
        exporter = getattr(processor, "span_exporter", None)
        if add is not None and isinstance(exporter, LensSpanExporter) and exporter.write_store is not None:
            running = RunningSpanProcessor(exporter)  # interval: OTEL_BSP_SCHEDULE_DELAY, at least 1 s
            add(running)
            return running
    return None


def _shut_down_lens_processors() -> None:
    """Shut down the global providers' processors that export to otel-lens, as ``configure()``'s shutdown does.

    Run at SIGTERM, after the flush: their exporters then release the store, and the last release closes
    its connection, which checkpoints the SQLite -wal into the database file and removes it (the SDK's
    atexit shutdown does the same at a normal exit, but the re-raised SIGTERM runs no atexit). Without it
    every span is left in ``lens.db-wal``, and a copy of ``lens.db`` alone holds none of them. The
    providers and their other processors (an OTLP or console exporter beside ``lens``) are left alone.
    """
    tracer_provider, logger_provider = trace.get_tracer_provider(), _logs.get_logger_provider()
    span_processors = getattr(getattr(tracer_provider, "_active_span_processor", None), "_span_processors", ())
    log_processors = getattr(
        getattr(logger_provider, "_multi_log_record_processor", None), "_log_record_processors", ()
    )
    for processor in (*span_processors, *log_processors):
        if isinstance(_exporter_of(processor), (LensSpanExporter, LensLogExporter)):
            with contextlib.suppress(Exception):  # one failing shutdown must not keep the others from running
                processor.shutdown()


def _exporter_of(processor: object) -> object:
    """The exporter of one of the SDK's span or log processors (batch or simple), or None."""
    for owner in (processor, getattr(processor, "_batch_processor", None)):
        for name in ("span_exporter", "_exporter"):
            exporter = getattr(owner, name, None)
            if exporter is not None:
                return exporter
    return None


def _stop(exc: SettingsError) -> NoReturn:
    sys.stderr.write(f"otel-lens: {exc}; fix or unset it (opentelemetry-instrument stopped before the app ran)\n")
    sys.stderr.flush()
    # SystemExit here would be a fatal interpreter error with a traceback: this runs inside site import.
    os._exit(_SETTINGS_ERROR_EXIT)


def _open_store_or_stop_storing() -> WriteStore | None:
    """Open the store before the SDK builds the exporters, so a failure gets one clear line, not a traceback.

    A bad setting is the user's typo: the start stops (as ``configure()`` raises), since running on with
    a default retention or database would keep or delete data against their wish. Storage that cannot
    be opened must not stop the application: one warning, and the ``lens`` exporters are taken out of
    ``OTEL_*_EXPORTER`` (``none`` when nothing is left), which the SDK reads next; child processes
    inherit that, so a server's workers do not each warn again.
    """
    try:
        settings = Settings.load()
    except SettingsError as exc:
        _stop(exc)
    try:
        return acquire(settings)
    except StoreError as exc:
        _logger.warning("otel-lens: spans and logs will not be stored: %s (the application runs without them)", exc)
        for variable in _EXPORTER_VARIABLES:
            kept = [name for name in _names(variable) if name != "lens"]
            os.environ[variable] = ",".join(kept) or "none"
        return None


def _route_stdlib_logging() -> None:
    """Send stdlib logging records to the store, without the SDK's deprecated ``LoggingHandler``.

    Where opentelemetry-instrumentation-logging is installed, ``opentelemetry-instrument`` loads it
    next and it adds its handler (its ``OTEL_PYTHON_LOG_*`` variables apply). Without it (a plain
    ``pip install otel-lens``), otel-lens' own handler is added, as ``configure()`` adds it. Only one
    of them, so no record is stored twice; the user's own choice of the SDK handler stands alone.
    """
    if os.environ.get("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "").strip().lower() in ("true", "false"):
        return  # the user chose the SDK's handler (or no bridge at all)
    if _names("OTEL_LOGS_EXPORTER") in ([], ["none"]):
        return  # no logs exporter (also after the store could not be opened): nothing would receive them
    if os.environ.get("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "true").strip().lower() != "true":
        return
    disabled = {name.strip() for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    if disabled & {"logging", "*"}:
        return
    if list(entry_points(group="opentelemetry_instrumentor", name="logging")):
        return
    route_stdlib_logging()
