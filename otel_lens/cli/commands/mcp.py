"""``otel-lens mcp``: serve the store to an MCP client (an agent) on stdin/stdout; logs, if any, on stderr."""

from __future__ import annotations

import argparse

from otel_lens.cli._options import add_database

NAME = "mcp"
HELP = "an MCP server on stdio whose tools read the store (for coding agents; extra otel-lens[mcp])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    parser.description = (
        "Serve list_traces, get_trace, search_logs, latency_stats, token_usage, list_sessions, run_sql and "
        "diff_traces over MCP on stdio. Add it to a client as the command `otel-lens mcp --database PATH`."
    )


def run(args: argparse.Namespace) -> int:
    try:
        from otel_lens.mcp import serve_stdio
    except ImportError as exc:
        raise ValueError(f"otel-lens mcp needs the MCP SDK ({exc}): pip install 'otel-lens[mcp]'") from None
    serve_stdio(args.database)
    return 0
