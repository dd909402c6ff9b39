"""The ``otel-lens`` sub-commands in the one-module form (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""

from __future__ import annotations

from types import ModuleType

from otel_lens.cli.commands import diff, mcp, serve, sql

MODULE_COMMANDS: tuple[ModuleType, ...] = (sql, diff, mcp, serve)
MODULE_COMMAND_NAMES = {module.NAME: module for module in MODULE_COMMANDS}
