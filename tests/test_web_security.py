"""The viewer's security rules (RELIABILITY 23 and 28) against a real ``otel-lens serve``: loopback by
default, the Host check, the token (Bearer, ?token= → HttpOnly cookie), no CORS, a CSP without inline
script, read-only methods, and a store whose bytes no request changes."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._web import Viewer, build_demo, serve

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-security") / "lens.db"
    build_demo(str(path))
    return path


@pytest.fixture(scope="module")
def open_viewer(database: Path) -> Iterator[Viewer]:
    with serve(database) as running:
        yield running


@pytest.fixture(scope="module")
def token_viewer(database: Path) -> Iterator[Viewer]:
    with serve(database, "--token", TOKEN) as running:
        yield running


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_binds_loopback_by_default(open_viewer: Viewer) -> None:
    """Without --host the viewer listens on 127.0.0.1 only, and says so in the URL it prints."""
    assert open_viewer.url.startswith("http://127.0.0.1:")
    port = int(open_viewer.url.rsplit(":", 1)[1])
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    local_addresses = [line.split()[3] for line in listening.stdout.splitlines() if line.strip()]
    assert local_addresses == [f"127.0.0.1:{port}"]


def test_a_non_loopback_bind_without_a_token_refuses_to_start(database: Path) -> None:
    """--host 0.0.0.0 with no token exits non-zero with one line saying why, before listening."""
    result = subprocess.run(
        [sys.executable, "-m", "otel_lens", "serve", "--host", "0.0.0.0", "--port", "0", "--database", str(database)],
        capture_output=True, text=True, timeout=60, env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "refusing to serve on 0.0.0.0 without a token" in result.stderr and "--token" in result.stderr


def test_a_non_loopback_bind_with_the_token_from_the_environment_serves(database: Path) -> None:
    """OTEL_EXPORTER_LENS_TOKEN is the token of a 0.0.0.0 bind; any Host name reaches it, the token is still needed."""
    with serve(database, "--host", "0.0.0.0", env={"OTEL_EXPORTER_LENS_TOKEN": TOKEN}) as running:
        assert f"?token={TOKEN}" in running.printed
        with running.client() as client:
            assert client.get("/api/traces", headers={"host": "my-laptop.lan"}).status_code == 401
            answer = client.get("/api/traces", headers={"host": "my-laptop.lan", "authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil"])
def test_foreign_host_headers_are_refused(open_viewer: Viewer, host: str) -> None:
    """A DNS name rebound to 127.0.0.1 carries its own Host header: refused (403), pages and API alike."""
    with open_viewer.client() as client:
        for path in ("/", "/api/traces", "/api/live"):
            response = client.get(path, headers={"host": host})
            assert response.status_code == 403, (path, host)
            assert "traces" not in response.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:7318", "[::1]:9"])
def test_loopback_host_headers_are_served(open_viewer: Viewer, host: str) -> None:
    with open_viewer.client() as client:
        assert client.get("/api/traces", headers={"host": host}).status_code == 200


def test_a_token_is_required_everywhere_once_given(token_viewer: Viewer) -> None:
    """With a token, even on loopback: no or a wrong token is 401 revealing nothing; Bearer works."""
    with token_viewer.client() as client:
        for path in ("/", "/logs", "/api/traces", "/api/traces/ffff", "/api/live", "/api/stats"):
            for headers in (
                {},
                {"authorization": "Bearer wrong"},
                {"cookie": f"otel_lens_token_{_port(token_viewer)}=wrong"},
            ):
                response = client.get(path, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert "POST /checkout" not in response.text and "ffff" not in response.text
        assert client.get("/api/traces?token=wrong").status_code == 401
        good = client.get("/api/traces", headers={"authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200 and good.json()["traces"]
        assert client.get(f"/api/traces?token={TOKEN}").status_code == 200  # scripts may pass it in the query too


def _port(viewer: Viewer) -> int:
    return int(viewer.url.rsplit(":", 1)[1])


def test_a_browser_token_becomes_an_httponly_cookie_and_leaves_the_url(token_viewer: Viewer) -> None:
    """?token= on a page sets an HttpOnly, SameSite=Strict cookie and redirects to the URL without the token."""
    with token_viewer.client() as client:
        first = client.get(f"/logs?level=error&token={TOKEN}")
        assert first.status_code == 303
        assert first.headers["location"] == "/logs?level=error"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"otel_lens_token_{_port(token_viewer)}={TOKEN}")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get("/logs?level=error").status_code == 200  # the cookie jar now carries it
        assert client.get("/api/logs").status_code == 200
    with token_viewer.client() as fresh:
        login = fresh.get("/")
        assert login.status_code == 401 and '<input type="password" name="token"' in login.text


def test_no_cors_headers_and_no_preflight(open_viewer: Viewer) -> None:
    """A page on another origin gets no Access-Control-* header (its reads stay opaque) and no preflight passes."""
    with open_viewer.client() as client:
        origin = {"origin": "https://evil.example"}
        for path in ("/api/traces", "/api/stats", "/"):
            response = client.get(path, headers=origin)
            assert not [h for h in response.headers if h.lower().startswith("access-control-")]
        preflight = client.options("/api/traces", headers={**origin, "access-control-request-method": "GET"})
        assert preflight.status_code == 405
        assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


def test_security_headers_forbid_inline_script(open_viewer: Viewer) -> None:
    """Every answer carries a CSP allowing only the viewer's own scripts (no inline), nosniff and no framing."""
    with open_viewer.client() as client:
        for path in ("/", "/api/traces", "/static/app.css", "/nowhere"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in csp
            assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_viewer_never_writes(open_viewer: Viewer, database: Path, method: str) -> None:
    """Writing methods are refused (405) on every route, and no request changes the store's bytes or files."""
    before = _digest(database)
    files = sorted(p.name for p in database.parent.iterdir())
    with open_viewer.client() as client:
        for path in ("/api/traces", "/api/logs", "/", "/api/traces/ffff", "/v1/traces"):
            # /v1/traces is the OTLP receiver's: it takes POST, but only of an OTLP content type (415 here).
            expected = 415 if (path, method) == ("/v1/traces", "POST") else 405
            assert client.request(method, path, content=b"{}").status_code == expected
        for path in ("/api/traces", "/api/logs", "/api/stats", "/api/usage?series=1", "/"):
            assert client.get(path).status_code == 200
    assert _digest(database) == before
    assert sorted(p.name for p in database.parent.iterdir()) == files  # not even a -wal or -shm


@pytest.mark.parametrize("token", ["has space", "semi;colon", 'quo"te'])
def test_a_token_a_cookie_or_url_would_mangle_is_refused(database: Path, token: str) -> None:
    """A token with characters a URL, cookie or header would need to escape is refused at start, in one line."""
    result = subprocess.run(
        [sys.executable, "-m", "otel_lens", "serve", "--port", "0", "--token", token, "--database", str(database)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.startswith("otel-lens: error: the token may only hold letters") and result.stderr.count("\n") == 1
    )


def test_a_taken_port_is_one_line(database: Path) -> None:
    """serve on a port already in use exits 1 with one line naming the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "otel_lens", "serve", "--port", str(port), "--database", str(database)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"otel-lens: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_without_the_web_extra_serve_says_how_to_install_it(database: Path) -> None:
    """With starlette or uvicorn missing, serve prints the one line saying pip install 'otel-lens[web]'."""
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.modules['starlette'] = None\n"
        "from otel_lens.cli import main\n"
        f"sys.exit(main(['serve', '--database', {str(database)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == "otel-lens: error: otel-lens serve needs the web extra: pip install 'otel-lens[web]'\n"


def test_a_token_with_plus_slash_equals_works_from_the_printed_url(database: Path) -> None:
    """``--token 'abc+def/x='``: the printed URL percent-encodes it (a raw "+" reads as a space) and opening it works."""
    token = "abc+def/x="
    with serve(database, "--token", token) as running:
        assert "?token=abc%2Bdef%2Fx%3D" in running.printed, running.printed
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            page = client.get(running.printed)
            assert page.status_code == 200, page.text
            assert client.get(running.url + "/api/traces").status_code == 200  # the cookie holds the exact token


@pytest.mark.parametrize("path", ["//evil.example/", "///evil.example/x", "/\\evil.example/"])
def test_the_token_swap_never_redirects_to_another_host(token_viewer: Viewer, path: str) -> None:
    """``GET //evil.example/?token=T`` redirects to a path on this viewer, never a scheme-relative ``//host`` URL."""
    connection = http.client.HTTPConnection("127.0.0.1", _port(token_viewer), timeout=30)
    try:
        connection.request("GET", f"{path}?token={TOKEN}")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 303
    location = response.getheader("location") or ""
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
