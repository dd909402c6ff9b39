"""``otel-lens serve``: the local web viewer (extra ``web``); the OTLP receiver half comes later (issue 11)."""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import urllib.parse
import webbrowser

from otel_lens.cli._options import add_database
from otel_lens.query import resolve_database

NAME = "serve"
HELP = "the web viewer: traces, waterfalls, logs, stats and usage in a browser (extra otel-lens[web])"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7318
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
        "--no-otlp",
        action="store_true",
        help="do not receive OTLP (accepted for scripts; the OTLP receiver is not built yet, so serve never receives)",
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; use 0-65535 (0: any free port)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from otel_lens.web import create_app, is_loopback
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
    app = create_app(database, host=host, port=port, token=token)
    shown_host = f"[{host.strip('[]')}]" if ":" in host else host
    shown_host = "127.0.0.1" if shown_host in ("0.0.0.0", "[::]") else shown_host
    # Percent-encoded: in a query string "+" reads as a space, so the printed link would be refused.
    url = f"http://{shown_host}:{port}/" + (f"?token={urllib.parse.quote(token, safe='')}" if token else "")
    sys.stderr.write(f"otel-lens: viewer at {url} (reading {database}; Ctrl+C stops it)\n")
    sys.stderr.flush()
    if args.open:
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


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
