"""A FastAPI app traced by otel-lens: server spans, named route spans, function spans and logs.

Needs FastAPI and uvicorn (``pip install fastapi uvicorn``; the test extra ``.[dev]`` has both).
Run it: ``uvicorn examples.fastapi_app:app`` (or ``python examples/fastapi_app.py``), then
``curl 'localhost:8000/grep?q=fox'``, ``curl localhost:8000/docs/0`` and ``curl localhost:8000/docs/1``,
and ``otel-lens traces`` / ``otel-lens stats``: the server spans are named by route template
(``GET /docs/{doc_id}`` with ``http.route``, one stats row for both ids). Running it under
``opentelemetry-instrument`` with the FastAPI instrumentation installed as well still gives one server
span per request: ``instrument_asgi`` then only adds redaction and body capture inside OpenTelemetry's.
Under ``opentelemetry-instrument`` the SDK's providers exist before this module runs, so they name the
service: set ``OTEL_SERVICE_NAME=fastapi-example`` there (``configure(service_name=…)`` never renames a
service the application's providers already named, and says so once).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException

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


@app.get("/docs/{doc_id}")
@lens_route("GET /docs/{doc_id}")
async def document(doc_id: int) -> dict[str, Any]:
    if not 0 <= doc_id < len(DOCUMENTS):
        raise HTTPException(status_code=404, detail="no such document")
    return {"id": doc_id, "text": DOCUMENTS[doc_id]}


instrument_asgi(app)  # in place; calling it again changes nothing

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_level="warning")
