"""Secrets in JSON: a decoded value's secret keys, JSON text inside string values, and JSON text too cut to parse.

GenAI instrumentations store messages, tool definitions, tool arguments and tool results as JSON
*text* in a string attribute or log body, and tool arguments are JSON text again inside that
(``{"arguments": "{\\"api_key\\": …}"}``). The functions here find that text wherever it is and
apply the key rule to it at any depth. The rule itself is the caller's (``secret``: the secret keys
among an object's keys, the Redactor's verdict cached per key set, since messages repeat a handful of
shapes), as in :mod:`otel_lens._redact_urls`.

Three promises: a value with no secret comes back as the *same object* (so text is re-serialized
only when something changed and stays byte-identical otherwise); a string that does not start
with ``{`` or ``[`` costs one check; and the work is bounded: text longer than
:data:`PARSE_LIMIT` is not parsed but scrubbed by pattern, which is linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from otel_lens._redact_urls import REDACTED

__all__ = [
    "MAX_DEPTH",
    "PARSE_LIMIT",
    "json_pattern",
    "looks_like_json",
    "parses_and_scrubbed",
    "scrub_json_text",
    "scrub_strings",
]

Secret = Callable[[tuple[Any, ...]], tuple[Any, ...]]
"""The secret keys among an object's keys (the Redactor's key rule, cached per key set)."""

MAX_DEPTH = 32
"""Containers (and JSON texts inside strings) nested deeper than this are replaced whole, never kept unchecked."""
PARSE_LIMIT = 256 * 1024
"""JSON text longer than this many characters is scrubbed by pattern only: parsing and walking it would cost
milliseconds per value on the export thread."""
_LITERAL = re.compile(r'"([^"\\]*+(?:\\.[^"\\]*+)*+)(?:"(\s*:\s*)?|\\?$)')
"""A JSON string literal (the unterminated one a cut text ends in too) and, when it is a key, its colon. Matched
one after another from the text's start, the literals stay in step with the text's strings, so every key is
found at any depth, whatever the strings before it hold."""
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[\[{]|[^,}\]\s\[{"][^,}\]\s]*)')
"""A ``"key": value`` pair anywhere, for text that is not in step with its strings (prose). A value that opens an
array or object is only its bracket, so the pairs inside are matched next, never swallowed with it."""
_VALUE = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)|[\[{]|[^,}\]\s]*')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)')
"""A JSON string literal, or the unterminated one a cut text ends in."""
_OPENERS = ("{", "[")
_LONG_NUMBER = re.compile(r"\d(?:\.?\d){15}")
"""Sixteen digits or more (one decimal point among them): a number a double may not hold exactly."""


def looks_like_json(text: str) -> bool:
    """Whether ``text``'s first non-space character opens a JSON object or array (one check for most strings)."""
    head = text[:1]
    if head == "{" or head == "[":
        return True
    return head.isspace() and text.lstrip()[:1] in _OPENERS


