// Shared helpers of the viewer's pages: DOM building (text only, never HTML strings), the JSON API,
// URL state, formatting and service colours.

/** An element with properties and children; strings become text nodes, so stored text is never parsed as HTML. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const app = () => document.getElementById("app");

/** GET a JSON API route; a non-2xx answer throws its `error` message. */
export async function api(path, params) {
  const query = params ? "?" + new URLSearchParams(clean(params)).toString() : "";
  const response = await fetch(path + (query === "?" ? "" : query), { headers: { accept: "application/json" } });
  let data = null;
  try {
    data = await response.json();
  } catch {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  if (!response.ok) {
    const failure = new Error(data && data.error ? data.error : `HTTP ${response.status}`);
    failure.status = response.status;
    failure.notReady = Boolean(data && data.not_ready);
    failure.database = data && data.database;
    failure.parameter = data && data.parameter;
    failure.permanent = Boolean(data && data.permanent);
    if (failure.permanent) stopFeeds(failure);
    throw failure;
  }
  return data;
}

/** GET a JSON API route as its text (ns timestamps beyond 2**53 survive only as text: JS numbers round them). */
export async function apiText(path, params) {
  const query = params ? "?" + new URLSearchParams(clean(params)).toString() : "";
  const response = await fetch(path + (query === "?" ? "" : query), { headers: { accept: "application/json" } });
  const body = await response.text();
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = JSON.parse(body).error || message; } catch { /* not JSON: the status says it */ }
    throw new Error(message);
  }
  return body;
}

const RETRY_MS = [1000, 2000, 4000, 8000];

/** The delay before retry number `attempt` (0-based): backs off to 8 s, never gives up. */
export function retryDelay(attempt) {
  return RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
}

/** The notice `id` at the top of the page, made (with `cls` and ARIA `role`) the first time it is needed. */
function pageNotice(id, cls, role) {
  let notice = document.getElementById(id);
  if (!notice) {
    notice = h("div", { id, class: cls, role });
    app().prepend(notice);
  }
  return notice;
}

/**
 * For an error of `api()`: when the store does not exist yet, say so prominently at the top of the page (not
 * only in the status corner) and return true, so the page retries; any other error returns false.
 */
export function waitingForData(error) {
  if (!error || !error.notReady) return false;
  pageNotice("not-ready", "notice", "status").replaceChildren(
    h("h2", {}, "Nothing stored yet"),
    h("p", {}, "Nothing stored yet at ", h("code", {}, error.database || "the database"),
      " — run your app with otel-lens configured (for example `opentelemetry-instrument python app.py`, or `configure()` in your code). ",
      "This page keeps checking and shows the data as soon as it is stored."));
  setStatus("waiting for the first data…", "warn");
  return true;
}

/**
 * For a 400 naming a parameter that is a field of `form`: mark that field invalid (aria-invalid, red outline,
 * the message next to it) and return true; the page then shows its list as not filtered, not as "no match".
 */
export function markInvalid(form, error) {
  clearInvalid(form);
  const field = error && error.parameter ? form.elements.namedItem(error.parameter) : null;
  if (!field || !field.setAttribute) return false;
  const id = `invalid-${error.parameter}`;
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", id);
  field.closest("label").after(h("span", { id, class: "field-error", role: "alert" }, error.message));
  setStatus("");
  return true;
}

export function clearInvalid(form) {
  for (const field of form.querySelectorAll("[aria-invalid]")) { field.removeAttribute("aria-invalid"); field.removeAttribute("aria-describedby"); }
  for (const note of form.querySelectorAll(".field-error")) note.remove();
}

/**
 * For an error of `api()` that waiting cannot cure (the database is no otel-lens store, or a directory): its
 * one-line reason at the top of the page, and true; the page then stops retrying (its live feeds are stopped
 * already, see `stopFeeds`). Any other error returns false.
 */
export function cannotRead(error) {
  if (!error || !error.permanent) return false;
  pageNotice("cannot-read", "notice failed", "alert").replaceChildren(
    h("h2", {}, "Cannot read this database"),
    h("p", { class: "error-text" }, error.message),
    h("p", {}, "This page does not retry: start otel-lens serve again with --database naming an otel-lens database."));
  setStatus("");
  return true;
}

/** Remove the "nothing stored yet" (or "cannot read") notice once data could be read. */
export function dataArrived() {
  for (const id of ["not-ready", "cannot-read"]) {
    const notice = document.getElementById(id);
    if (notice) notice.remove();
  }
}

/**
 * A page's retry while the store does not exist yet, shared by every page: `cancel()` before each load,
 * `succeeded()` once data came (the notice goes, the backoff restarts), `failed(error)` after an error: true
 * when it was "nothing stored yet" and `retry` is scheduled with backoff, or when the database cannot be read
 * at all (the reason is shown, nothing is retried); false for any other error.
 */
export function retrier(retry) {
  let timer = 0;
  let attempt = 0;
  return {
    cancel() { clearTimeout(timer); },
    succeeded() { attempt = 0; dataArrived(); },
    failed(error) {
      if (cannotRead(error)) return true; // shown, and not retried: waiting cannot cure it
      if (!waitingForData(error)) return false;
      timer = setTimeout(retry, retryDelay(attempt++));
      return true;
    },
  };
}

