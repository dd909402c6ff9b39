"""The rows the write path hands the store: column orders, flag bits and the per-batch dataclasses.

The encoder (``otel_lens.export``) builds these from OTel SDK objects; the writer stores them. They
live in the store because they are its input format: the store never imports the write path.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any

SPAN_COLUMNS = (
    "trace_id",  # the 16-byte trace id; the table itself keeps the trace's row id (trace_row) here
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "flags",
    "start_ns",
    "duration_ns",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    # Kept for a lossless OTLP export (schema 3): JSON [tracestate | null, dropped attributes, dropped
    # events, dropped links], NULL when all are empty/0 (the common case). One column, not four: each
    # column costs a byte of every row even when NULL (+11 B/span measured with four).
    "extras",
    "resource_id",  # resource_id and scope_id stay last: the read side finds them at [-2] and [-1]
    "scope_id",
)
"""A span row as the encoder makes it and the read side gets it back."""
LOG_COLUMNS = (
    "uid",
    "timestamp_ns",
    "observed_ns",
    "severity_number",
    "severity_text",
    "body",
    "attributes",
    "trace_id",
    "span_id",
    "event_name",
    "flags",  # the W3C trace flags (schema 3), NULL when 0
    "dropped_attributes",  # NULL when 0
    "resource_id",
    "scope_id",
)
"""A log row as the encoder makes it (columns of lens_logs)."""
SCHEMA_3_COLUMNS = {
    "lens_spans": ("extras",),
    "lens_logs": ("flags", "dropped_attributes"),
    "lens_scopes": ("schema_url",),
}
"""The nullable columns schema version 3 added (an older store gets them by ALTER TABLE)."""

COLUMNS_ADDED_AFTER_V1 = {**SCHEMA_3_COLUMNS, "lens_usage": ("reasoning_tokens",)}
"""Every column a later schema version added: readers of an older store that no writer has migrated yet
(readers never change a store) read these as NULL."""

SPAN_RESOURCE = SPAN_COLUMNS.index("resource_id")
SPAN_SCOPE = SPAN_COLUMNS.index("scope_id")
LOG_RESOURCE = LOG_COLUMNS.index("resource_id")
LOG_SCOPE = LOG_COLUMNS.index("scope_id")

# OTLP span flags: the low byte is the W3C trace flags; these bits say whether the parent is remote.
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200
STATUS_ERROR = 2  # StatusCode.ERROR, as stored in lens_spans.status_code
USAGE_BUCKET_NS = 3600 * 10**9
"""lens_usage keeps token totals per hour."""


BODY_KEYS = ("lens.body.input", "lens.body.output", "lens.body.request", "lens.body.response")
"""The span attributes that carry a captured body (stored as a ``sha256:<hex>`` reference to a body row)."""
REFERENCE_PREFIX = "sha256:"


@dataclasses.dataclass(frozen=True)
class BodyRow:
    """One ``lens_bodies`` row: ``content`` is ``size`` bytes of UTF-8 text (or raw bytes), maybe compressed."""

    digest: bytes
    size: int
    encoding: str
    content_type: str | None
    content: bytes
    last_seen_ns: int


def decode_body(encoding: str, content: bytes) -> bytes:
    """The original bytes of a stored body (``content`` as a ``lens_bodies`` row holds it)."""
    return zlib.decompress(content) if encoding == "zlib" else bytes(content)


@dataclasses.dataclass(frozen=True)
class ResourceRow:
    """One ``lens_resources`` row (its fields are the table's columns, in :data:`RESOURCE_COLUMNS` order)."""

    digest: bytes
    service: str | None
    attributes: str | None
    schema_url: str | None


@dataclasses.dataclass(frozen=True)
class ScopeRow:
    """One ``lens_scopes`` row (its fields are the table's columns, in :data:`SCOPE_COLUMNS` order)."""

    digest: bytes
    name: str
    version: str | None
    attributes: str | None
    schema_url: str | None = None


RESOURCE_COLUMNS = tuple(f.name for f in dataclasses.fields(ResourceRow))
SCOPE_COLUMNS = tuple(f.name for f in dataclasses.fields(ScopeRow))


@dataclasses.dataclass(frozen=True)
class GenAIUsage:
    """Token counts of one GenAI span (see :mod:`otel_lens.export.genai` for the attribute names read)."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int = 0  # part of output_tokens, as OpenAI reports them


@dataclasses.dataclass
class EncodedBatch:
    """Rows of one export call plus the resources and scopes they refer to by index."""

    rows: list[list[Any]]
    resources: list[ResourceRow]
    scopes: list[ScopeRow]
    genai: dict[int, GenAIUsage] = dataclasses.field(default_factory=dict)
    bodies: list[BodyRow] = dataclasses.field(default_factory=list)  # captured bodies the spans refer to
