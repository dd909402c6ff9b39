// Sessions: sessions (session.id) and GenAI conversations (gen_ai.conversation.id), latest activity first,
// filtered and paged by cursor; the filters and the page live in the URL. Live on the first page: a stored
// trace reloads it (debounced).
import { api, app, clearInvalid, debounce, fmtCount, fmtMs, fmtTime, follow, h, markInvalid, params, retrier, select, setParams, setStatus, showError, SINCE_OPTIONS } from "./common.js";

const FILTERS = ["q", "kind", "service", "since"];
const state = params();
let next = null;
let invalid = false;

const form = h("form", { class: "filters", role: "search" },
  h("label", {}, "Search ", h("input", { name: "q", type: "search", placeholder: "session or conversation id", value: state.q || "" })),
  select("kind", [["", "sessions and conversations"], ["session", "sessions"], ["conversation", "conversations"]], state.kind || "", "Kind"),
  h("label", {}, "Service ", h("input", { name: "service", value: state.service || "", size: 12 })),
  select("since", SINCE_OPTIONS, state.since, "Active since"));
const table = h("table", { class: "list sessions" },
  h("thead", {}, h("tr", {}, ["Last activity", "Kind", "Id", "Service", "Traces", "Duration", "Errors", "Tokens in", "Tokens out"].map((t) => h("th", {}, t)))),
  h("tbody"));
const more = h("div", { class: "paging" });

function query(withCursor = true) {
  const q = {};
  for (const key of FILTERS) q[key] = state[key] || "";
  if (withCursor) q.before = state.before || "";
  return q;
}

function row(session) {
  const href = `/sessions/${encodeURIComponent(session.session_id)}` + (session.kind === "conversation" ? "?kind=conversation" : "");
  return h("tr", { class: session.error_count ? "failed" : "", "data-session-id": session.session_id, onclick: (e) => { if (!e.target.closest("a")) location.href = href; } },
    h("td", { class: "time" }, fmtTime(session.end_time)),
    h("td", {}, h("span", { class: `kind kind-${session.kind}` }, session.kind)),
    h("td", { class: "name" }, h("a", { href }, session.session_id)),
    h("td", { class: "service" }, session.service || ""),
    h("td", { class: "num" }, fmtCount(session.trace_count)),
    h("td", { class: "num" }, fmtMs(session.duration_ms)),
    h("td", { class: "num" }, session.error_count ? h("span", { class: "err-badge" }, fmtCount(session.error_count)) : ""),
    h("td", { class: "num" }, fmtCount(session.input_tokens)),
    h("td", { class: "num" }, fmtCount(session.output_tokens)));
}

function render(sessions) {
  const body = table.tBodies[0];
  body.replaceChildren(...sessions.map(row));
  if (invalid) body.append(h("tr", {}, h("td", { colspan: 9, class: "empty invalid" }, "Not filtered: fix the marked filter above.")));
  else if (!sessions.length) body.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No sessions or conversations match. A trace belongs to one when a span carries session.id or gen_ai.conversation.id.")));
  more.replaceChildren(
    state.before ? h("button", { type: "button", class: "newest", onclick: () => { state.before = ""; load(true); } }, "← Newest") : "",
    next ? h("button", { type: "button", class: "older", onclick: () => { state.before = next; load(true); } }, "Older →") : "");
}

const wait = retrier(() => load());

async function load(push = false) {
  wait.cancel();
  setParams(query(), push);
  setStatus("loading…");
  try {
    const data = await api("/api/sessions", query());
    invalid = false;
    clearInvalid(form);
    next = data.next;
    render(data.sessions);
    wait.succeeded();
    setStatus("");
  } catch (error) {
    if (wait.failed(error)) return;
    if (markInvalid(form, error)) { invalid = true; next = null; render([]); return; }
    showError(error);
  }
}

function changed() {
  const data = new FormData(form);
  for (const key of FILTERS) state[key] = data.get(key) || "";
  state.before = "";
  load();
}

form.addEventListener("change", changed);
form.addEventListener("input", debounce(changed, 300));
form.addEventListener("submit", (e) => { e.preventDefault(); changed(); });
window.addEventListener("popstate", () => { Object.assign(state, { q: "", kind: "", service: "", since: "", before: "" }, params()); load(); });
app().append(h("div", { class: "toolbar" }, h("h1", {}, "Sessions")), form, h("div", { class: "scroll-x" }, table), more);
load();
follow({ logs: 0 }, { trace: debounce(() => { if (!state.before && !invalid) load(); }, 1000) });
