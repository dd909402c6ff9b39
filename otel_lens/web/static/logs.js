// The log list: filters (text, level, trace, window), newest first, cursor paging, live with pause.
import { api, app, asText, debounce, fmtTime, follow, h, params, select, serviceColor, setParams, setStatus, showError, SINCE_OPTIONS, retrier, feedsStopped } from "./common.js";

const FILTERS = ["q", "level", "trace", "since"];
const LEVELS = [["", "any level"], ["debug", "debug+"], ["info", "info+"], ["warn", "warn+"], ["error", "error+"], ["fatal", "fatal"]];
const state = params();
let records = [];
let next = null;
let source = null;
let missed = 0;

const form = h("form", { class: "filters", role: "search" },
  h("label", {}, "Search ", h("input", { name: "q", type: "search", placeholder: "message, event or attribute", value: state.q || "" })),
  select("level", LEVELS, state.level, "Level"),
  h("label", {}, "Trace ", h("input", { name: "trace", value: state.trace || "", placeholder: "trace id or prefix", size: 14 })),
  select("since", SINCE_OPTIONS, state.since, "Since"));
const liveButton = h("button", { type: "button", class: "live" });
const table = h("table", { class: "list logs" },
  h("thead", {}, h("tr", {}, ["Time", "Level", "Service", "Message", "Trace"].map((t) => h("th", {}, t)))), h("tbody"));
const more = h("div", { class: "paging" });

function row(record) {
  const dot = h("span", { class: "dot" });
  dot.style.background = serviceColor(record.service);
  const level = (record.severity_text || "").toLowerCase();
  const message = record.body !== null && record.body !== undefined ? asText(record.body) : record.event_name || "";
  return h("tr", { class: `sev sev-${level}`, "data-log-id": record.id },
    h("td", { class: "time" }, fmtTime(record.timestamp)),
    h("td", {}, h("span", { class: "level" }, record.severity_text || "")),
    h("td", { class: "service", title: record.service || "" }, dot, record.service || ""),
    h("td", { class: "message" }, message, record.event_name && record.body !== null ? h("span", { class: "event-name" }, ` ${record.event_name}`) : ""),
    h("td", {}, record.trace_id ? h("a", { href: `/traces/${record.trace_id}${record.span_id ? "?span=" + record.span_id : ""}` }, record.trace_id.slice(0, 8)) : ""));
}

function render() {
  table.tBodies[0].replaceChildren(...records.map(row));
  if (!records.length) table.tBodies[0].append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No log records match.")));
  more.replaceChildren(
    state.before ? h("button", { type: "button", onclick: () => { state.before = ""; load(true); } }, "← Newest") : "",
    next ? h("button", { type: "button", class: "older", onclick: () => { state.before = next; load(true); } }, "Older →") : "");
}

function query() {
  const q = Object.fromEntries(FILTERS.map((k) => [k, state[k]]));
  q.before = state.before;
  if (state.live === "0") q.live = "0";
  return q;
}


const wait = retrier(() => load());

async function load(push = false) {
  setParams(query(), push);
  wait.cancel();
  try {
    const page = await api("/api/logs", query());
    records = page.logs;
    next = page.next;
    missed = 0;
    wait.succeeded();
    render();
    setStatus("");
  } catch (error) {
    if (!wait.failed(error)) showError(error);
  }
  restartLive();
}

function onLog(record) {
  if (state.before || records.some((r) => r.id === record.id)) return;
  if (state.live === "0") { missed += 1; liveButton.textContent = `Resume live (${missed} new)`; return; }
  records.unshift(record);
  if (records.length > 200) records.length = 200;
  render();
}

function restartLive() {
  if (feedsStopped()) { liveButton.disabled = true; liveButton.textContent = "Live: off"; return; } // cannot be read
  const paused = state.live === "0";
  liveButton.setAttribute("aria-pressed", paused ? "false" : "true");
  if (!paused || !missed) liveButton.textContent = paused ? "Resume live" : "Pause live";
  const wanted = JSON.stringify({ traces: 0, q: state.q, level: state.level, trace: state.trace });
  if (source && source.wanted === wanted) return;
  if (source) source.close();
  source = follow(JSON.parse(wanted), { log: onLog }, (s) => {
    if (s === "reopened") { load(); return; } // e.g. the store now exists: what was stored meanwhile
    if (s === "stopped") { restartLive(); return; } // the notice says why
    if (document.getElementById("not-ready")) return; // the notice says it already
    setStatus(s === "live" ? "" : `live feed ${s}…`, s === "live" ? "" : "warn");
  });
  source.wanted = wanted;
}

function read() {
  const data = new FormData(form);
  for (const key of FILTERS) state[key] = data.get(key) || "";
  state.before = "";
}

liveButton.addEventListener("click", () => {
  const resume = state.live === "0";
  state.live = resume ? "" : "0";
  if (resume && missed) load(); else { setParams(query()); restartLive(); }
});
form.addEventListener("submit", (e) => { e.preventDefault(); read(); load(true); });
form.addEventListener("change", () => { read(); load(); });
form.addEventListener("input", debounce(() => { read(); load(); }, 300));
window.addEventListener("popstate", () => { Object.assign(state, { q: "", level: "", trace: "", since: "", before: "" }, params()); load(); });

app().append(h("div", { class: "toolbar" }, h("h1", {}, "Logs"), liveButton), form, h("div", { class: "scroll-x" }, table), more);
load();
