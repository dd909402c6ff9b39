// The diff page: two traces aligned span by span (/api/diff, the read API's diff_traces) drawn as one merged
// tree: added (+), removed (−) and changed (~) marks, durations of A and B with the delta (absolute and %),
// status changes, both spans on one timeline; a click shows the attribute changes. State in the URL:
// ?a=&b= (or ?previous=<trace>, replaced by the two ids once resolved), &changed=1, &row=.
import { api, app, asText, fmtMs, fmtTime, h, params, plural, serviceColor, setParams, setStatus } from "./common.js";

// A matched span counts as slower/faster when it moved by at least this much (and this share of A's time):
// two runs of the same code never take exactly the same time, and noise should not look like a change.
const SIGNIFICANT_MS = 1;
const SIGNIFICANT_SHARE = 0.1;
const MAX_ROWS = 2000; // rows drawn; the rest is counted (otel-lens diff --json has every one)
const state = params();
let diff = null;
let tree = [];
let shown = [];
let selected = state.row !== undefined && state.row !== "" ? Number(state.row) : -1;

const form = h("form", { class: "filters diff-form", method: "get", action: "/diff" },
  h("label", {}, "A ", h("input", { name: "a", value: state.a || "", placeholder: "trace id or unique prefix", size: 34, spellcheck: "false" })),
  h("label", {}, "B ", h("input", { name: "b", value: state.b || "", placeholder: "trace id or unique prefix", size: 34, spellcheck: "false" })),
  h("button", { type: "submit" }, "Compare"),
  h("button", { type: "button", class: "swap", title: "compare B with A instead", onclick: () => swap() }, "⇄ Swap"));
const changedOnly = h("input", { type: "checkbox", name: "changed", checked: state.changed === "1" });
const head = h("div", { class: "diff-head" });
const body = h("tbody");
const table = h("table", { class: "list diff" },
  h("thead", {}, h("tr", {}, h("th", { class: "mark", "aria-label": "change" }), h("th", {}, "span"), h("th", { class: "num" }, "A"),
    h("th", { class: "num" }, "B"), h("th", { class: "num" }, "Δ"), h("th", { class: "num" }, "Δ %"), h("th", { class: "timeline" }, "A / B timeline"))),
  body);
const note = h("p", { class: "hint diff-note" });
const detail = h("aside", { class: "detail diff-detail", "aria-label": "change detail", tabindex: "-1" });

function entry(row) {
  return diff[row.kind][row.index];
}

function isChanged(item) {
  return Boolean(item.status_changed || item.attributes || item.tokens);
}

/** "slower", "faster" or "" for a matched span (see SIGNIFICANT_*). */
function movement(item) {
  if (!item.a || !item.b) return "";
  const delta = item.delta_ms;
  if (Math.abs(delta) < SIGNIFICANT_MS || Math.abs(delta) < SIGNIFICANT_SHARE * item.a.duration_ms) return "";
  return delta > 0 ? "slower" : "faster";
}

function markOf(row) {
  const item = entry(row);
  if (row.kind === "added") return ["added", "+", "only in B"];
  if (row.kind === "removed") return ["removed", "−", "only in A"];
  if (isChanged(item)) return ["changed", "~", [item.status_changed ? "status" : "", item.attributes ? "attributes" : "", item.tokens ? "tokens" : ""].filter(Boolean).join(", ") + " changed"];
  return ["", "", ""];
}

function signedMs(ms) {
  return (ms > 0 ? "+" : ms < 0 ? "−" : "±") + fmtMs(Math.abs(ms));
}

function percent(item) {
  if (item.ratio === null || item.ratio === undefined) return "";
  const value = (item.ratio - 1) * 100;
  return (value > 0 ? "+" : value < 0 ? "−" : "±") + `${Math.abs(value) < 10 ? Math.abs(value).toFixed(1) : Math.round(Math.abs(value))} %`;
}

function failed(side) {
  return Boolean(side && side.status && side.status.code === "ERROR");
}

