"""A FastAPI app traced by otel-lens: server spans, named route spans, function spans and logs.

Run it: ``uvicorn examples.fastapi_app:app`` (or ``python examples/fastapi_app.py``), then
``curl 'localhost:8000/grep?q=fox'`` and ``otel-lens traces``.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from otel_lens import Logger, configure, instrument_asgi, lens_fn, lens_route

configure(service_name="fastapi-example")
log = Logger("fastapi_app")
DOCUMENTS = ["the quick brown fox", "jumps over the lazy dog"]

app = FastAPI()


@lens_fn("engine.grep")
def grep(term: str) -> list[str]:
    found = [d for d in DOCUMENTS if term in d]
    log.info("grep %r: %d hits", term, len(found))
    return found


@app.get("/grep")
@lens_route("GET /grep")
async def grep_endpoint(q: str) -> dict[str, Any]:
    return {"query": q, "found": grep(q)}


instrument_asgi(app)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_level="warning")
