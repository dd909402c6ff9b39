"""A stdio JSON-RPC server (the MCP transport) traced by otel-lens: stdout carries only protocol messages.

Every request is a span, logs go to stderr and the store, and nothing otel-lens does touches stdout.
Run it: ``echo '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}' | python examples/mcp_stdio.py``
"""

from __future__ import annotations

import json
import sys
from typing import Any

from otel_lens import Logger, configure, lens_fn

log = Logger("mcp")


@lens_fn("tool.add")
def add(a: float, b: float) -> float:
    log.info("adding %s and %s", a, b)
    return a + b


@lens_fn("rpc.handle")
def handle(request: dict[str, Any]) -> dict[str, Any]:
    method, params = request.get("method"), request.get("params") or []
    if method == "add":
        return {"jsonrpc": "2.0", "id": request.get("id"), "result": add(*params)}
    log.warning("unknown method %s", method)
    return {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32601, "message": "method not found"}}


def main() -> None:
    lens = configure(service_name="mcp-stdio")
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps(handle(json.loads(line))) + "\n")
            sys.stdout.flush()
    lens.shutdown()


if __name__ == "__main__":
    main()