function statusText(side) {
  if (!side || !side.status) return "";
  return side.status.code + (side.status.message ? ` ${side.status.message}` : "");
}

function bar(side, offset, total, lane) {
  if (!side || offset === null || offset === undefined) return "";
  const node = h("span", { class: `diff-bar ${lane}` + (failed(side) ? " failed" : ""), title: `${lane.toUpperCase()}: ${fmtMs(side.duration_ms)}` });
  node.style.left = `${Math.min((offset / total) * 100, 100)}%`;
  node.style.width = `${Math.max((side.duration_ms / total) * 100, 0.3)}%`;
  return node;
}

function drawRow(row, at) {
  const item = entry(row);
  const [kind, mark, why] = markOf(row);
  const moved = movement(item);
  const total = Math.max(diff.duration_ms.a, diff.duration_ms.b, 1e-6);
  const name = h("span", { class: "diff-name", title: item.path.join(" › ") }, item.name);
  const label = h("td", { class: "name" }, name,
    item.occurrence ? h("span", { class: "occurrence", title: "the n-th span of this path, in start order" }, ` #${item.occurrence + 1}`) : "",
    item.status_changed ? h("span", { class: "status-change" + (failed(item.b) ? " to-error" : ""), title: `${statusText(item.a)} → ${statusText(item.b)}` },
      `${item.a.status.code} → ${item.b.status.code}`) : "",
    !item.status_changed && (failed(item.a) || failed(item.b)) ? h("span", { class: "err-mark", title: statusText(item.a || item.b) }, "!") : "");
  label.style.paddingLeft = `${row.depth * 14 + 8}px`;
  const tr = h("tr", {
    class: ["diff-row", kind, moved, at === selected ? "selected" : ""].filter(Boolean).join(" "),
    "data-row": at, "data-kind": row.kind, "aria-selected": at === selected ? "true" : "false",
  },
  h("td", { class: "mark", title: why }, mark),
  label,
  h("td", { class: "num" }, item.a ? fmtMs(item.a.duration_ms) : ""),
  h("td", { class: "num" }, item.b ? fmtMs(item.b.duration_ms) : ""),
  h("td", { class: "num delta" }, item.a && item.b ? signedMs(item.delta_ms) : ""),
  h("td", { class: "num delta" }, percent(item)),
  h("td", { class: "timeline" }, h("div", { class: "diff-track" }, bar(item.a, row.a_offset_ms, total, "a"), bar(item.b, row.b_offset_ms, total, "b"))));
  return tr;
}

/** The rows to draw: all, or (changed only) those that changed and the path down to them. */
function filterRows() {
  if (!changedOnly.checked) return tree.map((row, at) => [row, at]);
  const keep = new Set();
  tree.forEach((row, at) => {
    const item = entry(row);
    if (row.kind !== "matched" || isChanged(item) || movement(item)) {
      for (let up = at; up !== null && up !== undefined && !keep.has(up); up = tree[up].parent) keep.add(up);
    }
  });
  return tree.map((row, at) => [row, at]).filter(([, at]) => keep.has(at));
}

function render() {
  shown = filterRows();
  body.replaceChildren(...shown.slice(0, MAX_ROWS).map(([row, at]) => drawRow(row, at)));
  if (!shown.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, changedOnly.checked ? "No span changed." : "No spans.")));
  note.textContent = shown.length > MAX_ROWS ? `… ${shown.length - MAX_ROWS} more rows not drawn (otel-lens diff --json lists every span)` : "";
  showDetail();
}

function save() {
  setParams({ a: diff ? diff.a.trace_id : state.a, b: diff ? diff.b.trace_id : state.b, changed: changedOnly.checked ? "1" : "", row: selected >= 0 ? selected : "" });
}

function select(at, scroll) {
  if (!tree[at]) return;
  selected = at;
  for (const tr of body.querySelectorAll("tr.selected")) { tr.classList.remove("selected"); tr.setAttribute("aria-selected", "false"); }
  const tr = body.querySelector(`tr[data-row="${at}"]`);
  if (tr) {
    tr.classList.add("selected");
    tr.setAttribute("aria-selected", "true");
    if (scroll) tr.scrollIntoView({ block: "nearest" });
  }
  save();
  showDetail();
}

