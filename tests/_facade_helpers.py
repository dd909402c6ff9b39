"""Test helpers for the facade: a uvicorn server in a thread, stored rows (OTel globals: ``otel_lens.testing``)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from otel_lens.store.codec import loads
from otel_lens.testing import otel_globals_restored

__all__ = ["bodies", "free_port", "logs", "otel_globals_restored", "raw_bytes", "serve_in_thread", "spans"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free loopback port (httpx's ``serve_in_thread``); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def spans(db_path: Path) -> list[dict[str, Any]]:
    """Every stored span as a dict with hex ids and decoded attributes/events, oldest first."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            "SELECT t.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.status_code, s.status_message, "
            "s.attributes, s.events FROM lens_spans s JOIN lens_traces t ON t.id = s.trace_row ORDER BY s.start_ns"
        ).fetchall()
    return [
        {
            "trace_id": r[0].hex(),
            "span_id": r[1].hex(),
            "parent_span_id": r[2].hex() if r[2] else None,
            "name": r[3],
            "kind": r[4],
            "status_code": r[5],
            "status_message": r[6],
            "attributes": loads(r[7]) or {},
            "events": loads(r[8]) or [],
        }
        for r in rows
    ]


def logs(db_path: Path) -> list[dict[str, Any]]:
    """Every stored log record with hex ids and decoded body/attributes, oldest first."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            "SELECT l.severity_text, l.body, l.attributes, l.trace_id, l.span_id, s.name FROM lens_logs l "
            "JOIN lens_scopes s ON s.id = l.scope_id ORDER BY l.timestamp_ns"
        ).fetchall()
    return [
        {
            "severity_text": r[0],
            "body": loads(r[1]),
            "attributes": loads(r[2]) or {},
            "trace_id": r[3].hex() if r[3] else None,
            "span_id": r[4].hex() if r[4] else None,
            "logger": r[5],
        }
        for r in rows
    ]


def bodies(db_path: Path) -> dict[str, dict[str, Any]]:
    """Stored bodies by ``sha256:<hex>`` reference, with their decoded text."""
    from otel_lens.export.bodies import decode_body

    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            "SELECT digest, size, encoding, content_type, content, last_seen_ns FROM lens_bodies"
        ).fetchall()
    return {
        f"sha256:{r[0].hex()}": {
            "size": r[1],
            "encoding": r[2],
            "content_type": r[3],
            "text": decode_body(r[2], r[4]).decode("utf-8", "replace"),
            "last_seen_ns": r[5],
        }
        for r in rows
    }


def raw_bytes(db_path: Path) -> bytes:
    """The database file and its -wal, as bytes (to prove a secret is nowhere on disk)."""
    data = b""
    for suffix in ("", "-wal"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            data += path.read_bytes()
    return data
