// Running and abandoned spans in the viewer: marks in the trace list and the waterfall, running bars that
// grow with elapsed time, and a poll (only while something runs) that picks up what ended or was abandoned.
// A span's JSON `state` is "ended", "running" or "abandoned"; the last two have end_time_unix_nano null and
// duration_ms "so far". Self-contained: the pages call one function each.
import { api, h } from "./common.js";

const TICK_MS = 1000; // running bars grow once a second
const POLL_MS = 3000; // while something runs, the page asks the API again this often

const LABELS = {
  running: ["running", "still open: stored while it runs; the time grows until it ends"],
  abandoned: ["abandoned", "never ended: the process that ran it stopped (crashed, killed, or exited leaving it open)"],
};

/** A small "running"/"abandoned" badge for a trace summary or span, or "" when it ended. */
export function stateMark(item) {
  const label = item && LABELS[item.state];
  return label ? h("span", { class: `state-mark ${item.state}`, title: label[1] }, label[0]) : "";
}

/** The trace list: while a listed trace runs (or a new one starts running), `reload()` every few seconds. */
export function watchRunningTraces(rows, reload) {
  setInterval(async () => {
    if (document.hidden) return;
    let wanted = rows().some((trace) => trace.state === "running");
    if (!wanted) {
      try {
        const page = await api("/api/traces", { running: "1", limit: "1" });
        const shown = new Set(rows().map((trace) => trace.trace_id));
        wanted = page.traces.some((trace) => !shown.has(trace.trace_id));
      } catch { return; /* the list's own load reports errors */ }
    }
    if (wanted) reload();
  }, POLL_MS);
}

/**
 * The waterfall of one trace: give its running and abandoned spans an end "so far" to draw (the JSON's is
 * null), grow the running ones every second (`redraw()` redraws), mark their rows in `scroller`, and reload
 * the page once the API says a span ended or was abandoned (the URL keeps selection, search and collapsed).
 */
export function watchRunningTrace(trace, scroller, redraw) {
  const open = new Map();
  for (const span of trace.spans) {
    if (span.state === "running" || span.state === "abandoned") {
      span.end_time_unix_nano = span.start_time_unix_nano + Math.round(span.duration_ms * 1e6);
      open.set(span.span_id, span);
    }
  }
  if (!open.size) return;
  const decorate = () => {
    for (const row of scroller.querySelectorAll(".wf-row[data-span-id]")) {
      const span = open.get(row.dataset.spanId);
      if (!span || row.classList.contains(span.state)) continue;
      row.classList.add(span.state);
      const name = row.querySelector(".wf-name");
      if (name) name.after(stateMark(span));
    }
  };
  new MutationObserver(decorate).observe(scroller, { childList: true, subtree: true });
  const running = [...open.values()].filter((span) => span.state === "running");
  if (!running.length) return;
  const loaded = performance.now();
  const base = new Map(running.map((span) => [span.span_id, span.duration_ms]));
  setInterval(() => {
    const elapsed = performance.now() - loaded;
    for (const span of running) {
      span.duration_ms = base.get(span.span_id) + elapsed;
      span.end_time_unix_nano = span.start_time_unix_nano + Math.round(span.duration_ms * 1e6);
    }
    redraw();
  }, TICK_MS);
  const poll = setInterval(async () => {
    if (document.hidden) return;
    let fresh;
    try { fresh = await api(`/api/traces/${encodeURIComponent(trace.trace_id)}`); } catch { return; }
    const changed = fresh.spans.length !== trace.spans.length
      || fresh.spans.some((span) => span.state !== (open.get(span.span_id) || { state: "ended" }).state);
    if (changed) { clearInterval(poll); location.reload(); }
  }, POLL_MS);
}
