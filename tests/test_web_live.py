"""The live feed (``Store.live``, ``/api/live``, ``logs --follow``): every record stored after it started, once,
also when PostgreSQL commits ids out of order (a transaction holding a lower id commits after a higher one)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from opentelemetry._logs import SeverityNumber

from otel_lens.query import open_store
from otel_lens.query._live import GAP_GRACE_S
from tests._web import Demo, build_demo, serve

_WORKER = str(Path(__file__).with_name("_postgres_worker.py"))


def _until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a bounded wait, never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "lens.db")
    return str(request.getfixturevalue("postgres_url"))


def test_the_feed_returns_what_is_stored_after_it_started_once(database: str) -> None:
    """Nothing stored before the feed started; each new log once; each trace that gained spans, with its summary."""
    build_demo(database)
    with open_store(database) as store:
        feed = store.live()
        assert feed.poll().logs == [] and feed.poll().traces == []
        demo = Demo(database)
        try:
            trace_id = demo.request(time.time_ns(), user=7, fail=True)
        finally:
            demo.close()
        logs, traces = [], []
        for _ in range(5):
            batch = feed.poll()
            logs += batch.logs
            traces += batch.traces
        assert sorted(str(r.body) for r in logs) == [
            "cart of user 7: 3 items",
            "{'event': 'payment failed', 'code': 51}",
        ]
        assert {t.trace_id for t in traces} == {trace_id}
        assert traces[-1].span_count == 4 and traces[-1].error_count == 2


def test_the_feed_filters_logs(database: str) -> None:
    """Store.live's log filters (level, text, trace) apply to what it returns."""
    build_demo(database)
    with open_store(database) as store:
        errors = store.live(traces=False, level="error")
        text = store.live(traces=False, search="CART OF")
        demo = Demo(database)
        try:
            demo.request(time.time_ns(), user=8, fail=True)
        finally:
            demo.close()
        assert [r.severity_text for r in errors.poll().logs] == ["ERROR"]
        assert [r.body for r in text.poll().logs] == ["cart of user 8: 3 items"]


def _read_events(response: httpx.Response, into: list[tuple[str, dict[str, Any]]]) -> None:
    kind = None
    try:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind:
                into.append((kind, json.loads(line[6:])))
                kind = None
    except (httpx.StreamError, httpx.TransportError):  # the test closed the stream
        return


