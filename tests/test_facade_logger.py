"""Logger: stdlib-compatible, stderr text or JSON lines, stored with trace/span ids, never stdout (RELIABILITY 25)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace

from otel_lens import Lens, Logger, configure
from tests._facade_helpers import logs, otel_globals_restored


@pytest.fixture(autouse=True)
def _logger_tree_restored() -> Iterator[None]:
    """Logger(name) adopts the stdlib logger of that name: undo it, so other tests' plain loggers stay plain."""
    manager = logging.Logger.manager
    before = {
        name: (type(obj), obj.level) for name, obj in manager.loggerDict.items() if isinstance(obj, logging.Logger)
    }
    yield
    for name, obj in list(manager.loggerDict.items()):
        if not isinstance(obj, logging.Logger):
            continue
        if name not in before:
            del manager.loggerDict[name]
        elif type(obj) is not before[name][0]:
            obj.__class__, obj.level = before[name]
    manager._clear_cache()


@pytest.fixture
def lens(db_path: Path) -> Iterator[Lens]:
    with otel_globals_restored():
        yield configure(database=str(db_path), sweep_interval=0)


def test_text_lines_on_stderr_with_trace_prefix(lens: Lens, capsys: pytest.CaptureFixture[str]) -> None:
    """Text format: ``HH:MM:SS.mmm INF [trace8] message``; no bracket outside a span; %-args and extras."""
    log = Logger("app")
    log.info("outside %s", "span")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        log.warning("inside %d", 7, extra={"user": "ann"})
    out, err = capsys.readouterr()
    assert out == ""
    first, second = err.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} INF outside span", first)
    trace8 = f"{span.get_span_context().trace_id:032x}"[:8]
    assert re.fullmatch(rf"\d\d:\d\d:\d\d\.\d{{3}} WRN \[{trace8}\] inside 7 user=ann", second)


