"""Secrets in JSON text that is not parsed (cut by a length limit, a body past ``max_body_size``, text past
``PARSE_LIMIT``): every ``"key": value`` pair is judged at any depth, also under a non-secret key whose value opens
an array or object; and numbers a double cannot hold keep their bytes when a secret is replaced.

The end-to-end cases run a real uvicorn server with body capture and a real TracerProvider into a SQLite file, and
read the database's bytes (bodies decompressed) as the secret tests do.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_lens import configure, instrument_asgi
from otel_lens._redact import REDACTED, Redactor
from otel_lens._redact_json import PARSE_LIMIT
from otel_lens.export.spans import LensSpanExporter
from otel_lens.settings import Settings
from tests._facade_helpers import bodies, otel_globals_restored, raw_bytes, serve_in_thread, spans


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"messages":[{"api_key":"X2-secret","content":"aaa', "X2-secret"),
        ('{"m":{"password":"X4-secret"},"n":"aa', "X4-secret"),
        ('["b", ": ", {"password": "X5-secret", "c": "d', "X5-secret"),
        ('[[{"x": 1}, {"y": [{"token": 12345678, "z": "', "12345678"),
        ('{"q": "say \\"hi\\": {", "deep": {"list": [{"auth": {"k": "X6-secret"}}, "tail', "X6-secret"),
    ],
)
def test_a_secret_nested_under_a_plain_key_of_cut_json_is_replaced(text: str, secret: str) -> None:
    """Cut JSON whose non-secret key opens an array or object: the secret pair inside is judged and replaced,
    whatever the strings before it hold (quotes, colons, brackets); the rest is kept as it was."""
    scrubbed = Redactor().json_text(text)
    assert secret not in scrubbed and REDACTED in scrubbed
    assert scrubbed.startswith(text[:5])


def test_a_nested_secret_in_json_past_the_parse_limit_is_replaced() -> None:
    """JSON longer than PARSE_LIMIT (scrubbed by pattern, unparsed) with the secret in the first message of an
    array under a plain key: replaced, the long content kept."""
    content = "x" * (300 * 1024)
    text = json.dumps({"messages": [{"api_key": "sk-huge-message", "content": content}]})
    assert len(text) > PARSE_LIMIT
    scrubbed = Redactor().json_text(text)
    assert "sk-huge-message" not in scrubbed
    assert json.loads(scrubbed) == {"messages": [{"api_key": REDACTED, "content": content}]}


def test_a_captured_body_past_the_size_limit_keeps_no_nested_secret(db_path: Path) -> None:
    """A real uvicorn server with body capture: a JSON body past max_body_size (so stored cut, unparsed) with a
    password nested under "user" is stored without it; the app still reads the bytes it was sent."""

    async def login(request: Request) -> Response:
        return JSONResponse({"received": len(await request.body())})

    body = json.dumps({"user": {"password": "NESTEDLEAK", "name": "bob"}, "blob": "x" * 70000}, separators=(",", ":"))
    with otel_globals_restored():
        lens = configure(database=str(db_path), sweep_interval=0, capture_bodies=True)
        app = instrument_asgi(Starlette(routes=[Route("/login", login, methods=["POST"])]))
        with serve_in_thread(app) as url:
            response = httpx.post(
                f"{url}/login", content=body, headers={"content-type": "application/json"}, timeout=30
            )
        assert response.json() == {"received": len(body)}
        lens.shutdown()
    texts = [stored["text"] for stored in bodies(db_path).values()]
    assert texts and all("NESTEDLEAK" not in text for text in texts)
    assert any(text.startswith('{"user":{"password":"[REDACTED]","name":"bob"}') for text in texts)
    assert b"NESTEDLEAK" not in raw_bytes(db_path)


def _stored_attributes(db_path: Path, attributes: dict[str, Any]) -> dict[str, Any]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(Settings.load(environ={}, database=str(db_path)))))
    provider.get_tracer("t").start_span("chat", attributes=attributes).end()
    provider.shutdown()
    (stored,) = spans(db_path)
    result: dict[str, Any] = stored["attributes"]
    return result


def test_the_exporter_stores_no_nested_secret_of_huge_or_cut_attributes(db_path: Path) -> None:
    """Span attributes through a real exporter: messages JSON past PARSE_LIMIT and a cut tool call, each with the
    secret one level under a plain key, are stored without it (nowhere in the database file)."""
    huge = json.dumps({"messages": [{"api_key": "EXPLEAK", "content": "x" * (300 * 1024)}]})
    stored = _stored_attributes(
        db_path, {"gen_ai.input.messages": huge, "cut": '{"tool_call":{"password":"CUTLEAK","arg":"aaaa'}
    )
    raw = raw_bytes(db_path)
    assert b"EXPLEAK" not in raw and b"CUTLEAK" not in raw
    assert stored["cut"] == '{"tool_call":{"password":"[REDACTED]","arg":"aaaa'


_PLAIN_KEYS = ("role", "content", "messages", "m", "items", "name", "args", "a")
_AWKWARD = 'ab :,{}[]"\\\n'


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {rng.choice(_PLAIN_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if depth < 4 and roll < 0.5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.8:
        return "".join(rng.choice(_AWKWARD) for _ in range(rng.randint(0, 6)))
    return rng.choice([1, -2.5, True, None, 10**25])


def _with_secret(rng: random.Random, value: Any, secret: Any, depth: int = 0) -> Any:
    """``value`` with a secret pair put into one of its objects (a new object when it reaches a leaf)."""
    if isinstance(value, dict) and value and rng.random() < 0.5:
        key = rng.choice(list(value))
        return {**value, key: _with_secret(rng, value[key], secret, depth + 1)}
    if isinstance(value, list) and value and rng.random() < 0.6:
        index = rng.randrange(len(value))
        return [*value[:index], _with_secret(rng, value[index], secret, depth + 1), *value[index + 1 :]]
    if isinstance(value, dict):
        items = list(value.items())
        items.insert(rng.randint(0, len(items)), (rng.choice(("password", "api_key", "auth", "x-token")), secret))
        return dict(items)
    return {"wrap": value, "client_secret": secret} if rng.random() < 0.5 else [value, {"secret": secret}]


def test_random_nested_json_cut_anywhere_never_keeps_the_secret() -> None:
    """Random nested JSON (awkward strings: quotes, colons, brackets, backslashes) with a secret somewhere — a
    string, a number, an object holding it, or JSON text in a string — cut at every position: the scrubbed text
    never holds three characters of the secret's value."""
    redactor = Redactor()
    rng = random.Random(20261201)
    cases = 0
    for _ in range(120):
        shape = rng.choice(("string", "number", "object", "text"))
        secret: Any = {
            "string": "QZJsecretvalue",
            "number": 987654321,
            "object": {"k": ["QZJsecretvalue"]},
            "text": json.dumps({"password": "QZJsecretvalue"}),
        }[shape]
        marker = "987" if shape == "number" else "QZJ"
        document = _with_secret(rng, {rng.choice(_PLAIN_KEYS): _random_value(rng, 0)}, secret)
        text = json.dumps(document, separators=rng.choice(((",", ":"), (", ", ": "))))
        for end in range(1, len(text) + 1):
            cut = text[:end]
            scrubbed = redactor.json_text(cut)
            assert marker not in scrubbed, f"{marker} kept in {scrubbed!r} (cut from {text!r})"
            cases += 1
    assert cases > 5000


def test_numbers_a_double_cannot_hold_keep_their_bytes_when_a_secret_is_replaced(db_path: Path) -> None:
    """An integer past 64 bits and a decimal with more digits than a double holds are stored as written when a
    secret beside them is replaced (orjson would have read them as floats), directly and through the exporter."""
    redactor = Redactor()
    text = '{"n":123456789012345678901234567890,"apikey":"x"}'
    assert redactor.json_text(text) == '{"n":123456789012345678901234567890,"apikey":"[REDACTED]"}'
    decimal = '{"ratio": 0.10000000000000000000001, "a": {"token": [1, 2]}}'
    assert redactor.json_text(decimal) == '{"ratio": 0.10000000000000000000001, "a": {"token": "[REDACTED]"}}'
    stored = _stored_attributes(db_path, {"gen_ai.tool.call.arguments": text})
    assert stored["gen_ai.tool.call.arguments"] == '{"n":123456789012345678901234567890,"apikey":"[REDACTED]"}'
