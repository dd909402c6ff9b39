// The trace list: filters, newest first, cursor paging, and live updates (with pause) over /api/live.
import { compareSelected, pickBox } from "./compare.js";
import { api, app, debounce, fmtCount, fmtMs, fmtTime, follow, h, params, select, serviceColor, setParams, setStatus, showError, SINCE_OPTIONS, retrier, plural, markInvalid, clearInvalid, feedsStopped } from "./common.js";
import { stateMark, watchRunningTraces } from "./running.js";

const FILTERS = ["q", "service", "name", "since", "min_duration", "errors"];
const state = params();
let rows = [];
let next = null;
let source = null;
let missed = 0;
let invalid = false; // a filter does not parse: the list is empty and says it is not filtered

const form = h("form", { class: "filters", role: "search" },
  h("label", {}, "Search ", h("input", { name: "q", type: "search", placeholder: "root name or service", value: state.q || "" })),
  h("label", {}, "Service ", h("input", { name: "service", value: state.service || "", size: 12 })),
  h("label", {}, "Name ", h("input", { name: "name", value: state.name || "", size: 14 })),
  select("since", SINCE_OPTIONS, state.since, "Since"),
  h("label", {}, "Min duration ", h("input", { name: "min_duration", value: state.min_duration || "", placeholder: "100ms", size: 6 })),
  h("label", { class: "check" }, h("input", { type: "checkbox", name: "errors", value: "1", checked: state.errors === "1" }), " errors only"),
);
const liveButton = h("button", { type: "button", class: "live", "aria-pressed": "true" });
const table = h("table", { class: "list traces" },
  h("thead", {}, h("tr", {}, ["Started", "Root span", "Service", "Duration", "Spans", "Errors"].map((t) => h("th", {}, t)))),
  h("tbody"));
const more = h("div", { class: "paging" });

function read() {
  const data = new FormData(form);
  for (const key of FILTERS) state[key] = data.get(key) || "";
  state.errors = data.get("errors") ? "1" : "";
}

function row(trace) {
  const href = `/traces/${encodeURIComponent(trace.trace_id)}`;
  const dot = h("span", { class: "dot" });
  dot.style.background = serviceColor(trace.service);
  return h("tr", { "data-trace-id": trace.trace_id, class: trace.error_count ? "failed" : "", onclick: (e) => { if (!e.target.closest("a, input")) location.href = href; } },
    h("td", { class: "time" }, pickBox(trace.trace_id, trace.start_time), fmtTime(trace.start_time)),
    h("td", { class: "name" }, h("a", { href }, trace.root_name || "(no root yet)"), stateMark(trace)),
    h("td", { class: "service", title: trace.service || "" }, dot, trace.service || ""),
    h("td", { class: "num" }, fmtMs(trace.duration_ms)),
    h("td", { class: "num" }, fmtCount(trace.span_count)),
    h("td", { class: "num" }, trace.error_count ? h("span", { class: "err-badge" }, fmtCount(trace.error_count)) : ""));
}

function render() {
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map(row));
  if (invalid) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty invalid" }, "Not filtered: fix the marked filter above.")));
  else if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No traces match. Run your app with otel-lens configured, or widen the filters.")));
  more.replaceChildren(
    state.before ? h("a", { href: "?" + new URLSearchParams(query(false)), class: "button", onclick: (e) => { e.preventDefault(); state.before = ""; load(true); } }, "← Newest") : "",
    next ? h("button", { type: "button", class: "older", onclick: () => { state.before = next; load(true); } }, "Older →") : "");
}

function query(withCursor = true) {
  const q = {};
  for (const key of FILTERS) q[key] = state[key];
  if (withCursor) q.before = state.before;
  if (state.live === "0") q.live = "0";
  return q;
}

const wait = retrier(() => load());

