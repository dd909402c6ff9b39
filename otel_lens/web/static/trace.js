// One trace: a virtualized waterfall (only the rows in view are in the DOM, so 10,000 spans open at once)
// with a time axis, collapse/expand, keyboard navigation, search inside the trace (name, attributes, status
// message, events, logs; matches highlighted, the path to them kept open, the query in the URL) and the span detail.
import { api, app, asText, debounce, fmtCount, fmtMs, fmtTime, h, params, plural, serviceColor, setParams, setStatus } from "./common.js";
import { compareControl } from "./compare.js";
import { spanDetail } from "./span_detail.js";
import { fromOutline } from "./trace_outline.js";
import { RowCache } from "./waterfall_rows.js";
import { around, highlighted, SpanSearch } from "./trace_search.js";
import { stateMark, watchRunningTrace } from "./running.js";

const ROW = 26; // px per waterfall row (CSS .wf-row has the same height)
const OVERSCAN = 12;
const traceId = app().dataset.traceId;
const state = params();
let trace = null;
let spans = [];
let byId = new Map();
let children = new Map();
let roots = [];
let collapsed = new Set((state.collapsed || "").split(",").filter(Boolean));
let visible = [];
let matchSet = new Set();
let matchOrder = [];
let selected = state.span || "";
let t0 = 0;
let total = 1;
let jumpToMatch = false; // no span in the URL: the search's first match is selected once the whole trace is in
let touched = false; // the reader selected, scrolled to or searched for something since the page opened

const search = h("input", { type: "search", name: "q", placeholder: "search spans: name, attribute, status, event, log  ( / )", value: state.q || "", "aria-label": "search in this trace" });
const counter = h("span", { class: "matches", "aria-live": "polite" });
const header = h("div", { class: "trace-head" });
const axis = h("div", { class: "wf-axis" });
const spacer = h("div", { class: "wf-spacer" });
const scroller = h("div", { class: "wf-scroll", tabindex: "0", role: "tree", "aria-label": "spans" }, spacer);
const detail = h("aside", { class: "detail", "aria-label": "span detail" });

function depthOf(span) {
  let depth = 0;
  for (let p = byId.get(span.parent_span_id); p && depth < 1000; p = byId.get(p.parent_span_id)) depth += 1;
  return depth;
}

function index() {
  byId = new Map(spans.map((s) => [s.span_id, s]));
  children = new Map();
  roots = [];
  for (const span of spans) {
    const parent = span.parent_span_id && byId.has(span.parent_span_id) ? span.parent_span_id : null;
    if (parent === null) roots.push(span);
    else (children.get(parent) || children.set(parent, []).get(parent)).push(span);
  }
  const byStart = (a, b) => a.start_time_unix_nano - b.start_time_unix_nano;
  roots.sort(byStart);
  for (const list of children.values()) list.sort(byStart);
  t0 = Math.min(...spans.map((s) => s.start_time_unix_nano));
  const t1 = Math.max(...spans.map((s) => s.end_time_unix_nano ?? s.start_time_unix_nano));
  total = Math.max(t1 - t0, 1);
}

