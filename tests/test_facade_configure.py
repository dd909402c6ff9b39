"""configure(): providers made or joined, env honoured, idempotent, no loss in bursts, fresh data, flush on exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import _logs, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_lens import Logger, SettingsError, configure, lens_fn
from otel_lens.facade._batch import BatchOptions, LensSpanProcessor
from tests._facade_helpers import logs, otel_globals_restored, spans


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    with otel_globals_restored():
        yield


def test_creates_providers_and_stores_spans_and_logs(db_path: Path) -> None:
    """With no providers set, configure() makes SDK ones and a span and a stdlib log reach the database."""
    lens = configure(database=str(db_path), service_name="shop", sweep_interval=0)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    assert isinstance(_logs.get_logger_provider(), LoggerProvider)
    with trace.get_tracer("t").start_as_current_span("work"):
        logging.getLogger("app.module").warning("stored %d", 1)
    assert lens.force_flush()
    (span,) = spans(db_path)
    assert span["name"] == "work"
    (log,) = logs(db_path)
    assert log["body"] == "stored 1" and log["span_id"] == span["span_id"] and log["logger"] == "app.module"
    assert lens.dropped == 0


def test_resource_from_environment_and_keyword(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME shape the resource; service_name= wins over the variable."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=dev,team=search")
    configure(database=str(db_path), service_name="from-keyword", sweep_interval=0)
    resource = trace.get_tracer_provider().resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == "from-keyword"
    assert resource.attributes["team"] == "search"


def test_service_name_from_environment(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the keyword, OTEL_SERVICE_NAME names the service stored with every trace."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    lens = configure(database=str(db_path), sweep_interval=0)
    trace.get_tracer("t").start_span("x").end()
    lens.force_flush()
    import sqlite3

    assert sqlite3.connect(db_path).execute("SELECT service FROM lens_traces").fetchall() == [("from-env",)]


def test_sampler_from_environment(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_TRACES_SAMPLER=always_off is honoured: nothing is stored."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    lens = configure(database=str(db_path), sweep_interval=0)
    trace.get_tracer("t").start_span("dropped").end()
    lens.force_flush()
    assert spans(db_path) == []


def test_sdk_disabled_makes_configure_a_no_op(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SDK_DISABLED=true: no providers set, no database created, decorated code still runs."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    lens = configure(database=str(db_path))
    assert lens.disabled and lens.store is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert lens_fn(lambda: 5)() == 5
    assert not db_path.exists()


def test_existing_provider_keeps_its_exporter(db_path: Path) -> None:
    """With the app's own provider set, otel-lens adds its processor and the app's exporter still gets every span."""
    theirs = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(theirs))
    trace.set_tracer_provider(provider)
    lens = configure(database=str(db_path), sweep_interval=0)
    assert lens.tracer_provider is provider and provider not in lens.owned_providers
    for i in range(3):
        trace.get_tracer("t").start_span(f"s{i}").end()
    lens.force_flush()
    assert [s.name for s in theirs.get_finished_spans()] == ["s0", "s1", "s2"]
    assert [s["name"] for s in spans(db_path)] == ["s0", "s1", "s2"]
    provider.shutdown()


def test_second_call_returns_the_same_handle_and_stores_once(db_path: Path) -> None:
    """configure() twice: one handle, one processor, each span stored once."""
    first = configure(database=str(db_path), sweep_interval=0)
    second = configure(database=str(db_path), sweep_interval=0)
    assert first is second
    provider = trace.get_tracer_provider()
    processors = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
    assert sum(isinstance(p, LensSpanProcessor) for p in processors) == 1
    trace.get_tracer("t").start_span("once").end()
    first.force_flush()
    assert len(spans(db_path)) == 1


def test_shutdown_is_idempotent_and_configure_can_run_again(db_path: Path, tmp_path: Path) -> None:
    """After shutdown() a new configure() starts afresh; shutdown twice is harmless."""
    first = configure(database=str(db_path), sweep_interval=0)
    first.shutdown()
    first.shutdown()
    assert first.store is not None and first.store.traces() == []  # reading needs no exporter
    second = configure(database=str(tmp_path / "other.db"), sweep_interval=0)
    assert second is not first
    trace.get_tracer("t").start_span("after").end()
    second.force_flush()
    assert [s["name"] for s in spans(tmp_path / "other.db")] == ["after"]


def test_bad_batch_variable_fails_with_its_name(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OTEL_BSP_* value that does not parse fails at configuration, naming the variable."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    with pytest.raises(SettingsError, match="OTEL_BSP_MAX_QUEUE_SIZE"):
        configure(database=str(db_path))


def test_batch_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_BSP_* variables set the queue, batch size and delay; keywords win over them."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    options = BatchOptions("OTEL_BSP")
    assert (options.max_queue_size, options.max_export_batch_size, options.schedule_delay_s) == (100, 10, 0.05)
    assert BatchOptions("OTEL_BSP", max_queue_size=7).max_queue_size == 7
    assert BatchOptions("OTEL_BLRP").max_queue_size == 2048


def test_unknown_setting_is_refused(db_path: Path) -> None:
    """A misspelt keyword fails with the list of valid ones."""
    with pytest.raises(SettingsError, match="databse"):
        configure(databse=str(db_path))


def test_burst_of_50k_spans_loses_none(db_path: Path) -> None:
    """The SDK's 2048 queue drops most of a 50k burst; configure()'s defaults store every span."""
    lens = configure(database=str(db_path), sweep_interval=0)
    tracer = trace.get_tracer("burst")
    for i in range(50_000):
        tracer.start_span("s", attributes={"i": i}).end()
    assert lens.force_flush(120_000)
    import sqlite3

    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM lens_spans").fetchone() == (50_000,)
    assert lens.dropped == 0


class _SlowExporter(SpanExporter):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.seen: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(self.delay)
        self.seen.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS


def test_full_queue_waits_for_room_instead_of_dropping() -> None:
    """With a tiny queue and a slow exporter, producers wait and every span is exported, in order."""
    exporter = _SlowExporter(0.005)
    processor = LensSpanProcessor(exporter, BatchOptions("X", max_queue_size=8, max_export_batch_size=4))
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    for i in range(200):
        provider.get_tracer("t").start_span(str(i)).end()
    processor.force_flush()
    assert exporter.seen == [str(i) for i in range(200)]
    assert processor.dropped == 0
    provider.shutdown()


class _StuckExporter(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.SUCCESS


def test_stalled_exporter_blocks_once_then_drops_and_counts() -> None:
    """An exporter stuck past the bounded wait costs the app one wait per stall; later spans are dropped and counted."""
    exporter = _StuckExporter()
    processor = LensSpanProcessor(exporter, BatchOptions("X", max_queue_size=2, max_export_batch_size=1))
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    started = time.monotonic()
    for i in range(50):
        provider.get_tracer("t").start_span(str(i)).end()
    waited = time.monotonic() - started
    assert processor.dropped >= 45
    assert waited < 20  # one bounded wait, not one per span (50 x 2 s)
    exporter.release.set()
    provider.shutdown()


def test_spans_and_logs_are_fresh_without_a_flush(db_path: Path) -> None:
    """Under the defaults a span and a log appear in the database on their own (no flush), well within seconds."""
    configure(database=str(db_path), sweep_interval=0)
    with trace.get_tracer("t").start_as_current_span("fresh"):
        Logger("fresh").info("hello")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (spans(db_path) and logs(db_path)):
        time.sleep(0.05)
    assert [s["name"] for s in spans(db_path)] == ["fresh"]
    assert [entry["body"] for entry in logs(db_path)] == ["hello"]


def test_queued_spans_are_stored_at_normal_exit(db_path: Path) -> None:
    """RELIABILITY 3 (normal exit and sys.exit): spans still queued when the process exits are stored."""
    script = (
        "import sys\n"
        "from opentelemetry import trace\n"
        "from otel_lens import configure\n"
        f"configure(database={str(db_path)!r})\n"
        "for i in range(3000): trace.get_tracer('t').start_span('exit').end()\n"
        "sys.exit(0)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    assert len(spans(db_path)) == 3000


def test_stdlib_routing_can_be_turned_off(db_path: Path) -> None:
    """capture_logging=False leaves the root logger alone: stdlib records are not stored."""
    lens = configure(database=str(db_path), sweep_interval=0, capture_logging=False)
    logging.getLogger("app").warning("not stored")
    lens.force_flush()
    assert logs(db_path) == []


def test_stdlib_console_output_is_unchanged_by_configure(tmp_path: Path) -> None:
    """With capture on, warnings still reach stderr as without otel-lens, and a later basicConfig still
    configures the console; the records are stored as well."""
    script = tmp_path / "app.py"
    script.write_text(
        f"""
