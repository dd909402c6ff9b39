"""Every ``lens.*`` attribute key otel-lens writes or reads, spelled once.

A leaf module (it imports nothing of otel-lens): the facade sets these keys, the exporters move
bodies out of them, the store keeps them, the query side and the CLI read them back. A key spelled
in two places drifts; spelled here, a rename is one edit.
"""

from __future__ import annotations

# -- captured bodies (facade/_capture.py sets them, export/bodies.py moves them to lens_bodies) -----

BODY_PREFIX = "lens.body."
"""``lens.body.<role>`` holds a captured body's text; the store keeps a ``sha256:<hex>`` reference there."""
BODY_ROLES = ("input", "output", "request", "response")
"""The roles a body is captured in: a function's arguments and result, an HTTP request and response."""
BODY_KEYS = tuple(BODY_PREFIX + role for role in BODY_ROLES)
"""The span attributes that carry a captured body (stored as a ``sha256:<hex>`` reference to a body row)."""
BODY_INPUT, BODY_OUTPUT, BODY_REQUEST, BODY_RESPONSE = BODY_KEYS

# Facts about a body, beside it: ``lens.body.<role>.content_type`` and so on.
BODY_CONTENT_TYPE = ".content_type"
BODY_SIZE = ".size"  # the body's size in bytes as captured, before any cut
BODY_TRUNCATED = ".truncated"  # True when the capture cap cut it
BODY_SKIPPED = ".skipped"  # why it was not captured ("binary")


def body_key(role: str) -> str:
    """``lens.body.<role>``: the attribute holding the body captured in ``role``."""
    return BODY_PREFIX + role


# -- lens_fn (facade/functions.py) --------------------------------------------------------------------

INPUT_SIZE = "lens.input.size"
"""Approximate size of a function's arguments."""
OUTPUT_SIZE = "lens.output.size"
"""Approximate size of a function's result."""
OUTPUT_ITEMS = "lens.output.items"
"""Items a generator or async generator yielded."""
GENERATOR_CLOSED = "lens.generator.closed"
"""True when the caller closed a generator before it was exhausted."""

# -- instrument_asgi / lens_route (facade/asgi.py) ----------------------------------------------------

ROUTE = "lens.route"
"""The route template a request matched (the span is named after it)."""
SOURCE = "lens.source"
"""The ``x-lens-source`` request header: which client sent the request (a test, a script)."""
