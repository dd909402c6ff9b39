// One session or conversation as a chat-like list of turns (one per trace, oldest first): what was asked and
// answered, tokens, cost, latency and errors per turn and in total, the conversations of a session (or the
// sessions of a conversation), each turn linking to its trace. Live: a stored trace reloads it (debounced), so
// an agent run can be watched turn by turn.
import { api, app, debounce, fmtCount, fmtMs, fmtTime, follow, h, params, plural, retrier, setStatus, showError } from "./common.js";

const root = app();
const sessionId = root.dataset.sessionId || "";
const kind = params().kind || "";

const money = (v) => (v === null || v === undefined ? "—" : `$${v < 1 ? v.toFixed(6) : v.toFixed(2)}`);
const sessionHref = (s) => `/sessions/${encodeURIComponent(s.session_id)}` + (s.kind === "conversation" ? "?kind=conversation" : "");

function totals(data) {
  const facts = [
    ["Traces", fmtCount(data.trace_count)],
    ["Started", fmtTime(data.start_time)],
    ["Last activity", fmtTime(data.end_time)],
    ["Duration", fmtMs(data.duration_ms)],
    ["Errors", fmtCount(data.error_count)],
    ["Model calls", fmtCount(data.genai_count)],
    ["Tokens in", fmtCount(data.input_tokens)],
    ["Tokens out", fmtCount(data.output_tokens)],
    ["Cost", money(data.cost)],
  ];
  return h("dl", { class: "session-totals" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { class: k === "Errors" && data.error_count ? "err" : "" }, v)]));
}

function related(data) {
  const list = data.kind === "session" ? data.conversations : data.sessions;
  if (!list || !list.length) {
    return h("p", { class: "muted hierarchy" }, data.kind === "session" ? "No GenAI conversation ids in this session's traces." : "This conversation is in no session (no session.id on its traces).");
  }
  const label = data.kind === "session" ? "Conversations in this session" : "Part of the sessions";
  return h("nav", { class: "hierarchy", "aria-label": label }, h("span", { class: "muted" }, label + ": "),
    list.map((s) => h("a", { href: sessionHref(s), class: "chip" }, s.session_id, h("span", { class: "muted" }, ` ${plural(s.trace_count, "trace")}`))));
}

function bubble(role, text) {
  return h("div", { class: `bubble ${role}` }, h("span", { class: "role" }, role), h("p", {}, text));
}

function turn(t, index, data) {
  const other = data.kind === "session" ? t.conversations : t.sessions.filter((s) => s !== data.session_id);
  const facts = [fmtMs(t.duration_ms), plural(t.span_count, "span")];
  if (t.genai_count) facts.push(`${fmtCount(t.input_tokens)} in / ${fmtCount(t.output_tokens)} out tokens`, money(t.cost));
  if (t.models && t.models.length) facts.push(t.models.join(", "));
  return h("li", { class: "turn" + (t.error ? " failed" : ""), "data-trace-id": t.trace_id },
    h("div", { class: "turn-head" },
      h("span", { class: "turn-number" }, `#${index + 1}`),
      h("a", { href: `/traces/${encodeURIComponent(t.trace_id)}`, class: "turn-link" }, t.root_name || "(no root yet)"),
      h("span", { class: "time" }, fmtTime(t.start_time)),
      other && other.length ? h("span", { class: "chip small" }, (data.kind === "session" ? "conversation " : "session ") + other.join(", ")) : "",
      t.error ? h("span", { class: "err-badge" }, plural(t.error_count, "error")) : ""),
    t.user_message ? bubble("user", t.user_message) : "",
    t.assistant_message ? bubble("assistant", t.assistant_message) : "",
    h("div", { class: "turn-facts muted" }, facts.join(" · ")));
}

function render(data) {
  const heading = h("h1", {}, h("span", { class: `kind kind-${data.kind}` }, data.kind), " ", h("span", { class: "session-id" }, data.session_id));
  const turns = h("ol", { class: "turns" }, data.turns.map((t, i) => turn(t, i, data)));
  const note = data.turns_truncated ? h("p", { class: "muted" }, `Only the first ${data.turns.length} traces are shown.`) : "";
  root.replaceChildren(h("p", {}, h("a", { href: "/sessions" }, "← Sessions")), heading, totals(data), related(data), turns, note);
  document.title = `${data.kind} ${data.session_id} · otel-lens`;
}

const wait = retrier(load);

async function load() {
  wait.cancel();
  setStatus("loading…");
  try {
    const data = await api(`/api/sessions/${encodeURIComponent(sessionId)}`, { kind });
    render(data);
    wait.succeeded();
    setStatus("");
  } catch (error) {
    if (wait.failed(error)) return;
    if (error.status === 404) root.replaceChildren(h("p", {}, h("a", { href: "/sessions" }, "← Sessions")), h("h1", {}, "Not found"), h("p", { class: "notice" }, error.message));
    showError(error);
  }
}

// The feed opens at once, not after the first answer: a trace stored while that answer is on its way (or
// while the session does not exist yet) would otherwise be missed until the next one. Each (re)connection
// loads again, so whatever was stored before the feed was up is shown too.
const reload = debounce(load, 300);
follow({ logs: 0 }, { trace: debounce(load, 1000) }, (state) => { if (state === "live" || state === "reopened") reload(); });
load();
