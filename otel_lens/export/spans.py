"""``LensSpanExporter``: an OpenTelemetry span exporter that stores spans in the otel-lens database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_lens.export._exporter import LensExporterCore
from otel_lens.export.encode import encode_spans
from otel_lens.settings import Settings, SettingsKeywords
from otel_lens.store.shared import WriteStore

if TYPE_CHECKING:
    from typing_extensions import Unpack


class LensSpanExporter(SpanExporter):
    """Stores spans in the otel-lens database; drive it with the SDK's ``BatchSpanProcessor``.

    Args:
        settings: resolved settings; when omitted they are read from the ``OTEL_EXPORTER_LENS_*``
            environment, with ``**overrides`` (``database=``, ``retention=``, …) taking precedence.

    Raises:
        SettingsError: a setting does not parse (the message names it and shows a valid value).
        StoreError: the database cannot be opened (the message names it and says why).
    """

    def __init__(self, settings: Settings | None = None, **overrides: Unpack[SettingsKeywords]) -> None:
        self._core = LensExporterCore("spans", settings, overrides)

    @property
    def write_store(self) -> WriteStore | None:
        """The process's write side of the database (shared with the other exporter), or None after shutdown."""
        return self._core.store

    @property
    def store(self) -> WriteStore | None:
        """The former name of :attr:`write_store` (``Lens.store`` is the read handle, a different thing)."""
        return self._core.store

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._core.export(spans, encode_spans, "write_spans")
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._core.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is committed before it returns
