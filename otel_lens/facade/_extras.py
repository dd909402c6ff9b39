"""otel-lens' extras inside the server span: secrets out of the stored URL, request and response bodies tapped.

They run inside OpenTelemetry's ASGI middleware, where the request's server span is current —
otel-lens' own middleware, or the one the FastAPI/Starlette instrumentation put there — so they
work on whichever span the request has. Bodies are tapped from the messages as they pass, up to a
cap: never buffered whole, never changed.
"""

from __future__ import annotations

import contextvars
import urllib.parse
from typing import Any

from opentelemetry import trace

from otel_lens._keys import BODY_CONTENT_TYPE, BODY_SIZE, BODY_SKIPPED, body_key
from otel_lens._redact import Redactor
from otel_lens.facade._capture import body_attributes
from otel_lens.facade._lifespan import ASGIApp, Message, Receive, Scope, Send

_URL_ATTRIBUTES = ("http.url", "url.query", "url.full")
_TEXTUAL = (
    "text/",
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "application/graphql",
    "application/x-ndjson",
)
# The scope of the request being handled, for lens_route's x-lens-source and for a nested LensMiddleware.
current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("otel_lens_asgi_scope", default=None)


class _BodyTap:
    """The first ``limit`` bytes of a body as it streams past, and its total size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.size = 0
        self.content_type: str | None = None
        self.encoded = False

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.limit - self.kept
        if room > 0 and chunk:
            piece = bytes(chunk[:room])
            self.chunks.append(piece)
            self.kept += len(piece)

    def attributes(self, role: str, redactor: Redactor) -> dict[str, Any]:
        if not self.size:
            return {}
        kind = (self.content_type or "").split(";", 1)[0].strip().lower()
        if self.encoded or (not kind.startswith(_TEXTUAL) and not kind.endswith(("+json", "+xml"))):
            # Binary or compressed: record that it was there, not its bytes.
            return {
                body_key(role) + BODY_SIZE: self.size,
                body_key(role) + BODY_CONTENT_TYPE: kind or "unknown",
                body_key(role) + BODY_SKIPPED: "binary",
            }
        text = b"".join(self.chunks).decode("utf-8", "replace")
        return body_attributes(role, redactor.text(text, kind), kind, self.size, self.size > self.kept)


def header(headers: Any, name: bytes) -> str | None:
    for key, value in headers or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class LensExtras:
    """Inside the OTel middleware, where the server span is current: redaction and body capture."""

    def __init__(self, app: ASGIApp, redactor: Redactor, body_limit: int, *, redact_url: bool = True) -> None:
        self.app = app
        self.redactor = redactor
        self.body_limit = body_limit
        self.redact_url = redact_url  # False inside otel-lens' own middleware: its request hook did it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = current_scope.set(scope)
        try:
            span = trace.get_current_span()
            if scope["type"] != "http" or not span.is_recording():
                await self.app(scope, receive, send)
                return
            if self.redact_url:
                self._redact_url(span, scope)
            if self.body_limit <= 0:
                await self.app(scope, receive, send)
                return
            await self._capture(span, scope, receive, send)
        finally:
            current_scope.reset(token)

    def redact_request(self, span: trace.Span, scope: Scope) -> None:
        """Secrets out of the URL attributes of a request's server span (OpenTelemetry's request hook)."""
        if scope["type"] == "http" and span.is_recording():
            self._redact_url(span, scope)

    def _redact_url(self, span: trace.Span, scope: Scope) -> None:
        raw = scope.get("query_string") or b""
        if not raw:
            return
        query = bytes(raw).decode("latin-1")
        redacted = self.redactor.query(query)
        if redacted == query:
            return
        current = getattr(span, "attributes", None) or {}
        pairs = ((query, redacted), (urllib.parse.unquote(query), urllib.parse.unquote(redacted)))
        for key in _URL_ATTRIBUTES:
            value = current.get(key)
            if isinstance(value, str):
                for secret, safe in pairs:
                    value = value.replace(secret, safe)
                span.set_attribute(key, value)

    async def _capture(self, span: trace.Span, scope: Scope, receive: Receive, send: Send) -> None:
        request, response = _BodyTap(self.body_limit), _BodyTap(self.body_limit)
        request.content_type = header(scope.get("headers"), b"content-type")
        request.encoded = (header(scope.get("headers"), b"content-encoding") or "identity") != "identity"

        async def tapped_receive() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                request.feed(message.get("body") or b"")
            return message

        async def tapped_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                response.content_type = header(message.get("headers"), b"content-type")
                response.encoded = (header(message.get("headers"), b"content-encoding") or "identity") != "identity"
            elif kind == "http.response.body":
                response.feed(message.get("body") or b"")
                if not message.get("more_body", False):
                    record()  # the OTel middleware ends the server span when it forwards this message
            await send(message)

        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded or not span.is_recording():
                return
            recorded = True
            try:
                span.set_attributes(request.attributes("request", self.redactor))
                span.set_attributes(response.attributes("response", self.redactor))
            except Exception:  # capture is best effort: it must never break the response
                pass

        try:
            await self.app(scope, tapped_receive, tapped_send)
        finally:
            record()
