"""Storing what is still queued when the process ends: on SIGTERM, and when a uvicorn server shuts down.

A process ended by SIGTERM's default action runs no atexit handler, so whatever a batch processor
still holds is lost. ``configure()`` and the ``opentelemetry-instrument`` distro both register what
they need flushed here; one SIGTERM handler runs it all, bounded, then dies of SIGTERM as before
(the exit status the process manager expects).

Servers change the picture: uvicorn installs its own handler while it serves, shuts down
gracefully, restores the previous handler and re-raises the signal, so a handler installed before
it started still runs. A gunicorn ``UvicornWorker`` resets its signals to the default action before
serving, so there the re-raised SIGTERM kills the worker with nothing run: the distro therefore also
flushes when uvicorn's ``Server.shutdown`` returns (every uvicorn mode, with or without a lifespan).
Gunicorn's other workers end with ``sys.exit``, where the SDK's own atexit shutdown stores what is left.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import _logs, trace

SIGTERM_FLUSH_S = 10.0  # what a SIGTERM waits for queued data to be stored before the process ends
_at_sigterm: list[
    Callable[[], None]
] = []  # run in order, in one thread that the handler waits for at most SIGTERM_FLUSH_S


def flush_on_sigterm(callback: Callable[[], None]) -> None:
    """Run ``callback`` when SIGTERM ends the process (then die of SIGTERM as before); idempotent per callback.

    The handler is installed only from the main thread and only when nothing else handles SIGTERM:
    an application's own handler stays in charge (it usually exits normally, and atexit then runs).
    """
    if callback not in _at_sigterm:
        _at_sigterm.append(callback)
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # e.g. an embedded interpreter without signals
        return


def _on_sigterm(signum: int, frame: object) -> None:
    # In a thread, bounded: the signal may have interrupted the main thread while it held a lock that
    # flushing needs, and a handler that blocks would make the process ignore SIGTERM.
    try:
        worker = threading.Thread(target=_run_callbacks, name="otel-lens-sigterm", daemon=True)
        worker.start()
        worker.join(SIGTERM_FLUSH_S)
    except RuntimeError:  # no thread to be had (a thread limit, interpreter shutdown): still die of SIGTERM
        pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _run_callbacks() -> None:
    for callback in list(_at_sigterm):
        with contextlib.suppress(Exception):  # one failing flush must not keep the others from running
            callback()


def flush_providers(timeout_s: float = SIGTERM_FLUSH_S) -> None:
    """Force-flush the global tracer and logger providers within ``timeout_s``; never raises.

    This reaches every processor on them, including the batch processors the SDK's configurator built
    under ``opentelemetry-instrument`` (otel-lens holds no reference to those).
    """
    deadline = time.monotonic() + timeout_s
    for provider in (trace.get_tracer_provider(), _logs.get_logger_provider()):
        flush = getattr(provider, "force_flush", None)
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if flush is None or remaining_ms <= 0:
            continue
        with contextlib.suppress(Exception):  # a provider's failing flush must not break the exit
            flush(remaining_ms)


def flush_after_uvicorn_shutdown(module: ModuleType) -> None:
    """Patch ``uvicorn.server.Server.shutdown`` to flush the providers once the server has shut down.

    Called when ``uvicorn.server`` is imported. By then every request has ended (connections closed,
    lifespan shut down), and the re-raised SIGTERM that may follow cannot lose anything.
    """
    from otel_lens.facade._lifespan import flush_telemetry

    server = getattr(module, "Server", None)
    original = getattr(server, "shutdown", None)
    if server is None or original is None or getattr(original, "_otel_lens", False):
        return

    @functools.wraps(original)
    async def shutdown(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            await original(self, *args, **kwargs)
        finally:
            await flush_telemetry()

    shutdown._otel_lens = True  # type: ignore[attr-defined]
    server.shutdown = shutdown
