"""The rows the write path hands the store: column orders, flag bits and the per-batch dataclasses.

The row builder (``otel_lens.export``) builds these from any source's spans and logs; the writer
stores them. They live in the store because they are its input format: the store never imports
the write path. Slots have names (``SPAN_*``/``LOG_*`` index constants, the ``*_COLUMNS`` tuples);
the column tuples feed both the SQL text and the PostgreSQL column types.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from otel_lens._keys import BODY_KEYS as BODY_KEYS  # re-exported: the read side finds bodies by them

SpanRow = tuple[
    bytes,  # trace_id: the 16-byte trace id (the table keeps the trace's row id, trace_row, in its place)
    bytes,  # span_id
    bytes | None,  # parent_span_id
    str,  # name
    int,  # kind
    int,  # flags
    int,  # start_ns
    int,  # duration_ns
    int,  # status_code
    str | None,  # status_message
    str | None,  # attributes (JSON)
    str | None,  # events (JSON)
    str | None,  # links (JSON)
    str | None,  # extras (JSON)
    int,  # resource: index into the batch's resources (the table keeps the row id, resource_id)
    int,  # scope: index into the batch's scopes (the table keeps scope_id)
]
"""A span row as the row builder makes it (:data:`SPAN_COLUMNS` order). Rows are tuples, never changed:
the writer builds the table's rows (:data:`SPAN_TABLE_COLUMNS`) from them."""
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
"""The columns of a span row, as the builder makes it and the read side gets it back (with the trace id)."""
SPAN_TABLE_COLUMNS = ("trace_row", *SPAN_COLUMNS[1:])
"""The columns of lens_spans in the order the writer inserts them (the SQL and the PostgreSQL types both)."""
TABLE_TRACE_ROW: Final = 0
"""The slot of a lens_spans row (:data:`SPAN_TABLE_COLUMNS`) holding the trace's row id."""

# Slots of a SpanRow, by name (checked against SPAN_COLUMNS below). Literal ints, so mypy knows each slot's type.
SPAN_TRACE_ID: Final = 0
SPAN_SPAN_ID: Final = 1
SPAN_PARENT: Final = 2
SPAN_NAME: Final = 3
SPAN_FLAGS: Final = 5
SPAN_START: Final = 6
SPAN_DURATION: Final = 7
SPAN_STATUS: Final = 8
SPAN_RESOURCE: Final = 14
SPAN_SCOPE: Final = 15

LogRow = tuple[
    bytes,  # uid: content digest, so a re-export is stored once
    int,  # timestamp_ns
    int,  # observed_ns
    int | None,  # severity_number
    str | None,  # severity_text
    str | None,  # body (JSON)
    str | None,  # attributes (JSON)
    bytes | None,  # trace_id
    bytes | None,  # span_id
    str | None,  # event_name
    int | None,  # flags
    int | None,  # dropped_attributes
    int,  # resource: index into the batch's resources (the table keeps resource_id)
    int,  # scope: index into the batch's scopes (the table keeps scope_id)
]
"""A log row as the row builder makes it (:data:`LOG_COLUMNS` order); the writer swaps in row ids in a new tuple."""
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
LOG_RESOURCE: Final = 12
LOG_SCOPE: Final = 13

TRACE_DELTA_COLUMNS = (
    "trace_id",
    "root_span_id",
    "root_name",
    "root_rank",
    "service",
    "start_ns",
    "end_ns",
    "span_count",
    "error_count",
    "root_start_ns",
)
"""A batch's contribution to one lens_traces row (``rollups.trace_rollups`` builds them in this order)."""
USAGE_DELTA_COLUMNS = (
    "bucket_ns",
    "service",
    "provider",
    "model",
    "span_count",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
)
"""A batch's contribution to one lens_usage row (``rollups.usage_rows`` order); the first four are its key."""
USAGE_KEY_COLUMNS = 4

ID_CHUNK = 400
"""Keys per ``IN (...)`` when rows are looked up by key, writing or reading: well under SQLite's parameter limit."""

SCHEMA_3_COLUMNS = {
    "lens_spans": ("extras",),
    "lens_logs": ("flags", "dropped_attributes"),
    "lens_scopes": ("schema_url",),
}
"""The nullable columns schema version 3 added (an older store gets them by ALTER TABLE)."""

