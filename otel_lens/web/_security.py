"""The viewer's guard, in front of every route: Host check, token, read-only methods, and the security headers.

What it defends (RELIABILITY 23 and 28): a page on another origin must not read the viewer (no CORS
header is ever sent, so browsers keep cross-origin reads opaque), must not reach it through a DNS name
rebound to 127.0.0.1 (the Host header must be the bound name or a loopback name), and must not make it
write (only GET and HEAD are served; the store handle is read-only anyway). The one exception is the OTLP
receiver, when one is given: its ``POST /v1/*`` routes pass the Host check here (a refused Host answered in OTLP's error form, through
the receiver's ``refuse``), then check the token
(Bearer only: no cookie, so no page can post with the viewer's credentials) and everything else themselves. When a token is set, every
request needs it, loopback included: ``Authorization: Bearer …`` for API clients, or ``?token=`` once in
a browser, which the viewer swaps for an HttpOnly cookie and drops from the URL.
"""

from __future__ import annotations

import hmac
import ipaddress
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http.cookies import SimpleCookie
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
# No inline script or style anywhere: a stored span name that slipped into the HTML still could not run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # a ?token= URL never leaks through a Referer
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_PUBLIC_PREFIX = "/static/"  # the package's own CSS and modules: no stored data, needed by the token form


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only listens on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name part of a Host header (``[::1]:7318`` → ``::1``, ``Example.COM:80`` → ``example.com``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware enforcing the rules above; ``host`` is the bound address, ``port`` names the cookie."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        token: str | None,
        otlp: ASGIApp | None = None,
        otlp_prefix: str = "/v1/",
    ) -> None:
        self.app = app
        self.otlp = otlp  # the OTLP receiver: the one writer, after the Host check; it checks its own token and methods
        self.otlp_prefix = otlp_prefix
        self.token = token or None
        self.cookie = f"otel_lens_token_{port}"  # cookies are not port-scoped: two viewers must not clash
        bound = host.strip().strip("[]").lower()
        # A wildcard bind answers to whatever name reaches it; it always has a token (serve refuses otherwise).
        self.hosts: frozenset[str] | None = None if bound in WILDCARD_HOSTS else LOOPBACK_NAMES | {bound}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path: str = scope.get("path", "/")
        api = path.startswith("/api/")

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(h for h in message.get("headers", []) if not h[0].lower().startswith(b"access-control-")),
                    *_HEADERS,
                ]
            await send(message)

        otlp = self.otlp is not None and path.startswith(self.otlp_prefix)
        if self.hosts is not None and _host_name(headers.get("host", "")) not in self.hosts:
            refuse = getattr(self.otlp, "refuse", None) if otlp else None
            if refuse is not None:  # an OTLP exporter reads a google.rpc.Status in its own encoding, not text
                await refuse(
                    scope, secured, 403, "the OTLP receiver does not answer to that Host name (DNS rebinding guard)"
                )
            else:
                await _answer(secured, 403, "this viewer does not answer to that Host name (DNS rebinding guard)", api)
            return
        if otlp and self.otlp is not None:
            await self.otlp(scope, receive, secured)  # answers in OTLP's own format (a google.rpc.Status on errors)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            # The viewer only reads: no form, preflight or script can make it change anything.
            await _answer(secured, 405, "the viewer is read-only: only GET and HEAD", api, [(b"allow", b"GET, HEAD")])
            return
        if self.token is not None and not path.startswith(_PUBLIC_PREFIX):
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [None])[-1]
            if given is not None and self._matches(given) and not api:
                await self._swap_for_cookie(secured, path, query, given)
                return
            if not (self._matches(given) or self._matches(_bearer(headers)) or self._matches(self._cookie(headers))):
                if api:
                    await _answer(secured, 401, "unauthorized: send the viewer's token", True,
                                  [(b"www-authenticate", b'Bearer realm="otel-lens"')])  # fmt: skip
                else:
                    await _send(secured, 401, _TOKEN_FORM, b"text/html; charset=utf-8")
                return
        await self.app(scope, receive, secured)

    def _matches(self, given: str | None) -> bool:
        return given is not None and self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def _cookie(self, headers: dict[str, str]) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token
            return None
        morsel = jar.get(self.cookie)
        return None if morsel is None else morsel.value

    async def _swap_for_cookie(self, send: Send, path: str, query: dict[str, list[str]], token: str) -> None:
        """``?token=`` in a browser: set the HttpOnly cookie and send it to the same URL without the token."""
        rest = urllib.parse.urlencode([(k, v) for k, values in query.items() if k != "token" for v in values])
        # One leading slash: "//evil.example/" (or "/\\evil.example/") as a Location is another host to a browser.
        location = "/" + path.lstrip("/\\") + (f"?{rest}" if rest else "")
        cookie = f"{self.cookie}={token}; HttpOnly; SameSite=Strict; Path=/"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode()), (b"set-cookie", cookie.encode()),
                                (b"content-length", b"0")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


async def _answer(send: Send, status: int, message: str, api: bool, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    if api:
        await _send(send, status, orjson.dumps({"error": message}), b"application/json", extra)
    else:
        await _send(send, status, message.encode() + b"\n", b"text/plain; charset=utf-8", extra)


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_TOKEN_FORM = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>otel-lens: token needed</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="login"><h1>otel-lens</h1>
<p>This viewer needs its token (the one given to <code>otel-lens serve --token</code> or
<code>OTEL_EXPORTER_LENS_TOKEN</code>).</p>
<form method="get"><label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Open</button></form></main></body></html>
"""
