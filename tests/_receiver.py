"""Receiver test helpers: a real ``otel-lens serve`` with its OTLP port, the official client process, and the check
that what it captured is what the store returns."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_lens._redact import REDACTED
from tests._web import Viewer, serve

CLIENT = Path(__file__).parent / "data" / "otlp_http_client.py"
_ENDPOINT = re.compile(r"OTEL_EXPORTER_OTLP_ENDPOINT=(http://\S+)")
_SPAN_FIELDS = ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
                "end_time_unix_nano", "status", "attributes", "resource", "scope")  # fmt: skip


class Served:
    """A running ``otel-lens serve``: ``viewer`` (its URL and process), ``otlp`` (the endpoint it printed), its database."""

    def __init__(self, viewer: Viewer, otlp: str, database: Path) -> None:
        self.viewer = viewer
        self.otlp = otlp
        self.database = database


@contextlib.contextmanager
def serving(database: Path, *args: str) -> Iterator[Served]:
    """``otel-lens serve`` on free ports (viewer and OTLP), until the OTLP line is printed."""
    with serve(database, *args) as viewer:
        deadline = time.monotonic() + 60
        while True:
            found = [m.group(1) for line in list(viewer.stderr_lines) if (m := _ENDPOINT.search(line))]
            if found:
                break
            assert time.monotonic() < deadline and viewer.process.poll() is None, "".join(viewer.stderr_lines)
            time.sleep(0.02)
        yield Served(viewer, found[0], database)


def run_client(endpoint: str, out: Path, compression: str = "none", token: str | None = None) -> dict[str, Any]:
    """Run the official-exporter client process; returns what its in-memory exporters captured."""
    args = [sys.executable, str(CLIENT), endpoint, str(out), compression, *([token] if token else [])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Failed to export" not in result.stderr, result.stderr
    captured: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return captured


def lens(database: Path, *args: str) -> Any:
    """``otel-lens ARGS --json --database DATABASE`` parsed."""
    command = [sys.executable, "-m", "otel_lens", *args, "--json", "--database", str(database)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored_spans(database: Path, trace_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The stored spans of ``trace_ids`` by span id (``show --json``), failing when one is stored twice."""
    stored: dict[str, dict[str, Any]] = {}
    for trace_id in sorted(trace_ids):
        for span in lens(database, "show", trace_id)["spans"]:
            assert span["span_id"] not in stored, "a span is stored twice"
            stored[span["span_id"]] = span
    return stored


def assert_stored_as_captured(database: Path, captured: dict[str, Any]) -> None:
    """The scenario of tests/data/_otlp_client.py, as the client's in-memory exporters captured it, is what
    ``show``/``logs --json`` return: each span once though sent twice (ids, names, kinds, times, status,
    attributes, events, links, resource, scope), each log record, secrets redacted as they are in-process."""
    assert captured["resent"], "the second send of the same spans was not accepted"
    stored = stored_spans(database, {s["trace_id"] for s in captured["spans"]})
    logs = lens(database, "logs", "--limit", "100")
    assert len(captured["spans"]) == 5
    assert sorted(stored) == sorted(s["span_id"] for s in captured["spans"])  # each once, though sent twice
    for expected in captured["spans"]:
        span = stored[expected["span_id"]]
        expected["attributes"] = _redacted(expected["attributes"], "api_key")
        assert {f: span[f] for f in _SPAN_FIELDS} == {f: expected[f] for f in _SPAN_FIELDS}
        assert [{k: e[k] for k in ("name", "time_unix_nano", "attributes")} for e in span["events"]] == expected[
            "events"
        ]
        assert span["links"] == expected["links"]
    assert {s["kind"] for s in stored.values()} == {"SERVER", "CLIENT", "PRODUCER", "CONSUMER"}
    assert len(logs) == len(captured["logs"]) == 3
    by_body = {str(log["body"]): log for log in logs}
    for expected in captured["logs"]:
        log = by_body[str(expected["body"])]
        assert log["severity_number"] == expected["severity_number"]
        assert log["severity_text"] == expected["severity_text"]
        assert log["attributes"] == _redacted(expected["attributes"], "password")
        assert (log["trace_id"], log["span_id"]) == (expected["trace_id"], expected["span_id"])
        assert log["event_name"] == expected["event_name"]
        assert log["service"] == "otlp-client" and log["logger"] == "shop.logs"


def _redacted(attributes: dict[str, Any], *secret: str) -> dict[str, Any]:
    return {key: REDACTED if key in secret else value for key, value in attributes.items()}
