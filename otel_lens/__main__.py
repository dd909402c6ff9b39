"""``python -m otel_lens``: the ``otel-lens`` command."""

from __future__ import annotations

from otel_lens.cli import main

raise SystemExit(main())