function spanLink(trace, side, tag) {
  if (!side) return h("span", { class: "hint" }, `not in ${tag}`);
  return h("a", { href: `/traces/${encodeURIComponent(trace.trace_id)}?span=${encodeURIComponent(side.span_id)}` }, `open in ${tag}`);
}

function changeTable(changes) {
  const rows = [];
  for (const [key, pair] of Object.entries(changes.changed || {})) rows.push(["changed", "~", key, asText(pair.a), asText(pair.b)]);
  for (const [key, value] of Object.entries(changes.added || {})) rows.push(["added", "+", key, "", asText(value)]);
  for (const [key, value] of Object.entries(changes.removed || {})) rows.push(["removed", "−", key, asText(value), ""]);
  return h("table", { class: "kv attr-diff" },
    h("thead", {}, h("tr", {}, h("th", { class: "mark" }, ""), h("th", { class: "key" }, "attribute"), h("th", {}, "A"), h("th", {}, "B"))),
    h("tbody", {}, rows.map(([kind, mark, key, a, b]) => h("tr", { class: kind }, h("td", { class: "mark" }, mark), h("th", { class: "key", title: key }, key), h("td", {}, a), h("td", {}, b)))));
}

function showDetail() {
  const row = tree[selected];
  if (!row) {
    detail.replaceChildren(h("p", { class: "hint" }, "Select a span (click, or j/k) to see what changed: durations, status, attributes."));
    return;
  }
  const item = entry(row);
  const sides = [["A", diff.a, item.a], ["B", diff.b, item.b]];
  detail.replaceChildren(
    h("h2", {}, item.name),
    h("p", { class: "meta" }, item.path.join(" › "), item.occurrence ? ` (#${item.occurrence + 1})` : ""),
    h("table", { class: "kv" }, h("tbody", {},
      sides.map(([tag, trace, side]) => h("tr", {}, h("th", {}, tag),
        h("td", {}, side ? `${fmtMs(side.duration_ms)}  ${statusText(side)}  ` : "", spanLink(trace, side, tag)))),
      item.a && item.b ? h("tr", {}, h("th", {}, "Δ"), h("td", { class: movement(item) }, `${signedMs(item.delta_ms)} ${percent(item)}`.trim())) : "")),
    item.status_changed ? h("p", { class: "status-change" + (failed(item.b) ? " to-error" : "") }, `status ${statusText(item.a)} → ${statusText(item.b)}`) : "",
    h("h4", {}, "Attributes"),
    row.kind !== "matched" ? h("p", { class: "hint" }, `only in ${row.kind === "added" ? "B" : "A"}: open it to see its attributes`)
      : item.attributes ? changeTable(item.attributes) : h("p", { class: "hint" }, "the same in A and B"),
    item.tokens ? [h("h4", {}, "Tokens"), h("table", { class: "kv" }, h("tbody", {}, Object.entries(item.tokens).map(([name, t]) =>
      h("tr", {}, h("th", {}, name), h("td", {}, `${t.a} → ${t.b} (${t.delta > 0 ? "+" : ""}${t.delta})`)))))] : "");
}

function summaryCard(tag, trace) {
  const dot = h("span", { class: "dot" });
  dot.style.background = serviceColor(trace.service);
  return h("div", { class: "diff-card" },
    h("span", { class: "tag" }, tag),
    h("a", { href: `/traces/${encodeURIComponent(trace.trace_id)}` }, trace.root_name || "(no root span)"),
    h("span", { class: "meta" }, dot, trace.service || "", " · ", fmtTime(trace.start_time), " · ", fmtMs(trace.duration_ms), " · ",
      plural(trace.span_count, "span"), trace.error_count ? h("span", { class: "err-badge" }, `${trace.error_count} failed`) : ""),
    h("code", { class: "trace-id" }, trace.trace_id));
}