function flatten() {
  visible = [];
  const stack = roots.map((s) => [s, 0]).reverse();
  while (stack.length) {
    const [span, depth] = stack.pop();
    visible.push([span, depth]);
    const kids = children.get(span.span_id);
    if (kids && !collapsed.has(span.span_id)) for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  spacer.style.height = `${visible.length * ROW}px`;
  changed();
}

const spanSearch = new SpanSearch();

function runSearch(jump) {
  const q = (state.q || "").trim().toLowerCase();
  matchSet = new Set();
  matchOrder = [];
  if (q) {
    for (const span of spans) {
      if (spanSearch.match(span, q, trace ? trace.logs : null)) {
        matchSet.add(span.span_id);
        // Keep the path to every match open.
        for (let p = byId.get(span.parent_span_id); p; p = byId.get(p.parent_span_id)) collapsed.delete(p.span_id);
      }
    }
  }
  flatten();
  matchOrder = visible.filter(([s]) => matchSet.has(s.span_id)).map(([s]) => s.span_id);
  counter.textContent = q ? plural(matchOrder.length, "match", "matches") : "";
  if (jump && matchOrder.length && !matchSet.has(selected)) select(matchOrder[0], true);
  draw();
}

function drawRow(span, depth, top) {
  const q = (state.q || "").trim().toLowerCase();
  const start = ((span.start_time_unix_nano - t0) / total) * 100;
  const width = Math.max((((span.end_time_unix_nano ?? span.start_time_unix_nano) - span.start_time_unix_nano) / total) * 100, 0.2);
  const kids = children.get(span.span_id);
  const failed = span.status && span.status.code === "ERROR";
  const match = matchSet.has(span.span_id) ? spanSearch.match(span, q, trace ? trace.logs : null) : null;
  const toggle = kids
    ? h("button", { type: "button", class: "toggle", "aria-label": collapsed.has(span.span_id) ? "expand" : "collapse", tabindex: "-1", "data-toggle": span.span_id }, collapsed.has(span.span_id) ? "▸" : "▾")
    : h("span", { class: "toggle none" });
  const dot = h("span", { class: "dot" });
  const service = span.resource && span.resource["service.name"];
  dot.style.background = serviceColor(service);
  const label = h("div", { class: "wf-label" }, toggle, dot,
    h("span", { class: "wf-name", title: span.name }, ...highlighted(span.name, match === true ? q : "")),
    kids && collapsed.has(span.span_id) ? h("span", { class: "hidden-count" }, `+${countBelow(span)}`) : "",
    failed ? h("span", { class: "err-mark", title: (span.status && span.status.message) || "error" }, "!") : "",
    !failed && raised(span) ? h("span", { class: "exc-mark", title: "recorded an exception; status is not ERROR, so it is no error" }, "⚠") : "",
    Array.isArray(match) ? h("span", { class: "attr-match" }, ...highlighted(match[0], q), "=", ...highlighted(around(asText(match[1]), q), q)) : "");
  label.style.paddingLeft = `${depth * 14 + 4}px`;
  const bar = h("div", { class: "wf-bar" + (failed ? " failed" : "") });
  bar.style.left = `${start}%`;
  bar.style.width = `${width}%`;
  bar.style.background = serviceColor(service);
  const time = h("span", { class: "wf-dur" }, fmtMs(span.duration_ms));
  // The duration sits after the bar, or inside its end when the bar reaches the right edge.
  if (start + width > 80) { time.style.right = `${Math.max(100 - start - width, 0)}%`; time.classList.add("inside"); }
  else time.style.left = `${start + width}%`;
  const marks = (span.events || []).map((event) => {
    // An exception on a span whose status is not ERROR (caught, retried) is marked apart from errors.
    const kind = event.name !== "exception" ? "" : failed ? " exception" : " exception handled";
    const mark = h("span", { class: "wf-event" + kind, title: event.name === "exception" && !failed ? "exception (status not ERROR)" : event.name });
    mark.style.left = `${((event.time_unix_nano - t0) / total) * 100}%`;
    return mark;
  });
  const row = h("div", {
    class: "wf-row" + (span.span_id === selected ? " selected" : "") + (matchSet.has(span.span_id) ? " match" : "") + (failed ? " failed" : ""),
    role: "treeitem", "aria-level": depth + 1, "aria-selected": span.span_id === selected ? "true" : "false",
    "aria-expanded": kids ? String(!collapsed.has(span.span_id)) : null, "data-span-id": span.span_id,
  }, label, h("div", { class: "wf-track" }, bar, ...marks, time));
  row.style.top = `${top}px`;
  return row;
}

function raised(span) {
  return (span.events || []).some((event) => event.name === "exception");
}

function countBelow(span) {
  let n = 0;
  const stack = [...(children.get(span.span_id) || [])];
  while (stack.length) { const s = stack.pop(); n += 1; stack.push(...(children.get(s.span_id) || [])); }
  return n;
}

const rows = new RowCache(spacer);

function changed() {
  rows.invalidate();
}

function draw() {
  const first = Math.max(Math.floor(scroller.scrollTop / ROW) - OVERSCAN, 0);
  const last = Math.min(Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW) + OVERSCAN, visible.length);
  rows.draw(visible, first, last, ROW, drawRow);
}

