"""A separate process for the multi-process PostgreSQL tests: ``python _postgres_worker.py MODE URL GO_FILE [N]``.

``open``: open the store (migrating it if needed) as soon as GO_FILE exists. ``write``: two threads each
export N batches of 50 real spans plus a log record per batch, counting every export that failed.
Prints one JSON line with what it did.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExportResult, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store.shared import acquire, release

SPANS_PER_BATCH = 50


def _wait_for(go_file: str) -> None:
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("the test never said go")
        time.sleep(0.001)


def _batch() -> tuple[list[ReadableSpan], list[ReadableLogRecord]]:
    """One trace of 50 spans and one log record inside it, made by real SDK providers (random ids)."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    resource = Resource.create({"service.name": f"worker-{os.getpid()}"})
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer = tracer_provider.get_tracer("worker")
    with tracer.start_as_current_span("root"):
        logger_provider.get_logger("worker").emit(body=f"batch from {os.getpid()}/{threading.get_ident()}")
        for index in range(SPANS_PER_BATCH - 1):
            with tracer.start_as_current_span(f"child {index}"):
                pass
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return list(spans.get_finished_spans()), list(logs.get_finished_logs())


def write(settings: Settings, go_file: str, batches: int) -> dict[str, int]:
    result = {"span_batches": 0, "log_batches": 0, "failures": 0}
    lock = threading.Lock()
    prepared = [[_batch() for _ in range(batches)] for _ in range(2)]

    def run(work: list[tuple[list[ReadableSpan], list[ReadableLogRecord]]]) -> None:
        span_exporter, log_exporter = LensSpanExporter(settings), LensLogExporter(settings)
        _wait_for(go_file)
        for spans, logs in work:
            span_ok = span_exporter.export(spans) is SpanExportResult.SUCCESS
            log_ok = log_exporter.export(logs) is LogRecordExportResult.SUCCESS
            with lock:
                result["span_batches"] += span_ok
                result["log_batches"] += log_ok
                result["failures"] += (not span_ok) + (not log_ok)
        span_exporter.shutdown()
        log_exporter.shutdown()

    threads = [threading.Thread(target=run, args=(work,)) for work in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def main() -> None:
    mode, url, go_file = sys.argv[1:4]
    settings = Settings.load(environ={}, database=url, sweep_interval=0)
    if mode == "open":
        _wait_for(go_file)
        release(acquire(settings))
        print(json.dumps({"opened": True}))
    else:
        print(json.dumps(write(settings, go_file, int(sys.argv[4]))))


if __name__ == "__main__":
    main()
