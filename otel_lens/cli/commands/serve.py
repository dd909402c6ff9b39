"""``otel-lens serve``: the local web viewer and the OTLP/HTTP receiver (extra ``web``), in one uvicorn server.

Two listening sockets, one server: the viewer's port (which also answers ``POST /v1/*``) and the OTLP port
(4318 by default, the port every OTLP exporter assumes). SIGTERM or Ctrl+C: uvicorn stops accepting and
finishes the requests in flight, then the receiver writes what it queued and releases the store.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import urllib.parse
import webbrowser
from typing import Any

from otel_lens.cli._options import add_database
from otel_lens.query import DatabaseNotReady, StoreError, open_store, resolve_database

NAME = "serve"
HELP = "the web viewer and an OTLP/HTTP receiver: traces, logs, stats and usage in a browser (extra otel-lens[web])"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7318
DEFAULT_OTLP_PORT = 4318
DEFAULT_GRPC_PORT = 4317  # OTLP/gRPC, with the grpc extra
DEFAULT_OTLP_QUEUE = 100_000  # otel_lens.receiver.DEFAULT_MAX_ROWS (not imported: the receiver loads only when used)
_GRACEFUL_S = 30  # SIGTERM: time for requests in flight (a commit waits ~18 s at worst) before uvicorn cancels them
TOKEN_VARIABLE = "OTEL_EXPORTER_LENS_TOKEN"
EXIT_ERROR = 1
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database(parser)
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"the address to listen on (default {DEFAULT_HOST}: this machine only)"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    parser.add_argument(
        "--token",
        help=f"require this token on every request (default ${TOKEN_VARIABLE}); needed for a non-loopback --host",
    )
    parser.add_argument("--open", action="store_true", help="open the viewer in the default browser")
    parser.add_argument(
        "--otlp-port",
        type=_port,
        default=DEFAULT_OTLP_PORT,
        help=f"the OTLP/HTTP port (default {DEFAULT_OTLP_PORT}; 0 picks a free one); the viewer's port answers OTLP too",
    )
    parser.add_argument(
        "--grpc-port",
        type=_port,
        default=DEFAULT_GRPC_PORT,
        help=f"the OTLP/gRPC port (default {DEFAULT_GRPC_PORT}; 0 picks a free one; needs otel-lens[grpc])",
    )
    parser.add_argument(
        "--otlp-queue",
        type=_count,
        default=DEFAULT_OTLP_QUEUE,
        metavar="N",
        help=f"spans and log records the receiver queues at most before answering 429 (default {DEFAULT_OTLP_QUEUE})",
    )
    parser.add_argument(
        "--no-otlp",
        action="store_true",
        help="do not receive OTLP: no OTLP port, and the viewer's port answers no /v1/* (serve then only reads)",
    )


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count; give a whole number of at least 1")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; use 0-65535 (0: any free port)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from otel_lens.web import create_app, database_label, is_loopback
    except ImportError:
        _fail("otel-lens serve needs the web extra: pip install 'otel-lens[web]'")
        return EXIT_ERROR
    host = str(args.host).strip()
    token = (args.token or os.environ.get(TOKEN_VARIABLE, "")).strip() or None
    if token is not None and not _TOKEN.match(token):
        # It travels in a URL, a cookie and an Authorization header: characters none of them has to escape.
        _fail("the token may only hold letters, digits and - . _ ~ + / = (e.g. from: openssl rand -hex 16)")
        return EXIT_ERROR
    if not is_loopback(host) and token is None:
        _fail(
            f"refusing to serve on {host} without a token: anyone who can reach it could read your traces; "
            f"give --token T (or set {TOKEN_VARIABLE}), or bind 127.0.0.1"
        )
        return EXIT_ERROR
    try:
        sock = _listen(host, args.port)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}")
        return EXIT_ERROR
    port = int(sock.getsockname()[1])
    database = resolve_database(args.database)
    shown_host = f"[{host.strip('[]')}]" if ":" in host else host
    shown_host = "127.0.0.1" if shown_host in ("0.0.0.0", "[::]") else shown_host
    otlp = None if args.no_otlp else _otlp_receiver(database, host, args.otlp_port, token, args.otlp_queue)
    if otlp is not None and not otlp.start_grpc(host, args.grpc_port):
        otlp.close()
        otlp = None
        sock.close()
        return EXIT_ERROR
    if otlp is None and not args.no_otlp:
        sock.close()
        return EXIT_ERROR
    try:
        app = create_app(database, host=host, port=port, token=token, otlp=None if otlp is None else otlp.app)
        # Percent-encoded: in a query string "+" reads as a space, so the printed link would be refused.
        url = f"http://{shown_host}:{port}/" + (f"?token={urllib.parse.quote(token, safe='')}" if token else "")
        shown = database_label(database)  # absolute, as every other message names it; a URL without its password
        sys.stderr.write(f"otel-lens: viewer at {url} (reading {shown}; Ctrl+C stops it)\n")
        unreadable = _unreadable(database)
        if unreadable is not None:
            sys.stderr.write(f"otel-lens: warning: {unreadable} ; the viewer's pages say the same (check --database)\n")
        sockets = [sock]
        if otlp is None:
            sys.stderr.write("otel-lens: OTLP receiver off (--no-otlp): nothing is written to the store\n")
        else:
            sockets.append(otlp.sock)
            app = otlp.by_port(app, port)
            sys.stderr.write(f"otel-lens: OTLP receiver: {otlp.environment(shown_host)} (writing {shown})\n")
            sys.stderr.write(f"otel-lens: {otlp.grpc_line(shown_host)}\n")
        sys.stderr.flush()
        if args.open:
            webbrowser.open(url)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=_GRACEFUL_S
        )
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        if otlp is not None:
            otlp.close()
    return 0


def _unreadable(database: str) -> str | None:
    """Why the store at ``database`` cannot be read, or None: readable, or not created yet (a writer may create it)."""
    try:
        open_store(database).close()
    except DatabaseNotReady:
        return None
    except StoreError as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def _otlp_receiver(database: str, host: str, otlp_port: int, token: str | None, queue: int) -> _Otlp | None:
    """The receiver on its own port, or None after printing why it cannot start."""
    try:
        from otel_lens.receiver import Receiver
        from otel_lens.settings import Settings, SettingsError
    except ImportError:
        _fail("the OTLP receiver needs opentelemetry-proto: pip install 'otel-lens[web]' (or give --no-otlp)")
        return None
    try:
        sock = _listen(host, otlp_port)
    except OSError as exc:
        _fail(f"cannot listen for OTLP on {host}:{otlp_port}: {exc.strerror or exc} (--otlp-port 0 picks a free port)")
        return None
    try:
        receiver = Receiver(Settings.load(database=database), token=token, max_rows=queue)
    except SettingsError as exc:
        sock.close()
        _fail(f"cannot receive OTLP into {database}: {exc} (give --no-otlp to only view)")
        return None
    return _Otlp(receiver, sock, host, token)


class _Otlp:
    """The running receiver: its socket, its app behind the Host guard, and what to tell the user."""

    def __init__(self, receiver: Any, sock: socket.socket, host: str, token: str | None) -> None:
        from otel_lens.web import otlp_guard

        self.receiver = receiver
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.token = token
        self.app = receiver.http
        self.guarded = otlp_guard(receiver.http, host=host, port=self.port)
        self.grpc: Any = None  # the OTLP/gRPC server (extra grpc), stopped before the receiver closes

    def start_grpc(self, host: str, port: int) -> bool:
        """Serve OTLP/gRPC beside OTLP/HTTP when grpcio is installed; False (after one line) when the port is taken."""
        try:
            from otel_lens.receiver import OtlpGrpcServer
        except ImportError:
            return True  # without the grpc extra: serve says so (grpc_line) and goes on with OTLP/HTTP
        server = OtlpGrpcServer(self.receiver.ingest, self.receiver.redactor, token=self.token)
        try:
            server.listen(host, port)
        except OSError as exc:
            server.stop(0)
            _fail(f"{exc} (--grpc-port 0 picks a free port)")
            return False
        self.grpc = server
        return True

    def grpc_line(self, shown_host: str) -> str:
        """What to tell the user about OTLP/gRPC."""
        if self.grpc is None:
            return "OTLP/gRPC off: install otel-lens[grpc] for gRPC (OTLP/HTTP above works without it)"
        line = f"OTLP/gRPC receiver: export with OTEL_EXPORTER_OTLP_ENDPOINT=http://{shown_host}:{self.grpc.port} OTEL_EXPORTER_OTLP_PROTOCOL=grpc"
        if self.token:
            line += f" OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{urllib.parse.quote(self.token, safe='')}"
        return line

    def by_port(self, viewer: Any, viewer_port: int) -> Any:
        """One ASGI app for both sockets: the viewer on its port, the OTLP routes alone on the OTLP port."""
        otlp_app, port = self.guarded, self.port

        receiver = self  # its close() stops gRPC, then writes the receiver's queue

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                await viewer(scope, receive, _closing_first(receiver, send))
                return
            server = scope.get("server") or (None, None)
            target = otlp_app if scope["type"] == "http" and server[1] == port else viewer
            await target(scope, receive, send)

        return app

    def environment(self, shown_host: str) -> str:
        """The variables that point any OTLP exporter here."""
        line = f"export with OTEL_EXPORTER_OTLP_ENDPOINT=http://{shown_host}:{self.port} OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
        if self.token:  # OTLP header values are percent-decoded by the exporters: %20 is the space
            line += f" OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{urllib.parse.quote(self.token, safe='')}"
        return line

    def close(self) -> None:
        if self.grpc is not None:  # first: calls in flight finish into the queue, which the receiver then writes
            self.grpc.stop()
            self.grpc = None
        self.receiver.close()


def _closing_first(receiver: Any, send: Any) -> Any:
    """``send`` for the lifespan, writing the receiver's queue before shutdown completes.

    uvicorn runs the lifespan shutdown after the requests in flight have finished, and re-raises SIGTERM
    right after it: this is the last moment the queue can still be written and the store released.
    """

    async def lifespan_send(message: Any) -> None:
        if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            import anyio.to_thread

            await anyio.to_thread.run_sync(receiver.close)
        await send(message)

    return lifespan_send


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port is one clear line before anything starts."""
    name = host.strip("[]")
    family = socket.AF_INET6 if ":" in name else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((name, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _fail(message: str) -> None:
    sys.stderr.write(f"otel-lens: error: {message}\n")
