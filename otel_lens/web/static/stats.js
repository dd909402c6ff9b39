// Stats: count, error rate and p50/p95/p99 per span name or service, with a latency chart (inline SVG).
import { api, app, fmtCount, fmtMs, h, params, select, setParams, setStatus, showError, retrier } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const state = Object.assign({ since: "24h", by: "name" }, params());
const form = h("form", { class: "filters" },
  select("since", [["15m", "15 min"], ["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"]], state.since, "Since"),
  select("by", [["name", "span name"], ["service", "service"]], state.by, "By"));
const chart = h("figure", { class: "chart" });
const table = h("table", { class: "list stats" });

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawChart(rows) {
  const shown = rows.slice(0, 15);
  if (!shown.length) { chart.replaceChildren(); return; }
  // As wide as the page (viewBox in CSS px of the figure), so the chart fills it rather than 60 % of it.
  // On a narrow screen (a phone) each row's label goes on its own line above its bar, so the plot keeps the
  // full width instead of being pushed off-screen by a label column.
  const width = Math.max(chart.clientWidth || 760, 300), narrow = width < 560;
  const left = narrow ? 8 : Math.min(Math.max(width * 0.42, 260), 460), right = narrow ? 28 : 20, rowH = narrow ? 36 : 22, top = 24;
  const height = top + shown.length * rowH + 24;
  const max = Math.max(...shown.map((r) => r.p99_ms), 0.001);
  const min = Math.max(Math.min(...shown.map((r) => r.p50_ms).filter((v) => v > 0), max / 1000), 0.001);
  const x = (ms) => left + ((Math.log10(Math.max(ms, min)) - Math.log10(min)) / Math.max(Math.log10(max) - Math.log10(min), 1e-9)) * (width - left - right);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "latency p50 to p99 per row, log scale" });
  // The two ends, and between them the powers of ten (1 ms, 10 ms, …) that leave room for their labels: a
  // log axis reads by decades, not by its geometric middle ("949 µs").
  const ticks = [[min, "start"], [max, "end"]];
  for (let k = Math.ceil(Math.log10(min)); 10 ** k < max; k += 1) {
    if (ticks.every(([ms]) => Math.abs(x(ms) - x(10 ** k)) >= 64)) ticks.push([10 ** k, "middle"]);
  }
  for (const [ms, anchor] of ticks) {
    root.append(svg("line", { x1: x(ms), x2: x(ms), y1: top - 6, y2: height - 20, class: "grid" }), svg("text", { x: x(ms), y: height - 6, class: "axis", "text-anchor": anchor }, fmtMs(ms)));
  }
  shown.forEach((row, i) => {
    const y = top + i * rowH + (narrow ? rowH - 8 : rowH / 2);
    // The same span name can come with several kinds or services: the label says which row it is.
    const name = row[state.by] || "(none)";
    const short = name.length > 30 ? name.slice(0, 29) + "…" : name;
    const extra = state.by === "name" ? [row.kind, row.service].filter(Boolean).join(" · ") : "";
    const text = narrow ? svg("text", { x: left, y: y - 10, class: "label" }, short) : svg("text", { x: left - 8, y: y + 4, class: "label", "text-anchor": "end" }, short);
    if (extra) text.append(svg("tspan", { class: "sub" }, `  ${extra.length > 28 ? extra.slice(0, 27) + "…" : extra}`));
    text.append(svg("title", {}, [name, extra].filter(Boolean).join(" · ")));
    root.append(text);
    root.append(svg("line", { x1: x(row.p50_ms), x2: x(row.p99_ms), y1: y, y2: y, class: "range" + (row.error_count ? " failed" : "") }));
    root.append(svg("rect", { x: x(row.p50_ms), y: y - 6, width: Math.max(x(row.p95_ms) - x(row.p50_ms), 4), height: 12, class: "box" }));
    root.append(svg("circle", { cx: x(row.p99_ms), cy: y, r: 3.5, class: "p99" }));
  });
  chart.replaceChildren(h("figcaption", {}, "Latency: box p50–p95, line to p99 (dot), log scale"), root);
}

// The columns a phone-sized screen leaves out (app.css `.wide-only`), named by header: with `by=service` there
// is no Kind column, so a position (nth-child) would hide a different column.
const COLUMN = { Kind: "wide-only", Service: "wide-only", "Error rate": "wide-only", p95: "wide-only" };

function drawTable(rows) {
  const key = state.by === "service" ? "Service" : "Span name";
  table.replaceChildren(
    h("thead", {}, h("tr", {}, [key, ...(state.by === "name" ? ["Kind", "Service"] : []), "Count", "Errors", "Error rate", "p50", "p95", "p99"].map((t, i) => h("th", { class: (i && COLUMN[t]) || "" }, t)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", { class: r.error_count ? "failed" : "" },
      h("td", { class: "name" }, r[state.by] || "(none)"),
      state.by === "name" ? [h("td", { class: COLUMN.Kind }, r.kind || ""), h("td", { class: COLUMN.Service }, r.service || "")] : [],
      h("td", { class: "num" }, fmtCount(r.count)), h("td", { class: "num" }, fmtCount(r.error_count)),
      h("td", { class: `num ${COLUMN["Error rate"]}` }, `${(r.error_rate * 100).toFixed(r.error_rate && r.error_rate < 0.1 ? 2 : 1)}%`),
      h("td", { class: "num" }, fmtMs(r.p50_ms)), h("td", { class: `num ${COLUMN.p95}` }, fmtMs(r.p95_ms)), h("td", { class: "num" }, fmtMs(r.p99_ms)))) :
      h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No spans in this window."))));
}


let shownRows = [];
let drawnWidth = 0;
// The chart is drawn for its figure's width: drawn again when that changes (a window resized, a phone turned).
new ResizeObserver(() => { if (chart.clientWidth !== drawnWidth) { drawnWidth = chart.clientWidth; if (shownRows.length) drawChart(shownRows); } }).observe(chart);

const wait = retrier(load);

async function load() {
  wait.cancel();
  setParams({ since: state.since === "24h" ? "" : state.since, by: state.by === "name" ? "" : state.by });
  setStatus("loading…");
  try {
    // The page draws percentiles, not the distribution: no histogram bins to send.
    const data = await api("/api/stats", { since: state.since, by: state.by, histogram: "none" });
    shownRows = data.stats;
    drawChart(data.stats);
    drawTable(data.stats);
    wait.succeeded();
    setStatus("");
  } catch (error) {
    if (!wait.failed(error)) showError(error);
  }
}

form.addEventListener("change", () => { const d = new FormData(form); state.since = d.get("since"); state.by = d.get("by"); load(); });
app().append(h("div", { class: "toolbar" }, h("h1", {}, "Stats")), form, chart, h("div", { class: "scroll-x" }, table));
load();
