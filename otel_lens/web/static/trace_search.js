/**
 * Search inside a trace: what of a span holds the query, over the data the page already has (name, attributes,
 * status message, events, the span's logs), and the text shown around a match. Runs over every span at each
 * keystroke (10,000 on a big trace), so a span's logs are grouped once per loaded log list, never per span.
 */
import { asText, h } from "./common.js";

/** Matches spans against a query; `match(span, q, logs)` with the trace's loaded logs (or null before they are in). */
export class SpanSearch {
  constructor() {
    this.logsOf = new Map(); // span_id -> its logs, for the log list last seen
    this.logsFrom = null;
  }

  /** The span's logs, grouped once per loaded log list. */
  spanLogs(spanId, logs) {
    if (logs !== this.logsFrom) {
      this.logsFrom = logs;
      this.logsOf = new Map();
      for (const log of logs || []) if (log.span_id) (this.logsOf.get(log.span_id) || this.logsOf.set(log.span_id, []).get(log.span_id)).push(log);
    }
    return this.logsOf.get(spanId) || [];
  }

  /**
   * What of a span holds the query: true for its name (or id), else [label, value] for the first match among its
   * attributes, status message, events (name, attributes: `exception.type`, `exception.message`…) and logs (body,
   * attributes) — all of it data the page already has (the outline's status and event names come first).
   */
  match(span, q, logs) {
    if (span.name.toLowerCase().includes(q) || span.span_id === q) return true;
    const attribute = entryMatch(span.attributes, q);
    if (attribute) return attribute;
    const message = span.status && span.status.message;
    if (message && message.toLowerCase().includes(q)) return ["status", message];
    for (const event of span.events || []) {
      if (event.name.toLowerCase().includes(q)) return ["event", event.name];
      const found = entryMatch(event.attributes, q);
      if (found) return found;
    }
    for (const log of this.spanLogs(span.span_id, logs)) {
      const body = asText(log.body ?? log.event_name ?? "");
      if (body.toLowerCase().includes(q)) return ["log", body];
      const found = entryMatch(log.attributes, q);
      if (found) return found;
    }
    return null;
  }
}

/** The first [key, value] of `object` whose key or value holds the query, or null. */
function entryMatch(object, q) {
  for (const [key, value] of Object.entries(object || {})) {
    if (key.toLowerCase().includes(q) || asText(value).toLowerCase().includes(q)) return [key, value];
  }
  return null;
}

/** Up to 120 characters of `text` around the query's first place (a stack trace matches deep inside). */
export function around(text, q) {
  const at = q ? text.toLowerCase().indexOf(q) : -1;
  if (at < 60 || text.length <= 120) return text.slice(0, 120);
  return "…" + text.slice(at - 40, at + 80);
}

/** `text` as nodes with the query's first place marked. */
export function highlighted(text, q) {
  const at = q ? text.toLowerCase().indexOf(q) : -1;
  if (at < 0) return [text];
  return [text.slice(0, at), h("mark", {}, text.slice(at, at + q.length)), text.slice(at + q.length)];
}
