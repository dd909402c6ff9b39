"""The official OTLP/HTTP exporters (opentelemetry-exporter-otlp-proto-http) → a real ``otel-lens serve``.

The client is a separate process (tests/data/otlp_http_client.py) with the SDK's in-memory exporters
beside the OTLP ones: what ``otel-lens show --json`` / ``logs --json`` return must equal what they
captured, field by field, with redaction applied as it is in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otel_lens._redact import REDACTED
from tests._receiver import lens, run_client, serving

_SPAN_FIELDS = ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
                "end_time_unix_nano", "status", "attributes", "resource", "scope")  # fmt: skip


def _stored_spans(database: Path, trace_ids: set[str]) -> dict[str, dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    for trace_id in sorted(trace_ids):
        for span in lens(database, "show", trace_id)["spans"]:
            assert span["span_id"] not in stored, "a span is stored twice"
            stored[span["span_id"]] = span
    return stored


def _redacted(attributes: dict[str, Any], *secret: str) -> dict[str, Any]:
    return {key: REDACTED if key in secret else value for key, value in attributes.items()}


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_official_exporters_store_what_the_sdk_captured(tmp_path: Path, compression: str) -> None:
    """Spans and logs sent by the official exporters (plain, gzip, deflate) are stored exactly as the SDK
    made them (ids, names, kinds, times, status, attributes, events, links, resource, scope), secrets
    redacted, and the same spans sent twice are stored once."""
    database = tmp_path / "lens.db"
    with serving(database) as served:
        captured = run_client(served.otlp, tmp_path / "captured.json", compression)
        assert captured["resent"], "the second send of the same spans was not accepted"
        stored = _stored_spans(database, {s["trace_id"] for s in captured["spans"]})
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


def test_with_a_token_the_exporter_needs_its_bearer(tmp_path: Path) -> None:
    """serve --token: the official exporter with the token's Authorization header stores its spans."""
    database = tmp_path / "lens.db"
    with serving(database, "--token", "t0ken-123") as served:
        assert "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20t0ken-123" in "".join(served.viewer.stderr_lines)
        captured = run_client(served.otlp, tmp_path / "captured.json", token="t0ken-123")
        stored = _stored_spans(database, {s["trace_id"] for s in captured["spans"]})
    assert len(stored) == 5
