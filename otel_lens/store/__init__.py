"""The store: schema, connection, migrations, the batch writer and the retention sweeper."""

from __future__ import annotations

from otel_lens.store import _histogram as histogram

__all__ = ["histogram"]
