"""Read-only SQL (``otel-lens sql``, ``run_sql``): the views, the documented examples, the row cap, the time
budget and every refusal — on SQLite and PostgreSQL — with the store left as it was (RELIABILITY 29)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from otel_lens.cli import main
from otel_lens.query import MAX_LIMIT, SqlError, SqlRefused, SqlTimeout, open_store, run_sql
from otel_lens.settings import Settings
from tests._read_helpers import Sample, build_sample

RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
# The README's examples (kept here word for word, so the documentation cannot rot).
SLOWEST_ROUTES = (
    "SELECT http_route, count(*) AS requests, max(duration_ms) AS slowest_ms FROM spans "
    "WHERE kind = 'SERVER' GROUP BY http_route ORDER BY slowest_ms DESC LIMIT 10"
)
ERROR_RATE = (
    "SELECT service, count(*) AS spans, avg(CASE WHEN status_code = 'ERROR' THEN 1.0 ELSE 0 END) AS error_rate "
    "FROM spans GROUP BY service ORDER BY error_rate DESC"
)
TOKENS_PER_DAY = (
    "SELECT substr(start_time, 1, 10) AS day, gen_ai_model, sum(input_tokens) AS input, "
    "sum(output_tokens) AS output FROM spans WHERE gen_ai_model IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
)


@pytest.fixture
def sample(settings: Settings) -> Sample:
    return build_sample(settings)


def test_views_give_hex_ids_rfc3339_times_durations_services_and_json(settings: Settings, sample: Sample) -> None:
    """spans/traces/logs show what the read API's JSON shows: hex ids, RFC 3339 UTC, duration_ms, service,
    JSON attributes with the resource joined in (same values on both backends)."""
    with open_store(settings.database) as store:
        expected = store.trace(sample.checkout_trace)
        traces = run_sql(store, f"SELECT * FROM traces WHERE trace_id = '{sample.checkout_trace}'").records()
        spans = run_sql(
            store, f"SELECT * FROM spans WHERE trace_id = '{sample.checkout_trace}' ORDER BY start_ns"
        ).records()
        logs = run_sql(store, f"SELECT * FROM logs WHERE trace_id = '{sample.checkout_trace}'").records()
    assert traces == [
        traces[0]
        | {"trace_id": sample.checkout_trace, "root_name": "POST /checkout", "service": "shop", "span_count": 2,
           "error_count": 2, "duration_ms": 250.0, "start_time": expected.summary.start_time}
    ]  # fmt: skip
    assert traces[0]["end_time"] == "2024-01-01T00:00:01.250000Z"
    first, second = spans
    assert (first["span_id"], first["parent_span_id"]) == (expected.spans[0].span_id, None)
    assert second["parent_span_id"] == first["span_id"] and second["name"] == "charge card"
    assert (second["kind"], second["status_code"], second["status_message"]) == ("CLIENT", "ERROR", "card declined")
    assert second["duration_ms"] == 230.0 and second["start_time"] == "2024-01-01T00:00:01.010000Z"
    attributes = second["attributes"]
    assert json.loads(attributes if isinstance(attributes, str) else json.dumps(attributes)) == {
        "rpc.system": "grpc", "rpc.method": "Charge"}  # fmt: skip
    resource = second["resource_attributes"]
    assert (json.loads(resource) if isinstance(resource, str) else resource)["service.name"] == "shop"
    assert first["http_route"] == "/checkout" and second["scope_name"] == "tests.read"
    assert [(r["body"], r["severity_text"], r["service"], r["span_id"]) for r in logs] == [
        ('{"event":"payment failed","code":51}' if settings.database.endswith(".db") else logs[0]["body"],
         "ERROR", "shop", second["span_id"])
    ]  # fmt: skip
    assert logs[0]["timestamp"] == "2024-01-01T00:00:01.239000Z"


def test_readme_examples_answer_on_both_backends(settings: Settings, sample: Sample) -> None:
    """The README's slowest-routes, error-rate-by-service and tokens-by-model-per-day queries run and answer."""
    with open_store(settings.database) as store:
        routes = run_sql(store, SLOWEST_ROUTES).rows
        rates = run_sql(store, ERROR_RATE).records()
        tokens = run_sql(store, TOKENS_PER_DAY).rows
    assert routes == [("/checkout", 1, 250.0), ("/users/{id}", 1, 120.0)]
    assert {r["service"]: round(float(r["error_rate"]), 3) for r in rates} == {"shop": round(2 / 6, 3), "agent": 0.0}
    assert tokens == [("2024-01-01", "gpt-4o-2024-08-06", 1200, 300)]