COLUMNS_ADDED_AFTER_V1 = {**SCHEMA_3_COLUMNS, "lens_usage": ("reasoning_tokens",)}
"""Every column a later schema version added: readers of an older store that no writer has migrated yet
(readers never change a store) read these as NULL."""

for _name, _slot in (
    ("trace_id", SPAN_TRACE_ID),
    ("span_id", SPAN_SPAN_ID),
    ("parent_span_id", SPAN_PARENT),
    ("name", SPAN_NAME),
    ("flags", SPAN_FLAGS),
    ("start_ns", SPAN_START),
    ("duration_ns", SPAN_DURATION),
    ("status_code", SPAN_STATUS),
    ("resource_id", SPAN_RESOURCE),
    ("scope_id", SPAN_SCOPE),
):
    assert SPAN_COLUMNS[_slot] == _name, f"SPAN_COLUMNS moved {_name}"
assert LOG_COLUMNS[LOG_RESOURCE] == "resource_id" and LOG_COLUMNS[LOG_SCOPE] == "scope_id"
assert SPAN_TABLE_COLUMNS[TABLE_TRACE_ROW] == "trace_row"


def span_table_rows(
    rows: Iterable[SpanRow], trace_rows: Mapping[bytes, int], resource_ids: Sequence[int], scope_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    """New lens_spans rows (:data:`SPAN_TABLE_COLUMNS` order) for builder rows: each trace's row id in place of its
    16-byte id, row ids in place of the batch's resource and scope indexes. The builder's rows stay as they were."""
    # Unpacked by name, not sliced: a quarter of the cost per row (this runs for every span).
    return [
        (trace_rows[trace], span, parent, name, kind, flags, start, duration, status, message, attributes, events,
         links, extras, resource_ids[resource], scope_ids[scope])
        for (trace, span, parent, name, kind, flags, start, duration, status, message, attributes, events, links,
             extras, resource, scope) in rows
    ]  # fmt: skip


def log_table_rows(
    rows: Iterable[LogRow], resource_ids: Sequence[int], scope_ids: Sequence[int]
) -> list[tuple[Any, ...]]:
    """New lens_logs rows (:data:`LOG_COLUMNS` order) with row ids in place of the batch's resource and scope indexes."""
    return [(*row[:LOG_RESOURCE], resource_ids[row[LOG_RESOURCE]], scope_ids[row[LOG_SCOPE]]) for row in rows]


# OTLP span flags: the low byte is the W3C trace flags; these bits say whether the parent is remote.
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200
STATUS_ERROR = 2  # StatusCode.ERROR, as stored in lens_spans.status_code
USAGE_BUCKET_NS = 3600 * 10**9
"""lens_usage keeps token totals per hour."""
LATENCY_LEVELS_NS = (6 * USAGE_BUCKET_NS, 24 * USAGE_BUCKET_NS)
"""The bucket lengths of lens_latency_levels beside lens_latency's hour, finest first (store._latency_levels)."""
LATENCY_SEALED_KEY = "latency_levels_sealed_ns"
"""lens_meta key: the hours before this instant (ns, an hour boundary) are summed in lens_latency_levels."""


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


BODY_COLUMNS = tuple(f.name for f in dataclasses.fields(BodyRow))
"""The columns of lens_bodies, in BodyRow's field order (the writer inserts ``dataclasses.astuple`` of one)."""


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
    """Token counts of one GenAI span (see :mod:`otel_lens._genai_usage` for the attribute names read)."""

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

    rows: Sequence[tuple[Any, ...]]  # SpanRow or LogRow tuples
    resources: list[ResourceRow]
    scopes: list[ScopeRow]
    genai: dict[int, GenAIUsage] = dataclasses.field(default_factory=dict)
    bodies: list[BodyRow] = dataclasses.field(default_factory=list)  # captured bodies the spans refer to
    # The sessions each span names, by row index (see otel_lens._session_keys); None: not read yet (the writer
    # then reads them from the rows' attribute text).
    sessions: dict[int, list[tuple[str, str]]] | None = None
