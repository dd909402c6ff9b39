"""The CLI's shape: one module per command, one registry, one dispatcher, one error line; layers import packages."""

from __future__ import annotations

import argparse
import ast
import keyword
import pkgutil
import re
from pathlib import Path

import pytest

import otel_lens
from otel_lens import cli, facade, query
from otel_lens.cli import commands
from otel_lens.cli._errors import error_text
from otel_lens.cli._parser import build_parser

PACKAGE = Path(otel_lens.__file__).parent


def test_every_command_module_is_registered_and_complete() -> None:
    """Each module of ``cli/commands/`` is in ``COMMANDS`` once, named after its file, with a one-line HELP,
    and the parser offers exactly those sub-commands, each dispatching to its module's ``run``."""
    # A command named by a Python keyword lives in a module with a trailing underscore (import → import_.py).
    files = sorted(info.name.removesuffix("_") for info in pkgutil.iter_modules(commands.__path__))
    names = [command.NAME for command in commands.COMMANDS]
    assert sorted(names) == files and len(set(names)) == len(names)
    for command in commands.COMMANDS:
        module = command.NAME + "_" if keyword.iskeyword(command.NAME) else command.NAME
        assert command.__name__ == f"otel_lens.cli.commands.{module}"  # type: ignore[attr-defined]
        assert command.HELP and "\n" not in command.HELP
        assert callable(command.add_arguments) and callable(command.run)
    parser = build_parser()
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert list(sub.choices) == names
    for command in commands.COMMANDS:
        positional = {
            "show": ["abc"],
            "session": ["s-1"],
            "sql": ["SELECT 1"],
            "diff": ["abc", "abd"],
            "import": ["f.jsonl"],
        }
        args = [command.NAME, *positional.get(command.NAME, [])]
        assert parser.parse_args(args).run is command.run


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (ValueError("bad value\n  on a second line\twith a tab"), "bad value on a second line with a tab"),
        (KeyError("no trace abc"), "no trace abc"),  # the message, not repr's quotes
        (RuntimeError(""), "RuntimeError"),  # says nothing: its type does
    ],
)
def test_error_text_is_one_line(exc: BaseException, line: str) -> None:
    """Whatever an exception says becomes one line of text (the dispatcher prints it after ``otel-lens: error:``)."""
    assert error_text(exc) == line


def test_a_failing_command_prints_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A command's failure (no database there) is exit 1 and exactly one ``otel-lens: error:`` line naming it."""
    missing = tmp_path / "nothing.db"
    assert cli.main(["traces", "--database", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("otel-lens: error: ") and "nothing.db" in lines[0]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("package", ["facade", "query", "cli"])
def test_other_layers_use_only_a_package_s_public_names(package: str) -> None:
    """No module outside ``otel_lens.<package>`` imports one of its ``_``-modules: other layers use what its
    ``__init__`` lists in ``__all__`` (each name of which exists)."""
    module = {"facade": facade, "query": query, "cli": cli}[package]
    assert module.__all__ and all(hasattr(module, name) for name in module.__all__)
    prefix = f"otel_lens.{package}._"
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        if package not in path.relative_to(PACKAGE).parts[:1]
        for name in _imports(path)
        if name.startswith(prefix)
    }
    assert not offenders


def _public_name_of(name: str, package: str | None) -> bool:
    """``name`` is ``package`` or a name in it, not one of its private modules."""
    return package is not None and (name == package or (name.startswith(package + ".") and "._" not in name))


def test_the_cli_reads_only_through_otel_lens_query() -> None:
    """The CLI imports the read path's package, never its modules nor the write side (``store``, ``export``).

    ``serve`` and ``mcp`` start the other two readers (the web viewer, the MCP server) by their packages'
    public names; those read through ``otel_lens.query`` themselves. ``serve`` also starts the OTLP receiver
    (``otel_lens.receiver``, by its public names): the one writer, a server of its own, not a CLI write."""
    allowed = ("otel_lens.cli", "otel_lens.query", "otel_lens._units", "otel_lens._keys", "otel_lens.settings")
    front_ends = ("otel_lens.web", "otel_lens.mcp", "otel_lens.receiver")
    writers = {"cli/commands/import_.py": "otel_lens.export"}  # `import` stores OTLP/JSON: the write path's package
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in (PACKAGE / "cli").rglob("*.py")
        for name in _imports(path)
        if (
            name.startswith("otel_lens")
            and not _public_name_of(name, writers.get(str(path.relative_to(PACKAGE))))
            and not any(name == a or name.startswith(a + ".") for a in allowed)
            and not any(name == f or (name.startswith(f + ".") and "._" not in name) for f in front_ends)
        )
        or (name.startswith("otel_lens.query.") and name.removeprefix("otel_lens.query.") not in query.__all__)
    }
    assert not offenders


def test_the_top_help_describes_what_the_tool_does_now() -> None:
    """``otel-lens --help`` names no command that does not exist (the old text offered ``tail`` and
    ``summarize``), every command it quotes exists, and it says that ``serve`` also receives OTLP and writes."""
    description = " ".join((build_parser().description or "").split())
    names = {command.NAME for command in commands.COMMANDS}
    quoted = set(re.findall(r"`([a-z]+)`", description))
    assert quoted and quoted <= names
    assert "tail" not in description and "summarize" not in description
    assert "`serve` runs the web viewer and also receives OTLP" in description and "writes" in description
    assert all(word in description for word in ("SQL", "sessions", "import", "usage", "prune"))
