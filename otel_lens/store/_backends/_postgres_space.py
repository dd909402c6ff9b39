"""The space a PostgreSQL store takes: table sizes, and what live rows take after a sweep's deletes.

PostgreSQL never gives deleted rows' space back to the file system (autovacuum hands it to new
rows), so the files' size cannot tell when a size sweep has deleted enough: the live size is
estimated once per pass and reduced by each delete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_lens.store import _postgres
from otel_lens.store._backends._base import Locked, Space

if TYPE_CHECKING:
    from otel_lens.store.database import Location


class PostgresSpace(Space):
    def __init__(self, location: Location, locked: Locked, transaction: Locked) -> None:
        self._locked = locked
        self._transaction = transaction
        self._rows: dict[str, tuple[int, float, int]] | None = None  # live-size baseline of a size pass
        self._other_bytes = 0

    def store_size(self) -> int:
        with self._locked() as conn:
            return _postgres.store_size(conn.cursor())

    def start_size_pass(self) -> None:
        self._rows = None

    def used_bytes(self, deleted: dict[str, int]) -> int:
        if self._rows is None:
            with self._transaction() as cursor:
                total = _postgres.store_size(cursor)
                self._rows = {}
                for table in deleted:
                    rows, cost, size = _postgres.bytes_per_row(cursor, table)
                    self._rows[table] = (rows + deleted[table], cost, size)  # rows as if nothing was deleted yet
            self._other_bytes = max(total - sum(size for _, _, size in self._rows.values()), 0)
        live = float(self._other_bytes)
        for table, (rows, cost, _) in self._rows.items():
            live += max(rows - deleted[table], 0) * cost
        return int(live)
