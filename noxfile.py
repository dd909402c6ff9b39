"""Developer tasks: ``nox -s tests`` (the whole suite), ``lint``, ``typecheck``, ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, PostgreSQL tests included when the server binaries are installed."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", "otel_lens", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "otel_lens", "tests", "benchmarks", "examples", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "otel_lens", "tests/typing")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks with ratios against baselines measured in the same run (never part of the tests)."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/run.py", *session.posargs)
