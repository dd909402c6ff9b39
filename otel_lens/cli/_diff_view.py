"""The text view of ``otel-lens diff``: the two traces, then what moved most, what was added, removed or changed."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from otel_lens.cli._format import duration, local_time, one_line
from otel_lens.query import TraceDiff, TraceSummary

SHOWN = 20  # rows per section; the rest is counted in a "… N more" line (all of it is in --json)


def _signed_ms(ms: float) -> str:
    sign = "+" if ms > 0 else "−" if ms < 0 else "±"
    return sign + duration(abs(ms))


def _signed(count: int) -> str:
    return f"+{count}" if count > 0 else f"−{-count}" if count < 0 else "±0"


def _header(tag: str, trace: TraceSummary) -> Text:
    errors = f", {trace.error_count} error{'s' if trace.error_count != 1 else ''}" if trace.error_count else ""
    line = Text(f"{tag} ", style="bold")
    line.append(trace.trace_id, style="cyan")
    line.append(f"  {trace.root_name}  {trace.service or '-'}  {local_time(trace.start_ns, with_offset=True)}  ")
    line.append(f"{duration(trace.duration_ms)}  {trace.span_count} spans{errors}")
    return line


def _more(console: Console, total: int) -> None:
    if total > SHOWN:
        console.print(Text(f"  … {total - SHOWN} more (otel-lens diff --json has them all)", style="dim"))


def render_diff(diff: TraceDiff, console: Console) -> None:
    console.print(_header("A", diff.a))
    console.print(_header("B", diff.b))
    a_ms, b_ms = diff.a.duration_ms, diff.b.duration_ms
    ratio = f", ×{b_ms / a_ms:.2f}" if a_ms > 0 else ""
    console.print(Text(f"duration  {duration(a_ms)} → {duration(b_ms)}  ({_signed_ms(b_ms - a_ms)}{ratio})"))
    tokens = [f"{name.replace('_tokens', '')} {a} → {b} ({_signed(b - a)})" for name, (a, b) in diff.tokens.items()
              if a or b]  # fmt: skip
    if tokens:
        console.print(Text("tokens    " + ", ".join(tokens)))

    moved = [s for s in diff.matched if s.delta_ms != 0]
    if moved:
        console.print(Text("\nslower / faster (largest change first)", style="bold"))
        for span in moved[:SHOWN]:
            assert span.a is not None and span.b is not None
            ratio_text = f"×{span.ratio:.2f}" if span.ratio is not None else ""
            line = Text(
                f"  {_signed_ms(span.delta_ms):>9} {ratio_text:>7}  ", style="red" if span.delta_ms > 0 else "green"
            )
            line.append(span.label, style="")
            line.append(f"  {duration(span.a.duration_ms)} → {duration(span.b.duration_ms)}", style="dim")
            console.print(line)
        _more(console, len(moved))
    for title, items, mark, style in (
        ("added (only in B)", diff.added, "+", "green"),
        ("removed (only in A)", diff.removed, "-", "red"),
    ):
        if not items:
            continue
        console.print(Text(f"\n{title}", style="bold"))
        for span in items[:SHOWN]:
            record = span.b if span.b is not None else span.a
            assert record is not None
            line = Text(f"  {mark} ", style=style)
            line.append(span.label)
            line.append(f"  {duration(record.duration_ms)}", style="dim")
            if record.status_code == "ERROR":
                line.append(f"  ERROR {record.status_message or ''}".rstrip(), style="red")
            console.print(line)
        _more(console, len(items))
    if diff.status_changes:
        console.print(Text("\nstatus changes", style="bold"))
        for span in diff.status_changes[:SHOWN]:
            assert span.a is not None and span.b is not None
            line = Text(f"  {span.label}  ")
            line.append(f"{span.a.status_code} {one_line(span.a.status_message or '', 80)}".rstrip())
            line.append(" → ")
            line.append(f"{span.b.status_code} {one_line(span.b.status_message or '', 80)}".rstrip(),
                        style="red" if span.b.status_code == "ERROR" else "green")  # fmt: skip
            console.print(line)
        _more(console, len(diff.status_changes))
    if diff.attribute_changes:
        console.print(Text("\nattribute changes", style="bold"))
        for span in diff.attribute_changes[:SHOWN]:
            console.print(Text(f"  {span.label}"))
            changes = span.attributes
            for key, (old, new) in changes.changed.items():
                console.print(Text(f"      ~ {key}: {one_line(old, 80)} → {one_line(new, 80)}", style="yellow"))
            for key, value in changes.added.items():
                console.print(Text(f"      + {key}: {one_line(value, 80)}", style="green"))
            for key, value in changes.removed.items():
                console.print(Text(f"      - {key}: {one_line(value, 80)}", style="red"))
        _more(console, len(diff.attribute_changes))
    if not (moved or diff.added or diff.removed or diff.status_changes or diff.attribute_changes):
        console.print(Text("\nthe two traces have the same spans, durations, statuses and attributes", style="dim"))
