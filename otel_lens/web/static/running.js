// Running and abandoned spans in the viewer: marks in the trace list and the waterfall, running bars that
// grow with elapsed time, and a poll (only while something runs) that picks up new spans and what ended or
// was abandoned, in place.
// A span's JSON `state` is "ended", "running" or "abandoned"; the last two have end_time_unix_nano null and
// duration_ms "so far". Self-contained: the pages call one function each.
import { api, fmtMs, h } from "./common.js";
import { fromOutline } from "./trace_outline.js";

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
  const timer = setInterval(async () => {
    if (document.hidden) return;
    let wanted = rows().some((trace) => trace.state === "running");
    if (!wanted) {
      try {
        const page = await api("/api/traces", { running: "1", limit: "1" });
        const shown = new Set(rows().map((trace) => trace.trace_id));
        wanted = page.traces.some((trace) => !shown.has(trace.trace_id));
      } catch (error) {
        if (error.permanent) clearInterval(timer); // the database cannot be read: polling will not change that
        return; // the list's own load reports errors
      }
    }
    if (wanted) reload();
  }, POLL_MS);
}

/**
 * The waterfall of one trace, kept live in place while something runs (never a page reload: selection,
 * scroll, search and collapsed stay as they are). Running and abandoned spans get an end "so far" to draw
 * (the JSON's is null); running ones grow every second, and with them the header's trace duration and the
 * detail's span duration (`.trace-duration`, `.span-duration[data-span-id]`), so all three always agree.
 * Every few seconds the *outline* (`?view=outline`, no attributes) is polled: new spans are added, spans
 * that ended or were abandoned change state, the header is redrawn. Once nothing runs any more the whole
 * trace is fetched once, so the spans' details (attributes, logs) are complete again.
 *
 * `page`: `redraw(structure)` (true: spans were added or changed state), `header(outline)`, `detail()`.
 */
export function watchRunningTrace(trace, scroller, page) {
  const byId = new Map(trace.spans.map((span) => [span.span_id, span]));
  const open = new Map(); // running or abandoned spans: their rows get a class and a mark
  const growing = new Map(); // running spans: span_id -> [duration_ms known at `at`, at]
  const track = (span, at) => {
    if (span.state !== "running" && span.state !== "abandoned") return;
    span.end_time_unix_nano = span.start_time_unix_nano + Math.round(span.duration_ms * 1e6);
    open.set(span.span_id, span);
    if (span.state === "running") growing.set(span.span_id, [span.duration_ms, at]);
  };
  const start = performance.now();
  for (const span of trace.spans) track(span, start);
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
  if (!growing.size) return;
  const grow = () => {
    const now = performance.now();
    for (const [spanId, [base, at]] of growing) {
      const span = byId.get(spanId);
      span.duration_ms = base + (now - at);
      span.end_time_unix_nano = span.start_time_unix_nano + Math.round(span.duration_ms * 1e6);
    }
    let first = Infinity;
    let last = -Infinity;
    for (const span of trace.spans) {
      first = Math.min(first, span.start_time_unix_nano);
      last = Math.max(last, span.end_time_unix_nano ?? span.start_time_unix_nano);
    }
    for (const shown of document.querySelectorAll(".trace-duration")) shown.textContent = fmtMs((last - first) / 1e6);
    for (const shown of document.querySelectorAll(".span-duration[data-span-id]")) {
      if (growing.has(shown.dataset.spanId)) shown.textContent = fmtMs(byId.get(shown.dataset.spanId).duration_ms);
    }
  };
  const tick = setInterval(() => { grow(); page.redraw(false); }, TICK_MS);
  grow(); // at once: the header was drawn from the (older) outline
  let busy = false;
  const poll = setInterval(async () => {
    if (document.hidden || busy) return;
    busy = true;
    try { await refresh(); } catch { /* the next poll tries again */ } finally { busy = false; }
  }, POLL_MS);

  async function refresh() {
    const outline = await api(`/api/traces/${encodeURIComponent(trace.trace_id)}`, { view: "outline" });
    const at = performance.now();
    let structure = false;
    for (const fresh of fromOutline(outline)) {
      const known = byId.get(fresh.span_id);
      if (!known) {
        // Only what the outline has: the attributes come with the whole trace once the run is over.
        Object.assign(fresh, { kind: "…", attributes: {}, links: [] });
        trace.spans.push(fresh);
        byId.set(fresh.span_id, fresh);
        track(fresh, at);
        structure = true;
      } else if (known.state !== fresh.state) {
        open.delete(known.span_id);
        growing.delete(known.span_id);
        const { state, end_time_unix_nano, duration_ms, status } = fresh;
        Object.assign(known, { state, end_time_unix_nano, duration_ms, status });
        track(known, at);
        structure = true;
      } else if (growing.has(known.span_id)) {
        growing.set(known.span_id, [fresh.duration_ms, at]); // the server's "so far": no drift from its clock
      }
    }
    grow();
    if (structure) { page.header(outline); grow(); page.redraw(true); page.detail(); }
    if (!growing.size) {
      clearInterval(tick);
      clearInterval(poll);
      await complete();
    }
  }

  /** Nothing runs any more: the whole trace once, its span objects updated in place (the page keeps them). */
  async function complete() {
    const whole = await api(`/api/traces/${encodeURIComponent(trace.trace_id)}`);
    for (const span of whole.spans) {
      const known = byId.get(span.span_id);
      if (known) Object.assign(known, span);
      else { trace.spans.push(span); byId.set(span.span_id, span); }
    }
    for (const span of whole.spans) track(byId.get(span.span_id), performance.now());
    trace.logs = whole.logs;
    page.redraw(true);
    page.detail();
  }
}
