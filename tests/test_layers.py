"""Data flows one way (ARCHITECTURE.md, "Import rules"): each layer imports only the layers below it.

Read off the source with ``ast`` (every ``import``, including ones inside functions), so a shortcut
such as the read side importing the write path fails here instead of growing unseen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import otel_lens

PACKAGE = Path(otel_lens.__file__).parent

FORBIDDEN = {
    # The store is the bottom: it accepts rows (store/rows.py) and never knows who made them or who reads.
    "store": ("otel_lens.export", "otel_lens.facade", "otel_lens.query", "otel_lens.cli", "otel_lens.web",
              "otel_lens.mcp", "otel_lens.distro"),
    # The write path's encoders and exporters: never the facade above them, never the read side.
    "export": ("otel_lens.facade", "otel_lens.query", "otel_lens.cli", "otel_lens.web", "otel_lens.mcp"),
    # The read API reads the store; it never imports the write path or what is built on it.
    "query": ("otel_lens.export", "otel_lens.facade", "otel_lens.cli", "otel_lens.web", "otel_lens.mcp",
              "otel_lens.distro"),
    # The readers (CLI, web viewer, MCP server) read through otel_lens.query, never the write path.
    "web": ("otel_lens.export", "otel_lens.facade", "otel_lens.cli", "otel_lens.mcp", "otel_lens.distro"),
    "mcp": ("otel_lens.export", "otel_lens.facade", "otel_lens.cli", "otel_lens.web", "otel_lens.distro"),
    "cli": ("otel_lens.export", "otel_lens.facade", "otel_lens.store", "otel_lens.distro"),
    # The OTLP receiver is a write path beside the exporters: adapter → builder → store, never the readers.
    "receiver": ("otel_lens.facade", "otel_lens.query", "otel_lens.cli", "otel_lens.web", "otel_lens.mcp",
                 "otel_lens.distro"),
}  # fmt: skip
EXCEPTIONS = {
    # `otel-lens import` is a writer by nature: it stores OTLP/JSON lines through the write path's package
    # (its adapter, row builder and store), never the write path's modules.
    "cli/commands/import_.py": ("otel_lens.export",),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    """No module of ``otel_lens.<layer>`` imports a layer that depends on it (the arrows point one way)."""
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"otel_lens/{layer} has no modules"
    offenders = sorted(
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
        and name not in EXCEPTIONS.get(str(path.relative_to(PACKAGE)), ())
    )
    assert offenders == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The reading is not vacuous: an upward import written the ways the package writes them is found."""
    module = tmp_path / "m.py"
    module.write_text("from otel_lens.export.encode import x\n\ndef f():\n    import otel_lens.facade\n")
    assert _imports(module) == {"otel_lens.export.encode", "otel_lens.facade"}
