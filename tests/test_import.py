"""`otel-lens import`: OTLP/JSON lines into the store, and `export` → `import` → `export` giving the same bytes.

Real parts only: spans and logs from the real SDK through LensSpanExporter / LensLogExporter into a real
SQLite file (and a real PostgreSQL database), files written by `otel-lens export` and by the official
OTLP JSON file exporters (``opentelemetry-exporter-otlp-json-file``), read back by `otel-lens import` and
`otel-lens export`/`show --json` through the CLI's entry point (a subprocess where stdin is the input).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.json.file import FileSpanExporter
from opentelemetry.exporter.otlp.json.file._log_exporter import FileLogExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import ReadableSpan

from otel_lens.cli import main
from otel_lens.export import LensLogExporter, LensSpanExporter
from otel_lens.settings import Settings
from tests._otlp_records import ROOT_TRACE, UNUSUAL_TRACE, sdk_logs, sdk_spans, unusual_requests
from tests._postgres import PostgresServer


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh databases of one backend: where the data is first stored, and the empty one it is imported into."""
    if request.param == "sqlite":
        yield str(tmp_path / "first.db"), str(tmp_path / "second.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    first, second = server.create_database(), server.create_database()
    yield first, second
    server.drop_database(first)
    server.drop_database(second)


def _store_sdk_records(database: str, spans: list[ReadableSpan] | None = None,
                       logs: list[ReadableLogRecord] | None = None) -> None:  # fmt: skip
    """Real SDK spans and logs (made now unless given) stored by the in-process exporters."""
    settings = Settings.load(environ={}, database=database, sweep_interval=0)
    span_exporter, log_exporter = LensSpanExporter(settings), LensLogExporter(settings)
    span_exporter.export(sdk_spans() if spans is None else spans)
    log_exporter.export(sdk_logs() if logs is None else logs)
    span_exporter.shutdown()
    log_exporter.shutdown()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _export(capsys: pytest.CaptureFixture[str], database: str) -> str:
    code, out, err = _cli(capsys, "export", "--signal", "all", "--database", database)
    assert code == 0, err
    return out


def _write(path: Path, lines: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_export_import_export_gives_the_same_bytes(
    two_databases: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spans covering every field (tracestate, flags, dropped counts, events, links with flags and tracestate,
    all kinds and statuses, attribute values of every type), logs of every body shape, resources and scopes
    with schema URLs and scope attributes, and requests with what no SDK sends (nested maps, NaN, tag-named
    keys, out-of-range times): exported, imported into an empty database and exported again, byte for byte."""
    first, second = two_databases
    _store_sdk_records(first)
    code, _, err = _cli(
        capsys, "import", str(_write(tmp_path / "unusual.jsonl", unusual_requests())), "--database", first
    )
    assert code == 0, err
    exported = _export(capsys, first)
    (tmp_path / "exported.jsonl").write_text(exported)
    code, out, err = _cli(capsys, "import", str(tmp_path / "exported.jsonl"), "--database", second)
    assert (code, err) == (0, "")
    assert out.startswith("imported 9 spans (9 new) and 10 log records (10 new) from 5 lines into ")
    assert _export(capsys, second) == exported
    # What the bytes carry (so equal bytes are not equally empty): the fields this test is about.
    lines = [orjson.loads(line) for line in exported.splitlines()]
    text = exported
    for wanted in ('"traceState":"vendor=v1,other=o-2"', '"droppedLinksCount":1', '"schemaUrl":"https://opentelemetry',
                   '"key":"scope.kind"', '"eventName":"disk.warning"', '"key":"$int"', '"doubleValue":"NaN"'):  # fmt: skip
        assert wanted in text, wanted
    assert [next(iter(line)) for line in lines] == ["resourceSpans"] * 4 + ["resourceLogs"]


def test_a_tag_named_attribute_survives_storing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A span whose only attribute is named like a store tag (``$int`` = "12") and a log body map {"$int": "3"}
    read back as given (they were read back as the numbers 12 and 3, and the span's attributes were lost)."""
    database = str(tmp_path / "tags.db")
    code, _, err = _cli(capsys, "import", str(_write(tmp_path / "u.jsonl", unusual_requests())), "--database", database)
    assert code == 0, err
    code, out, err = _cli(capsys, "show", UNUSUAL_TRACE, "--json", "--database", database)
    assert code == 0, err
    shown = orjson.loads(out)
    by_name = {span["name"]: span for span in shown["spans"]}
    assert by_name["one tag-named attribute"]["attributes"] == {"$int": "12"}
    assert by_name["unusual"]["attributes"]["looks.tagged"] == {"$bytes": "AAE="}
    code, out, err = _cli(capsys, "logs", "--json", "--database", database)
    assert {"$int": "3"} in [record["body"] for record in orjson.loads(out)]


def test_importing_twice_stores_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second import of the same lines stores nothing new (spans keyed by ids, log records by content): the
    summary says 0 new, and the export is unchanged."""
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    _store_sdk_records(first)
    exported = tmp_path / "exported.jsonl"
    exported.write_text(_export(capsys, first))
    summaries = []
    for _ in range(2):
        code, out, err = _cli(capsys, "import", str(exported), "--database", second, "--json")
        assert (code, err) == (0, "")
        summaries.append(orjson.loads(out))
    assert [(s["spans"], s["spans_stored"], s["logs"], s["logs_stored"]) for s in summaries] == [
        (7, 7, 6, 6),
        (7, 0, 6, 0),
    ]
    assert _export(capsys, second) == exported.read_text()


def test_the_official_json_file_exporters_output_stores_what_the_lens_exporters_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files written by the official OTLP JSON file exporters (FileSpanExporter, FileLogExporter) import into
    exactly the records LensSpanExporter / LensLogExporter store for the same SDK spans and logs."""
    spans, logs = sdk_spans(), sdk_logs()
    span_file, log_file = tmp_path / "spans.jsonl", tmp_path / "logs.jsonl"
    span_exporter, log_exporter = FileSpanExporter(span_file), FileLogExporter(log_file)
    for half in (spans[:3], spans[3:]):  # two export calls: two lines
        span_exporter.export(half)
    log_exporter.export(logs)
    span_exporter.shutdown()
    log_exporter.shutdown()
    assert len(span_file.read_text().splitlines()) == 2
    imported, direct = str(tmp_path / "imported.db"), str(tmp_path / "direct.db")
    code, out, err = _cli(capsys, "import", str(span_file), str(log_file), "--database", imported)
    assert (code, err) == (0, "") and "7 spans (7 new) and 6 log records (6 new) from 3 lines" in out
    _store_sdk_records(direct, spans, logs)
    from_file, from_lens = _export(capsys, imported), _export(capsys, direct)
    assert from_file != from_lens  # the two things the SDK's encoders leave out, and nothing else:
    assert _as_the_sdk_encodes(from_lens) == _as_the_sdk_encodes(from_file) == _as_the_sdk_encodes(from_file, True)


def _as_the_sdk_encodes(exported: str, check_absent: bool = False) -> list[object]:
    """The export with the W3C trace flags (the low byte of span and link flags) and link tracestate taken out:
    the SDK's OTLP encoders do not write them (the OTLP spec has them; otel-lens keeps them)."""
    lines = [orjson.loads(line) for line in exported.splitlines()]
    for line in lines:
        for group in line.get("resourceSpans", []):
            for scope in group["scopeSpans"]:
                for span in scope["spans"]:
                    assert not check_absent or span["flags"] & 0xFF == 0
                    span["flags"] &= ~0xFF
                    for link in span["links"]:
                        assert not check_absent or ("traceState" not in link and link["flags"] & 0xFF == 0)
                        link.pop("traceState", None)
                        link["flags"] &= ~0xFF
    return lines


def test_bad_lines_are_named_by_file_and_line_and_the_rest_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid JSON, a JSON array, a metrics request, a wrong shape, spans with bad ids: each a one-line error
    naming file:line and why; blank lines and {} are fine; every good line is stored; exit status 1 and the
    summary says how many lines were not imported."""
    good = orjson.loads(orjson.dumps(unusual_requests()[0]))
    bad_id = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", "spanId": "cd", "name": "x"}]}]}]}
    wrong = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": f"{ROOT_TRACE:032x}", "spanId": "1" * 16,
                                                          "name": ["not", "a", "name"]}]}]}]}  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"{not json\n[1, 2]\n\n{}\n"
        + orjson.dumps({"resourceMetrics": []})
        + b"\n"
        + orjson.dumps(wrong)
        + b"\n"
        + orjson.dumps(bad_id)
        + b"\n"
        + orjson.dumps(good)
        + b"\n"
    )
    database = str(tmp_path / "mixed.db")
    code, out, err = _cli(capsys, "import", str(path), "--database", database)
    assert code == 1
    errors = err.splitlines()
    assert len(errors) == 5 and all(line.startswith(f"otel-lens: error: {path}:") for line in errors), err
    for number, why in (
        (1, "not an OTLP/JSON request: invalid JSON ("),
        (2, "not an OTLP/JSON request: expected a JSON object, got an array"),
        (5, "metrics are not imported (otel-lens stores traces and logs)"),
        (6, "not an OTLP/JSON traces request: resourceSpans[0].scopeSpans[0].spans[0].name: expected a string"),
        (7, "1 spans rejected: 1 with an invalid trace id (2 characters, not 32 hex digits)"),
    ):
        assert any(line.startswith(f"otel-lens: error: {path}:{number}: {why}") for line in errors), (number, err)
    assert out.startswith("imported 2 spans (2 new) and 0 log records (0 new) from 8 lines into ")
    assert out.rstrip().endswith("; 5 lines not imported (1 span or log record rejected)")
    code, out, _ = _cli(capsys, "show", UNUSUAL_TRACE, "--json", "--database", database)
    assert code == 0 and len(orjson.loads(out)["spans"]) == 2


def test_stdin_and_gzip_files_are_read(tmp_path: Path) -> None:
    """`-` reads the lines from stdin (a real `otel-lens` process fed through a pipe) and a *.gz file is read
    decompressed; both in one call, and the lines they share are stored once. A *.gz that is not gzip: one line."""
    lines = b"".join(orjson.dumps(line) + b"\n" for line in unusual_requests())
    compressed = tmp_path / "lines.jsonl.gz"
    with gzip.open(compressed, "wb") as out:
        out.write(lines)
    database = str(tmp_path / "piped.db")
    done = subprocess.run(
        [sys.executable, "-m", "otel_lens", "import", "-", str(compressed), "--database", database, "--json"],
        input=lines, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert (summary["lines"], summary["spans"], summary["spans_stored"], summary["logs_stored"]) == (4, 4, 2, 4)
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_bytes(lines)
    done = subprocess.run([sys.executable, "-m", "otel_lens", "import", str(not_gzip), "--database", database],
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode() == (
        f"otel-lens: error: cannot read {not_gzip}: Not a gzipped file (b'{{\"'); importing it again after fixing "
        "it is safe\n"
    )


def test_a_file_that_cannot_be_read_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file among several: one line naming it, exit 1, and nothing imported (not even the files
    before it; the database is not created)."""
    good = _write(tmp_path / "good.jsonl", unusual_requests())
    database = tmp_path / "never.db"
    code, out, err = _cli(capsys, "import", str(good), str(tmp_path / "missing.jsonl"), "--database", str(database))
    assert (code, out) == (1, "")
    assert (
        err
        == f"otel-lens: error: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory; nothing was imported\n"
    )
    assert not database.exists()


def test_a_database_that_is_not_otel_lens_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing into a file that is not an otel-lens database: one line saying so, exit 1, the file untouched."""
    foreign = tmp_path / "notes.txt"
    foreign.write_bytes(b"not a database at all\n" * 100)
    before = foreign.read_bytes()
    good = _write(tmp_path / "good.jsonl", unusual_requests())
    code, out, err = _cli(capsys, "import", str(good), "--database", str(foreign))
    assert code == 1 and out == "" and err.startswith("otel-lens: error: ") and err.count("\n") == 1, err
    assert foreign.read_bytes() == before
