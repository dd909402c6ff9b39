"""Redaction of secrets: header names, query parameters, JSON and form keys, span and log attributes.

Applied whatever the OTel sanitize variables say: by the facade before anything reaches the SDK,
and again by the exporters to every span, event, link and log attribute they store (so spans that
other instrumentations make, e.g. under ``opentelemetry-instrument``, are scrubbed too). A key is
sensitive when its lower-cased, ``-``→``_`` form contains an unambiguous fragment (password,
secret, api_key, …), is or ends in a word such as ``token`` or ``cookie`` (``access_token`` is
secret, ``max_tokens`` is not), or equals one of the ``OTEL_EXPORTER_LENS_REDACT`` keys. OTel's
``session.id`` / ``session.previous_id`` stay readable (they group a user's traces; ``session_id``
and ``x-session-id``, a cookie's or header's credential, do not). Decisions are cached per key and
per key set, so the exporters' per-span cost is one tuple and one dict lookup.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from otel_lens._redact_json import (
    MAX_DEPTH,
    json_pattern,
    looks_like_json,
    parses_and_scrubbed,
    scrub_json_text,
    scrub_strings,
)
from otel_lens._redact_urls import REDACTED, display_url, scrub_urls_in_json

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "Redactor"]

SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")
_FRAGMENTS = ("password", "passwd", "secret", "api_key", "apikey", "credential", "private_key")
"""Secret wherever they appear in a key."""
_WORDS = ("token", "authorization", "cookie", "sessionid", "auth", "sid")
"""Secret as a whole key or its last ``_``-separated word (``access_token``, ``set_cookie``; not ``max_tokens``)."""
_PAIRS = ("session_id", "session_token", "session_key")
"""Secret when they end a key (``x_session_id``)."""
_HINTS = ("pass", "secret", "apikey", "credential", "privatekey", "token", "auth", "cookie", "sid", "session")
"""One of these is in every name the three lists above make secret (lower-cased, "_" and "-" removed)."""
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_URL_KEYS = ("url.full", "url.query", "http.url", "http.target", "url.original")
_URL_KEY_SET = frozenset(_URL_KEYS)
_FULL_URL_KEYS = ("url.full", "http.url", "url.original")
_READABLE = frozenset(("session.id", "session.previous_id"))
"""OTel's session attributes: an identifier to group traces by, not the credential a session cookie holds."""
_PLAN_LIMIT = 2048
_DECISION_LIMIT = 8192
_CACHED_QUERY = 256
"""Bounds of the per-Redactor caches (key sets, keys, query strings up to this length): past them a cache
starts over, it never grows."""
_CLEAN: tuple[tuple[Any, ...], tuple[str, ...]] = ((), ())
"""The plan of a key set with no secret and no URL key: the attribute map is stored as it is."""


