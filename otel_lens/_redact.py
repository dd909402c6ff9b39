"""Redaction of secrets: header names, query parameters, JSON and form keys, span and log attributes.

Applied whatever the OTel sanitize variables say: by the facade before anything reaches the SDK,
and again by the exporters to the attributes of every span and log they store (so spans that other
instrumentations make, e.g. under ``opentelemetry-instrument``, are scrubbed too). A key is
sensitive when its lower-cased, ``-``→``_`` form contains an unambiguous fragment (password,
secret, api_key, …), is or ends in a word such as ``token`` or ``cookie`` (``access_token`` is
secret, ``max_tokens`` is not), or equals one of the ``OTEL_EXPORTER_LENS_REDACT`` keys.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

REDACTED = "[REDACTED]"
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")
_FRAGMENTS = ("password", "passwd", "secret", "api_key", "apikey", "credential", "private_key")
"""Secret wherever they appear in a key."""
_WORDS = ("token", "authorization", "cookie", "sessionid", "auth", "sid")
_PAIRS = ("session_id", "session_token", "session_key")
"""Secret when they end a key (``x_session_id``)."""
"""Secret as a whole key or its last ``_``-separated word (``access_token``, ``set_cookie``; not ``max_tokens``)."""
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_URL_KEYS = ("url.full", "url.query", "http.url", "http.target", "url.original")
_SECRET_PARAM = re.compile(
    r"[?&;][^=&#]*(?i:password|passwd|secret|api[-_]?key|credential|private[-_]?key|token|auth|cookie|sessionid)"
)
_MAX_DEPTH = 32
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s]+)')


_SENSITIVE_HEADER_WORDS = frozenset(h.replace("-", "_") for h in SENSITIVE_HEADERS)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_REPR_PAIR = re.compile(r"""(['"]?)(\b[A-Za-z_][\w-]{0,100})\1(\s*[=:]\s*)('[^']*'|"[^"]*"|[^,)\s}]+)""")


def _closing_bracket(text: str, start: int) -> int:
    """The index just past the bracket closing the one at ``start`` (strings skipped), or the text's end."""
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            escaped, in_string = (not escaped and char == "\\"), in_string and (escaped or char != '"')
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def _normal(key: str) -> str:
    """``accessToken``, ``Access-Token`` and ``access_token`` all become ``access_token``."""
    return _CAMEL.sub("_", key.strip()).lower().replace("-", "_")


def _redacted_like(value: Any) -> Any:
    """[REDACTED] in the value's shape: header attributes are lists of strings."""
    if isinstance(value, (list, tuple)):
        return [REDACTED] * len(value)
    return REDACTED


class Redactor:
    """Decides which keys are secret and scrubs their values out of text and values."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self.extra_keys = tuple(sorted({_normal(k) for k in extra_keys if k.strip()}))
        self._extra = frozenset(self.extra_keys)

    def is_sensitive(self, key: str) -> bool:
        normal = _normal(key)
        if normal in self._extra or any(fragment in normal for fragment in _FRAGMENTS):
            return True
        if normal.endswith(_PAIRS):
            return True
        return normal.rsplit("_", 1)[-1] in _WORDS or normal.rsplit(".", 1)[-1] in _WORDS

    def attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of span or log ``attributes`` with secrets replaced, or None when there are none.

        Cheap when there is nothing to do (the usual case): only HTTP header attributes, URL
        attributes and configured keys are looked at, found by dict lookups and one key scan.
        """
        changed: dict[str, Any] = {}
        get = attributes.get
        for key in _URL_KEYS:
            value = get(key)
            if value.__class__ is not str or "=" not in value:
                continue
            head, mark, query = ("", "", value) if key == "url.query" else value.partition("?")
            # Most URLs carry no secret-looking parameter: one regex search says so without parsing.
            if (mark or key == "url.query") and _SECRET_PARAM.search(f"?{query}"):
                redacted = self.query(query)
                if redacted != query:
                    changed[key] = f"{head}{mark}{redacted}"
        if not self._extra and ".header." not in "\n".join(attributes):
            return {**attributes, **changed} if changed else None  # no header attributes: done
        for key in attributes:
            if key.startswith(_HEADER_PREFIXES):
                header = key.rsplit(".", 1)[-1]
                if header in _SENSITIVE_HEADER_WORDS or self.is_sensitive(header):
                    changed[key] = _redacted_like(attributes[key])
            elif self._extra and _normal(key).rsplit(".", 1)[-1] in self._extra:
                changed[key] = _redacted_like(attributes[key])
        if not changed:
            return None
        return {**attributes, **changed}

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
            return REDACTED if isinstance(value, (dict, list)) else value  # unchecked depths are never kept
        if isinstance(value, dict):
            return {
                k: (REDACTED if isinstance(k, str) and self.is_sensitive(k) else self.value(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value

    def repr_text(self, text: str) -> str:
        """A Python ``repr`` with the values of secret-looking ``name=value`` / ``'name': value`` pairs removed."""

        def replace(match: re.Match[str]) -> str:
            quote, name, separator = match.group(1), match.group(2), match.group(3)
            if not self.is_sensitive(name):
                return match.group(0)
            return f"{quote}{name}{quote}{separator}{REDACTED!r}"

        return _REPR_PAIR.sub(replace, text)

    def json_text(self, text: str) -> str:
        """JSON text with secret values replaced; text that does not parse (e.g. truncated) is scrubbed by pattern."""
        try:
            return orjson.dumps(self.value(orjson.loads(text))).decode()
        except (orjson.JSONDecodeError, TypeError, RecursionError):
            return self._json_pattern(text)

    def _json_pattern(self, text: str) -> str:
        """Scrub JSON-like text that does not parse (a truncated body): each secret key's value is replaced,
        a nested array or object whole (to its closing bracket, or to the end of the cut text)."""
        out: list[str] = []
        position = 0
        for match in _JSON_PAIR.finditer(text):
            if match.start() < position or not self.is_sensitive(match.group(1)):
                continue
            end = match.end()
            if match.group(3)[:1] in ("[", "{"):
                end = _closing_bracket(text, match.start(3))
            out.append(text[position : match.start()])
            out.append(f'"{match.group(1)}"{match.group(2)}"{REDACTED}"')
            position = end
        out.append(text[position:])
        return "".join(out)

    def text(self, text: str, content_type: str | None) -> str:
        """A body's text with secrets removed, by its content type (JSON, form, or pattern for other text)."""
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            return self.query(text)
        if kind.endswith("json") or text.lstrip()[:1] in ("{", "["):
            return self.json_text(text)
        return self._json_pattern(text)
