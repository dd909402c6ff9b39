"""configure() carries the current span into threads (defect 11), with OpenTelemetry's threading instrumentation:
``lens_fn`` work submitted to a ThreadPoolExecutor or run in a Thread nests under the span that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_lens import configure
from tests._facade_helpers import otel_globals_restored, spans

# The app every test runs: a lens_fn parent fanning lens_fn children out to a pool and to a thread.
_APP = """
import threading
from concurrent.futures import ThreadPoolExecutor
from otel_lens import configure, lens_fn

@lens_fn
def child(n: int) -> int:
    return n * 2

@lens_fn
def in_thread() -> None:
    child(100)

@lens_fn
def parent() -> int:
    with ThreadPoolExecutor(max_workers=2) as pool:
        total = sum(pool.map(child, range(3))) + pool.submit(child, 10).result()
    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    return total
"""


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    with otel_globals_restored():
        yield


def _app() -> Any:
    """The app's functions, run in this process (the subprocess test runs the same source)."""
    namespace: dict[str, Any] = {}
    exec(_APP, namespace)
    return types.SimpleNamespace(**namespace)


def _wrapped_once() -> bool:
    """Thread.start and ThreadPoolExecutor.submit each carry exactly one wrapt wrapper."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    return all(
        hasattr(method, "__wrapped__") and not hasattr(method.__wrapped__, "__wrapped__")
        for method in (threading.Thread.start, threading.Thread.run, ThreadPoolExecutor.submit)
    )


def _assert_one_nested_trace(db_path: Path) -> None:
    stored = spans(db_path)
    by_name: dict[str, list[dict[str, object]]] = {}
    for span in stored:
        by_name.setdefault(str(span["name"]).rsplit(".", 1)[-1], []).append(span)
    assert len(stored) == 7, [s["name"] for s in stored]
    assert len({s["trace_id"] for s in stored}) == 1, "pool and thread work must join the parent's trace"
    (parent,) = by_name["parent"]
    (in_thread,) = by_name["in_thread"]
    assert parent["parent_span_id"] is None
    assert in_thread["parent_span_id"] == parent["span_id"]
    children = by_name["child"]
    assert sorted(str(c["parent_span_id"]) for c in children) == sorted(
        [str(parent["span_id"])] * 4 + [str(in_thread["span_id"])]
    )


def test_pool_and_thread_work_nests_under_the_submitting_span(db_path: Path) -> None:
    """A lens_fn parent submitting lens_fn children to a ThreadPoolExecutor and a Thread stores one trace with
    the right parent ids; shutdown() takes the instrumentation off again, since configure() put it on."""
    import threading

    original_start = threading.Thread.start
    app = _app()
    lens = configure(database=str(db_path), sweep_interval=0)
    assert _wrapped_once()
    assert app.parent() == 2 * (0 + 1 + 2) + 20
    assert lens.force_flush()
    _assert_one_nested_trace(db_path)
    lens.shutdown()
    assert threading.Thread.start is original_start


def test_propagate_threads_false_leaves_threads_alone(db_path: Path) -> None:
    """``configure(propagate_threads=False)`` opts out: nothing is wrapped and thread work starts its own traces."""
    import threading

    original_start = threading.Thread.start
    app = _app()
    lens = configure(database=str(db_path), sweep_interval=0, propagate_threads=False)
    assert threading.Thread.start is original_start
    app.parent()
    assert lens.force_flush()
    assert len({s["trace_id"] for s in spans(db_path)}) == 6  # the parent, 4 pool children, the thread's own


def test_already_on_is_neither_wrapped_twice_nor_turned_off(db_path: Path) -> None:
    """With the threading instrumentation already on (as ``opentelemetry-instrument`` does), configure() does
    not wrap again, and its shutdown() leaves the instrumentation the application turned on."""
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor

    instrumentor = ThreadingInstrumentor()
    instrumentor.instrument()
    try:
        app = _app()
        lens = configure(database=str(db_path), sweep_interval=0)
        assert _wrapped_once()
        app.parent()
        assert lens.force_flush()
        _assert_one_nested_trace(db_path)
        lens.shutdown()
        assert instrumentor.is_instrumented_by_opentelemetry and _wrapped_once()
    finally:
        instrumentor.uninstrument()


def test_under_opentelemetry_instrument_threads_nest_once(tmp_path: Path) -> None:
    """Real stack: ``opentelemetry-instrument`` (which loads the contrib threading instrumentation) running an
    app that calls configure() (the otel-lens distro stores): one wrapper per method, and pool/thread work nests in one trace."""
    db = tmp_path / "lens.db"
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(_APP)
        + textwrap.dedent(
            f"""
            import threading
            from concurrent.futures import ThreadPoolExecutor
            from opentelemetry.instrumentation.threading import ThreadingInstrumentor
            assert ThreadingInstrumentor().is_instrumented_by_opentelemetry, "opentelemetry-instrument did not"
            lens = configure(database={str(db)!r}, sweep_interval=0)
            for method in (threading.Thread.start, ThreadPoolExecutor.submit):
                assert not hasattr(method.__wrapped__, "__wrapped__"), "wrapped twice"
            parent()
            from opentelemetry import trace
            assert trace.get_tracer_provider().force_flush()  # the distro's own processors store here
            lens.shutdown()
            assert ThreadingInstrumentor().is_instrumented_by_opentelemetry
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_LENS_DATABASE"] = str(db)  # the otel-lens distro stores there; configure() joins it
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument), sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    _assert_one_nested_trace(db)
