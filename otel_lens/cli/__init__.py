"""The ``otel-lens`` command: read stored traces and logs; every failure is one line on stderr, never a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from otel_lens.cli._commands import COMMANDS
from otel_lens.cli._parser import build_parser
from otel_lens.cli._wait import wait_for_store
from otel_lens.cli.commands import serve
from otel_lens.query.errors import AmbiguousTraceId, TraceNotFound
from otel_lens.query.store import open_store
from otel_lens.store.errors import StoreError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otel-lens`` with ``argv`` (default: the process arguments); returns the exit code.

    Usage errors (a bad ``--since`` or ``--limit``) exit 2 with argparse's message naming the flag.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == serve.NAME:  # opens the store itself, lazily: it may start before anything is stored
            return serve.run(args)
        # logs --follow may start before the application stored anything: it waits for the database.
        store = wait_for_store(args.database) if getattr(args, "follow", False) else open_store(args.database)
        with store:
            return COMMANDS[args.command](store, args)
    except (StoreError, TraceNotFound, AmbiguousTraceId, ValueError) as exc:
        _fail(str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`otel-lens logs | head`): stop quietly, and keep Python's exit flush quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # never a traceback: one line saying what failed
        _fail(f"unexpected {type(exc).__name__}: {exc}")
    return EXIT_ERROR


def _fail(message: str) -> None:
    text = " ".join(message.split())
    sys.stderr.write(f"otel-lens: error: {text}\n")
