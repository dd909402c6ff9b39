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


class Session(_Base):
    """One session (``session.id``) or conversation (``gen_ai.conversation.id``): totals over its traces (schema 5).

    Kept in the export transaction by :mod:`otel_lens.store._sessions`; ``end_ns`` (the last activity)
    is indexed with ``id`` so the newest-first list is a keyset page whatever the store's size.
    """

    id = pw.BigAutoField()
    kind = pw.TextField()  # "session" or "conversation"
    session_id = pw.TextField()
    service = pw.TextField(null=True)  # the root service of the first trace seen in it
    trace_count = pw.BigIntegerField()
    start_ns = pw.BigIntegerField()
    end_ns = pw.BigIntegerField()
    error_count = pw.BigIntegerField()
    genai_count = pw.BigIntegerField()
    input_tokens = pw.BigIntegerField()
    output_tokens = pw.BigIntegerField()
    cache_read_tokens = pw.BigIntegerField()
    cache_creation_tokens = pw.BigIntegerField()
    reasoning_tokens = pw.BigIntegerField()

    class Meta:
        table_name = "lens_sessions"
        # Newest activity first, also within one kind or one service: each list reads its index in order.
        indexes = (
            (("kind", "session_id"), True),
            (("end_ns", "id"), False),
            (("kind", "end_ns", "id"), False),
            (("service", "end_ns", "id"), False),
        )


class SessionTrace(_Base):
    """A trace's membership in a session (schema 5); inserted once, so a re-export counts the trace once.

    The token columns are the trace's own GenAI totals, so a sweep can recompute its sessions' totals
    from the members left.
    """

    session_row = pw.BigIntegerField()  # lens_sessions.id
    trace_id = pw.BlobField()
    genai_count = pw.BigIntegerField()
    input_tokens = pw.BigIntegerField()
    output_tokens = pw.BigIntegerField()
    cache_read_tokens = pw.BigIntegerField()
    cache_creation_tokens = pw.BigIntegerField()
    reasoning_tokens = pw.BigIntegerField()

    class Meta:
        table_name = "lens_session_traces"
        primary_key = pw.CompositeKey("session_row", "trace_id")
        indexes = ((("trace_id",), False),)


class Running(_Base):
    """A span still open when its process last looked (schema 6): the span's columns, no end yet, and its writer.

    Kept apart from lens_spans so an ended row is never overwritten and the rollups never see a
    running span: the finished span goes into lens_spans and deletes this row in the same transaction.
    """

    trace_row = pw.BigIntegerField()
    span_id = pw.BlobField()
    parent_span_id = pw.BlobField(null=True)
    name = pw.TextField()
    kind = pw.SmallIntegerField()
    flags = pw.IntegerField()
    start_ns = pw.BigIntegerField()
    duration_ns = pw.BigIntegerField()
    status_code = pw.SmallIntegerField()
    status_message = pw.TextField(null=True)
    attributes = pw.TextField(null=True)
    events = pw.TextField(null=True)
    links = pw.TextField(null=True)
    extras = pw.TextField(null=True)
    resource_id = pw.IntegerField()
    scope_id = pw.IntegerField()
    writer_id = pw.IntegerField()  # lens_writers.id: its heartbeat says running or abandoned

    class Meta:
        table_name = "lens_running"
        primary_key = pw.CompositeKey("trace_row", "span_id")


class WriterBeat(_Base):
    """One writing process's heartbeat (schema 6): its running spans read as abandoned once it stops beating."""

    id = pw.AutoField()
    writer = pw.TextField(unique=True)  # host + pid + start time: unique across hosts sharing a database
    host = pw.TextField()
    pid = pw.IntegerField()
    started_ns = pw.BigIntegerField()
    beat_ns = pw.BigIntegerField()  # wall clock of the last beat (readers on other hosts compare theirs)
    interval_ns = pw.BigIntegerField()  # the writer's interval: the staleness bound is derived from it
    stopped = pw.SmallIntegerField(default=0)  # 1 after a clean shutdown: what it left open is abandoned

    class Meta:
        table_name = "lens_writers"


class LatencyLevel(_Base):
    """The :class:`Latency` rows summed over coarser buckets: 6 hours and a day (schema 7).

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


ALL_MODELS: tuple[type[_Base], ...] = (
    Resource, Scope, Span, Trace, Log, Usage, Body, Meta, Latency, LatencyLevel, Session, SessionTrace, Running,
    WriterBeat,
)  # fmt: skip


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
    session: type[Session]
    sessiontrace: type[SessionTrace]
    running: type[Running]
    writerbeat: type[WriterBeat]

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
