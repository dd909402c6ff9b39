"""Run every ``benchmarks/bench_*.py`` in turn as its own process: ``python benchmarks/run.py [NAME-FILTER ...]``.

Each benchmark streams its own table to stdout. A filter keeps the benchmarks whose name contains
it (``nox -s bench -- export`` runs ``bench_export.py`` only). The exit status is non-zero only when
a benchmark crashed; a missed goal is reported in the tables, never as a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    filters = [a for a in argv if not a.startswith("-")]
    found = sorted(_HERE.glob("bench_*.py"))
    chosen = [p for p in found if not filters or any(f in p.stem for f in filters)]
    if not chosen:
        names = ", ".join(p.stem for p in found) or "none"
        print(f"run.py: no benchmark matches {' '.join(filters)!r} (available: {names})", file=sys.stderr)
        return 2
    crashed: list[str] = []
    for path in chosen:
        print(f"\n### {path.stem}", flush=True)
        started = time.monotonic()
        # stdout and stderr are inherited, so the benchmark's output streams as it runs.
        code = subprocess.call([sys.executable, str(path)], cwd=_HERE.parent)
        print(
            f"### {path.stem}: {'ok' if code == 0 else f'CRASHED (exit {code})'} in {time.monotonic() - started:.0f}s",
            flush=True,
        )
        if code != 0:
            crashed.append(path.stem)
    if crashed:
        print(f"\nrun.py: crashed: {', '.join(crashed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
