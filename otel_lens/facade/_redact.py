"""Redaction of secrets before anything reaches the SDK: header names, query parameters, JSON and form keys.

Applied by the facade whatever the OTel sanitize variables say. A key is sensitive when its
lower-cased, ``-``→``_`` form contains one of the built-in fragments (token, password, secret,
api_key, …) or equals one of the ``OTEL_EXPORTER_LENS_REDACT`` keys.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

import orjson

REDACTED = "[REDACTED]"
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")
_FRAGMENTS = (
    "token",
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "x_api_key",
)
_MAX_DEPTH = 32
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s]+)')


def _normal(key: str) -> str:
    return key.strip().lower().replace("-", "_")


class Redactor:
    """Decides which keys are secret and scrubs their values out of text and values."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self.extra_keys = tuple(sorted({_normal(k) for k in extra_keys if k.strip()}))
        self._extra = frozenset(self.extra_keys)

    def is_sensitive(self, key: str) -> bool:
        normal = _normal(key)
        return normal in self._extra or any(fragment in normal for fragment in _FRAGMENTS)

    def header_fields(self) -> list[str]:
        """Header names for the OTel middleware's sanitize list (it matches them as regexes)."""
        fields = [*SENSITIVE_HEADERS, *(re.escape(k.replace("_", "-")) for k in self.extra_keys)]
        fields += [re.escape(k) for k in self.extra_keys]
        fields += [f".*{f}.*" for f in ("token", "password", "secret", "api-key", "api_key")]
        return fields

    def query(self, query: str) -> str:
        """``a=1&token=x`` → ``a=1&token=[REDACTED]``; everything else kept byte for byte."""
        if not query or "=" not in query:
            return query
        parts = query.split("&")
        changed = False
        for index, part in enumerate(parts):
            key, sep, _ = part.partition("=")
            if sep and self.is_sensitive(urllib.parse.unquote_plus(key)):
                parts[index] = f"{key}={REDACTED}"
                changed = True
        return "&".join(parts) if changed else query

    def value(self, value: Any, depth: int = 0) -> Any:
        """A copy of a decoded JSON value with the values of sensitive keys replaced."""
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            return {
                k: (REDACTED if isinstance(k, str) and self.is_sensitive(k) else self.value(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value

    def json_text(self, text: str) -> str:
        """JSON text with secret values replaced; text that does not parse (e.g. truncated) is scrubbed by pattern."""
        try:
            return orjson.dumps(self.value(orjson.loads(text))).decode()
        except (orjson.JSONDecodeError, TypeError, RecursionError):
            return self._json_pattern(text)

    def _json_pattern(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            if self.is_sensitive(match.group(1)):
                return f'"{match.group(1)}"{match.group(2)}"{REDACTED}"'
            return match.group(0)

        return _JSON_PAIR.sub(replace, text)

    def text(self, text: str, content_type: str | None) -> str:
        """A body's text with secrets removed, by its content type (JSON, form, or pattern for other text)."""
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            return self.query(text)
        if kind.endswith("json") or text.lstrip()[:1] in ("{", "["):
            return self.json_text(text)
        return self._json_pattern(text)
