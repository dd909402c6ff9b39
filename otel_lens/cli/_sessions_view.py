"""Text views of ``otel-lens sessions`` (the list) and ``otel-lens session ID`` (its turns and totals)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_lens.cli._format import duration, local_time
from otel_lens.cli._safe_text import safe_text
from otel_lens.cli._usage import PRICES_HINT, compact
from otel_lens.query import CAPTURE_HINT, SessionDetail, SessionSummary, Turn

_PREVIEW = 120  # characters of a turn's question or answer on a terminal (piped: whole, on one line)


def _table(*titles: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for title in titles:
        right = title in ("traces", "duration", "errors", "input", "output", "cost", "tokens")
        table.add_column(title, justify="right" if right else "left", overflow="ellipsis")
    return table


def _money(cost: float | None) -> Text:
    if cost is None:
        return Text("?", "yellow")
    return Text(f"{cost:,.6f}" if cost < 1 else f"{cost:,.2f}")  # a chat turn costs fractions of a cent


def render_sessions(sessions: Sequence[SessionSummary], console: Console, more: bool) -> None:
    """The sessions list, latest activity first; ``more`` says a further page exists."""
    if not sessions:
        console.print("no sessions or conversations match (spans carrying session.id or gen_ai.conversation.id)",
                      style="dim")  # fmt: skip
        return
    table = _table("last activity", "kind", "id", "service", "traces", "duration", "errors", "input", "output")
    for session in sessions:
        failed = session.error_count > 0
        table.add_row(
            local_time(session.end_ns),
            session.kind,
            Text(safe_text(session.session_id, one_line=True), "cyan"),
            safe_text(session.service or "-", one_line=True),
            str(session.trace_count),
            duration(session.duration_ms),
            Text(str(session.error_count), "bold red" if failed else "dim"),
            compact(session.input_tokens),
            compact(session.output_tokens),
        )
    console.print(table)
    if more:
        console.print("more sessions: raise --limit or narrow with --since/--kind/--service/--search", style="dim")


def _preview(text: str | None, console: Console) -> str:
    shown = safe_text(text or "", one_line=True)
    return shown[:_PREVIEW] + "…" if console.is_terminal and len(shown) > _PREVIEW else shown


def _turn_lines(number: int, turn: Turn, console: Console) -> None:
    failed = turn.error_count > 0
    head = Text(f"{number:>3}. ", "bold")
    head.append(local_time(turn.start_ns))
    head.append("  ")
    head.append(turn.trace_id[:12] if console.is_terminal else turn.trace_id, "cyan")
    head.append("  ")
    head.append(safe_text(turn.root_name, one_line=True), "bold red" if failed else "")
    head.append(f"  {duration((turn.end_ns - turn.start_ns) / 1e6)}")
    if turn.genai_count:
        head.append(f"  {compact(turn.input_tokens)} in / {compact(turn.output_tokens)} out", "dim")
        head.append("  $")
        head.append(_money(turn.cost))
    if failed:
        head.append(f"  {turn.error_count} error{'s' if turn.error_count != 1 else ''}", "bold red")
    if turn.conversations:
        head.append("  conversation " + ", ".join(safe_text(c, one_line=True) for c in turn.conversations), "dim")
    console.print(head)
    if turn.user_message:
        console.print(Text("     user: ", "green").append(_preview(turn.user_message, console), ""))
    if turn.assistant_message:
        console.print(Text("     assistant: ", "magenta").append(_preview(turn.assistant_message, console), ""))


def render_session(detail: SessionDetail, console: Console) -> None:
    """One session: its totals, the related groupings, then each turn (trace) oldest first."""
    s = detail.summary
    title = Text(f"{s.kind} ", "bold").append(safe_text(s.session_id, one_line=True), "bold cyan")
    console.print(title)
    line = (
        f"{s.trace_count} trace{'s' if s.trace_count != 1 else ''}, {local_time(s.start_ns)} → {local_time(s.end_ns)} "
        f"({duration(s.duration_ms)}), {s.error_count} error{'s' if s.error_count != 1 else ''}"
    )
    if s.genai_count:
        line += f", {s.genai_count} model calls, {compact(s.input_tokens)} in / {compact(s.output_tokens)} out tokens"
    totals = Text(line)
    if s.genai_count:
        totals.append(", cost $").append(_money(detail.cost))
    console.print(totals)
    if detail.related:
        label = "conversations" if s.kind == "session" else "in sessions"
        names = ", ".join(safe_text(r.session_id, one_line=True) for r in detail.related)
        console.print(Text(f"{label}: ", "dim").append(names))
    console.print()
    for number, turn in enumerate(detail.turns, 1):
        _turn_lines(number, turn, console)
    if detail.turns_truncated:
        console.print(f"(only the first {len(detail.turns)} traces are shown)", style="dim")
    model_turns = [turn for turn in detail.turns if turn.genai_count]
    # Once under the turns, only when something is missing: a model call with no stored question nor answer,
    # a cost shown as "?".
    if any(turn.user_message is None and turn.assistant_message is None for turn in model_turns):
        console.print(Text(CAPTURE_HINT, "yellow"))
    if any(turn.cost is None for turn in model_turns):
        console.print(Text(PRICES_HINT, "yellow"))