def test_rows_past_the_cap_are_counted_not_returned(settings: Settings, sample: Sample) -> None:
    """A result longer than the limit returns the first rows and says how many more there were."""
    with open_store(settings.database) as store:
        result = run_sql(store, "SELECT name FROM spans ORDER BY start_ns", limit=2)
    assert len(result.rows) == 2 and result.more == 5 and result.more_exact
    assert result.more_notice() == "5 more rows not shown (raise the limit or add LIMIT/WHERE)"


def test_a_runaway_recursive_query_is_interrupted_by_the_budget(settings: Settings, sample: Sample) -> None:
    """An endless recursive CTE stops at the time budget with a one-line timeout error, and the store reads on."""
    with open_store(settings.database) as store:
        with pytest.raises(SqlTimeout, match=r"ran past its 0.5s budget"):
            run_sql(store, RUNAWAY, timeout=0.5)
        assert run_sql(store, "SELECT count(*) FROM traces").rows == [(3,)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC 1", 'SQLite: near "SELEC": syntax error'),
        ("SELECT * FROM nope", "SQLite: no such table: nope"),
        ("SELECT 1; SELECT 2", "only one statement at a time"),
        ("   ;  ", "the query is empty"),
    ],
)
def test_bad_sql_is_a_one_line_error_naming_sqlite_s_message(db_path: Path, query: str, message: str) -> None:
    """Bad SQL: an :class:`SqlError` quoting SQLite's own message, on one line."""
    build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    with open_store(db_path) as store, pytest.raises(SqlError) as caught:
        run_sql(store, query)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_cli_prints_csv_when_piped_json_objects_with_json_and_one_line_errors(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``otel-lens sql``: CSV off a terminal, ``--json`` an array of objects, the row-cap notice on stderr,
    a refused statement exit 1 with one line on stderr, a bad --timeout or --limit exit 2 naming the flag."""
    build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    query = "SELECT root_name, span_count FROM traces ORDER BY start_ns"
    assert main(["sql", query, "--database", str(db_path)]) == 0
    out, err = capsys.readouterr()
    assert out == "root_name,span_count\nGET /users/{id},4\nPOST /checkout,2\nchat gpt-4o,1\n" and err == ""
    assert main(["sql", query, "--database", str(db_path), "--json", "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [{"root_name": "GET /users/{id}", "span_count": 4},
                               {"root_name": "POST /checkout", "span_count": 2}]  # fmt: skip
    assert "1 more row not shown" in err
    assert main(["sql", "DELETE FROM lens_spans", "--database", str(db_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "otel-lens: error: refused: DELETE lens_spans — otel-lens sql only reads (SELECT, WITH, EXPLAIN)\n"
    with pytest.raises(SystemExit) as usage:
        main(["sql", "SELECT * FROM spans", "--database", str(db_path), "--timeout", "0s"])
    assert usage.value.code == 2 and "--timeout: '0s' must be longer than 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["sql", "SELECT * FROM spans", "--database", str(db_path), "--limit", "0"])
    assert (
        usage.value.code == 2 and f"--limit: '0' is not a whole number from 1 to {MAX_LIMIT}" in capsys.readouterr().err
    )


REFUSED_SQLITE = [
    ("INSERT INTO lens_meta VALUES ('k', 'v')", "INSERT lens_meta"),
    ("UPDATE lens_spans SET name = 'x'", "UPDATE lens_spans"),
    ("DELETE FROM lens_traces", "DELETE lens_traces"),
    ("DROP TABLE lens_spans", "DROP"),
    ("DROP VIEW spans", "DROP"),
    ("CREATE TABLE t (a)", "CREATE"),
    ("CREATE TEMP TABLE t (a)", "CREATE"),
    ("CREATE TEMP VIEW v AS SELECT 1", "CREATE"),
    ("ATTACH DATABASE '{other}' AS other", "ATTACH"),
    ("DETACH DATABASE temp", "DETACH"),
    ("PRAGMA user_version = 99", "PRAGMA user_version = 99"),
    ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode = DELETE"),
    ("PRAGMA query_only = 0", "PRAGMA query_only = 0"),
    ("PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA wal_checkpoint"),
    ("SELECT load_extension('/tmp/nothing.so')", "load_extension"),
    ("SELECT * FROM pragma_table_info('spans')", "pragma_…() table function"),
    ("BEGIN IMMEDIATE", "a transaction"),
    ("VACUUM", "VACUUM"),
    ("REINDEX", "REINDEX"),
    ("ANALYZE", "ANALYZE"),
    ("WITH x AS (SELECT 1) INSERT INTO lens_meta SELECT 'a', 'b' FROM x", "INSERT lens_meta"),
]


def _files(db_path: Path) -> dict[str, bytes | None]:
    return {
        suffix: (Path(f"{db_path}{suffix}").read_bytes() if Path(f"{db_path}{suffix}").exists() else None)
        for suffix in ("", "-wal", "-shm")
    }


@pytest.mark.parametrize("writer_open", [False, True], ids=["no-writer", "writer-open"])
def test_refused_statements_change_no_byte_of_the_database_wal_or_shm(
    db_path: Path, tmp_path: Path, writer_open: bool
) -> None:
    """Every writing, attaching, loading, PRAGMA-changing or transaction statement is refused by the authorizer
    (not merely failing on a read-only file) with a one-line reason, and the db, -wal and -shm bytes stay as they
    were — with no writer (the immutable read) and with a writer holding the file open (WAL present)."""
    settings = Settings.load(environ={}, database=str(db_path), sweep_interval=0)
    build_sample(settings)
    from otel_lens.store import shared

    writer = shared.acquire(settings) if writer_open else None
    try:
        other = tmp_path / "other.db"
        before = _files(db_path)
        assert (before["-wal"] is not None) == writer_open
        unrefused = []
        with open_store(db_path) as store:
            run_sql(store, "SELECT count(*) FROM spans")  # creating the TEMP views touches no file either
            for query, reason in REFUSED_SQLITE:
                try:
                    run_sql(store, query.format(other=other))
                except SqlRefused as exc:
                    assert reason in str(exc) and "\n" not in str(exc), (query, str(exc))
                else:
                    unrefused.append(query)
            assert run_sql(store, "SELECT count(*) FROM spans").rows == [(7,)]
        assert unrefused == []
        assert _files(db_path) == before
        assert not other.exists()
    finally:
        if writer is not None:
            shared.release(writer)


def test_reading_pragmas_and_explain_are_allowed(db_path: Path) -> None:
    """What only reads stays possible: PRAGMA table_info/index_list, a PRAGMA read, EXPLAIN QUERY PLAN."""
    build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    with open_store(db_path) as store:
        columns = [r[1] for r in run_sql(store, "PRAGMA table_info(spans)").rows]
        assert columns[:4] == ["trace_id", "span_id", "parent_span_id", "name"]
        assert run_sql(store, "PRAGMA index_list(lens_spans)").rows
        assert run_sql(store, "PRAGMA user_version").rows[0][0] >= 1
        assert run_sql(store, "EXPLAIN QUERY PLAN SELECT * FROM traces WHERE start_ns > 0").rows


REFUSED_POSTGRES = [
    "INSERT INTO lens_meta VALUES ('k', 'v')",
    "DELETE FROM lens_traces",
    "DROP TABLE lens_spans",
    "CREATE TEMP TABLE t (a int)",
    "SET default_transaction_read_only = off",
    "WITH gone AS (DELETE FROM lens_spans RETURNING 1) SELECT count(*) FROM gone",
    "SELECT nextval('lens_spans_id_seq')",
    "SELECT set_config('transaction_read_only', 'off', false)",
    "COPY lens_meta FROM '/etc/passwd'",
]


@pytest.mark.postgres
def test_postgres_refuses_writes_in_a_read_only_transaction_and_times_out(postgres_url: str) -> None:
    """PostgreSQL: writes (plain, in a CTE, through a sequence or a setting) are refused, a long query is
    stopped by statement_timeout, and the rows are as they were."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    build_sample(settings)
    count = "SELECT (SELECT count(*) FROM lens_spans), (SELECT count(*) FROM lens_meta), (SELECT count(*) FROM logs)"
    with open_store(postgres_url) as store:
        before = run_sql(store, count).rows
        failures = []
        for query in REFUSED_POSTGRES:
            with pytest.raises(SqlError) as caught:
                run_sql(store, query)
            failures.append(str(caught.value))
            assert "\n" not in str(caught.value)
        # Each a refusal, never a syntax error or another failure that merely looks like one.
        assert all(e.startswith("refused: ") and "syntax error" not in e for e in failures), failures
        with pytest.raises(SqlTimeout):
            run_sql(store, "SELECT pg_sleep(30)", timeout=0.5)
        with pytest.raises(SqlError, match=r"PostgreSQL: .*syntax error"):
            run_sql(store, "SELECT FROM WHERE")
        assert run_sql(store, count).rows == before


@pytest.mark.postgres
def test_postgres_bracket_escape_and_copy_to_program_are_refused_and_change_nothing(postgres_url: str) -> None:
    """A query that closes the cursor's bracket and runs ``COMMIT; BEGIN READ WRITE; CREATE …`` (or a
    COPY … TO PROGRAM) is refused as more than one statement; the table list and the row counts stay."""
    import psycopg

    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    build_sample(settings)
    tables = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"
    count = "SELECT (SELECT count(*) FROM lens_spans), (SELECT count(*) FROM lens_meta)"
    escapes = [
        "SELECT 1) AS x; COMMIT; BEGIN READ WRITE; CREATE TABLE pwned2(a int); COMMIT; SELECT * FROM (SELECT 1",
        "SELECT 1) AS x; COMMIT; COPY (SELECT 1) TO PROGRAM 'touch /tmp/otel_lens_pwned'; SELECT * FROM (SELECT 1",
        "SELECT 1) AS x; ROLLBACK; DELETE FROM lens_spans; SELECT * FROM (SELECT 1",
    ]
    with open_store(postgres_url) as store:
        before = (run_sql(store, tables).rows, run_sql(store, count).rows)
        for query in escapes:
            with pytest.raises(SqlRefused, match=r"^refused: more than one statement"):
                run_sql(store, query)
        assert (run_sql(store, tables).rows, run_sql(store, count).rows) == before
    with psycopg.connect(postgres_url) as other:
        assert other.execute("SELECT to_regclass('pwned2')").fetchone() == (None,)


@pytest.fixture
def without_function_denylist(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin-function refusal off (tests/test_sql_admin.py covers it), to test the layer behind it: should the
    denylist miss a function, the session reset and the watchdog still hold."""
    import otel_lens.query._sql_postgres as runner

    monkeypatch.setattr(runner, "refuse_admin_functions", lambda query: None)


@pytest.mark.postgres
@pytest.mark.usefixtures("without_function_denylist")
def test_postgres_advisory_locks_and_session_settings_do_not_outlive_the_query(postgres_url: str) -> None:
    """``pg_advisory_lock`` (the sweep lock's key) taken by a query is released when it ends, so another
    session can take it; a session-level ``set_config`` leaves the session as it was (still read-only)."""
    import psycopg

    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    build_sample(settings)
    with open_store(postgres_url) as store:
        run_sql(store, "SELECT pg_advisory_lock(1280656980), pg_advisory_lock_shared(7)")
        with psycopg.connect(postgres_url, autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(1280656980), pg_try_advisory_lock(7)").fetchone() == (
                True, True)  # fmt: skip
        run_sql(store, "SELECT set_config('search_path', 'nowhere', false), set_config('work_mem', '64kB', false)")
        assert run_sql(store, "SELECT current_setting('search_path'), current_setting('work_mem')").rows != [
            ("nowhere", "64kB")]  # fmt: skip
        assert run_sql(store, "SELECT current_setting('default_transaction_read_only')").rows == [("on",)]
        assert run_sql(store, "SELECT count(*) FROM spans").rows == [(7,)]


@pytest.mark.postgres
@pytest.mark.usefixtures("without_function_denylist")
def test_postgres_budget_holds_when_the_query_lifts_its_statement_timeout(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A query that sets ``statement_timeout`` to 0 is still stopped at the budget (the client-side watchdog);
    when the budget runs out while counting the rest, the fetched rows come back with ``more_exact=False``;
    the CLI warns once on stderr (never stdout) that the role is a superuser."""
    settings = Settings.load(environ={}, database=postgres_url, sweep_interval=0)
    build_sample(settings)
    with open_store(postgres_url) as store:
        with pytest.raises(SqlTimeout):
            run_sql(store, "SELECT pg_sleep(30), set_config('statement_timeout', '0', true)", timeout=1)
        lifted = "SELECT set_config('statement_timeout', '0', true) AS a UNION ALL SELECT pg_sleep(30)::text"
        result = run_sql(store, lifted, timeout=1, limit=1)
        assert result.rows == [("0",)] and not result.more_exact
        assert result.more_notice() is not None and "ran out of time" in result.more_notice()  # type: ignore[operator]
        assert run_sql(store, "SELECT count(*) FROM spans").rows == [(7,)]
    capsys.readouterr()
    assert main(["sql", "SELECT 1 AS one", "--database", postgres_url, "--csv"]) == 0
    out, err = capsys.readouterr()
    assert out == "one\n1\n" and "superuser" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "query",
    [
        "SELECT length(printf('%.*c', 2000000000, 'x'))",
        "SELECT length(format('%!.2000000000c', 'x'))",
        "SELECT length(printf('%d%.*c', 1, 2000000000, 'x'))",
        "SELECT length(printf('%.*c', '2000000000', 'x'))",
    ],
)
def test_sqlite_printf_cannot_loop_past_the_budget(db_path: Path, query: str) -> None:
    """printf()/format() with a width or precision past the value limit (one call SQLite would loop in for
    half a minute, out of the progress handler's reach) is refused; ordinary printf keeps working."""
    build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    with open_store(db_path) as store:
        with pytest.raises(SqlRefused, match=r"^refused: printf\(\): "):
            run_sql(store, query, timeout=1)
        ordinary = "SELECT printf('%.2f|%5d|%%|%s', 3.14159, 42, 'a'), format('%q', 'it''s'), printf(NULL)"
        assert run_sql(store, ordinary).rows == [("3.14|   42|%|a", "it''s", None)]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT length(zeroblob(100000000))",
        "SELECT length(randomblob(100000000))",
        "SELECT length(replace(hex(zeroblob(8000000)), '0', 'aaaa'))",
        "SELECT length(group_concat(hex(zeroblob(1000000)))) FROM (WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) SELECT x FROM c)",
    ],
)
def test_sqlite_values_are_capped_by_the_length_limit(db_path: Path, query: str) -> None:
    """zeroblob, randomblob, replace and group_concat cannot build a value past the 16 MiB length limit."""
    build_sample(Settings.load(environ={}, database=str(db_path), sweep_interval=0))
    with open_store(db_path) as store, pytest.raises(SqlError, match=r"^SQLite: string or blob too big$"):
        run_sql(store, query, timeout=30)


