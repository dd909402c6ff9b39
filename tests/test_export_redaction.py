"""The exporters scrub secrets from every span and log they store, not only the facade's (RELIABILITY 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens._redact import REDACTED, Redactor
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests._store_helpers import spans_by_name

SECRETS = ("Bearer sk-live-123", "sessioncookie=abc", "q-secret-456", "hunter2", "tok-789", "custom-999")


def _raw_bytes(db_path: Path) -> bytes:
    return b"".join(
        Path(f"{db_path}{suffix}").read_bytes() for suffix in ("", "-wal") if Path(f"{db_path}{suffix}").exists()
    )


def test_instrumentation_spans_and_logs_are_scrubbed_before_storage(db_path: Path) -> None:
    """Header, URL and configured-key secrets from a plain SDK setup never reach the db or -wal bytes."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0, redact="x-tenant-key")
    spans, logs = LensSpanExporter(settings), LensLogExporter(settings)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    attributes = {
        "http.request.header.authorization": ("Bearer sk-live-123",),
        "http.request.header.cookie": ("sessioncookie=abc",),
        "http.request.header.accept": ("application/json",),
        "url.full": "https://shop.example/search?q=shoes&api_key=q-secret-456&page=2",
        "http.target": "/login?user=ada&password=hunter2",
        "url.query": "access_token=tok-789",
        "x-tenant-key": "custom-999",
        "gen_ai.usage.input_tokens": 42,
        "max_tokens": 100,
    }
    with provider.get_tracer("t").start_as_current_span("GET /search", attributes=attributes):
        logger_provider.get_logger("app").emit(body="login", attributes={"http.request.header.x_api_key": "tok-789"})
    provider.shutdown()
    logger_provider.shutdown()
    raw = _raw_bytes(db_path)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    fresh = LensSpanExporter(settings)
    stored = spans_by_name(fresh.store)["GET /search"]["attributes"]
    fresh.shutdown()
    assert stored["http.request.header.authorization"] == [REDACTED]
    assert stored["http.request.header.accept"] == ["application/json"]
    assert stored["url.full"] == f"https://shop.example/search?q=shoes&api_key={REDACTED}&page=2"
    assert stored["http.target"] == f"/login?user=ada&password={REDACTED}"
    assert stored["url.query"] == f"access_token={REDACTED}"
    assert stored["x-tenant-key"] == REDACTED
    assert stored["gen_ai.usage.input_tokens"] == 42  # token counts are not secrets
    assert stored["max_tokens"] == 100


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("access_token", True),
        ("token", True),
        ("X-Auth-Token", True),
        ("client_secret", True),
        ("db_password", True),
        ("set-cookie", True),
        ("OpenAI-API-Key", True),
        ("max_tokens", False),
        ("gen_ai.usage.output_tokens", False),
        ("tokenizer", False),
        ("author", False),
    ],
)
def test_which_keys_are_secret(key: str, secret: bool) -> None:
    """Words like token/cookie count as a whole key or its last word; password/secret/api_key anywhere."""
    assert Redactor().is_sensitive(key) is secret


def test_clean_attributes_are_left_alone() -> None:
    """No copy is made when nothing is secret (the usual, hot case)."""
    assert Redactor().attributes({"http.route": "/x", "url.full": "https://a/b?q=1", "db.statement": "a=1"}) is None


@pytest.mark.parametrize(
    "key",
    ["accessToken", "refreshToken", "idToken", "bearerToken", "apiKey", "clientSecret", "X-Session-Id", "session_id"],
)
def test_camel_case_and_session_keys_are_secret(key: str) -> None:
    """camelCase and session-id spellings are caught like their snake_case forms."""
    assert Redactor().is_sensitive(key)


def test_truncated_json_scrubs_whole_nested_values() -> None:
    """In a body cut mid-way, a secret key's array or object is removed whole, to its bracket or the end."""
    text = '{"secret": ["s1", "s2"], "ok": 1, "api_key": {"a": "x\\\\"]", "b": 2}, "tail": "t'
    scrubbed = Redactor().text(text, "application/json")
    assert "s1" not in scrubbed and "s2" not in scrubbed and '"x' not in scrubbed
    assert '"ok": 1' in scrubbed and '"tail": "t' in scrubbed


def test_values_deeper_than_checked_are_not_kept() -> None:
    """A secret nested past the depth Redactor checks is dropped, never returned unchecked."""
    value: object = {"password": "deep-secret"}
    for _ in range(40):
        value = {"k": value}
    assert "deep-secret" not in str(Redactor().value(value))


def test_reprs_of_secret_fields_are_scrubbed() -> None:
    """A repr's name=value and 'name': value pairs lose secret values (objects stored by their repr)."""
    scrubbed = Redactor().repr_text("Creds(user='ada', password='pw1', apiKey=\"k2\", n=3) {'token': 'tk'}")
    assert "pw1" not in scrubbed and "k2" not in scrubbed and "tk" not in scrubbed
    assert "user='ada'" in scrubbed and "n=3" in scrubbed
