"""Captured bodies on the read side: ``sha256:<hex>`` references in span attributes → the stored text."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from otel_lens.query.results import SpanRecord
from otel_lens.store.rows import BODY_KEYS, ID_CHUNK, REFERENCE_PREFIX, decode_body
from otel_lens.store.schema import Models

_REFERENCE = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHUNK = ID_CHUNK


def _reference(value: Any) -> bytes | None:
    """The digest a ``sha256:<hex>`` attribute value refers to, else ``None``."""
    if not isinstance(value, str) or not value.startswith(REFERENCE_PREFIX):
        return None
    match = _REFERENCE.match(value)
    return bytes.fromhex(match.group(1)) if match else None


def resolve_bodies(models: Models, spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """``spans`` with each body reference replaced by the body's text, in one query per ``ID_CHUNK`` bodies.

    A reference whose row the sweeper already deleted stays as it was and its key is listed in
    :attr:`SpanRecord.missing_bodies`.
    """
    wanted = sorted({d for s in spans for k in BODY_KEYS if (d := _reference(s.attributes.get(k))) is not None})
    if not wanted:
        return list(spans)
    body: Any = models.body
    texts: dict[bytes, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = body.select(body.digest, body.encoding, body.content).where(body.digest.in_(chunk))
        for digest, encoding, content in query.tuples():
            texts[bytes(digest)] = decode_body(encoding, bytes(content)).decode("utf-8", "replace")
    return [_resolved(span, texts) for span in spans]


def _resolved(span: SpanRecord, texts: dict[bytes, str]) -> SpanRecord:
    attributes = dict(span.attributes)
    missing: list[str] = []
    for key in BODY_KEYS:
        digest = _reference(attributes.get(key))
        if digest is None:
            continue
        text = texts.get(digest)
        if text is None:
            missing.append(key)
        else:
            attributes[key] = text
    if attributes == span.attributes and not missing:
        return span
    return dataclasses.replace(span, attributes=attributes, missing_bodies=tuple(missing))