let drawPending = false;
function drawSoon() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; draw(); });
}

function drawAxis() {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = h("span", { class: "tick" }, f === 0 ? "0" : fmtMs((total * f) / 1e6));
    tick.style.left = `${f * 100}%`;
    return tick;
  });
  axis.replaceChildren(h("div", { class: "wf-label" }, "span"), h("div", { class: "wf-track" }, ...ticks));
}

function save() {
  setParams({ q: state.q, span: selected, collapsed: [...collapsed].filter((id) => byId.has(id)).join(",") });
}

function select(spanId, scroll) {
  if (!byId.has(spanId)) return;
  selected = spanId;
  changed();
  const at = visible.findIndex(([s]) => s.span_id === spanId);
  if (scroll && at >= 0) {
    const top = at * ROW;
    if (top < scroller.scrollTop) scroller.scrollTop = top;
    else if (top + ROW > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + ROW - scroller.clientHeight;
  }
  save();
  draw();
  showDetail();
}

function showDetail() {
  if (!trace) { detail.replaceChildren(h("p", { class: "hint" }, "loading the span's attributes, events and logs…")); return; }
  const span = byId.get(selected);
  detail.replaceChildren(...(span ? spanDetail(span, { trace, children, byId, t0 }) : [h("p", { class: "hint" }, "Select a span (click, or j/k) to see its attributes, events, logs and more.")]));
}

function setCollapsed(spanId, value) {
  if (!children.has(spanId)) return;
  if (value) collapsed.add(spanId); else collapsed.delete(spanId);
  flatten();
  save();
  draw();
}

function onKey(event) {
  if (event.target === search || event.ctrlKey || event.metaKey || event.altKey) return;
  const at = visible.findIndex(([s]) => s.span_id === selected);
  const span = byId.get(selected);
  if (event.key === "/") { event.preventDefault(); search.focus(); return; }
  if (event.key === "j" || event.key === "ArrowDown") select(visible[Math.min(at + 1, visible.length - 1)][0].span_id, true);
  else if (event.key === "k" || event.key === "ArrowUp") select(visible[Math.max(at - 1, 0)][0].span_id, true);
  else if (event.key === "Home" && visible.length) select(visible[0][0].span_id, true);
  else if (event.key === "End" && visible.length) select(visible[visible.length - 1][0].span_id, true);
  else if ((event.key === "h" || event.key === "ArrowLeft") && span) {
    if (children.has(span.span_id) && !collapsed.has(span.span_id)) setCollapsed(span.span_id, true);
    else if (byId.has(span.parent_span_id)) select(span.parent_span_id, true);
  } else if ((event.key === "l" || event.key === "ArrowRight") && span) {
    if (collapsed.has(span.span_id)) setCollapsed(span.span_id, false);
    else if (children.has(span.span_id)) select(children.get(span.span_id)[0].span_id, true);
  } else if (event.key === "Enter" && span) { showDetail(); detail.focus(); }
  else if (event.key === "n" && matchOrder.length) select(matchOrder[(matchOrder.indexOf(selected) + 1) % matchOrder.length], true);
  else if (event.key === "N" && matchOrder.length) select(matchOrder[(matchOrder.indexOf(selected) - 1 + matchOrder.length) % matchOrder.length], true);
  else return;
  touched = true;
  event.preventDefault();
}

scroller.addEventListener("scroll", drawSoon, { passive: true });
scroller.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle]");
  if (toggle) { setCollapsed(toggle.dataset.toggle, !collapsed.has(toggle.dataset.toggle)); return; }
  const row = event.target.closest(".wf-row");
  touched = true;
  if (row) select(row.dataset.spanId, false);
});
document.addEventListener("keydown", onKey);
search.addEventListener("input", debounce(() => { touched = true; state.q = search.value; save(); runSearch(true); }, 150));
search.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && matchOrder.length) {
    event.preventDefault();
    select(matchOrder[(matchOrder.indexOf(selected) + 1) % matchOrder.length], true);
  } else if (event.key === "Escape") scroller.focus();
});
window.addEventListener("resize", drawSoon);

