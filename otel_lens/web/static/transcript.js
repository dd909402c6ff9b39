// The transcript of a GenAI span in its detail panel: system instructions, messages by role, tool calls with
// their arguments, tool results, finish reasons, tokens (with cache and reasoning), and the hint when no
// content was stored. Built from the span's "messages"/"genai" keys of /api/traces/{id}; all text nodes, so
// a hostile prompt stays text.
import { fmtCount, h } from "./common.js";

/** Pretty JSON when `text` is JSON (tool arguments/results are stored as JSON text), else the text as it is. */
function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? JSON.stringify(parsed, null, 2) : text;
  } catch {
    return text;
  }
}

function part(p) {
  switch (p.type) {
    case "text":
      return h("div", { class: "part text" }, p.content || "");
    case "reasoning":
      return h("details", { class: "part reasoning" }, h("summary", {}, "reasoning"), h("div", {}, p.content || ""));
    case "tool_call":
      return h("div", { class: "part tool-call" },
        h("div", { class: "part-head" }, "→ tool call ", h("b", {}, p.name || "?"), p.id ? h("code", {}, p.id) : ""),
        p.arguments !== undefined ? h("pre", {}, pretty(p.arguments)) : "");
    case "tool_call_response":
      return h("div", { class: "part tool-result" },
        h("div", { class: "part-head" }, "← tool result", p.id ? [" ", h("code", {}, p.id)] : ""),
        h("pre", {}, pretty(p.result ?? "")));
    case "media":
      return h("div", { class: "part media" }, `[${p.mime_type || p.kind || "media"}] `, p.content || "", p.uri ? [" ", h("code", {}, p.uri)] : "");
    default:
      return h("pre", { class: "part raw", title: p.kind || p.type }, p.content || "");
  }
}

function message(m) {
  const role = String(m.role || "?");
  return h("div", { class: `msg role-${role.replace(/[^a-z_-]/gi, "")} ${m.direction === "output" ? "output" : "input"}` },
    h("div", { class: "msg-head" }, h("b", {}, role), m.name ? ` (${m.name})` : "", m.direction === "output" ? " · answer" : "",
      m.finish_reason ? h("span", { class: "finish" }, ` · finish: ${m.finish_reason}`) : ""),
    (m.parts || []).map(part));
}

function tokens(usage) {
  if (!usage) return "";
  const items = [["input", usage.input_tokens], ["output", usage.output_tokens], ["cache read", usage.cache_read_tokens],
    ["cache write", usage.cache_creation_tokens], ["reasoning", usage.reasoning_tokens]].filter(([, n]) => n !== null && n !== undefined);
  if (!items.length) return "";
  return h("p", { class: "tokens" }, "tokens: ", items.map(([label, n], i) => [i ? " · " : "", `${label} ${fmtCount(n)}`]));
}

/** The detail section of a GenAI span, or "" for any other span. */
export function transcript(span) {
  const genai = span.genai;
  if (!genai && !span.messages) return "";
  const messages = span.messages || [];
  const info = genai || {};
  const tools = info.tool_definitions || [];
  return h("details", { class: "section transcript", open: true },
    // No messages: say what the section holds (a hint why, or only the tokens of e.g. an agent span), not "0 messages".
    h("summary", {}, messages.length ? `Conversation (${messages.length} message${messages.length === 1 ? "" : "s"})`
      : info.content_hint ? "Conversation (not stored)" : "GenAI usage"),
    info.content_hint ? h("p", { class: "hint no-content" }, info.content_hint) : "",
    messages.map(message),
    (info.finish_reasons || []).length ? h("p", { class: "finish" }, `finish reason: ${info.finish_reasons.join(", ")}`) : "",
    tokens(info.usage),
    tools.length ? h("details", { class: "tools" }, h("summary", {}, `tools offered (${tools.length})`),
      tools.map((t) => h("div", { class: "tool" }, h("b", {}, t.name || "?"), t.description ? ` — ${t.description}` : "",
        t.parameters || t.raw ? h("pre", {}, pretty(t.parameters || t.raw)) : ""))) : "");
}
