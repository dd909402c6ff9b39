// The span detail panel: status, attributes, captured bodies, events (exception stack traces), links,
// resource, scope, the span's logs, and "copy subtree as JSON".
import { apiText, asText, fmtMs, fmtTime, h, plural, setStatus, showError } from "./common.js";

import { transcript } from "./transcript.js";

const BODY_PREFIX = "lens.body.";

// Attributes naming a session page link their value to it: the keys the store groups by
// (otel_lens.store._sessions.SESSION_KEYS), ids up to its MAX_ID long (longer ones are not grouped).
const SESSION_KEYS = { "session.id": "", "langfuse.session.id": "", "gen_ai.conversation.id": "?kind=conversation" };
const MAX_SESSION_ID = 1024;

function valueCell(key, value) {
  const query = SESSION_KEYS[key];
  if (query === undefined || typeof value !== "string" || !value || value.length > MAX_SESSION_ID) return asText(value);
  return h("a", { class: "session-link", href: `/sessions/${encodeURIComponent(value)}${query}` }, value);
}

function table(object) {
  const entries = Object.entries(object || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (!entries.length) return h("p", { class: "hint" }, "none");
  return h("table", { class: "kv" }, h("tbody", {}, entries.map(([key, value]) =>
    h("tr", {}, h("th", { title: key }, breakable(key)), h("td", {}, valueCell(key, value))))));
}

/** A dotted key with line-break chances after its dots (gen_ai.usage.input_tokens wraps at a dot, not mid-word). */
function breakable(key) {
  const pieces = String(key).split(".");
  return pieces.flatMap((piece, i) => (i < pieces.length - 1 ? [piece + ".", h("wbr")] : [piece]));
}

function section(title, ...content) {
  return h("details", { class: "section", open: true }, h("summary", {}, title), ...content);
}

function countBelow(span, children) {
  let n = 0;
  const stack = [span];
  while (stack.length) { n += 1; stack.push(...(children.get(stack.pop().span_id) || [])); }
  return n;
}

async function copySubtree(span, context, output) {
  // The server cuts the subtree and its JSON text is copied as it is: parsed here, ns timestamps
  // (beyond 2**53) would be rounded by JS numbers.
  let text;
  try {
    text = await apiText(`/api/traces/${encodeURIComponent(context.trace.trace_id)}`, { subtree: span.span_id });
  } catch (error) {
    showError(error);
    return;
  }
  const count = countBelow(span, context.children);
  output.value = text;
  output.hidden = false;
  try {
    await navigator.clipboard.writeText(text);
    setStatus(`copied ${plural(count, "span")} as JSON`);
  } catch {
    output.select(); // no clipboard permission: the JSON is selected in the box for Ctrl+C
    setStatus("select-all and copy the JSON below", "warn");
  }
}

export function spanDetail(span, context) {
  const attributes = {};
  const bodies = [];
  for (const [key, value] of Object.entries(span.attributes || {})) {
    if (key.startsWith(BODY_PREFIX)) bodies.push([key, value]);
    else attributes[key] = value;
  }
  const failed = span.status && span.status.code === "ERROR";
  const output = h("textarea", { class: "copy-out", readonly: true, hidden: true, rows: 8, "aria-label": "subtree as JSON" });
  const logs = context.trace.logs.filter((l) => l.span_id === span.span_id);
  const start = (span.start_time_unix_nano - context.t0) / 1e6;
  const service = span.resource && span.resource["service.name"];
  return [
    h("h2", {}, span.name),
    h("p", { class: "meta" }, `${span.kind} · ${service || "no service"} · `, h("span", { class: "span-duration", "data-span-id": span.span_id }, fmtMs(span.duration_ms)), ` · at +${fmtMs(start)}`),
    h("p", { class: failed ? "status failed" : "status" }, `status ${span.status ? span.status.code : "UNSET"}`, span.status && span.status.message ? `: ${span.status.message}` : ""),
    h("p", { class: "ids" }, "span ", h("code", {}, span.span_id), span.parent_span_id ? [" · parent ", h("code", {}, span.parent_span_id)] : " · root"),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "copy", onclick: () => copySubtree(span, context, output) }, "Copy subtree as JSON"),
      h("a", { class: "button", href: `?span=${span.span_id}` }, "Link to this span")),
    output,
    transcript(span),
    section("Attributes", table(attributes)),
    bodies.length ? section("Captured bodies", ...bodies.map(([key, value]) => h("div", { class: "body" }, h("h4", {}, key.slice(BODY_PREFIX.length)), h("pre", {}, asText(value))))) : "",
    section(`Events (${(span.events || []).length})`, ...(span.events || []).map((event) => eventView(event, span))),
    (span.links || []).length ? section("Links", ...(span.links || []).map((link) => h("div", { class: "link" },
      h("a", { href: `/traces/${link.trace_id}?span=${link.span_id}` }, `${link.trace_id.slice(0, 8)}… / ${link.span_id}`), table(link.attributes)))) : "",
    section(`Logs (${logs.length})`, logs.length ? h("ul", { class: "span-logs" }, logs.map((l) => h("li", { class: `sev sev-${(l.severity_text || "").toLowerCase()}` },
      h("span", { class: "time" }, fmtTime(l.timestamp)), " ", h("b", {}, l.severity_text || ""), " ", asText(l.body ?? l.event_name ?? "")))) : h("p", { class: "hint" }, "none")),
    section("Resource", table(span.resource)),
    section("Scope", ...scopeView(span.scope)),
  ];
}

/** The instrumentation scope: its name and version (when it has one) on one line, its attributes if any. */
function scopeView(scope) {
  const named = [scope && scope.name, scope && scope.version].filter(Boolean).join(" ");
  const attributes = (scope && scope.attributes) || {};
  // A bare "none" under the name read as its missing version: say "none" only when there is nothing at all.
  if (!named) return [table(attributes)];
  return [h("p", { class: "scope-name" }, named), Object.keys(attributes).length ? table(attributes) : ""];
}

function eventView(event, span) {
  const attributes = event.attributes || {};
  const offset = (event.time_unix_nano - span.start_time_unix_nano) / 1e6;
  if (event.name === "exception") {
    const rest = Object.fromEntries(Object.entries(attributes).filter(([k]) => !k.startsWith("exception.")));
    return h("div", { class: "event exception" },
      h("h4", {}, `exception at +${fmtMs(offset)}: `, h("b", {}, asText(attributes["exception.type"] ?? "")), " ", asText(attributes["exception.message"] ?? "")),
      attributes["exception.stacktrace"] ? h("pre", { class: "stack" }, asText(attributes["exception.stacktrace"])) : "",
      Object.keys(rest).length ? table(rest) : "");
  }
  return h("div", { class: "event" }, h("h4", {}, `${event.name} at +${fmtMs(offset)}`), Object.keys(attributes).length ? table(attributes) : "");
}