WRITES = [
    ("DELETE FROM spans", "DELETE spans"),
    ("update spans set name = 'x'", "UPDATE spans"),
    ("UPDATE traces SET root_name = 'x'", "UPDATE traces"),
    ("delete from logs", "DELETE logs"),
    ("INSERT INTO spans (name) VALUES ('x')", "INSERT spans"),
    ("DELETE FROM lens_spans", "DELETE lens_spans"),
    ("UPDATE lens_spans SET name = 'x'", "UPDATE lens_spans"),
]


def test_every_write_attempt_gets_the_same_refusal(settings: Settings, sample: Sample) -> None:
    """A write to a view (``delete from spans``) is refused with the same words as a write to a table (on
    SQLite it was "SQLite: cannot modify spans because it is a view"), on both backends: ``refused: VERB
    [name] — otel-lens sql only reads (…)``; SQLite names the view or table."""
    with open_store(settings.database) as store:
        for query, what in WRITES:
            with pytest.raises(SqlRefused) as caught:
                run_sql(store, query)
            verb, name = what.split()
            assert re.fullmatch(rf"refused: {verb}( {name})? — otel-lens sql only reads \(.+\)", str(caught.value))
            if settings.database.endswith(".db"):
                assert str(caught.value) == f"refused: {what} — otel-lens sql only reads (SELECT, WITH, EXPLAIN)"