function drawHeader(outline, exceptions) {
  const summary = outline.summary;
  document.title = `${summary.root_name} · otel-lens`;
  header.append(
    h("h1", {}, summary.root_name || "(no root span)", stateMark(summary)),
    h("p", { class: "meta" }, h("span", {}, summary.service || ""), " · ", fmtTime(summary.start_time), " · ", h("span", { class: "trace-duration" }, fmtMs(summary.duration_ms)),
      " · ", h("span", { class: "span-count" }, plural(summary.span_count, "span") + openCounts(outline)), summary.error_count ? h("span", { class: "err-badge" }, `${summary.error_count} failed`) : "",
      exceptions ? h("span", { class: "exc-badge", title: "spans that recorded an exception event but whose status is not ERROR (not counted as errors)" }, plural(exceptions, "handled exception")) : "",
      h("span", { class: "id-part" }, " · ", h("code", { class: "trace-id" }, outline.trace_id)), " · ", h("a", { href: `/logs?trace=${outline.trace_id}` }, plural(outline.log_count, "log"))));
}

/** " + 2 running, 1 abandoned" for the spans that have not ended (the summary's span_count counts ended ones), as the CLI says it. */
function openCounts(outline) {
  const states = outline.spans.state || [];
  const parts = ["running", "abandoned"].map((name) => [name, states.filter((s) => s === name).length])
    .filter(([, n]) => n).map(([name, n]) => `${fmtCount(n)} ${name}`);
  return parts.length ? ` + ${parts.join(", ")}` : "";
}

function notShown(error) {
  // One message, in the page (not repeated in the status corner), and no empty panes.
  header.replaceChildren(h("h1", {}, "Trace not shown"), h("p", { class: "error-text" }, error.message), h("p", {}, h("a", { href: "/" }, "← all traces")));
  setStatus("");
}

/** The whole trace (attributes, events, links, resource, scope, logs): the detail pane and the attribute search. */
async function loadFull() {
  try {
    trace = await api(`/api/traces/${encodeURIComponent(traceId)}`);
  } catch (error) {
    detail.replaceChildren(h("p", { class: "error-text" }, `span details not loaded: ${error.message}`));
    setStatus("");
    return;
  }
  spans = trace.spans;
  watchRunningTrace(trace, scroller, { redraw: (added) => { index(); if (added) runSearch(false); else changed(); drawAxis(); draw(); }, header: (outline) => { header.replaceChildren(); drawHeader(outline, spans.filter((s) => !(s.status && s.status.code === "ERROR") && raised(s)).length); }, detail: showDetail }); // live in place while spans run
  index();
  // Attribute matches exist only now: jump to the first one unless the URL or the reader chose a span meanwhile.
  runSearch(jumpToMatch && !touched);
  showDetail();
  setStatus("");
  performance.mark("otel-lens:trace-complete");
}

async function main() {
  app().append(header);
  setStatus("loading…");
  let outline;
  try {
    // The outline first (a sixth of the JSON, no attributes): the first rows are drawn from it.
    outline = await api(`/api/traces/${encodeURIComponent(traceId)}`, { view: "outline" });
    performance.mark("otel-lens:trace-loaded"); // benchmarks/bench_web.py splits the page's time at these marks
  } catch (error) {
    notShown(error);
    return;
  }
  app().append(h("div", { class: "trace-tools" }, search, counter, compareControl(outline.trace_id)), h("div", { class: "trace-body" }, h("section", { class: "waterfall" }, axis, scroller), detail));
  spans = fromOutline(outline);
  const exceptions = spans.filter((s) => !(s.status && s.status.code === "ERROR") && raised(s)).length;
  drawHeader(outline, exceptions);
  if (!spans.length) { setStatus(""); return; }
  index();
  performance.mark("otel-lens:trace-indexed");
  drawAxis();
  if (!byId.has(selected)) selected = "";
  jumpToMatch = !selected;
  runSearch(jumpToMatch);
  if (!selected && visible.length) selected = visible[0][0].span_id;
  select(selected, true);
  scroller.focus({ preventScroll: true });
  performance.mark("otel-lens:waterfall-drawn");
  await loadFull();
}

main();
