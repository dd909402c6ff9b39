"""docs/REFERENCE.md names the whole public surface as the code has it: a new flag, command, setting or name fails here."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

import otel_lens
from otel_lens import testing
from otel_lens.cli._parser import build_parser
from otel_lens.settings import Settings, SettingsKeywords

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "REFERENCE.md"
TEXT = REFERENCE.read_text()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(sub.choices)


def _section(command: str) -> str:
    """The part of the page under ``### `otel-lens <command>` `` (up to the next heading)."""
    match = re.search(rf"^### `otel-lens {re.escape(command)}`\n(.*?)(?=^#)", TEXT, re.S | re.M)
    assert match, f"docs/REFERENCE.md has no section ### `otel-lens {command}`"
    return match[1]


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string (``--since``, ``-f``) and positional metavar the parser takes, but -h/--help."""
    found = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        found += action.option_strings or [action.metavar or action.dest]
    return found


@pytest.mark.parametrize("command", list(_subcommands()))
def test_every_command_and_each_of_its_flags_is_documented(command: str) -> None:
    """Each sub-command has its section, which names every flag (and positional argument) it takes."""
    section = _section(command)
    missing = [flag for flag in _flags(_subcommands()[command]) if f"`{flag}" not in section]
    assert not missing, f"`otel-lens {command}` flags missing from docs/REFERENCE.md: {missing}"


def test_the_top_level_flags_are_documented() -> None:
    """``--version``, ``--database`` and ``--json`` before the command are described."""
    missing = [flag for flag in _flags(build_parser()) if f"`{flag}" not in TEXT and f"otel-lens {flag}" not in TEXT]
    assert not missing


@pytest.mark.parametrize("module", [otel_lens, testing], ids=["otel_lens", "otel_lens.testing"])
def test_every_exported_name_is_documented(module: object) -> None:
    """Every name of ``otel_lens.__all__`` and ``otel_lens.testing.__all__`` appears on the page."""
    missing = [name for name in module.__all__ if not re.search(rf"`{re.escape(name)}\b", TEXT)]  # type: ignore[attr-defined]
    assert not missing


def test_every_setting_is_documented() -> None:
    """Each ``Settings`` field is a keyword in the settings table, and the keyword TypedDict has exactly those."""
    fields = {field.name for field in dataclasses.fields(Settings)}
    assert set(SettingsKeywords.__annotations__) == fields
    table = TEXT.split("## Settings", 1)[1].split("\n## ", 1)[0]
    assert not [name for name in fields if f"| `{name}` |" not in table]


def test_the_repository_cites_its_own_docs_not_an_outside_contract() -> None:
    """No file of the package or the tests refers to CONTRACT.md, which is not in the repository."""
    root = REFERENCE.parent.parent
    citing = [
        str(path.relative_to(root))
        for folder in ("otel_lens", "tests", "benchmarks", "examples")
        for path in (root / folder).rglob("*.py")
        if "CONTRACT.md" in path.read_text() and path != Path(__file__).resolve()
    ]
    assert not citing
