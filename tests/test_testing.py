"""``otel_lens.testing``: the helpers our tests, our benchmarks and users' tests share, used through real parts."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from otel_lens import LensLogExporter, LensSpanExporter, configure, open_store
from otel_lens.facade import current_lens
from otel_lens.testing import IncrementalIdGenerator, LogFactory, SpanFactory, otel_globals_restored


def test_incremental_ids_count_from_one_without_repeats_across_threads() -> None:
    """Trace and span ids each count 1, 2, 3, … on their own counter; eight threads never get the same id."""
    ids = IncrementalIdGenerator()
    assert [ids.generate_trace_id(), ids.generate_trace_id()] == [1, 2]
    assert ids.generate_span_id() == 1
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [ids.generate_span_id() for _ in range(500)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(2, 2 + 8 * 500))


def test_span_factory_makes_whole_traces_the_exporter_stores(tmp_path: Path) -> None:
    """``SpanFactory.traces`` gives finished SDK spans (root plus children, the second one failed, the
    chosen ids) that ``LensSpanExporter`` stores and ``open_store`` reads back as those traces."""
    factory = SpanFactory("checkout", resource={"service.version": "2"}, id_generator=IncrementalIdGenerator())
    spans = factory.traces(3, 4, label="t", start_ns=1_704_067_200 * 10**9)
    assert len(spans) == 12 and factory.finished() == []  # handed over once
    roots = [span for span in spans if span.parent is None]
    assert [f"{root.context.trace_id:032x}" for root in roots] == [f"{n:032x}" for n in (1, 2, 3)]
    assert all(span.resource.attributes["service.version"] == "2" for span in spans)
    assert sum(span.status.status_code is StatusCode.ERROR for span in spans) == 3
    exporter = LensSpanExporter(database=str(tmp_path / "lens.db"), sweep_interval=0)
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
        factory.shutdown()
    with open_store(tmp_path / "lens.db") as store:
        found = store.traces()
    assert sorted(trace.trace_id for trace in found) == [f"{n:032x}" for n in (1, 2, 3)]
    assert {(t.root_name, t.service, t.span_count, t.error_count) for t in found} == {("root t", "checkout", 4, 1)}


def test_span_factory_tracer_makes_any_shape() -> None:
    """``SpanFactory.tracer`` makes spans of any shape; ``finished()`` returns those that ended, in order."""
    factory = SpanFactory()
    with factory.tracer.start_as_current_span("outer"), factory.tracer.start_as_current_span("inner"):
        pass
    assert [span.name for span in factory.finished()] == ["inner", "outer"]
    factory.shutdown()


def test_log_factory_records_are_stored_and_read_back(tmp_path: Path) -> None:
    """``LogFactory.records`` gives SDK log records that ``LensLogExporter`` stores under the factory's service."""
    factory = LogFactory("worker")
    exporter = LensLogExporter(database=str(tmp_path / "lens.db"), sweep_interval=0)
    try:
        assert exporter.export(factory.records(["first", {"event": "second"}])).name == "SUCCESS"
    finally:
        exporter.shutdown()
        factory.shutdown()
    with open_store(tmp_path / "lens.db") as store:
        logs = store.logs()
    assert sorted(str(log.body) for log in logs) == ["first", "{'event': 'second'}"]
    assert {(log.service, log.severity_text) for log in logs} == {("worker", "WARN")}


def test_otel_globals_restored_undoes_providers_configure_handlers_and_sigterm(tmp_path: Path) -> None:
    """Inside the block the global providers can be set (and configure() run); afterwards the providers,
    the configure() handle, the root logger's handlers and the SIGTERM handler are what they were."""
    root = logging.getLogger()
    outer = TracerProvider(shutdown_on_exit=False)
    with otel_globals_restored():
        trace.set_tracer_provider(outer)  # the "application's" provider, set before the block under test
        handlers, sigterm = list(root.handlers), signal.getsignal(signal.SIGTERM)
        with otel_globals_restored():
            mine, my_logs = TracerProvider(shutdown_on_exit=False), LoggerProvider(shutdown_on_exit=False)
            trace.set_tracer_provider(mine)
            _logs.set_logger_provider(my_logs)
            assert trace.get_tracer_provider() is mine and _logs.get_logger_provider() is my_logs
        assert trace.get_tracer_provider() is outer
        assert _logs.get_logger_provider() is not my_logs
        with otel_globals_restored():
            lens = configure(database=str(tmp_path / "lens.db"), sweep_interval=0)
            assert current_lens() is lens and trace.get_tracer_provider() is not outer
        assert current_lens() is None
        assert trace.get_tracer_provider() is outer
        assert root.handlers == handlers and signal.getsignal(signal.SIGTERM) == sigterm
        mine.shutdown()
        my_logs.shutdown()
    outer.shutdown()
