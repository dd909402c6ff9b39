"""The ``otel-lens`` command: read stored traces and logs; every failure is one line on stderr, never a traceback.

The commands live in :mod:`otel_lens.cli.commands` (one module each); this module parses, runs the
chosen command's ``run`` and turns whatever it raises into an exit code and one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from otel_lens.cli._errors import error_text, write_error
from otel_lens.cli._parser import build_parser
from otel_lens.query import AmbiguousTraceId, StoreError, TraceNotFound

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otel-lens`` with ``argv`` (default: the process arguments); returns the exit code.

    Usage errors (a bad ``--since`` or ``--limit``) exit 2 with argparse's message naming the flag.
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except (StoreError, TraceNotFound, AmbiguousTraceId, ValueError) as exc:
        write_error(error_text(exc))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`otel-lens logs | head`): stop quietly, and keep Python's exit flush quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:  # never a traceback: one line saying what failed
        write_error(f"unexpected {type(exc).__name__}: {exc}")
    return EXIT_ERROR