import logging
from otel_lens import configure, open_store
lens = configure(database={str(tmp_path / "lens.db")!r}, sweep_interval=0)
logging.getLogger("a").warning("warning before basicConfig")
logging.getLogger("a").info("info before: hidden, as without otel-lens")
logging.basicConfig(level=logging.INFO, format="BC %(levelname)s %(message)s")
logging.getLogger("a").info("info after basicConfig")
lens.force_flush()
with open_store({str(tmp_path / "lens.db")!r}) as store:
    stored = sorted(str(record.body) for record in store.logs())
assert stored == ["info after basicConfig", "warning before basicConfig"], stored
"""
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["warning before basicConfig", "BC INFO info after basicConfig"]


def test_a_refused_basic_config_keeps_records_stored(tmp_path: Path) -> None:
    """A basicConfig call that raises (stream and filename together) leaves otel-lens' handlers in place:
    later records are still stored and warnings still print."""
    script = tmp_path / "app.py"
    script.write_text(
        f"""
import logging, sys
from otel_lens import configure, open_store
lens = configure(database={str(tmp_path / "lens.db")!r}, sweep_interval=0)
try:
    logging.basicConfig(stream=sys.stderr, filename="x.log")
except ValueError:
    pass
logging.getLogger("a").warning("after a refused basicConfig")
lens.force_flush()
with open_store({str(tmp_path / "lens.db")!r}) as store:
    stored = [str(record.body) for record in store.logs()]