function drawHead() {
  const total = diff.duration_ms;
  const whole = { a: { duration_ms: total.a }, b: { duration_ms: total.b }, delta_ms: total.delta, ratio: total.ratio };
  const tokens = Object.entries(diff.tokens || {}).filter(([, t]) => t.a || t.b)
    .map(([name, t]) => `${name.replace("_tokens", "")} tokens ${t.a} → ${t.b} (${t.delta > 0 ? "+" : ""}${t.delta})`);
  const changed = diff.matched.filter(isChanged).length;
  const slower = diff.matched.filter((m) => movement(m) === "slower").length;
  const faster = diff.matched.filter((m) => movement(m) === "faster").length;
  head.replaceChildren(
    h("div", { class: "diff-cards" }, summaryCard("A", diff.a), summaryCard("B", diff.b)),
    h("p", { class: "diff-totals" },
      h("span", { class: movement(whole) }, `duration ${fmtMs(total.a)} → ${fmtMs(total.b)} (${signedMs(total.delta)}${total.ratio ? ", " + percent(whole) : ""})`),
      tokens.length ? " · " + tokens.join(", ") : "",
      " · ", h("span", { class: "count added" }, `+${diff.added.length} added`),
      " · ", h("span", { class: "count removed" }, `−${diff.removed.length} removed`),
      " · ", h("span", { class: "count changed" }, `~${changed} changed`),
      " · ", `${slower} slower, ${faster} faster`,
      " · ", h("label", { class: "check" }, changedOnly, " changes only")));
}

function swap() {
  const data = new FormData(form);
  const a = data.get("a") || "";
  form.elements.namedItem("a").value = data.get("b") || "";
  form.elements.namedItem("b").value = a;
  form.requestSubmit();
}

function onKey(event) {
  if (event.target.closest("input:not([type=checkbox]), select, textarea") || event.ctrlKey || event.metaKey || event.altKey || !shown.length) return;
  const at = shown.findIndex(([, n]) => n === selected);
  if (event.key === "j" || event.key === "ArrowDown") select(shown[Math.min(at + 1, Math.min(shown.length, MAX_ROWS) - 1)][1], true);
  else if (event.key === "k" || event.key === "ArrowUp") select(shown[Math.max(at - 1, 0)][1], true);
  else return;
  event.preventDefault();
}

async function main() {
  app().append(h("div", { class: "toolbar" }, h("h1", {}, "Compare traces")), form);
  const query = state.previous ? { previous: state.previous } : { a: state.a, b: state.b };
  if (!state.previous && !(state.a && state.b)) {
    app().append(h("p", { class: "hint" }, "Give two trace ids (or unique prefixes): A is the baseline, B the run compared with it. ",
      "From a trace page, “Compare…” fills them in; in the trace list, tick two traces."));
    return;
  }
  setStatus("loading…");
  try {
    diff = await api("/api/diff", query);
  } catch (error) {
    app().append(h("p", { class: "error-text" }, error.message), h("p", {}, h("a", { href: "/" }, "← all traces")));
    setStatus("");
    return;
  }
  tree = diff.tree;
  form.elements.namedItem("a").value = diff.a.trace_id;
  form.elements.namedItem("b").value = diff.b.trace_id;
  document.title = `${diff.a.root_name} vs ${diff.b.root_name} · otel-lens`;
  drawHead();
  app().append(head, h("div", { class: "trace-body diff-body" }, h("section", { class: "diff-list scroll-x" }, table, note), detail));
  if (!tree[selected]) selected = -1;
  if (selected < 0) selected = tree.findIndex((row) => row.kind !== "matched" || isChanged(entry(row)) || movement(entry(row)));
  render();
  save();
  setStatus("");
}

body.addEventListener("click", (event) => {
  const tr = event.target.closest("tr[data-row]");
  if (tr && !event.target.closest("a")) select(Number(tr.dataset.row), false);
});
changedOnly.addEventListener("change", () => { render(); save(); });
document.addEventListener("keydown", onKey);

main();