def test_running_spans_view_has_the_state_the_read_api_gives(settings: Settings) -> None:
    """``running_spans`` lists the spans stored running (an ended child is not there) with ``state`` as the read
    API decides it: ``running`` while the writer beats, ``abandoned`` once it shut down leaving the span open;
    its "so far" duration and the writer's host come along; a span's ending removes it from the view."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from otel_lens import RunningSpanProcessor
    from otel_lens.export import LensSpanExporter

    query = "SELECT name, state, service, duration_so_far_ms >= 0, host IS NOT NULL, trace_id FROM running_spans"
    exporter = LensSpanExporter(settings)
    running = RunningSpanProcessor(exporter, interval_s=3600)  # checked by hand
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(running)
    tracer = provider.get_tracer("t")
    agent = tracer.start_span("agent")
    tracer.start_span("tool", context=trace.set_span_in_context(agent)).end()
    other = tracer.start_span("other")
    assert running.check(everything=True) == 2
    other.end()
    with open_store(settings.database) as store:
        ((name, state, service, so_far, host, trace_id),) = run_sql(store, query).rows
        assert (name, state, service, so_far, host) == ("agent", "running", "svc", 1, 1)
        assert {s.name: s.state for s in store.trace(trace_id).spans}["agent"] == state
    running.shutdown()  # the writer stops with the span still open: abandoned
    exporter.shutdown()
    with open_store(settings.database) as store:
        ((name, state, *_rest, trace_id),) = run_sql(store, query).rows
        assert (name, state) == ("agent", "abandoned")
        assert {s.name: s.state for s in store.trace(trace_id).spans}["agent"] == state
