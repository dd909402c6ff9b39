"""An MCP server on stdio, built with the official ``mcp`` SDK and traced by otel-lens.

stdout belongs to the protocol: the MCP client reads every line of it as JSON-RPC, so one stray
line breaks the session. otel-lens never writes there: ``Logger`` prints to stderr, spans and logs
go to the database (``OTEL_EXPORTER_LENS_DATABASE``, else the default path). Each tool call is a
``lens_fn`` span under the SDK's own ``tools/call`` server span.

Needs ``pip install '.[mcp]'`` (``otel-lens[mcp]`` once published). Connect any MCP client to
``python examples/mcp_stdio.py``, e.g. the SDK's ``mcp.client.stdio.stdio_client`` (as
``tests/test_real_mcp_stdio.py`` does); then ``otel-lens traces`` shows the calls.
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from otel_lens import Logger, configure, lens_fn

log = Logger("mcp.example")
server = MCPServer("otel-lens-example", version="1.0")


@server.tool()
@lens_fn("tool.add")
def add(a: float, b: float) -> float:
    """Add two numbers."""
    log.info("adding %s and %s", a, b)
    return a + b


@server.tool()
@lens_fn("tool.divide")
def divide(a: float, b: float) -> float:
    """Divide a by b (b = 0 is a tool error: the client gets the message, the span records the exception)."""
    if b == 0:
        log.warning("refusing to divide %s by zero", a)
        raise ToolError("cannot divide by zero")
    return a / b


@server.tool()
@lens_fn("tool.word_count")
async def word_count(text: str) -> int:
    """Count the words of a text (an async tool: its span covers the await)."""
    await asyncio.sleep(0)
    count = len(text.split())
    log.info("counted %d words", count)
    return count


def main() -> None:
    lens = configure(service_name="mcp-stdio")
    try:
        server.run("stdio")  # returns when the client closes stdin
    finally:
        lens.shutdown()


if __name__ == "__main__":
    main()
