"""The read-only reader of a store no writer has open keeps its models between reads (building Peewee's model
classes cost ~8 ms a call on every endpoint), and still reads a store a writer changed or migrated meanwhile."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from otel_lens import open_store
from otel_lens.settings import Settings
from otel_lens.store.migrations import latest_version
from tests._read_helpers import ChosenIdGenerator, build_sample, recorder
from tests.test_otlp_migration import V1_FILE, _meta, _write_span_with_trace_state


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_reads_of_an_unchanged_closed_store_reuse_one_set_of_models(sqlite_settings: Settings, db_path: Path) -> None:
    """On a store without a -wal file (the immutable path), every read gets the same bound models, and they
    are not rebuilt until the file changes; the reads still create no file."""
    build_sample(sqlite_settings)
    assert _files(db_path.parent) == ["lens.db"]
    with open_store(str(db_path)) as store:
        run = store._reader.run
        first = run(lambda models: models)
        assert all(run(lambda models: models) is first for _ in range(5))
        assert len(store.traces()) == 3 and run(lambda models: models) is first
        assert _files(db_path.parent) == ["lens.db"]
        with recorder(sqlite_settings, ChosenIdGenerator([0x300])) as rec:
            rec.end(rec.span("later", "stored meanwhile", 0, 1))
        assert [t.root_name for t in store.traces(service="later")] == ["stored meanwhile"]
        assert run(lambda models: models) is not first


def test_concurrent_reads_on_the_immutable_path_each_get_a_working_connection(
    sqlite_settings: Settings, db_path: Path
) -> None:
    """Threads reading one store at once (the kept connection is used by one read at a time; the others open
    their own) all get the full answer."""
    build_sample(sqlite_settings)
    results: list[int] = []
    errors: list[BaseException] = []
    with open_store(str(db_path)) as store:

        def read() -> None:
            try:
                for _ in range(20):
                    results.append(len(store.traces()) + len(store.stats(since=None)))
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    assert len(results) == 80 and set(results) == {results[0]}


def test_a_store_migrated_by_a_writer_between_reads_is_read_with_its_new_columns(tmp_path: Path) -> None:
    """A version-1 store read (its later-schema columns read as NULL, and that cached), then migrated and
    written by a writer that closes again, is read on the next call with the new columns' values: the
    reader trusts nothing it cached about the file before it changed."""
    path = tmp_path / "v1.db"
    shutil.copyfile(V1_FILE, path)
    with open_store(str(path)) as store:
        (old,) = store.traces()
        assert store.trace(old.trace_id).spans[0].trace_state is None
        assert sorted(row.key for row in store.stats(since=None)) == ["GET /v1", "db.query"]
        _write_span_with_trace_state(Settings.load(environ={}, database=str(path), sweep_interval=0))
        assert _meta(path)[0] == latest_version()
        assert _files(tmp_path) == ["v1.db"]  # the writer closed: the next read is immutable again
        spans = {s.name: s for t in store.traces() for s in store.trace(t.trace_id).spans}
        assert spans["after"].trace_state == "k=v" and spans["after"].scope.schema_url == "https://example.com/s/2"
        assert sorted(row.key for row in store.stats(since=None)) == ["GET /v1", "after", "db.query"]
