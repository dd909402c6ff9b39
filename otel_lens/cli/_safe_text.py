"""Stored text made safe for a terminal: control characters shown as visible marks, never obeyed.

Span names, attribute values, log bodies and LLM messages come from whatever the instrumented program
(or a model) produced; an ESC in one of them would let stored data retitle the terminal, clear it,
recolour everything after it or plant an OSC 8 link. :class:`SafeConsole` maps such characters in every
piece of text it writes, so no view has to remember to; rich's own colours and cursor moves are
separate (control or styled) segments and pass as they are. JSON output never goes through it: JSON
escapes control characters itself and must stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment

# C0 controls (but newline and tab, which lay text out) as their Unicode "control pictures" (␛ for ESC),
# DEL as ␡, C1 controls (0x80–0x9F; 0x9B is a one-byte CSI on some terminals) as \x9b-style text.
_KEEP_LAYOUT = {i: chr(0x2400 + i) for i in range(0x20) if chr(i) not in "\n\t"}
_KEEP_LAYOUT[0x7F] = "\u2421"
_KEEP_LAYOUT.update({i: f"\\x{i:02x}" for i in range(0x80, 0xA0)})
_ONE_LINE = {**_KEEP_LAYOUT, ord("\n"): "\u2424", ord("\t"): "\u2409"}


def safe_text(value: str, one_line: bool = False) -> str:
    """``value`` with control characters replaced by visible marks; ``one_line`` maps newline and tab too."""
    return value.translate(_ONE_LINE if one_line else _KEEP_LAYOUT)


class SafeConsole(Console):
    """A rich console whose written text never carries a control character it did not put there itself."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        # The one place every printed piece of text passes: the text of a plain segment is data (a
        # control segment is rich's own cursor movement; colours are added from the style afterwards).
        return super()._render_buffer(_cleaned(buffer))


def _cleaned(buffer: Iterable[Segment]) -> Iterable[Segment]:
    for segment in buffer:
        text = segment.text
        if segment.control or text.isprintable() or text == "\n":  # the common case: nothing to map
            yield segment
        else:
            yield Segment(safe_text(text), segment.style, segment.control)
