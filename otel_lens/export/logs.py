"""``LensLogExporter``: an OpenTelemetry log record exporter that stores logs in the otel-lens database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

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
        ok = self._core.export(batch, encode_logs, "write_logs")
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        self._core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
