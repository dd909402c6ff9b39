"""The exporters scrub secrets from every span and log they store, not only the facade's (RELIABILITY 20)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_lens._redact import REDACTED, Redactor
from otel_lens._redact_urls import hide_url_secrets, url_secrets
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from otel_lens.store.database import parse_location
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


KEY_DECISIONS = [
    # Secrets: wherever a span, event, link or log attribute names one.
    ("password", True),
    ("user.password", True),
    ("db.password", True),
    ("user.api_key", True),
    ("openai.api.key", True),  # dotted spelling of api_key
    ("api_key", True),
    ("apiKey", True),
    ("access_token", True),
    ("refresh_token", True),
    ("id_token", True),
    ("auth.token", True),
    ("client_secret", True),
    ("aws.secret_access_key", True),
    ("private_key", True),
    ("credentials", True),
    ("session_id", True),  # a session cookie's value
    ("x_session_id", True),
    ("sessionid", True),
    ("session_token", True),
    ("http.request.header.authorization", True),
    ("http.request.header.x-api-key", True),
    ("http.request.header.cookie", True),
    ("http.response.header.set-cookie", True),
    ("http.request.header.x-csrf-token", True),
    ("http.request.header.x-session-id", True),
    # Not secrets: token counts, ids and code locations that the views need.
    ("max_tokens", False),
    ("gen_ai.request.max_tokens", False),
    ("gen_ai.usage.input_tokens", False),
    ("gen_ai.usage.output_tokens", False),
    ("gen_ai.usage.cache_read.input_tokens", False),
    ("gen_ai.usage.reasoning.output_tokens", False),
    ("gen_ai.token.type", False),
    ("llm.token_count.prompt", False),
    ("llm.token_count.completion", False),
    ("llm.usage.total_tokens", False),
    ("token_type", False),
    ("tokenizer", False),
    ("author", False),
    ("session.id", False),  # OTel's session attribute: traces are grouped by it
    ("session.previous_id", False),
    ("user.id", False),
    ("enduser.id", False),
    ("code.function.name", False),
    ("exception.stacktrace", False),
    ("exception.message", False),
    ("db.statement", False),
    ("db.query.text", False),
    ("cache.key", False),
    ("messaging.kafka.message.key", False),
    ("http.request.header.content-length", False),
    ("http.request.header.accept", False),
    ("url.full", False),
]


@pytest.mark.parametrize(("key", "secret"), KEY_DECISIONS)
def test_attribute_key_decisions(key: str, secret: bool) -> None:
    """The README's key rule as the exporters apply it to an attribute map: which keys lose their values."""
    redactor = Redactor()
    for _ in range(2):  # the second map with the same keys is judged from the cache: same answer
        scrubbed = redactor.attributes({key: "v-123", "ok": 1}) or {key: "v-123", "ok": 1}
        assert (scrubbed[key] == REDACTED) is secret
        assert scrubbed["ok"] == 1


def test_secret_list_values_keep_their_shape() -> None:
    """A secret key holding a list becomes a list of as many [REDACTED]; the map is copied, never changed."""
    attributes = {"api_keys": ["k1", "k2", "k3"], "password": ("p",), "n": [1, 2]}
    scrubbed = Redactor().attributes(attributes)
    assert scrubbed == {"api_keys": [REDACTED] * 3, "password": [REDACTED], "n": [1, 2]}
    assert attributes["api_keys"] == ["k1", "k2", "k3"]


def test_configured_keys_match_whole_keys_and_their_last_segment() -> None:
    """OTEL_EXPORTER_LENS_REDACT keys match a whole key or its last dotted part, in any spelling."""
    redactor = Redactor(["tenant_ref"])
    scrubbed = redactor.attributes({"tenant_ref": "a", "app.tenant-ref": "b", "app.tenantRef": "c", "tenant": "d"})
    assert scrubbed == {"tenant_ref": REDACTED, "app.tenant-ref": REDACTED, "app.tenantRef": REDACTED, "tenant": "d"}


def test_caches_stay_bounded_under_unique_keys() -> None:
    """Ever-new attribute keys (ids in key names) never grow the decision caches past their bounds."""
    redactor = Redactor()
    for index in range(20_000):
        redactor.attributes({f"item.{index}": 1, f"item.{index}.password": "p"})
        redactor.query(f"page={index}&token=t")
    assert len(redactor._plans) <= 2048 and len(redactor._decisions) <= 8192 and len(redactor._queries) <= 8192
    assert redactor.attributes({"item.x.password": "p"}) == {"item.x.password": REDACTED}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:hunter2@db:5432/x", f"postgresql://app:{REDACTED}@db:5432/x"),
        ("redis://:hunter2@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("clone https://ghp_hunter2@github.com/a/b now", f"clone https://{REDACTED}@github.com/a/b now"),
        ("see https://x.io/cb?code=1&access_token=hunter2#f", f"see https://x.io/cb?code=1&access_token={REDACTED}#f"),
        ("http://example.com:8443/p?email=a@b.com", "http://example.com:8443/p?email=a@b.com"),
        ("https://[::1]/x?mail=a@b&page=2", "https://[::1]/x?mail=a@b&page=2"),
        ("SELECT * FROM t WHERE a = 'x@y'", "SELECT * FROM t WHERE a = 'x@y'"),
        ("no url here: password=x", "no url here: password=x"),  # only URLs are looked into in free text
    ],
)
def test_urls_in_any_stored_value_lose_their_secrets(text: str, expected: str) -> None:
    """Any URL in stored JSON loses its password and secret parameters; other text is kept byte for byte."""
    stored = orjson.dumps({"message": text, "list": [text]}).decode()
    scrubbed = Redactor().urls_in_json(stored)
    assert orjson.loads(scrubbed) == {"message": expected, "list": [expected]}
    if expected == text:
        assert scrubbed is stored


