"""Which JSON text in stored values is scrubbed, and how: the policy of ``otel_lens._redact_json`` (RELIABILITY 20).

Every string attribute value, event attribute and log body whose first non-space character is ``{``
or ``[`` is parsed and scrubbed by the key rule at any depth, JSON text nested in its strings too;
text with no secret is stored byte for byte; text that does not parse, or is longer than
``PARSE_LIMIT``, is scrubbed by pattern. A ``text/plain`` body written as ``key=value&…`` is scrubbed
like a query. The exporters here are real (a TracerProvider/LoggerProvider into a SQLite file); the
form-body case runs a real uvicorn server with body capture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from otel_lens import configure, instrument_asgi
from otel_lens._redact import REDACTED, Redactor
from otel_lens._redact_json import PARSE_LIMIT
from otel_lens.export.logs import LensLogExporter
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests._facade_helpers import bodies, logs, otel_globals_restored, raw_bytes, serve_in_thread, spans


def _stored_span_attributes(db_path: Path, attributes: dict[str, Any], event: dict[str, Any] | None = None) -> Any:
    """Store one span with ``attributes`` (and an event) through a real exporter; its stored attributes and events."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(Settings.load(environ={}, database=str(db_path)))))
    with provider.get_tracer("t").start_as_current_span("chat", attributes=attributes) as span:
        if event is not None:
            span.add_event("gen_ai.choice", event)
    provider.shutdown()
    (stored,) = spans(db_path)
    return stored


def test_json_nested_in_a_json_string_is_scrubbed_at_any_depth(db_path: Path) -> None:
    """Tool arguments are JSON text inside the messages' JSON text inside an attribute: the secret two levels
    of text down is replaced, the rest of both levels is kept, and both stay valid JSON."""
    arguments = json.dumps({"city": "Paris", "api_key": "sk-nested-1", "auth": {"token": "tk-nested-2"}})
    messages = json.dumps(
        [{"role": "assistant", "tool_calls": [{"function": {"name": "weather", "arguments": arguments}}]}]
    )
    stored = _stored_span_attributes(
        db_path, {"gen_ai.output.messages": messages, "gen_ai.tool.call.arguments": arguments}
    )
    assert b"sk-nested-1" not in raw_bytes(db_path) and b"tk-nested-2" not in raw_bytes(db_path)
    decoded = json.loads(stored["attributes"]["gen_ai.output.messages"])
    inner = json.loads(decoded[0]["tool_calls"][0]["function"]["arguments"])
    assert inner == {"city": "Paris", "api_key": REDACTED, "auth": REDACTED}
    assert decoded[0]["tool_calls"][0]["function"]["name"] == "weather"
    assert json.loads(stored["attributes"]["gen_ai.tool.call.arguments"]) == inner


def test_arrays_and_event_attributes_are_scrubbed(db_path: Path) -> None:
    """A JSON array at the top, a secret key holding an array, JSON text in a list attribute's items and in an
    event's attributes: each secret replaced, every other item kept in place."""
    stored = _stored_span_attributes(
        db_path,
        {
            "llm.tools": [json.dumps({"name": "a", "password": "pw-array-1"}), "plain", json.dumps([1, 2])],
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "be nice"}, {"secret": ["s-a-2"]}]),
        },
        event={"gen_ai.tool.call.result": json.dumps([{"client_secret": "cs-event-3", "ok": True}])},
    )
    raw = raw_bytes(db_path)
    assert all(s not in raw for s in (b"pw-array-1", b"s-a-2", b"cs-event-3"))
    tools = stored["attributes"]["llm.tools"]
    assert json.loads(tools[0]) == {"name": "a", "password": REDACTED} and tools[1:] == ["plain", "[1, 2]"]
    assert json.loads(stored["attributes"]["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be nice"},
        {"secret": REDACTED},
    ]
    assert json.loads(stored["events"][0][2]["gen_ai.tool.call.result"]) == [{"client_secret": REDACTED, "ok": True}]


def test_values_without_a_secret_are_stored_byte_for_byte(db_path: Path) -> None:
    """JSON text with no secret key (odd spacing, escapes, key order), prose starting with a brace and JSON
    whose only secret is already the marker are stored exactly as given: nothing is re-serialized."""
    kept = {
        "gen_ai.input.messages": '[ {"role" : "user",\n  "content": "say \\"hi\\" \\u00e9"} ,{"z":1,"a":[ ]}]',
        "input.value": '{"b": 2, "a": 1.50, "max_tokens": 256, "tokenizer": "o200k"}',
        "note": '{placeholder} is "not" JSON',
        "array.prose": '[draft] the "password" field is required',
        "already": json.dumps({"api_key": REDACTED, "n": 1}),
    }
    stored = _stored_span_attributes(db_path, kept)
    assert {key: stored["attributes"][key] for key in kept} == kept