_CONTAINERS = (dict, list, tuple)
_SENSITIVE_HEADER_WORDS = frozenset(h.replace("-", "_") for h in SENSITIVE_HEADERS)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_REPR_PAIR = re.compile(r"""(['"]?)(\b[A-Za-z_][\w-]{0,100})\1(\s*[=:]\s*)('[^']*'|"[^"]*"|[^,)\s}]+)""")


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
        # Every name is_sensitive accepts holds one of these once lower-cased without "_" and "-".
        self._hints = (*_HINTS, *{k.replace("_", "").replace("-", "") for k in self.extra_keys})
        self._decisions: dict[Any, bool] = {}
        self._json_plans: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._queries: dict[str, str] = {}
        self._plans: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[str, ...]]] = {}

    def is_sensitive(self, key: str) -> bool:
        """Whether ``key`` (an attribute, header, parameter or JSON key) names a secret; see the module docs."""
        normal = _normal(key)
        if normal in _READABLE:
            return False
        last = normal.rsplit(".", 1)[-1]
        if normal in self._extra or last in self._extra:
            return True
        flat = normal.replace(".", "_")  # user.api.key is user_api_key
        if any(fragment in flat for fragment in _FRAGMENTS) or normal.endswith(_PAIRS):
            return True
        return normal.rsplit("_", 1)[-1] in _WORDS or last in _WORDS

    def _secret_key(self, key: Any) -> bool:
        """:meth:`is_sensitive` for an attribute key, cached; header attributes are judged by their header name."""
        decision = self._decisions.get(key)
        if decision is None:
            if key.__class__ is not str:
                decision = False
            elif key.startswith(_HEADER_PREFIXES):
                header = key[key.index(".header.") + 8 :]
                decision = header.lower().replace("-", "_") in _SENSITIVE_HEADER_WORDS or self.is_sensitive(header)
            else:
                decision = self.is_sensitive(key)
            if len(self._decisions) >= _DECISION_LIMIT:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _secret_among(self, keys: tuple[Any, ...]) -> tuple[Any, ...]:
        """The secret keys among a JSON object's ``keys``, remembered per key set (messages repeat a few shapes).

        A cache of its own: JSON shapes must not push attribute maps' plans out of theirs.
        """
        known = self._json_plans.get(keys)
        if known is None:
            known = tuple(key for key in keys if self._secret_key(key))
            if len(self._json_plans) >= _PLAN_LIMIT:
                self._json_plans.clear()
            self._json_plans[keys] = known
        return known

    def _plan(self, keys: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        """The secret keys and the URL keys among ``keys``, remembered for the next map with the same keys."""
        secret = tuple(key for key in keys if self._secret_key(key))
        urls = tuple(key for key in keys if key in _URL_KEY_SET and key not in secret)
        if len(self._plans) >= _PLAN_LIMIT:
            self._plans.clear()
        plan = self._plans[keys] = (secret, urls) if secret or urls else _CLEAN
        return plan

    def attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of span, event, link or log ``attributes`` with secrets replaced, or None when there are none.

        Every key is judged, but cheaply: instrumentations repeat the same key sets, so the usual
        cost is building the keys' tuple and one dict lookup. The values of secret keys become
        ``[REDACTED]`` (a list of them for a list); URL attributes lose secret query parameters.
        """
        plan = self._plans.get(keys := tuple(attributes))
        if plan is None:
            plan = self._plan(keys)
        if plan is _CLEAN:
            return None
        secret, urls = plan
        changed = {key: _redacted_like(attributes[key]) for key in secret} if secret else {}
        for key in urls:
            value = attributes[key]
            if value.__class__ is not str:
                continue
            if "://" in value and ("@" in value or "#" in value or value.count("://") > 1):
                redacted = self.display_url(value)  # maybe user:password@, a #fragment secret, a nested URL
                if redacted != value:
                    changed[key] = redacted
                continue
            if "=" not in value:
                continue
            head, mark, query = ("", "", value) if key == "url.query" else value.partition("?")
            query, hash_mark, fragment = query.partition("#")
            if mark or key == "url.query":
                redacted = self.query(query)
                if redacted != query:
                    changed[key] = f"{head}{mark}{redacted}{hash_mark}{fragment}"
        if not changed:
            return None
        return {**attributes, **changed}

    def log_attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any] | None:
        """:meth:`attributes` for a log record, whose values may also be maps holding secret keys."""
        changed = self.attributes(attributes)
        current = changed if changed is not None else attributes
        nested: dict[str, Any] = {}
        for key, value in current.items():
            kind = value.__class__
            if kind is dict or (kind in (list, tuple) and any(item.__class__ in _CONTAINERS for item in value)):
                scrubbed = self.value(value if kind is dict else list(value))
            elif kind is str and value[:1] in ("{", "["):
                # JSON text by the key rule; else a map's str(), as extra={"req": {...}} arrives
                scrubbed = parses_and_scrubbed(value, self._secret_among)
                if scrubbed is None:
                    scrubbed = self.repr_text(self._json_pattern(value))
            else:
                continue
            if scrubbed != value:
                nested[key] = scrubbed
        return {**current, **nested} if nested else changed

    def urls_in_json(self, text: str, attributes: Mapping[str, Any] | None = None) -> str:
        """Stored JSON text (attributes, events, links, a log body) with the secrets of any URL in it removed.

        ``attributes``, the map ``text`` encodes after :meth:`attributes` scrubbed it, lets the scan be
        skipped when every URL in the text is the value of a URL attribute (already scrubbed there).
        """
        if attributes is not None:
            handled = 0
            for key in _FULL_URL_KEYS:
                value = attributes.get(key)
                if value.__class__ is str and "://" in value:
                    handled += value.count("://")
            if handled and text.count("://") == handled:
                return text
        return scrub_urls_in_json(text, self.query)

    def display_url(self, url: str) -> str:
        """A database URL for a ``repr`` or message: user and host kept, password and secret options replaced."""
        return display_url(url, self.query)

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
        known = self._queries.get(query)  # url.query and url.full repeat one query; clients repeat theirs
        if known is None:
            known = self._query(query)
            if len(query) <= _CACHED_QUERY:
                if len(self._queries) >= _DECISION_LIMIT:
                    self._queries.clear()
                self._queries[query] = known
        return known

    def _query(self, query: str) -> str:
        if "%" not in query:  # no encoded names: a secret name shows one of the hints (the usual "no")
            squashed = query.lower().replace("_", "").replace("-", "")
            for hint in self._hints:
                if hint in squashed:
                    break
            else:
                return query
        parts = query.split("&")
        changed = False
        for index, part in enumerate(parts):
            key, sep, _ = part.partition("=")
            if not sep:
                continue
            if "%" in key or "+" in key:
                key = urllib.parse.unquote_plus(key)
            if self._secret_key(key):
                parts[index] = f"{part.partition('=')[0]}={REDACTED}"
                changed = True
        return "&".join(parts) if changed else query

    def value(self, value: Any, depth: int = 0) -> Any:
        """A copy of a decoded JSON value with the values of sensitive keys replaced."""
        if depth > MAX_DEPTH:
            return REDACTED if isinstance(value, _CONTAINERS) else value  # unchecked depths are never kept
        if isinstance(value, dict):
            return {k: (REDACTED if self._secret_key(k) else self.value(v, depth + 1)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):  # the SDK stores a log attribute's sequences as tuples
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
        """JSON text with secret values replaced at any depth, also in JSON text inside its strings.

        ``text`` byte for byte when it holds no secret; text that does not parse (e.g. truncated) or is
        too long to parse on the export thread is scrubbed by pattern.
        """
        return scrub_json_text(text, self._secret_among)

    def json_in_strings(self, value: Any) -> Any:
        """``value`` (attributes, event rows, a log body) with the JSON text in any of its strings scrubbed.

        ``value`` itself when none holds a secret, so its stored text need not be serialized again.
        """
        return scrub_strings(value, self._secret_among)

    def _json_pattern(self, text: str) -> str:
        return json_pattern(text, self._secret_among)

    def form_text(self, text: str) -> str:
        """``key=value&…`` text (a form body, a ``text/plain`` one written like it) scrubbed by the key rule, per line."""
        if "=" not in text:
            return text
        if "\n" not in text:
            return self.query(text)
        return "\n".join(self.query(line) for line in text.split("\n"))

    def text(self, text: str, content_type: str | None) -> str:
        """A body's text with secrets removed, by its content type (JSON, form, or pattern for other text)."""
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            return self.query(text)
        if kind.endswith("json") or looks_like_json(text):
            return self.json_text(text)
        return self._json_pattern(self.form_text(text))  # password=…&x=1 as text/plain, or "password": "…" in prose