def scrub_strings(value: Any, secret: Secret, depth: int = 0) -> Any:
    """``value`` (an attribute map, event rows, a log body) with the JSON text in its strings scrubbed.

    Keys of ``value`` itself are not judged (the Redactor did that already, keeping a list's shape);
    only strings that look like JSON are parsed. Returns ``value`` itself when nothing changed.
    """
    kind = value.__class__
    if kind is str:
        return scrub_json_text(value, secret, depth) if looks_like_json(value) else value
    if depth > MAX_DEPTH:
        return value  # the Redactor judged these levels' keys; their strings are past the bound
    if kind is dict:
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            kind = item.__class__  # inline: an attribute map's ordinary values cost no call each
            if kind is str:
                if item[:1] not in _OPENERS and not item[:1].isspace():
                    continue
            elif kind is not dict and kind is not list and kind is not tuple:
                continue
            new = scrub_strings(item, secret, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is list or kind is tuple:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            kind = item.__class__  # inline: an attribute map's ordinary values cost no call each
            if kind is str:
                if item[:1] not in _OPENERS and not item[:1].isspace():
                    continue
            elif kind is not dict and kind is not list and kind is not tuple:
                continue
            new = scrub_strings(item, secret, depth + 1)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    return value


def scrub_json_text(text: str, secret: Secret, depth: int = 0) -> str:
    """JSON text with the values of secret keys replaced at any depth, also inside JSON text in its strings.

    ``text`` itself when nothing is secret. Text that does not parse (cut by a length limit, or prose
    that starts with a brace) or is longer than :data:`PARSE_LIMIT` is scrubbed by :func:`json_pattern`.
    """
    scrubbed = _parsed_and_scrubbed(text, secret, depth)
    return json_pattern(text, secret, depth) if scrubbed is None else scrubbed


def _parsed_and_scrubbed(text: str, secret: Secret, depth: int) -> str | None:
    """:func:`scrub_json_text` for text that parses; None for text too long or not JSON."""
    if len(text) > PARSE_LIMIT:
        return None
    try:
        decoded = orjson.loads(text)
    except orjson.JSONDecodeError:  # also lone surrogates and nesting past orjson's own limit
        return None
    scrubbed = _scrub_decoded(decoded, secret, depth)
    if scrubbed is decoded:
        return text
    if _LONG_NUMBER.search(text) is not None:
        kept = _pattern_if_complete(text, secret, depth)
        if kept is not None:
            return kept
    try:  # decoded JSON encodes again (an integer past 64 bits was read as a float); the export never raises
        return orjson.dumps(scrubbed).decode()
    except (TypeError, ValueError):
        return None


def _pattern_if_complete(text: str, secret: Secret, depth: int) -> str | None:
    """The pattern scrub of JSON text whose numbers re-encoding would change, when it left no secret; else None.

    orjson reads an integer past 64 bits, or a decimal with more digits than a double holds, as a float, so
    encoding the scrubbed value would store another number. The pattern scrub keeps every byte but the
    secrets'; parsing its result again proves it found them all (a key spelt with ``\\u`` escapes it does not).
    """
    kept = json_pattern(text, secret, depth)
    try:
        decoded = orjson.loads(kept)
    except orjson.JSONDecodeError:
        return None
    return kept if _scrub_decoded(decoded, secret, depth) is decoded else None


def parses_and_scrubbed(text: str, secret: Secret) -> str | None:
    """:func:`scrub_json_text` for JSON text; None for text that is not JSON or too long to parse (a Python
    repr, say: the caller scrubs it as such)."""
    return _parsed_and_scrubbed(text, secret, 0)


def _scrub_decoded(value: Any, secret: Secret, depth: int) -> Any:
    """A decoded JSON value with secret keys' values replaced; ``value`` itself when it holds no secret.

    Only containers and strings that look like JSON are visited: the checks are inline, so a message's
    many plain values cost no call each.
    """
    kind = value.__class__
    if kind is str:
        return scrub_json_text(value, secret, depth + 1) if looks_like_json(value) else value
    if kind is not dict and kind is not list:
        return value
    if depth > MAX_DEPTH:
        return REDACTED  # unchecked depths are never kept
    if kind is dict:
        hidden = secret(tuple(value))
        changed: dict[str, Any] | None = None
        for key in hidden:
            if value[key] != REDACTED:  # already redacted (by the facade): the text needs no rewrite
                if changed is None:
                    changed = dict(value)
                changed[key] = REDACTED
        for key, item in value.items():
            kind = item.__class__
            if kind is str:
                if item[:1] not in _OPENERS and not item[:1].isspace():
                    continue
            elif kind is not dict and kind is not list:
                continue
            if hidden and key in hidden:
                continue
            new = _scrub_decoded(item, secret, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    items: list[Any] | None = None
    for index, item in enumerate(value):
        kind = item.__class__
        if kind is str:
            if item[:1] not in _OPENERS and not item[:1].isspace():
                continue
        elif kind is not dict and kind is not list:
            continue
        new = _scrub_decoded(item, secret, depth + 1)
        if new is not item:
            if items is None:
                items = list(value)
            items[index] = new
    return value if items is None else items


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


def json_pattern(text: str, secret: Secret, depth: int = 0) -> str:
    """Scrub JSON-like text that is not parsed (cut, or too long): each secret key's value is replaced, a
    nested array or object whole (to its closing bracket, or to the end of the cut text); then each string
    literal holding JSON text (escaped quotes) is decoded and scrubbed the same way, at any depth.

    JSON text (it starts with a bracket) is read key by key in step with its strings, which is exact however it
    was cut; other text (prose, a ``text/plain`` body) is searched for ``"key": value`` pairs anywhere.
    """
    if looks_like_json(text):
        keys: Iterable[tuple[str, int, int]] = _keys_in_step(text)
    else:
        keys = ((match.group(1), match.start(), match.start(3)) for match in _JSON_PAIR.finditer(text))
    text = _scrub_pairs(text, secret, keys)
    if '\\"' not in text or depth >= MAX_DEPTH:
        return text
    scrubbed = _STRING.sub(lambda match: _scrubbed_literal(match.group(0), secret, depth + 1), text)
    return text if scrubbed == text else scrubbed


def _keys_in_step(text: str) -> Iterator[tuple[str, int, int]]:
    """Each key of JSON text (cut or whole) at any depth: its content, where it starts, where its value starts."""
    for match in _LITERAL.finditer(text):
        if match.start(2) >= 0:
            yield match.group(1), match.start(), match.end()


def _scrub_pairs(text: str, secret: Secret, keys: Iterable[tuple[str, int, int]]) -> str:
    """``text`` with the value of each secret key among ``keys`` (content, start, value's start) replaced."""
    out: list[str] = []
    position = 0
    for key, start, value_start in keys:
        if start < position or not secret((key,)):
            continue
        value = _VALUE.match(text, value_start)
        end = value.end() if value is not None else value_start
        if text[value_start : value_start + 1] in _OPENERS:
            end = _closing_bracket(text, value_start)
        out.append(text[position:value_start])
        out.append(f'"{REDACTED}"')
        position = end
    if not out:
        return text
    out.append(text[position:])
    return "".join(out)


def _scrubbed_literal(literal: str, secret: Secret, depth: int) -> str:
    """A JSON string literal whose content is JSON text, with that text scrubbed; else the literal as it was.

    The literal a cut text ends in has no closing quote (maybe half an escape): it is read as if closed.
    """
    if '\\"' not in literal:
        return literal  # no key inside: nothing the key rule could find
    escapes = len(literal) - 1 - len(literal[:-1].rstrip("\\"))  # backslashes before the last character
    closed = len(literal) > 1 and literal.endswith('"') and escapes % 2 == 0
    body = literal if closed else literal[:-1] + '"' if literal.endswith("\\") else literal + '"'
    try:
        content = orjson.loads(body)
    except orjson.JSONDecodeError:
        return literal
    if not isinstance(content, str) or not looks_like_json(content):
        return literal
    scrubbed = scrub_json_text(content, secret, depth)
    if scrubbed is content:
        return literal
    text = orjson.dumps(scrubbed).decode()
    return text if closed else text[:-1]