def test_text_starting_with_a_brace_that_is_not_json_is_scrubbed_by_pattern() -> None:
    """JSON cut by a length limit (it no longer parses) still loses a secret's value, also in JSON text inside
    one of its strings, cut there too; other text starting with a brace is returned as it is."""
    redactor = Redactor()
    inner = json.dumps({"password": "pw-cut-secret", "user": "ada"})
    cut = json.dumps({"messages": [{"role": "tool", "content": inner}], "token": "tk-later"})[:-20]
    scrubbed = redactor.json_text(cut)
    assert "pw-cut-secret" not in scrubbed and '\\"user\\"' in scrubbed and '"role": "tool"' in scrubbed
    half = json.dumps({"content": inner})[: len('{"content": "{\\"password\\": \\"pw-c')]
    assert "pw-c" not in redactor.json_text(half)
    prose = "{user} logged in; [retry] with password reset"
    assert redactor.json_text(prose) is prose


def test_huge_values_are_scrubbed_by_pattern_without_parsing() -> None:
    """A value past PARSE_LIMIT is not parsed but still loses secrets (top-level, nested objects and JSON text
    inside its strings); a huge value with none comes back as the same string."""
    redactor = Redactor()
    pad = "x" * (PARSE_LIMIT + 10)
    nested = json.dumps({"api_key": "sk-huge-nested", "q": "kept"})
    huge = json.dumps({"pad": pad, "password": "pw-huge-top", "auth": {"a": [1, "pw-huge-obj"]}, "args": nested})
    assert len(huge) > PARSE_LIMIT
    scrubbed = redactor.json_text(huge)
    assert all(s not in scrubbed for s in ("pw-huge-top", "pw-huge-obj", "sk-huge-nested"))
    assert pad in scrubbed and json.loads(json.loads(scrubbed)["args"]) == {"api_key": REDACTED, "q": "kept"}
    clean = json.dumps({"pad": pad, "args": json.dumps({"q": "kept"})})
    assert redactor.json_text(clean) is clean


def test_log_bodies_and_attributes_holding_json_text_are_scrubbed(db_path: Path) -> None:
    """A log body that is JSON text, a structured body with JSON text in a value (a legacy gen_ai.tool.message
    event), and a log attribute holding JSON text: secrets replaced, each kept as JSON, not as a Python repr."""
    exporter = LensLogExporter(Settings.load(environ={}, database=str(db_path)))
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("app")
    logger.emit(body=json.dumps({"event": "login", "password": "pw-log-body-1"}))
    logger.emit(
        body={"role": "tool", "content": json.dumps({"api_key": "sk-log-body-2"})}, event_name="gen_ai.tool.message"
    )
    logger.emit(body="tool done", attributes={"gen_ai.tool.call.result": json.dumps({"secret": "s-log-attr-3"})})
    provider.shutdown()
    raw = raw_bytes(db_path)
    assert all(s not in raw for s in (b"pw-log-body-1", b"sk-log-body-2", b"s-log-attr-3"))
    first, second, third = logs(db_path)
    assert json.loads(first["body"]) == {"event": "login", "password": REDACTED}
    assert json.loads(second["body"]["content"]) == {"api_key": REDACTED}
    assert json.loads(third["attributes"]["gen_ai.tool.call.result"]) == {"secret": REDACTED}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2&x=1", f"password={REDACTED}&x=1"),
        ("user=ada&api%5Fkey=k-1&next=%2Fhome", f"user=ada&api%5Fkey={REDACTED}&next=%2Fhome"),
        ("user=ada\ntoken=tk-2\nmode=fast", f"user=ada\ntoken={REDACTED}\nmode=fast"),
        ("x=1&y=2", "x=1&y=2"),
        ("plain text, no pairs", "plain text, no pairs"),
    ],
)
def test_key_value_text_bodies_are_scrubbed_by_the_key_rule(text: str, expected: str) -> None:
    """A text/plain body written as key=value&… (or one pair a line) loses secret values like a query string."""
    assert Redactor().text(text, "text/plain") == expected


def test_a_form_encoded_text_plain_request_body_is_stored_without_the_secret(db_path: Path) -> None:
    """A real uvicorn server with body capture: a text/plain request body password=…&x=1 is stored with the
    password replaced and x kept; the app still reads the bytes it was sent."""

    async def submit(request: Request) -> Response:
        return PlainTextResponse((await request.body()).decode())

    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0, capture_bodies=True)
        app = instrument_asgi(Starlette(routes=[Route("/submit", submit, methods=["POST"])]))
        with serve_in_thread(app) as url:
            response = httpx.post(
                f"{url}/submit", content="password=pw-form-1&x=1", headers={"content-type": "text/plain"}
            )
        assert response.text == "password=pw-form-1&x=1"  # the app's bytes are unchanged
        lens.shutdown()
    assert b"pw-form-1" not in raw_bytes(db_path)
    texts = [body["text"] for body in bodies(db_path).values()]
    assert f"password={REDACTED}&x=1" in texts
