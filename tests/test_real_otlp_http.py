"""The official OTLP/HTTP exporters (opentelemetry-exporter-otlp-proto-http) → a real ``otel-lens serve``.

The client is a separate process (tests/data/otlp_http_client.py) with the SDK's in-memory exporters
beside the OTLP ones: what ``otel-lens show --json`` / ``logs --json`` return must equal what they
captured, field by field, with redaction applied as it is in-process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._receiver import assert_stored_as_captured, run_client, serving, stored_spans


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_official_exporters_store_what_the_sdk_captured(tmp_path: Path, compression: str) -> None:
    """Spans and logs sent by the official exporters (plain, gzip, deflate) are stored exactly as the SDK
    made them (ids, names, kinds, times, status, attributes, events, links, resource, scope), secrets
    redacted, and the same spans sent twice are stored once."""
    database = tmp_path / "lens.db"
    with serving(database) as served:
        captured = run_client(served.otlp, tmp_path / "captured.json", compression)
        assert_stored_as_captured(database, captured)


def test_with_a_token_the_exporter_needs_its_bearer(tmp_path: Path) -> None:
    """serve --token: the official exporter with the token's Authorization header stores its spans."""
    database = tmp_path / "lens.db"
    with serving(database, "--token", "t0ken-123") as served:
        assert "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20t0ken-123" in "".join(served.viewer.stderr_lines)
        captured = run_client(served.otlp, tmp_path / "captured.json", token="t0ken-123")
        stored = stored_spans(database, {s["trace_id"] for s in captured["spans"]})
    assert len(stored) == 5
