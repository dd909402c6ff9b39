"""Running and abandoned spans across processes (RELIABILITY 30): a real app process, read by the real CLI.

The app is a ``configure()``d child with one long ``lens_fn`` span (an "agent run" carrying GenAI token
usage) whose children end while it runs. From another process the CLI sees it running, with its real
root; it then either finishes (one ended row replaces the running one, counted once in ``span_count``
and in usage), is killed with ``kill -9`` (after the heartbeat bound it reads as abandoned), or exits
cleanly with a span still open in another thread (abandoned at once: a clean exit leaves nothing running).
SQLite and PostgreSQL both.
"""

from __future__ import annotations

from pathlib import Path

from tests._reliability import finish
from tests._running_app import (
    cli,
    end_run,
    kill_9_abandons,
    reaped,
    sigterm_abandons_at_once,
    spans_by_name,
    start_app,
    wait_running,
)


def test_a_long_span_runs_then_its_finished_row_replaces_it(tmp_path: Path, database_url: str) -> None:
    """Seen from another process: running with its real root (not a child), elapsed time, uncounted; once it
    ends, one ended row (end time set) counted once in span_count and in usage, nothing running."""
    process, control = start_app(tmp_path, database_url)
    with reaped(process):
        listed = wait_running(database_url, process, control)
        assert listed["root_name"] == "agent_run" and listed["state"] == "running"  # the root, not "step"
        assert listed["span_count"] == 3  # the ended children; a running span is counted when it ends
        spans = spans_by_name(database_url, listed["trace_id"])
        root = spans["agent_run"]
        assert root["state"] == "running" and root["end_time_unix_nano"] is None and root["duration_ms"] > 0
        assert spans["step"]["state"] == "ended"
        assert cli(database_url, "usage") == []  # usage counts the span when it ends, not while it runs
        code, _, err = end_run(process, control)
        assert code == 0, err
    trace = cli(database_url, "traces")[0]
    assert trace["state"] == "ended" and trace["span_count"] == 4 and trace["root_name"] == "agent_run"
    spans = cli(database_url, "show", trace["trace_id"])["spans"]
    assert [s["name"] for s in spans].count("agent_run") == 1
    root = next(s for s in spans if s["name"] == "agent_run")
    assert root["state"] == "ended" and root["end_time_unix_nano"] is not None
    assert cli(database_url, "traces", "--running") == []
    usage = cli(database_url, "usage")
    assert [(u["span_count"], u["input_tokens"], u["output_tokens"]) for u in usage] == [(1, 7, 3)]


def test_a_killed_process_leaves_its_open_spans_abandoned(tmp_path: Path, database_url: str) -> None:
    """kill -9 with a span open: once the heartbeat is older than its bound, traces and show say abandoned
    (decided by the reader, in another process), the span keeps its duration so far, nothing runs forever."""
    process, control = start_app(tmp_path, database_url)
    trace_id = kill_9_abandons(database_url, process, control)["trace_id"]
    spans = spans_by_name(database_url, trace_id)
    root = spans["agent_run"]
    assert root["state"] == "abandoned" and root["end_time_unix_nano"] is None
    assert root["duration_ms"] > 0  # how long it is known to have run: up to its writer's last heartbeat
    assert spans["step"]["state"] == "ended"
    assert cli(database_url, "traces")[0]["root_name"] == "agent_run"


def test_a_clean_exit_leaves_nothing_running(tmp_path: Path, database_url: str) -> None:
    """A span still open (in a daemon thread) when the process exits normally is stored and abandoned at
    once, without waiting for the heartbeat bound: nothing is left running."""
    process, _ = start_app(tmp_path, database_url, "open-at-exit")
    code, _, err = finish(process)
    assert code == 0, err
    found = cli(database_url, "traces")
    assert [(t["root_name"], t["state"], t["span_count"]) for t in found] == [("never_ends", "abandoned", 0)]
    assert cli(database_url, "traces", "--running") == []
    (span,) = cli(database_url, "show", found[0]["trace_id"])["spans"]
    assert span["state"] == "abandoned" and span["end_time_unix_nano"] is None


def test_sigterm_leaves_the_open_span_abandoned_at_once(tmp_path: Path, database_url: str) -> None:
    """SIGTERM (configure()'s flush-then-die handler) with the long span open: its finished children are
    stored and the open span reads as abandoned right away, not running until the heartbeat bound."""
    process, control = start_app(tmp_path, database_url)
    sigterm_abandons_at_once(database_url, process, control)
    assert cli(database_url, "traces", "--running") == []