def test_json_lines(db_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """OTEL_EXPORTER_LENS_LOG_FORMAT=json: one object per line with the contract's keys."""
    monkeypatch.setenv("OTEL_EXPORTER_LENS_LOG_FORMAT", "json")
    with otel_globals_restored():
        configure(database=str(db_path), sweep_interval=0)
        with trace.get_tracer("t").start_as_current_span("s") as span:
            Logger("svc").error("failed %s", "job")
    out, err = capsys.readouterr()
    assert out == ""
    line = json.loads(err)
    assert {"timestamp", "level", "message", "logger", "trace_id", "span_id"} <= set(line)
    assert line["message"] == "failed job" and line["level"] == "ERROR" and line["logger"] == "svc"
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_records_are_stored_with_ids_and_exceptions(
    lens: Lens, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records reach the store with trace/span ids, severities, extras and exception details."""
    log = Logger("store.test")
    with trace.get_tracer("t").start_as_current_span("s") as span:
        log.debug("hidden at INFO")
        log.info("kept", extra={"order": 12})
        try:
            raise ValueError("bad value")
        except ValueError:
            log.exception("caught")
    log.critical("no span")
    lens.force_flush()
    stored = logs(db_path)
    assert [entry["body"] for entry in stored] == ["kept", "caught", "no span"]
    assert [entry["severity_text"] for entry in stored] == ["INFO", "ERROR", "FATAL"]  # OTel severity text
    assert stored[0]["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert stored[0]["attributes"]["order"] == 12 and stored[0]["logger"] == "store.test"
    assert stored[1]["attributes"]["exception.type"] == "ValueError"
    assert stored[2]["span_id"] is None
    assert "ValueError: bad value" in capsys.readouterr().err


def test_warn_is_warning_without_a_deprecation_warning(lens: Lens, capsys: pytest.CaptureFixture[str]) -> None:
    """``warn`` works like ``warning`` (the stdlib's own emits a DeprecationWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Logger("w").warn("careful")
    assert " WRN careful" in capsys.readouterr().err


def test_logger_records_are_not_stored_twice(lens: Lens, db_path: Path) -> None:
    """With stdlib routing on, a Logger record is stored once (the root's store handler is skipped for it)."""
    Logger("once").info("single")
    lens.force_flush()
    assert [entry["body"] for entry in logs(db_path)] == ["single"]


def _run_app(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90, env=env)


_LINE = r"\d\d:\d\d:\d\d\.\d{3} "


def test_logger_is_the_stdlib_logger_and_dict_config_levels_reach_it(tmp_path: Path) -> None:
    """Smaller ones: ``Logger(name) is logging.getLogger(name)``, so dictConfig levels set after (or before) it
    apply; a level configured before it is kept; the text format and stderr-only output stay."""
    db = tmp_path / "lens.db"
    result = _run_app(
        tmp_path,
        f"""
        import logging, logging.config
        from otel_lens import Logger, configure
        logging.getLogger("configured.first").setLevel(logging.ERROR)
        lens = configure(database={str(db)!r}, sweep_interval=0)
        log = Logger("app.api")
        assert log is logging.getLogger("app.api") and isinstance(log, Logger)
        log.debug("hidden: INFO is the default level")
        assert log.getEffectiveLevel() == logging.INFO
        # The default is the Logger's own: its parent and its stdlib children keep the root's WARNING.
        assert logging.getLogger("app").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("app.api.child").getEffectiveLevel() == logging.WARNING
        logging.config.dictConfig({{
            "version": 1, "disable_existing_loggers": False,
            "loggers": {{"app.api": {{"level": "DEBUG"}}}},
        }})
        log.debug("shown: dictConfig said DEBUG")
        logging.config.dictConfig({{
            "version": 1, "disable_existing_loggers": False,
            "loggers": {{"app.api": {{"level": "ERROR"}}}},
        }})
        log.warning("hidden: dictConfig said ERROR")
        log.error("shown: an error")
        early = Logger("configured.first")
        early.warning("hidden: configured ERROR before Logger() was called")
        early.error("shown: early error")
        logging.setLoggerClass(Logger)  # every new logger an otel-lens one: works, without recursing
        made = logging.getLogger("via.logger.class")
        assert isinstance(made, Logger) and Logger("via.logger.class") is made
        made.info("shown: made by the logging manager")
        assert lens.force_flush()
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 4, lines
    assert re.fullmatch(_LINE + "DBG shown: dictConfig said DEBUG", lines[0])
    assert re.fullmatch(_LINE + "ERR shown: an error", lines[1])
    assert re.fullmatch(_LINE + "ERR shown: early error", lines[2])
    assert re.fullmatch(_LINE + "INF shown: made by the logging manager", lines[3])
    assert [entry["body"] for entry in logs(db)] == [
        "shown: dictConfig said DEBUG",
        "shown: an error",
        "shown: early error",
        "shown: made by the logging manager",
    ]


def test_root_console_handler_does_not_print_logger_lines_twice(tmp_path: Path) -> None:
    """With the app's own root StreamHandler (basicConfig) and a root FileHandler, a Logger record is printed
    once, in otel-lens's format, and stored once; the file handler still gets it; a stdlib child logger's
    records go through the app's handlers as before."""
    db = tmp_path / "lens.db"
    result = _run_app(
        tmp_path,
        f"""
        import logging
        from opentelemetry import trace
        from otel_lens import Logger, configure
        logging.basicConfig(level=logging.INFO, format="ROOT %(name)s %(message)s")
        file_handler = logging.FileHandler({str(tmp_path / "app.log")!r})
        file_handler.setFormatter(logging.Formatter("FILE %(name)s %(message)s"))
        logging.getLogger().addHandler(file_handler)
        lens = configure(database={str(db)!r}, sweep_interval=0)
        log = Logger("app")
        with trace.get_tracer("t").start_as_current_span("work"):
            log.info("from Logger")
            logging.getLogger("app.db").warning("from a stdlib child")
        assert lens.force_flush()
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(_LINE + r"INF \[[0-9a-f]{8}\] from Logger", lines[0])
    assert lines[1] == "ROOT app.db from a stdlib child"
    assert (tmp_path / "app.log").read_text().splitlines() == [
        "FILE app from Logger",
        "FILE app.db from a stdlib child",
    ]
    stored = logs(db)
    assert sorted(entry["body"] for entry in stored) == ["from Logger", "from a stdlib child"]
    assert all(entry["trace_id"] is not None for entry in stored)


def test_logger_stores_once_under_opentelemetry_instrument(tmp_path: Path) -> None:
    """Real stack: under ``opentelemetry-instrument`` with the otel-lens distro (whose logging bridge sits on the
    root logger), a Logger record is stored once and printed once."""
    db = tmp_path / "lens.db"
    script = tmp_path / "app.py"
    script.write_text(
        "from opentelemetry import _logs\n"
        "from otel_lens import Logger\n"
        "Logger('zerocode').warning('once only')\n"
        "_logs.get_logger_provider().force_flush()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_LENS_DATABASE"] = str(db)
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(instrument), sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "once only" in line] != []
    assert len([line for line in result.stderr.splitlines() if "once only" in line]) == 1, result.stderr
    assert [entry["body"] for entry in logs(db) if entry["logger"] == "zerocode"] == ["once only"]


def test_logger_and_set_logger_class_never_deadlock_two_threads() -> None:
    """With logging.setLoggerClass(Logger), one thread in Logger("a") and another making a logger through
    logging.getLogger (which holds logging's module lock while it calls Logger) both finish: otel-lens takes
    logging's own lock, never a second one in the opposite order. (In a subprocess: a deadlock would also
    hang logging for the rest of this process.)"""
    script = textwrap.dedent(
        """
        import logging, os, threading, time
        from otel_lens import Logger

        logging.setLoggerClass(Logger)
        made = {}
        manager_holds = threading.Event()

        def through_get_logger():
            with logging._lock:  # what logging.getLogger holds while its manager makes a new logger
                manager_holds.set()
                time.sleep(0.2)  # let the other thread enter Logger("deadlock.a") meanwhile
                made["b"] = logging.getLogger("deadlock.b")

        def through_logger():
            manager_holds.wait(10)
            made["a"] = Logger("deadlock.a")

        threads = [threading.Thread(target=f, daemon=True) for f in (through_get_logger, through_logger)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        alive = any(thread.is_alive() for thread in threads)
        print("deadlocked" if alive else sorted((k, type(v).__name__) for k, v in made.items()), flush=True)
        os._exit(0)  # a deadlocked thread would also hang the interpreter's exit
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[('a', 'Logger'), ('b', 'Logger')]", (done.stdout, done.stderr[-2000:])
