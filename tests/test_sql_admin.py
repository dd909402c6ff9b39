"""``otel-lens sql`` on PostgreSQL refuses, before running, a query naming a server-admin or side-effect function
(pg_terminate_backend & co. run even inside a READ ONLY transaction) in every spelling PostgreSQL accepts;
queries that merely mention such a name in a string, or use a longer name, still run."""

from __future__ import annotations

from typing import Any

import pytest

from otel_lens.cli import main
from otel_lens.query import SqlRefused, open_store, run_sql
from otel_lens.query._sql_pg_functions import refuse_admin_functions
from otel_lens.settings import Settings
from tests._read_helpers import build_sample

TARGET = "{pid}"  # the writer's backend pid, filled in per test

BYPASSES = [
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {pid}", "pg_terminate_backend"),
    ('SELECT pg_catalog."pg_terminate_backend"({pid})', "pg_terminate_backend"),
    ("SELECT PG_CATALOG.PG_TERMINATE_BACKEND ({pid})", "pg_terminate_backend"),
    ("SELECT pg_terminate_backend/* a comment */({pid})", "pg_terminate_backend"),
    ("SELECT pg_terminate_backend -- a comment\n ({pid})", "pg_terminate_backend"),
    ("SELECT /* nested /* comment */ still */ pg_terminate_backend({pid})", "pg_terminate_backend"),
    ('SELECT "PG_TERMINATE_BACKEND"({pid})', "pg_terminate_backend"),
    ('SELECT U&"pg_terminate_backen\\0064"({pid})', 'U&"'),
    ("SELECT E'\\'', pg_terminate_backend({pid})", "pg_terminate_backend"),
    ("SELECT 'a\\', pg_terminate_backend({pid}), 'b'", "pg_terminate_backend"),
    ("SELECT $$x$$, pg_terminate_backend({pid})", "pg_terminate_backend"),
    ("SELECT 1pg_terminate_backend({pid})", "pg_terminate_backend"),
    ("SELECT * FROM (VALUES ({pid})) AS t(p), LATERAL pg_terminate_backend(t.p)", "pg_terminate_backend"),
    ("WITH x AS (SELECT pg_cancel_backend({pid})) SELECT * FROM x", "pg_cancel_backend"),
    ("SELECT pg_reload_conf()", "pg_reload_conf"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
    ("SELECT set_config('statement_timeout', '0', false)", "set_config"),
    ("SELECT pg_advisory_lock(1280656980)", "pg_advisory_lock"),
    ("SELECT pg_try_advisory_xact_lock(7)", "pg_try_advisory_xact_lock"),
    ("SELECT pg_advisory_unlock_all()", "pg_advisory_unlock_all"),
    ("SELECT query_to_xml('select pg_terminate_backend({pid})', true, true, '')", "query_to_xml"),
    ("SELECT pg_stat_reset()", "pg_stat_reset"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("VALUES (pg_terminate_backend({pid}))", "pg_terminate_backend"),
]
ORDINARY = [
    ("SELECT count(*) AS pg_terminate_backend_count FROM spans", [(7,)]),
    ("SELECT count(DISTINCT http_route) FROM spans WHERE http_route IS NOT NULL", [(2,)]),
    ("SELECT 'pg_terminate_backend(1)' AS text", [("pg_terminate_backend(1)",)]),
    ("SELECT $$set_config('a', 'b', false)$$ AS text", [("set_config('a', 'b', false)",)]),
    ("SELECT E'it''s \\' pg_cancel_backend(1)' AS text", [("it's ' pg_cancel_backend(1)",)]),
    ("SELECT count(*) FROM spans WHERE name <> 'pg_reload_conf' -- pg_reload_conf()", [(7,)]),
    ("SELECT /* pg_terminate_backend(1) */ current_setting('default_transaction_read_only')", [("on",)]),
    ('SELECT 1 AS "my_set_config_value"', [(1,)]),
]


def test_every_spelling_is_refused_by_the_tokeniser() -> None:
    """Each bypass form is refused naming the function (or the U&"…" identifier), one line."""
    for query, named in BYPASSES:
        with pytest.raises(SqlRefused) as caught:
            refuse_admin_functions(query.format(pid=1))
        message = str(caught.value)
        assert message.startswith("refused: ") and named in message and "\n" not in message, (query, message)
    for query, _ in ORDINARY:
        refuse_admin_functions(query)  # names inside strings, comments, or longer names: nothing refused


@pytest.fixture
def writer(postgres_url: str) -> Any:
    """A second connection standing in for the writer (its backend is what pg_terminate_backend would end)."""
    import psycopg

    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    build_sample(settings)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


@pytest.mark.postgres
def test_admin_functions_are_refused_and_the_writers_backend_survives(postgres_url: str, writer: Any) -> None:
    """On real PostgreSQL every bypass is refused before it runs: the writer's backend is still connected and
    holds no advisory lock the query took; settings are as they were."""
    pid = writer.info.backend_pid
    with open_store(postgres_url) as store:
        for query, named in BYPASSES:
            with pytest.raises(SqlRefused, match=r"^refused: ") as caught:
                run_sql(store, query.format(pid=pid))
            assert named in str(caught.value), query
        assert writer.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
        alive = run_sql(store, f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").rows
        assert alive == [(1,)]
        assert writer.execute("SELECT pg_try_advisory_lock(1280656980)").fetchone() == (True,)
        for query, rows in ORDINARY:
            assert run_sql(store, query).rows == rows, query


@pytest.mark.postgres
def test_the_cli_refusal_is_one_line(postgres_url: str, writer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``otel-lens sql "SELECT pg_terminate_backend(…)"`` exits 1 (or 2) with one line naming the function."""
    pid = writer.info.backend_pid
    capsys.readouterr()
    code = main(["sql", f"SELECT pg_terminate_backend({pid})", "--database", postgres_url])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    lines = [line for line in err.splitlines() if "superuser" not in line]
    assert len(lines) == 1 and "pg_terminate_backend" in lines[0], err
    assert writer.execute("SELECT 1").fetchone() == (1,)