/** The parameters without empty values. */
export function clean(params) {
  const out = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "" && value !== false) out[key] = String(value);
  }
  return out;
}

export function params() {
  return Object.fromEntries(new URLSearchParams(location.search).entries());
}

/** Keep the page's state in its URL (replace, or push a history entry for a real navigation step). */
export function setParams(values, push = false) {
  const query = new URLSearchParams(clean(values)).toString();
  const url = location.pathname + (query ? "?" + query : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) {
    history[push ? "pushState" : "replaceState"](null, "", url);
  }
}

export function setStatus(text, kind = "") {
  const node = document.getElementById("status");
  if (!node) return;
  node.textContent = text || "";
  node.className = "status" + (kind ? " " + kind : "");
}

export function showError(error) {
  setStatus(error && error.message ? error.message : String(error), "error");
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  // Under 10 µs one decimal (dropped when zero): a 3 µs axis ticks 0.8, 1.5, 2.3 µs, not 1, 2, 2 µs.
  if (ms < 0.01) return `${Number((ms * 1000).toFixed(1))} µs`;
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const today = new Date().toDateString() === date.toDateString();
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `;
  return (today ? "" : day) + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function fmtCount(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
}

/** "1 span", "2 spans", "1 match", "3 matches": a count with its noun in the right number. */
export function plural(n, singular, pluralForm) {
  return `${fmtCount(n)} ${Number(n) === 1 ? singular : pluralForm || singular + "s"}`;
}

const HUES_KEY = "otel-lens:service-index";
const GOLDEN_ANGLE = 137.508;
let hueIndex = null;

function hashOf(name) {
  let hash = 2166136261;
  for (const char of String(name || "")) hash = Math.imul(hash ^ char.codePointAt(0), 16777619);
  return Math.abs(hash);
}

/**
 * A stable colour per service name (the same service has the same colour on every page). A hash of the name
 * put two services at hue 232 and 240; instead each name seen gets the next index (kept in localStorage, so
 * it stays the same across pages and reloads) and hues step by the golden angle: any two are far apart.
 */
export function serviceHue(name) {
  const key = String(name || "");
  if (hueIndex === null) {
    try { hueIndex = JSON.parse(localStorage.getItem(HUES_KEY) || "{}"); } catch { hueIndex = {}; }
    if (typeof hueIndex !== "object" || hueIndex === null) hueIndex = {};
  }
  if (!(key in hueIndex)) {
    hueIndex[key] = Object.keys(hueIndex).length;
    try { localStorage.setItem(HUES_KEY, JSON.stringify(hueIndex)); } catch { /* no storage: stable for this page */ }
  }
  const index = Number(hueIndex[key]);
  return Number.isFinite(index) ? Math.round((index * GOLDEN_ANGLE + 210) % 360) : hashOf(key) % 360;
}

export function serviceColor(name) {
  return `hsl(${serviceHue(name)} 62% 48%)`;
}

/** Text of any JSON value as the viewer shows it (strings as they are, the rest as JSON). */
export function asText(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

let unreadable = null; // the permanent error an API answer gave: no feed is (re)opened after it
const feeds = new Set();

/** The permanent error that stopped this page's live feeds, or null while they may run. */
export function feedsStopped() {
  return unreadable;
}

/** The store cannot be read and waiting will not change that: close every live feed and open none again. */
function stopFeeds(error) {
  unreadable = error;
  for (const feed of feeds) feed.stop();
}

/**
 * A /api/live subscription: `handlers` maps event names ("trace", "log") to callbacks of the parsed data.
 * A browser never reconnects an EventSource that got a non-200 answer (a 503 while nothing is stored yet, a
 * restarted server), so a closed feed is opened again here, backing off to 8 s; `onState` hears "live",
 * "reconnecting" and, on each (re)open after a closed feed, "reopened" (the page reloads what it missed), and
 * "stopped" once an API answer said the database cannot be read at all (no reconnecting then: see `stopFeeds`).
 * Returns an object with `close()`.
 */
export function follow(query, handlers, onState) {
  const url = "/api/live?" + new URLSearchParams(clean(query)).toString();
  const feed = {
    source: null, closed: false, timer: 0, attempt: 0,
    close() { this.closed = true; feeds.delete(this); clearTimeout(this.timer); if (this.source) this.source.close(); },
    stop() { this.close(); if (onState) onState("stopped"); },
  };
  feeds.add(feed);
  const open = () => {
    if (feed.closed) return;
    if (unreadable) { feed.stop(); return; }
    const source = new EventSource(url);
    feed.source = source;
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    }
    source.addEventListener("open", () => {
      const reopened = feed.attempt > 0;
      feed.attempt = 0;
      if (onState) onState(reopened ? "reopened" : "live");
    });
    source.addEventListener("error", () => {
      if (onState) onState("reconnecting");
      if (source.readyState !== EventSource.CLOSED || feed.closed) return; // the browser retries by itself
      source.close();
      feed.timer = setTimeout(open, retryDelay(feed.attempt));
      feed.attempt += 1;
    });
  };
  open();
  return feed;
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A labelled select of (value, label) pairs. */
export function select(name, options, value, label) {
  return h("label", {}, label, " ",
    h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === (value || "") }, text))));
}

export const SINCE_OPTIONS = [["", "any time"], ["15m", "15 min"], ["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"]];
