"""Which sessions and conversations a span names: the attribute keys and the rule for their values.

A shared leaf module: the row builder reads the keys from each span's attributes as it stores them (cheap:
one C-level key test for the spans naming none), the sessions migration from stored attribute text, both by
this rule, so a backfilled store groups exactly as live writes do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from otel_lens.store.codec import utf8_safe

SESSION_KEYS: Mapping[str, str] = {
    "session.id": "session",
    "langfuse.session.id": "session",
    "gen_ai.conversation.id": "conversation",
}
"""Span attribute → the kind of grouping it names."""
MAX_ID = 1024
"""Longer ids are not grouped (a hostile or accidental value must not make unbounded keys)."""
_INT64 = 2**63
_PAIRS = tuple(SESSION_KEYS.items())

SessionKey = tuple[str, str]
"""(kind, id): ``("session", "s-1")`` or ``("conversation", "c-7")``."""


def _id(value: Any) -> str | None:
    """The group id ``value`` (an attribute's) names: text and 64-bit integers (their decimal text) do; booleans,
    floats, lists, maps, bytes and null do not (a map or bytes is stored tagged, an integer past 64 bits too),
    nor blank or over-long text."""
    if isinstance(value, str):
        text = (value if value.isascii() else utf8_safe(value)).strip()  # lone surrogates replaced, as stored
    elif type(value) is int and -_INT64 <= value < _INT64:  # not bool (an int subclass): it names nothing
        text = str(value)
    else:
        return None
    return text if text and len(text) <= MAX_ID else None


def keys_of(attributes: Mapping[str, Any]) -> list[SessionKey]:
    """The (kind, id) pairs ``attributes`` (a span's, as stored: redacted) name, in :data:`SESSION_KEYS` order."""
    found = []
    for key, kind in _PAIRS:
        value = attributes.get(key)
        if value is not None and (text := _id(value)) is not None:
            found.append((kind, text))
    return found


def span_keys(attributes: Mapping[str, Any], redacting: bool) -> list[SessionKey] | None:
    """:func:`keys_of` for the attributes the row builder is storing; None when the redactor may have changed
    an id in the stored text (a URL's secrets, JSON text inside), which then says what the ids are."""
    found = keys_of(attributes)
    if redacting:
        for _kind, text in found:
            if "://" in text or '"' in text:
                return None
    return found


def keys_of_text(attributes: str | None) -> list[SessionKey]:
    """:func:`keys_of` for stored attribute text; cheap for the spans that name no session."""
    # A substring test first: nearly every span has no session key, and ``in`` on the text costs far less
    # than decoding it.
    if not attributes or ("session" not in attributes and "conversation.id" not in attributes):
        return []
    try:
        decoded = orjson.loads(attributes)  # not codec.loads: a tagged value is a map, which names no session
    except orjson.JSONDecodeError:
        return []
    return keys_of(decoded) if isinstance(decoded, dict) else []
