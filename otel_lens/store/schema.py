"""The Peewee models of an otel-lens store, dialect-neutral so SQLite and PostgreSQL share them.

Models are declared unbound; :func:`models_for` gives subclasses bound to one database, so several
stores can live in one process (tests, a CLI reading one file while the app writes another).
Ids are raw bytes (trace 16, span 8), times integer nanoseconds, attribute maps compact JSON text
in the :mod:`otel_lens.store.codec` format.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import Any

import peewee as pw

TABLE_PREFIX = "lens_"


class _Base(pw.Model):
    class Meta:
        database = None
        legacy_table_names = False


class Resource(_Base):
    """A distinct OTel resource (deduplicated by a digest of its attributes)."""

    digest = pw.BlobField(unique=True)
    service = pw.TextField(null=True)
    attributes = pw.TextField(null=True)
    schema_url = pw.TextField(null=True)

    class Meta:
        table_name = "lens_resources"


class Scope(_Base):
    """A distinct instrumentation scope (tracer or logger name and version)."""

    digest = pw.BlobField(unique=True)
    name = pw.TextField()
    version = pw.TextField(null=True)
    attributes = pw.TextField(null=True)
    schema_url = pw.TextField(null=True)  # schema 3

    class Meta:
        table_name = "lens_scopes"


class Span(_Base):
    """One finished span. ``(trace_row, span_id)`` is unique, which makes exports idempotent."""

    id = pw.BigAutoField()
    # The trace's lens_traces.id: traces are numbered as they arrive, so the (trace_row, span_id)
    # index grows at its right edge instead of taking random 16-byte trace ids (fewer pages written
    # per batch, and 24 bytes less per span than keying spans by trace id).
    trace_row = pw.BigIntegerField()
    span_id = pw.BlobField()
    parent_span_id = pw.BlobField(null=True)
    name = pw.TextField()
    kind = pw.SmallIntegerField()
    flags = pw.IntegerField()  # OTLP span flags: W3C trace flags + parent-is-remote bits
    start_ns = pw.BigIntegerField()
    duration_ns = pw.BigIntegerField()
    status_code = pw.SmallIntegerField()
    status_message = pw.TextField(null=True)
    attributes = pw.TextField(null=True)
    events = pw.TextField(null=True)
    links = pw.TextField(null=True)
    # Schema 3, for a lossless OTLP export: [tracestate, dropped attributes/events/links], NULL when empty.
    extras = pw.TextField(null=True)
    resource_id = pw.IntegerField()
    scope_id = pw.IntegerField()

    class Meta:
        table_name = "lens_spans"
        indexes = (
            (("trace_row", "span_id"), True),
            (("start_ns",), False),
        )


class Trace(_Base):
    """The per-trace rollup the trace list reads, kept exact as batches arrive in any order."""

    id = pw.BigAutoField()
    trace_id = pw.BlobField(unique=True)
    root_span_id = pw.BlobField(null=True)
    root_name = pw.TextField()
    root_rank = pw.SmallIntegerField()  # 2: no parent, 1: remote parent, 0: provisional (root not seen yet)
    root_start_ns = pw.BigIntegerField()  # the root candidate's start: the earliest wins among equal ranks
    service = pw.TextField(null=True)
    start_ns = pw.BigIntegerField()
    end_ns = pw.BigIntegerField()
    span_count = pw.IntegerField()
    error_count = pw.IntegerField()

    class Meta:
        table_name = "lens_traces"
        indexes = (
            (("start_ns",), False),
            (("service", "start_ns"), False),
            (("root_name", "start_ns"), False),
        )


class Log(_Base):
    """One log record. ``uid`` is a digest of its content, which makes exports idempotent."""

    id = pw.BigAutoField()
    uid = pw.BlobField(unique=True)
    timestamp_ns = pw.BigIntegerField()
    observed_ns = pw.BigIntegerField()
    severity_number = pw.SmallIntegerField(null=True)
    severity_text = pw.TextField(null=True)
    body = pw.TextField(null=True)
    attributes = pw.TextField(null=True)
    trace_id = pw.BlobField(null=True)
    span_id = pw.BlobField(null=True)
    event_name = pw.TextField(null=True)
    flags = pw.IntegerField(null=True)  # schema 3: W3C trace flags, NULL when 0
    dropped_attributes = pw.IntegerField(null=True)  # schema 3: NULL when 0
    resource_id = pw.IntegerField()
    scope_id = pw.IntegerField()

    class Meta:
        table_name = "lens_logs"
        indexes = (
            (("timestamp_ns",), False),
            (("trace_id", "timestamp_ns"), False),
        )


class Usage(_Base):
    """GenAI token totals per hour, service, provider and model, updated in the export transaction."""

    bucket_ns = pw.BigIntegerField()
    service = pw.TextField()
    provider = pw.TextField()
    model = pw.TextField()
    span_count = pw.BigIntegerField()
    input_tokens = pw.BigIntegerField()
    output_tokens = pw.BigIntegerField()
    cache_read_tokens = pw.BigIntegerField()
    cache_creation_tokens = pw.BigIntegerField()
    # Added by schema version 2 (ALTER TABLE … DEFAULT 0): a new store gets the same column definition.
    reasoning_tokens = pw.BigIntegerField(default=0, constraints=[pw.SQL("DEFAULT 0")])

    class Meta:
        table_name = "lens_usage"
        primary_key = pw.CompositeKey("bucket_ns", "service", "provider", "model")


class Latency(_Base):
    """Span counts, errors and a latency histogram per hour, service, span name and kind (schema 4).

    Updated in the export transaction from the spans actually inserted, like :class:`Usage`, so
    ``stats`` reads hours × groups rows instead of every span of its window. ``histogram`` is the
    byte form of :mod:`otel_lens.store._histogram`; ``min_ns``/``max_ns`` are exact.
    """

    bucket_ns = pw.BigIntegerField()
    service = pw.TextField()
    name = pw.TextField()
    kind = pw.SmallIntegerField()
    span_count = pw.BigIntegerField()
    error_count = pw.BigIntegerField()
    min_ns = pw.BigIntegerField()
    max_ns = pw.BigIntegerField()
    histogram = pw.BlobField()

    class Meta:
        table_name = "lens_latency"
        primary_key = pw.CompositeKey("bucket_ns", "service", "name", "kind")


class LatencyLevel(_Base):
    """The :class:`Latency` rows summed over coarser buckets: 6 hours and a day (schema 5).

    ``level_ns`` is the bucket's length; each row is the sum of the hourly rows of the sealed hours inside
    its bucket (those before the ``latency_levels_sealed_ns`` mark in lens_meta: kept so by the writer,
    migration 5 and the sweep), so ``stats`` over a day reads a few rows per group instead of 24 (see
    ``store._latency_levels``).
    """

    level_ns = pw.BigIntegerField()
    bucket_ns = pw.BigIntegerField()
    service = pw.TextField()
    name = pw.TextField()
    kind = pw.SmallIntegerField()
    span_count = pw.BigIntegerField()
    error_count = pw.BigIntegerField()
    min_ns = pw.BigIntegerField()
    max_ns = pw.BigIntegerField()
    histogram = pw.BlobField()

    class Meta:
        table_name = "lens_latency_levels"
        primary_key = pw.CompositeKey("level_ns", "bucket_ns", "service", "name", "kind")


class Body(_Base):
    """A captured HTTP or function body, content-addressed by sha256 and stored once."""

    digest = pw.BlobField(primary_key=True)
    size = pw.BigIntegerField()
    encoding = pw.TextField()  # "identity" or "zlib"
    content_type = pw.TextField(null=True)
    content = pw.BlobField()
    last_seen_ns = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "lens_bodies"


class Meta(_Base):
    """Key/value facts about the store (schema version on PostgreSQL, sweeper bookkeeping)."""

    key = pw.TextField(primary_key=True)
    value = pw.TextField()

    class Meta:
        table_name = "lens_meta"


ALL_MODELS: tuple[type[_Base], ...] = (Resource, Scope, Span, Trace, Log, Usage, Body, Meta, Latency, LatencyLevel)


@dataclasses.dataclass(frozen=True)
class Models:
    """The models bound to one database."""

    resource: type[Resource]
    scope: type[Scope]
    span: type[Span]
    trace: type[Trace]
    log: type[Log]
    usage: type[Usage]
    body: type[Body]
    meta: type[Meta]
    latency: type[Latency]
    latencylevel: type[LatencyLevel]

    def all(self) -> list[type[pw.Model]]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]


_bound: weakref.WeakKeyDictionary[pw.Database, Models] = weakref.WeakKeyDictionary()
_bound_lock = threading.Lock()


def models_for(database: pw.Database) -> Models:
    """Subclasses of every model bound to ``database`` (made once per database)."""
    with _bound_lock:
        models = _bound.get(database)
        if models is None:
            classes: dict[str, Any] = {}
            for model in ALL_MODELS:
                meta = type("Meta", (), {"database": database, "table_name": model._meta.table_name})
                classes[model.__name__.lower()] = type(model.__name__, (model,), {"Meta": meta, "__module__": __name__})
            models = Models(**classes)
            _bound[database] = models
        return models
