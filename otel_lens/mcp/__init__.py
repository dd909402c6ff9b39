"""The MCP server of otel-lens (``otel-lens mcp``; extra ``mcp``): tools an agent uses to read a store.

Importing this package needs the ``mcp`` SDK; ``otel_lens.cli`` imports it only when ``otel-lens mcp`` runs.
"""

from __future__ import annotations

from otel_lens.mcp._server import INSTRUCTIONS, build_server, serve_stdio

__all__ = ["INSTRUCTIONS", "build_server", "serve_stdio"]
