"""Duration filters say their unit: ``--min-duration 5`` is refused (ms or s?), ``100ms``/``1.5s`` work, on the
CLI and in the read API alike; a Python number stays seconds. Sizes too: ``prune --max-size 5`` is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from otel_lens import open_store
from otel_lens.cli import main
from otel_lens.settings import Settings, SettingsError
from tests._read_helpers import recorder


@pytest.fixture
def two_traces(sqlite_settings: Settings, db_path: Path) -> Path:
    """A 10 ms trace and a 1.5 s trace."""
    with recorder(sqlite_settings) as rec:
        rec.end(rec.span("svc", "quick", 0, 10))
        rec.end(rec.span("svc", "slow", 100, 1600))
    return db_path


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["traces", "--min-duration", "5"], "--min-duration"),
        (["traces", "--since", "30"], "--since"),
        (["logs", "--since", "1.5"], "--since"),
        (["stats", "--since", "24"], "--since"),
        (["prune", "--max-age", "7"], "--max-age"),
    ],
)
def test_cli_refuses_a_duration_without_unit(
    argv: list[str], flag: str, two_traces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bare number for any duration flag exits 2 with argparse's usage and one error line that names the flag
    and offers the units with the same number; nothing is read or deleted."""
    number = argv[-1]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--database", str(two_traces)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert flag in last and f"{number}ms" in last and f"{number}s" in last and "no unit" in last, err
    assert "Traceback" not in err
    with open_store(two_traces) as store:
        assert len(store.traces()) == 2


def test_prune_refuses_a_size_without_unit_and_keeps_the_data(
    two_traces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``prune --max-size 5`` was read as 5 bytes and emptied the store with no question asked: it exits 2 with
    one error line naming the flag and the units with the same number, and deletes nothing; the read API's
    ``prune(max_size="5")`` (and ``max_age="7"``) is refused the same way, and ``--max-size 5MB`` keeps this
    small store whole."""
    with pytest.raises(SystemExit) as stopped:
        main(["prune", "--max-size", "5", "--database", str(two_traces)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "--max-size" in last and "'5' has no unit" in last and "5MB" in last and "5GiB" in last, err
    with open_store(two_traces) as store:
        with pytest.raises(SettingsError, match=r"max_size='5' has no unit"):
            store.prune(max_age=0, max_size="5")
        with pytest.raises(SettingsError, match=r"max_age='7' has no unit: say which, 7s, 7h or 7d"):
            store.prune(max_age="7", max_size=0)
        assert len(store.traces()) == 2
    assert main(["prune", "--max-age", "0", "--max-size", "5MB", "--database", str(two_traces)]) == 0
    with open_store(two_traces) as store:
        assert len(store.traces()) == 2


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["traces", "--since", "-1h"], "1h"),
        (["traces", "--min-duration", "-5"], "1h"),
        (["sessions", "--until", "-1.5h"], "1.5h"),
        (["prune", "--max-age", "-2d"], "2d"),
        (["prune", "--max-size", "-5MB"], "5MB"),
    ],
)
def test_cli_says_a_value_is_negative(
    argv: list[str], suggestion: str, two_traces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--since -1h`` got argparse's "expected one argument" (as if the value were missing): a value with a
    leading ``-`` reaches the flag's check, which exits 2 saying it is negative and what to write instead;
    nothing is deleted."""
    flag, value = argv[-2:]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--database", str(two_traces)])
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"argument {flag}: {value!r} is negative; use e.g. {suggestion}"), last
    with open_store(two_traces) as store:
        assert len(store.traces()) == 2


def test_cli_durations_with_units_filter_as_written(two_traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``100ms`` and ``1.5s`` mean what they say; ``--max-age 0`` (the same in every unit) stays accepted."""
    assert main(["traces", "--min-duration", "100ms", "--database", str(two_traces)]) == 0
    out = capsys.readouterr().out
    assert "slow" in out and "quick" not in out
    assert main(["traces", "--min-duration", "1.5s", "--database", str(two_traces)]) == 0
    assert "slow" in capsys.readouterr().out
    assert main(["traces", "--min-duration", "1.6s", "--database", str(two_traces)]) == 0
    assert "slow" not in capsys.readouterr().out
    assert main(["prune", "--max-age", "0", "--max-size", "0", "--database", str(two_traces)]) == 0


def test_read_api_min_duration_text_needs_a_unit_numbers_are_seconds(two_traces: Path) -> None:
    """``min_duration="5"`` (and ``since="30"``) raise a one-line ValueError naming the argument and units;
    ``"100ms"`` and the number ``0.1`` (seconds) both keep only the slow trace."""
    with open_store(two_traces) as store:
        with pytest.raises(ValueError, match=r"min_duration='5' has no unit.*5ms, 5s") as caught:
            store.traces(min_duration="5")
        assert "\n" not in str(caught.value)
        with pytest.raises(ValueError, match=r"since='30' has no unit"):
            store.traces(since="30")
        assert [t.root_name for t in store.traces(min_duration="100ms", since=None)] == ["slow"]
        assert [t.root_name for t in store.traces(min_duration=0.1)] == ["slow"]
        assert {t.root_name for t in store.traces(min_duration="0")} == {"quick", "slow"}
