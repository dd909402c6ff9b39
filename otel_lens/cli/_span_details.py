"""``otel-lens show``: what is printed under a span — key attributes, errors with their stack, events, every attribute.

Each function yields detail items (one :class:`~rich.text.Text` each); the waterfall indents them
under the span and, on a terminal, wraps each to the width within a bound of lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.text import Text

from otel_lens._keys import BODY_KEYS, SOURCE
from otel_lens.cli._events import event_summary
from otel_lens.cli._format import one_line
from otel_lens.query import SpanRecord

_KEY_ATTRIBUTES = (
    "http.request.method",
    "http.method",
    "http.route",
    "url.full",
    "http.url",
    "url.path",
    "http.target",
    "http.response.status_code",
    "http.status_code",
    "rpc.system",
    "rpc.method",
    "db.system.name",
    "db.system",
    "db.operation.name",
    "db.query.text",
    "db.statement",
    "messaging.system",
    "messaging.destination.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    SOURCE,
    "error.type",
)
_MAX_KEY_ATTRIBUTES = 6
_URLS = ("url.full", "http.url")
_PEERS = ("server.address", "net.peer.name")  # a client's peer, when no URL says it
STACK_FRAMES_TERMINAL = 4
STACK_FRAMES_PIPED = 12
"""Frames of a recorded stack trace shown under its exception: the innermost, where it was raised."""
EVENTS_TERMINAL = 8
"""Span events listed on a terminal before "… N more"; piped (and with --attributes) all are."""


def key_attributes(span: SpanRecord, limit: int) -> Text | None:
    """The few attributes that say what a span did: route and status, URL or peer, statement, model, tokens."""
    attributes = span.attributes
    keys = [k for k in _KEY_ATTRIBUTES if k in attributes]
    pairs = [f"{k}={one_line(attributes[k], limit)}" for k in keys]
    if span.kind in ("CLIENT", "PRODUCER") and not any(k in attributes for k in _URLS):
        peer = next((k for k in _PEERS if k in attributes), None)
        if peer is not None:
            port = attributes.get("server.port", attributes.get("net.peer.port"))
            where = one_line(attributes[peer], limit) + ("" if port is None else f":{port}")
            pairs.insert(1 if keys and keys[0].endswith("method") else 0, f"{peer}={where}")
    if not pairs:
        return None
    return Text("  ".join(pairs[:_MAX_KEY_ATTRIBUTES]), "dim")


def all_attributes(span: SpanRecord, limit: int) -> Iterator[Text]:
    """Every attribute, one per item, sorted by key (captured bodies print on their own, below)."""
    for key in sorted(span.attributes):
        if key not in BODY_KEYS:
            yield Text.assemble((key, "dim"), "=", one_line(span.attributes[key], limit))


def problems(span: SpanRecord, limit: int, frames: int) -> Iterator[Text]:
    """The error status and the recorded exceptions, each said once, each with the end of its stack.

    The SDK sets the status of a span that raised to ``"Type: message"`` with the class's bare name and
    records an exception event whose ``exception.type`` is qualified (``app.errors.PaymentError``): one
    problem, shown once, with the fuller text. An error status without a message takes the exception's.
    """
    status = one_line(span.status_message or "", limit) if span.status_code == "ERROR" else None
    status_stack: Any = None
    exceptions: list[tuple[str, Any]] = []
    for event in span.events:
        if event.name != "exception":
            continue
        kind = one_line(event.attributes.get("exception.type", "exception"), 200)
        message = one_line(event.attributes.get("exception.message", ""), limit)
        text = f"{kind}: {message}" if message else kind
        short = f"{kind.rsplit('.', 1)[-1]}: {message}" if message else kind.rsplit(".", 1)[-1]
        stack = event.attributes.get("exception.stacktrace")
        if status is not None and status in ("", text, short, message) and status_stack is None:
            status, status_stack = text, stack  # the status says the same: keep the fuller text once
            continue
        exceptions.append((text, stack))
    if status is not None:
        yield Text(f"✗ error: {status or 'status ERROR'}", "bold red")
        yield from stack_lines(status_stack, frames)
    for text, stack in exceptions:
        yield Text(f"✗ exception {text}", "red")
        yield from stack_lines(stack, frames)


def stack_lines(stack: Any, frames: int) -> Iterator[Text]:
    """The last ``frames`` frames of a stack trace (Python's, else any language's ``at …`` lines), oldest first."""
    if not isinstance(stack, str) or not stack.strip():
        return
    lines = [line.rstrip() for line in stack.splitlines() if line.strip()]
    blocks: list[list[str]] = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(('File "', "at ")):
            blocks.append([stripped])
        elif blocks and line.startswith("    ") and len(blocks[-1]) < 2 and not stripped.startswith(("^", "~")):
            blocks[-1].append(stripped)  # the source line under a Python frame
    if not blocks:  # not a format we know: its last lines, which hold the innermost frames
        blocks = [[line.strip()] for line in lines[-frames - 1 : -1] or lines[-1:]]
    hidden = len(blocks) - frames
    if hidden > 0:
        more = f"… {hidden} earlier frame{'s' * (hidden != 1)} (show --json has the whole stack)"
        yield Text(f"  {more}", "dim")
    for block in blocks[-frames:]:
        yield Text("  " + _short_path(block[0]), "dim")
        for code in block[1:]:
            yield Text("    " + code)


def _short_path(frame: str) -> str:
    """A Python frame line with its file path shortened: from ``site-packages/`` on, else the path as given."""
    if frame.startswith('File "') and "site-packages/" in frame:
        head, _, rest = frame.partition('"')
        path, quote, tail = rest.partition('"')
        return f'{head}"…/{path.rsplit("site-packages/", 1)[1]}{quote}{tail}'
    return frame


def events(span: SpanRecord, limit: int | None, most: int | None, every_attribute: bool) -> Iterator[Text]:
    """The span's events other than exceptions: name and what they say (every attribute, when asked)."""
    shown = [event for event in span.events if event.name != "exception"]
    for event in shown[:most]:
        if every_attribute:
            yield Text.assemble(("• ", "blue"), (event.name, "blue"))
            for key in sorted(event.attributes):
                yield Text.assemble("  ", (key, "dim"), "=", one_line(event.attributes[key], limit or 10**9))
        else:
            summary = event_summary(event.name, None, event.attributes, limit)
            yield Text.assemble(("• ", "blue"), (event.name, "blue"), " " if summary else "", summary)
    hidden = len(shown) - len(shown[:most])
    if hidden > 0:
        yield Text(f"… {hidden} more event{'s' * (hidden != 1)} (show --attributes lists them all)", "dim")
