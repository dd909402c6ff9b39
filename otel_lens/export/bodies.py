"""Captured bodies: text the facade puts under reserved span attributes → content-addressed ``lens_bodies`` rows.

The facade stores a (capped, redacted) body as the value of ``lens.body.<role>``; encoding moves
that text out of the span's attributes into a body row keyed by its sha256 and leaves
``sha256:<hex>`` in its place, so a body seen a thousand times is stored once.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from typing import Any

from otel_lens._keys import (
    BODY_CONTENT_TYPE,
    BODY_INPUT,
    BODY_KEYS,
    BODY_OUTPUT,
    BODY_PREFIX,
    BODY_REQUEST,
    BODY_RESPONSE,
)
from otel_lens.store.rows import REFERENCE_PREFIX, BodyRow, decode_body

__all__ = ["BODY_KEYS", "BODY_PREFIX", "REFERENCE_PREFIX", "body_row", "decode_body", "extract_bodies", "has_bodies"]

COMPRESS_ABOVE = 1024
"""Bodies larger than this many bytes are stored zlib-compressed (when that makes them smaller)."""


def has_bodies(attributes: Mapping[str, Any]) -> bool:
    """True when ``attributes`` carry a captured body (cheap: four dict lookups; faster than ``keys().isdisjoint``)."""
    return (
        BODY_REQUEST in attributes
        or BODY_RESPONSE in attributes
        or BODY_INPUT in attributes
        or BODY_OUTPUT in attributes
    )


def body_row(value: str | bytes, content_type: str | None, seen_ns: int) -> BodyRow:
    """The content-addressed row for one body."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", "backslashreplace")
    digest = hashlib.sha256(data).digest()
    content, encoding = data, "identity"
    if len(data) > COMPRESS_ABOVE:
        packed = zlib.compress(data, 6)
        if len(packed) < len(data):
            content, encoding = packed, "zlib"
    return BodyRow(digest, len(data), encoding, content_type, content, seen_ns)


def extract_bodies(attributes: Mapping[str, Any], seen_ns: int) -> tuple[dict[str, Any], list[BodyRow]]:
    """``attributes`` with each body replaced by ``sha256:<hex>``, and the body rows to store."""
    out = dict(attributes)
    rows: list[BodyRow] = []
    for key in BODY_KEYS:
        value = out.get(key)
        if not isinstance(value, (str, bytes)):
            continue
        content_type = out.get(key + BODY_CONTENT_TYPE)
        row = body_row(value, content_type if isinstance(content_type, str) else None, seen_ns)
        rows.append(row)
        out[key] = REFERENCE_PREFIX + row.digest.hex()
    return out, rows
