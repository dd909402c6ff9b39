"""The app the running-span tests watch: a ``configure()``d child with one long ``lens_fn`` span, and the CLI.

``start_app`` starts it; it writes ``started`` in its control directory once the long span runs, and ends
it when the test writes ``finish`` there (or is killed); ``more`` there makes it run one more step
(``late_step``) first. Mode ``open-at-exit`` instead exits normally
while a daemon thread still has a span open.

The steps every such process goes through (the zero-code one of ``test_running_distro.py`` too, which
keeps the same control files and span shape) are here once: ``wait_running``, then ``end_run``,
``kill_9_abandons`` or ``sigterm_abandons_at_once``, inside ``reaped`` so no child outlives its test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests._reliability import PROCESS_TIMEOUT_S, child_env, finish, start_python, wait_until, write_script

APP = """
    import sys, threading, time
    from pathlib import Path

    from opentelemetry import trace

    import otel_lens
    from otel_lens import lens_fn

    lens = otel_lens.configure(database=sys.argv[1], service_name="runner")
    control = Path(sys.argv[2])
    mode = sys.argv[3]

    @lens_fn
    def step(i):
        return i

    @lens_fn(name="late_step")
    def late_step():
        return 0

    @lens_fn(name="agent_run")
    def agent_run():
        trace.get_current_span().set_attributes({
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-test",
            "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3,
        })
        for i in range(3):
            step(i)
        (control / "started").write_text("1")
        late = False
        while not (control / "finish").exists():  # the test says when the run is over (or kills us)
            if not late and (control / "more").exists():  # a step while a page watches the run
                late_step()
                late = True
            time.sleep(0.02)

    if mode == "open-at-exit":
        def forever():
            with trace.get_tracer("app").start_as_current_span("never_ends"):
                (control / "started").write_text("1")
                time.sleep(3600)
        threading.Thread(target=forever, daemon=True).start()
        while not (control / "started").exists():
            time.sleep(0.01)
    else:
        agent_run()
"""

# The bound after which a silent writer's running spans read as abandoned (max(3 x 1 s interval, 10 s)),
# plus generous room for a loaded machine.
ABANDON_TIMEOUT_S = 90.0


def cli(database: str, *args: str) -> Any:
    """``otel-lens <args> --json`` in its own process; the parsed JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "otel_lens", *args, "--database", database, "--json"],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        env=child_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_app(tmp_path: Path, database: str, mode: str = "run") -> tuple[subprocess.Popen[str], Path]:
    control = tmp_path / "control"
    control.mkdir()
    script = write_script(tmp_path, "app.py", APP)
    return start_python(script, database, control, mode, env=child_env()), control


def running_trace(database: str) -> dict[str, Any] | None:
    found = cli(database, "traces", "--running")
    return found[0] if found else None


def spans_by_name(database: str, trace_id: str) -> dict[str, dict[str, Any]]:
    spans = cli(database, "show", trace_id)["spans"]
    assert len({s["span_id"] for s in spans}) == len(spans), "a span is listed twice"
    return {s["name"]: s for s in spans}


def wait_running(database: str, process: subprocess.Popen[str], control: Path) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []
    wait_until(lambda: (control / "started").exists() or process.poll() is not None, what="the app to start")

    def running() -> bool:
        assert process.poll() is None, process.communicate()[1]
        found = running_trace(database)
        if found is not None:
            seen.append(found)
        return found is not None

    wait_until(running, PROCESS_TIMEOUT_S, "the long span to be stored as running")
    return seen[-1]


@contextlib.contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[None]:
    """Around the steps that drive ``process``: kill it if they leave it running (a failed assertion)."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()


def end_run(process: subprocess.Popen[str], control: Path) -> tuple[int, str, str]:
    """Let the long span end (``finish`` in the control directory); the exit code, stdout and stderr."""
    (control / "finish").write_text("1")
    return finish(process)


def kill_9_abandons(database: str, process: subprocess.Popen[str], control: Path) -> dict[str, Any]:
    """``kill -9`` once the long span is listed running; returns that listing once the trace reads abandoned
    (past the heartbeat bound, decided by the reader) and nothing is listed running."""
    try:
        listed = wait_running(database, process, control)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=PROCESS_TIMEOUT_S)

    def abandoned() -> bool:
        return bool(cli(database, "traces")[0]["state"] == "abandoned")

    wait_until(abandoned, ABANDON_TIMEOUT_S, "the killed process's running span to read as abandoned")
    assert cli(database, "traces", "--running") == []
    return listed


def sigterm_abandons_at_once(database: str, process: subprocess.Popen[str], control: Path) -> None:
    """SIGTERM once the long span is listed running: the process dies by the signal (its handler flushed
    first), and the trace reads abandoned right away with its three finished steps counted."""
    with reaped(process):
        listed = wait_running(database, process, control)
        process.send_signal(signal.SIGTERM)
        code, _, err = finish(process)
        assert code == -signal.SIGTERM, err
    (trace,) = cli(database, "traces")
    assert (trace["trace_id"], trace["state"], trace["span_count"]) == (listed["trace_id"], "abandoned", 3)
