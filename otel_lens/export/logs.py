"""``LensLogExporter``: an OpenTelemetry log record exporter that stores logs in the otel-lens database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_lens._own_logs import is_own_logger
from otel_lens.export._exporter import LensExporterCore
from otel_lens.export.encode import encode_logs
from otel_lens.settings import Settings, SettingsKeywords
from otel_lens.store.shared import WriteStore

if TYPE_CHECKING:
    from typing_extensions import Unpack


class LensLogExporter(LogRecordExporter):
    """Stores log records in the otel-lens database; drive it with the SDK's ``BatchLogRecordProcessor``.

    Args:
        settings: resolved settings; when omitted they are read from the ``OTEL_EXPORTER_LENS_*``
            environment, with ``**overrides`` taking precedence.

    Raises:
        SettingsError: a setting does not parse.
        StoreError: the database cannot be opened.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Unpack[SettingsKeywords]) -> None:
        self._core = LensExporterCore("log records", settings, overrides)

    @property
    def write_store(self) -> WriteStore | None:
        """The process's write side of the database (shared with the other exporter), or None after shutdown."""
        return self._core.store

    @property
    def store(self) -> WriteStore | None:
        """The former name of :attr:`write_store` (``Lens.store`` is the read handle, a different thing)."""
        return self._core.store

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        # otel-lens's own warnings reach here through any logging bridge (the SDK's or contrib's LoggingHandler
        # under opentelemetry-instrument): printed on stderr, never stored as the application's logs.
        # (The set of scope names first: a batch holds few, and this costs ~0.4 µs a record, ~1% of an export.)
        names = {record.instrumentation_scope.name for record in batch if record.instrumentation_scope is not None}
        if any(is_own_logger(name) for name in names):
            batch = [
                r for r in batch if r.instrumentation_scope is None or not is_own_logger(r.instrumentation_scope.name)
            ]
            if not batch:
                return LogRecordExportResult.SUCCESS
        ok = self._core.export(batch, encode_logs, "write_logs")
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self._core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