assert stored == ["after a refused basicConfig"], stored
"""
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["after a refused basicConfig"]


def test_second_configure_says_which_keywords_it_ignored(
    db_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """configure() is idempotent; a second call with different settings warns instead of silently ignoring them."""
    first = configure(database=str(db_path), sweep_interval=0)
    with caplog.at_level(logging.WARNING, logger="otel_lens"):
        again = configure(database=str(db_path), sweep_interval=0)
        assert again is first and not caplog.records  # the same settings: nothing to say
        other = configure(database=str(tmp_path / "b.db"), service_name="b", sweep_interval=0)
    assert other is first
    (record,) = caplog.records
    assert "database, service_name" in record.getMessage() and "shutdown()" in record.getMessage()
    assert not (tmp_path / "b.db").exists()
    first.shutdown()


def test_schedule_delay_zero_exports_at_once_without_spinning(tmp_path: Path) -> None:
    """OTEL_BSP_SCHEDULE_DELAY=0 means export as soon as queued: spans land, and an idle worker uses no CPU."""
    script = tmp_path / "app.py"
    script.write_text(
        f"""
import resource, time
from opentelemetry import trace
from otel_lens import configure, open_store
lens = configure(database={str(tmp_path / "lens.db")!r}, sweep_interval=0, capture_logging=False)
trace.get_tracer("t").start_span("one").end()
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    with open_store({str(tmp_path / "lens.db")!r}) as store:
        if store.traces():
            break
    time.sleep(0.05)
else:
    raise SystemExit("the span was not exported without a flush")
before = resource.getrusage(resource.RUSAGE_SELF)
time.sleep(1.0)
after = resource.getrusage(resource.RUSAGE_SELF)
print((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), end="")
"""
    )
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "0", "OTEL_BLRP_SCHEDULE_DELAY": "0"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 0.5, "the export worker spins while idle"


def test_last_resort_stand_in_stays_quiet_when_a_logger_has_its_own_handler(tmp_path: Path) -> None:
    """Like Python's own last resort, the stand-in prints only records no other handler took."""
    script = tmp_path / "app.py"
    script.write_text(
        f"""
import logging, sys
from otel_lens import configure
configure(database={str(tmp_path / "lens.db")!r}, sweep_interval=0)
own = logging.getLogger("myapp")
handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter("myapp-handler: %(message)s"))
own.addHandler(handler)
own.warning("disk almost full")
logging.getLogger("other").warning("no handler for this one")
"""
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["myapp-handler: disk almost full", "no handler for this one"]


def test_logs_take_the_service_of_the_apps_tracer_provider(db_path: Path) -> None:
    """Defect 7: an app with its own TracerProvider (service "orders") and no LoggerProvider gets its logs
    stored under "orders", not ``unknown_service:python``: the LoggerProvider configure() adds shares the
    resource."""
    provider = TracerProvider(resource=Resource.create({"service.name": "orders"}), shutdown_on_exit=False)
    trace.set_tracer_provider(provider)
    lens = configure(database=str(db_path), sweep_interval=0)
    assert lens.logger_provider is not None and lens.logger_provider.resource is provider.resource
    with trace.get_tracer("t").start_as_current_span("checkout"):
        logging.getLogger("app").warning("paid")
    assert lens.force_flush()
    store = lens.store
    assert store is not None
    (summary,) = store.traces()
    (log,) = store.logs()
    assert summary.service == "orders" and log.service == "orders"
    provider.shutdown()


def test_spans_take_the_service_of_the_apps_logger_provider(db_path: Path) -> None:
    """Defect 7, the other way round: only a LoggerProvider set (service "billing"): the TracerProvider
    configure() creates uses its resource."""
    provider = LoggerProvider(resource=Resource.create({"service.name": "billing"}), shutdown_on_exit=False)
    _logs.set_logger_provider(provider)
    lens = configure(database=str(db_path), sweep_interval=0)
    with trace.get_tracer("t").start_as_current_span("invoice"):
        logging.getLogger("app").warning("sent")
    assert lens.force_flush()
    store = lens.store
    assert store is not None
    assert [t.service for t in store.traces()] == ["billing"] and [r.service for r in store.logs()] == ["billing"]
    provider.shutdown()


def test_service_name_not_applied_to_existing_providers_is_reported(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 7: ``configure(service_name=...)`` with the app's providers set does not rename their service;
    one warning names the service in use (none when it is the same)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "orders"}), shutdown_on_exit=False)
    trace.set_tracer_provider(provider)
    with caplog.at_level(logging.WARNING, logger="otel_lens"):
        lens = configure(database=str(db_path), service_name="shop", sweep_interval=0)
    (record,) = caplog.records
    assert "service_name='shop' not applied" in record.getMessage() and "'orders'" in record.getMessage()
    trace.get_tracer("t").start_span("s").end()
    assert lens.force_flush()
    store = lens.store
    assert store is not None and [t.service for t in store.traces()] == ["orders"]
    lens.shutdown()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="otel_lens"):
        configure(database=str(db_path), service_name="orders", sweep_interval=0)
    assert not caplog.records
    provider.shutdown()