async function load(push = false) {
  setParams(query(), push);
  wait.cancel();
  try {
    const page = await api("/api/traces", query());
    rows = page.traces;
    next = page.next;
    missed = 0;
    wait.succeeded();
    clearInvalid(form);
    invalid = false;
    render();
    setStatus("");
  } catch (error) {
    // No database yet: `wait` says where we wait and looks again (backing off) until the first trace is stored;
    // a database that cannot be read at all: it says why, in the page, and nothing retries.
    if (wait.failed(error)) { /* said in the page; retrying, or not */ }
    else if (markInvalid(form, error)) { invalid = true; rows = []; next = null; render(); }
    else showError(error);
  }
  updateLive();
}

function matches(trace) {
  if (state.before) return false; // an older page stays as it is
  if (state.service && trace.service !== state.service) return false;
  if (state.name && trace.root_name !== state.name) return false;
  if (state.errors === "1" && !trace.error_count) return false;
  if (state.q) {
    const q = state.q.toLowerCase();
    if (!(trace.root_name || "").toLowerCase().includes(q) && !(trace.service || "").toLowerCase().includes(q)) return false;
  }
  return true; // since / min_duration are checked by the next reload; a live trace is recent
}

function onTrace(trace) {
  if (invalid || !matches(trace)) return;
  if (state.live === "0") {
    missed += 1;
    liveButton.textContent = `Resume live (${missed} new)`;
    return;
  }
  const index = rows.findIndex((r) => r.trace_id === trace.trace_id);
  if (index >= 0) rows[index] = trace;
  else rows.push(trace);
  rows.sort((a, b) => (a.start_time < b.start_time ? 1 : a.start_time > b.start_time ? -1 : a.trace_id < b.trace_id ? 1 : -1));
  const limit = Number(state.limit || 50);
  if (rows.length > limit) rows.length = limit;
  render();
}

/** The live feed's state: while it is down the button says so; reopened (e.g. the store now exists), the list reloads what it missed. */
function onFeed(feedState) {
  if (feedState === "stopped") { updateLive(); return; }
  liveButton.classList.toggle("down", feedState === "reconnecting");
  if (feedState === "reconnecting") {
    if (!document.getElementById("not-ready")) setStatus("live feed reconnecting…", "warn");
    if (state.live !== "0") liveButton.textContent = "Live: reconnecting…";
    return;
  }
  if (!document.getElementById("not-ready") && document.getElementById("status").textContent.startsWith("live feed")) setStatus("");
  if (feedState === "reopened") load();
  else updateLive();
}

function updateLive() {
  if (feedsStopped()) {
    // The store cannot be read: no live feed will open, and the button says so rather than offering a pause.
    liveButton.classList.add("down");
    liveButton.setAttribute("aria-pressed", "false");
    liveButton.disabled = true;
    liveButton.textContent = "Live: off";
    return;
  }
  const paused = state.live === "0";
  liveButton.setAttribute("aria-pressed", paused ? "false" : "true");
  if (!paused || !missed) liveButton.textContent = paused ? "Resume live" : "Pause live";
  if (!source) {
    source = follow({ logs: 0 }, { trace: onTrace }, onFeed);
  }
}

liveButton.addEventListener("click", () => {
  const resume = state.live === "0";
  state.live = resume ? "" : "0";
  if (resume && missed) load();
  else { setParams(query()); updateLive(); }
});
form.addEventListener("submit", (e) => { e.preventDefault(); read(); state.before = ""; load(true); });
form.addEventListener("change", () => { read(); state.before = ""; load(); });
form.addEventListener("input", debounce(() => { read(); state.before = ""; load(); }, 300));
window.addEventListener("popstate", () => { Object.assign(state, Object.fromEntries(FILTERS.map((k) => [k, ""])), { before: "" }, params()); load(); });

app().append(h("div", { class: "toolbar" }, h("h1", {}, "Traces"), compareSelected(), liveButton), form, h("div", { class: "scroll-x" }, table), more);
load();
watchRunningTraces(() => rows, () => { if (state.live !== "0" && !state.before && !invalid) load(); });