def test_api_live_streams_traces_and_logs_as_they_are_stored(tmp_path: Path) -> None:
    """/api/live is text/event-stream; a span and a log stored by another process arrive as event: trace / event: log."""
    database = tmp_path / "lens.db"
    build_demo(str(database))
    events: list[tuple[str, dict[str, Any]]] = []
    with contextlib.ExitStack() as stack:
        viewer = stack.enter_context(serve(database))
        client = stack.enter_context(httpx.Client(base_url=viewer.url, timeout=httpx.Timeout(60, read=120)))
        response = stack.enter_context(client.stream("GET", "/api/live"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=_read_events, args=(response, events), daemon=True)
        reader.start()
        time.sleep(0.2)  # not synchronisation: a record stored before the feed started is simply not "new"
        code = (
            "import sys, time; sys.path.insert(0, '.')\n"
            "from tests._web import Demo\n"
            f"d = Demo({str(database)!r}); d.request(time.time_ns(), user=99, fail=False); d.close()"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=Path(__file__).parent.parent)
        _until(
            lambda: (
                any(k == "log" for k, _ in events) and any(k == "trace" and d["span_count"] == 4 for k, d in events)
            ),
            "live events",
        )
    logs = [d for k, d in events if k == "log"]
    assert [d["body"] for d in logs] == ["cart of user 99: 3 items"]
    assert set(logs[0]) >= {"timestamp", "severity_text", "body", "trace_id", "span_id", "id"}
    traces = [d for k, d in events if k == "trace"]
    assert {d["root_name"] for d in traces} <= {"POST /checkout"} and traces[-1]["span_count"] == 4


# -- PostgreSQL: out-of-order commits -----------------------------------------------------------------


def _hold_a_log_open(url: str, body: str) -> tuple[psycopg.Connection[Any], int]:
    """A transaction that inserted a log row (drawing its id) and has not committed: id N, invisible to readers."""
    connection = psycopg.connect(url)
    row = connection.execute(
        "INSERT INTO lens_logs (uid, timestamp_ns, observed_ns, severity_number, severity_text, body, resource_id, scope_id) "
        "SELECT %s, timestamp_ns + 1, observed_ns + 1, 9, 'INFO', %s, resource_id, scope_id FROM lens_logs LIMIT 1 "
        "RETURNING id",
        (os.urandom(16), json.dumps(body)),
    ).fetchone()
    assert row is not None
    return connection, int(row[0])


def _write_log(url: str, body: str) -> None:
    demo = Demo(url)
    try:
        demo.log("late", None, time.time_ns(), SeverityNumber.INFO, body)
    finally:
        demo.close()


@pytest.mark.postgres
def test_a_log_committed_after_a_later_id_is_still_returned(postgres_url: str) -> None:
    """A transaction holding id N commits after N+1 was stored and seen: the feed returns N too, once."""
    build_demo(postgres_url)
    with open_store(postgres_url) as store:
        feed = store.live(traces=False)
        held, held_id = _hold_a_log_open(postgres_url, "committed late")
        try:
            _write_log(postgres_url, "committed first")
            first = feed.poll().logs
            assert [r.body for r in first] == ["committed first"]
            assert first[0].id > held_id
            held.commit()
        finally:
            held.close()
        late = _until(lambda: feed.poll().logs, "the late commit")
        assert [(r.id, r.body) for r in late] == [(held_id, "committed late")]
        time.sleep(GAP_GRACE_S + 0.2)  # past the grace, the gap settles: nothing comes twice
        assert feed.poll().logs == [] and feed.poll().logs == []


@pytest.mark.postgres
def test_a_rolled_back_id_settles_and_the_feed_forgets_it(postgres_url: str) -> None:
    """An id drawn by a transaction that rolls back never comes: once its writers are gone and the grace has
    passed the gap closes, the feed's floor moves past it and it remembers nothing (memory stays bounded)."""
    build_demo(postgres_url)
    with open_store(postgres_url) as store:
        feed = store.live(traces=False)
        held, _ = _hold_a_log_open(postgres_url, "never stored")
        try:
            _write_log(postgres_url, "stored")
            assert [r.body for r in feed.poll().logs] == ["stored"]
            assert feed.pending >= 2  # the returned id and the open gap below it
        finally:
            held.rollback()
            held.close()
        _until(lambda: feed.poll().logs == [] and feed.pending == 0, "the gap to settle", timeout=GAP_GRACE_S + 30)
        _write_log(postgres_url, "after")
        assert [r.body for r in feed.poll().logs] == ["after"]


@pytest.mark.postgres
def test_logs_follow_prints_a_record_committed_out_of_order(postgres_url: str) -> None:
    """`logs --follow` on PostgreSQL prints a record whose lower id committed after a higher one (it used to skip it)."""
    build_demo(postgres_url)
    with subprocess.Popen(
        [sys.executable, "-m", "otel_lens", "logs", "--follow", "--json", "--limit", "1", "--database", postgres_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as follower:  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        timer = threading.Timer(120, follower.kill)
        timer.start()
        try:
            _until(lambda: len(lines) >= 1, "the latest record")
            held, _ = _hold_a_log_open(postgres_url, "committed late")
            try:
                _write_log(postgres_url, "committed first")
                _until(lambda: any("committed first" in line for line in lines), "the first commit")
                held.commit()
            finally:
                held.close()
            _until(lambda: any("committed late" in line for line in lines), "the late commit", timeout=30)
        finally:
            timer.cancel()
            follower.terminate()
            follower.wait()
    bodies = [json.loads(line)["body"] for line in lines]
    assert bodies.count("committed late") == 1 and bodies.count("committed first") == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_writers_every_record_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    """Three writer processes (two threads each) export spans and logs at once while a feed follows: the feed
    returns every stored log record exactly once and every trace, however the commits interleave."""
    build_demo(postgres_url)
    go = tmp_path / "go"
    with open_store(postgres_url) as store:
        feed = store.live()
        before_logs = {r.id for r in store.logs(limit=None)}
        workers = [
            subprocess.Popen(
                [sys.executable, _WORKER, "write", postgres_url, str(go), "40"], stdout=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        seen_logs: list[int] = []
        seen_traces: set[str] = set()
        go.touch()
        try:
            while any(w.poll() is None for w in workers):
                batch = feed.poll()
                seen_logs += [r.id for r in batch.logs]
                seen_traces |= {t.trace_id for t in batch.traces}
            results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        assert all(r["failures"] == 0 for r in results), results
        deadline = time.monotonic() + GAP_GRACE_S + 30
        stored = {r.id for r in store.logs(limit=None)} - before_logs
        while set(seen_logs) != stored and time.monotonic() < deadline:
            batch = feed.poll()
            seen_logs += [r.id for r in batch.logs]
            seen_traces |= {t.trace_id for t in batch.traces}
        assert len(stored) == 3 * 2 * 40
        assert sorted(seen_logs) == sorted(stored)  # all of them, none twice
        stored_traces = {t.trace_id for t in store.traces(limit=None)}
        assert len(seen_traces) == 3 * 2 * 40 and seen_traces <= stored_traces
