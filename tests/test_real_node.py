"""A real Node.js service exporting to ``otel-lens serve``: the official OpenTelemetry JS SDK, no otel-lens code.

tests/node/ pins ``@opentelemetry/sdk-trace-node``, ``@opentelemetry/exporter-trace-otlp-proto`` and
``@opentelemetry/resources`` (package-lock.json); ``npm ci`` installs them once into a cache directory outside
the repository (``$OTEL_LENS_NODE_CACHE``, else ``~/.cache/otel-lens``), keyed by the lock file's digest, so
later runs reuse it. The script (tests/node/script.js) makes a parent and a child span with attributes, an
event and an error status, and exports them with the OTLP/HTTP protobuf exporter to
``OTEL_EXPORTER_OTLP_ENDPOINT``: what ``show --json`` returns must be those spans, with the Node resource's
``service.name``. Skipped only when node or npm is missing (``.ci/run`` installs them, so CI never skips).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._receiver import lens, serving

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The directory holding script.js and its installed node_modules (installed once per lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the Node.js client test needs node and npm (.ci/run installs them: apt-get install nodejs npm)")
    lock = (NODE_DIR / "package-lock.json").read_bytes()
    root = Path(os.environ.get("OTEL_LENS_NODE_CACHE") or Path.home() / ".cache" / "otel-lens")
    target = root / f"node-client-{hashlib.sha256(lock).hexdigest()[:16]}"
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / "node-client.lock"):  # parallel runs install once, and never see a half-done install
        if not (target / "node_modules" / ".package-lock.json").exists():
            staging = root / f"{target.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            for name in ("package.json", "package-lock.json"):
                shutil.copy(NODE_DIR / name, staging / name)
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=staging, capture_output=True,
                                  text=True, timeout=900, check=False)  # fmt: skip
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    shutil.copy(NODE_DIR / "script.js", target / "script.js")  # always the checkout's script
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_node(client: Path, endpoint: str, token: str | None = None) -> dict[str, str]:
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    if token:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = f"Authorization=Bearer%20{token}"
    done = subprocess.run(["node", "script.js"], cwd=client, env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # the SDK's diag logger prints export failures there
    ids: dict[str, str] = json.loads(done.stdout)
    return ids


@pytest.mark.parametrize("token", [None, "n0de-t0ken"])
def test_a_node_service_appears_in_traces_and_show(node_client: Path, tmp_path: Path, token: str | None) -> None:
    """The Node SDK's spans arrive through OTLP/HTTP protobuf (with serve's token when it has one): the parent
    and child with their names, kinds, parent link, attributes, event and error status, the resource's
    service.name/version and the tracer's scope; the trace is listed with service node-checkout."""
    database = tmp_path / "lens.db"
    with serving(database, *(["--token", token] if token else [])) as served:
        ids = _run_node(node_client, served.otlp, token)
        shown = lens(database, "show", ids["trace_id"])
        listed = lens(database, "traces")
    spans = {span["name"]: span for span in shown["spans"]}
    assert set(spans) == {"POST /checkout", "charge card"}
    parent, child = spans["POST /checkout"], spans["charge card"]
    assert (parent["span_id"], parent["parent_span_id"], parent["kind"]) == (ids["parent_span_id"], None, "SERVER")
    assert (child["span_id"], child["parent_span_id"], child["kind"]) == (ids["child_span_id"], ids["parent_span_id"],
                                                                          "CLIENT")  # fmt: skip
    assert parent["attributes"] == {"http.request.method": "POST", "http.route": "/checkout",
                                    "http.response.status_code": 201}  # fmt: skip
    assert child["attributes"] == {"payment.provider": "acme", "payment.amount_cents": 1299, "payment.retry": False}
    assert [(e["name"], e["attributes"]) for e in child["events"]] == [
        ("card.authorized", {"auth.code": "A1B2", "auth.attempt": 1})
    ]
    assert child["status"] == {"code": "ERROR", "message": "card declined on first try"}
    for span in (parent, child):
        assert span["resource"]["service.name"] == "node-checkout"
        assert span["resource"]["service.version"] == "3.1.4"
        assert (span["scope"]["name"], span["scope"]["version"]) == ("node-checkout.handlers", "3.1.4")
        assert span["start_time_unix_nano"] <= span["end_time_unix_nano"]
    (summary,) = [t for t in listed if t["trace_id"] == ids["trace_id"]]
    assert (summary["service"], summary["root_name"], summary["span_count"], summary["error_count"]) == (
        "node-checkout", "POST /checkout", 2, 1
    )  # fmt: skip