@pytest.mark.parametrize(
    ("url", "label", "shown"),
    [
        (
            "postgresql://lens:hunter2@db:5432/otel",
            "postgresql://db:5432/otel",
            f"postgresql://lens:{REDACTED}@db:5432/otel",
        ),
        (
            "postgres://lens:hun/ter2@db/otel?sslmode=require&password=hunter3&sslpassword=hunter4",
            "postgresql://db/otel",
            f"postgres://lens:{REDACTED}@db/otel?sslmode=require&password={REDACTED}&sslpassword={REDACTED}",
        ),
        ("postgresql://lens:hu?nter2@db/otel", "postgresql://db/otel", f"postgresql://lens:{REDACTED}@db/otel"),
        ("postgresql:///otel?host=/run/pg", "postgresql://localhost/otel", "postgresql:///otel?host=/run/pg"),
        ("postgresql://h1:5432,h2:5433/otel", "postgresql://h1:5432,h2:5433/otel", "postgresql://h1:5432,h2:5433/otel"),
    ],
)
def test_database_urls_for_people_never_show_a_password(url: str, label: str, shown: str) -> None:
    """Location's str (messages) and repr, and Settings' repr, hide passwords, even in URLs urlsplit rejects."""
    location = parse_location(url)
    assert str(location) == label
    assert repr(location) == f"Location(kind='postgresql', target={shown!r})"
    assert f"database={shown!r}" in repr(Settings.load(environ={}, database=url))
    assert "hunter" not in f"{location} {location!r} {Settings.load(environ={}, database=url)!r}"


def test_driver_messages_lose_the_url_secrets() -> None:
    """Whatever part of the URL a driver quotes back (raw, decoded or cut at a '/'), the password is cut out."""
    url = "postgresql://lens:hun%2Fter2/x@db/otel?password=qp-9&sslmode=require"
    secrets = url_secrets(url, Redactor().is_sensitive)
    message = 'bad "hun%2Fter2/x", "hun/ter2/x", "hun%2Fter2", "x@db", "qp-9" in postgresql://lens:hun%2Fter2/x@db'
    cleaned = hide_url_secrets(message, secrets)
    assert "hun" not in cleaned and "ter2" not in cleaned and "qp-9" not in cleaned
    assert "sslmode" not in secrets


def test_url_attributes_and_other_values_are_both_scrubbed_in_one_map() -> None:
    """url.full is scrubbed by key (userinfo, query, fragment kept) and a URL in another value by the text scan."""
    redactor = Redactor()
    attributes = {
        "url.full": "https://ada:pw-1@shop.example/cb?code=1&access_token=tk-2#top",
        "http.url": "https://shop.example/cb?page=2",
        "note": "retrying https://bob:pw-3@other.example/x",
    }
    scrubbed = redactor.attributes(attributes)
    assert scrubbed is not None
    assert scrubbed["url.full"] == f"https://ada:{REDACTED}@shop.example/cb?code=1&access_token={REDACTED}#top"
    text = redactor.urls_in_json(orjson.dumps(scrubbed).decode(), scrubbed)
    assert "pw-1" not in text and "tk-2" not in text and "pw-3" not in text
    assert orjson.loads(text)["http.url"] == "https://shop.example/cb?page=2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a/?redirect=https://u:hunter2@b/x", "https://a/?redirect=https://u:[REDACTED]@b/x"),
        ("https://app/cb#access_token=tok123&state=s", "https://app/cb#access_token=[REDACTED]&state=s"),
        ("https://a/?next=https://b/?token=zz&q=1", "https://a/?next=https://b/?token=[REDACTED]&q=1"),
        ("https://a/x?q=1#section-2", None),
    ],
)
def test_nested_urls_and_fragment_secrets_are_scrubbed(url: str, expected: str | None) -> None:
    """A URL nested in a query (a redirect target with a password or a secret parameter) and an OAuth
    redirect's #access_token fragment lose their secrets, as a URL attribute and inside any stored value."""
    redactor = Redactor(())
    changed = redactor.attributes({"url.full": url})
    assert (changed or {}).get("url.full") == expected
    assert redactor.urls_in_json(json.dumps({"message": f"went to {url} then"})) == json.dumps(
        {"message": f"went to {expected or url} then"}
    )
