// Usage: GenAI tokens and cost per model, provider or service, and a chart of tokens per hour.
import { api, app, fmtCount, h, params, select, serviceColor, setParams, setStatus, showError, retrier } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const state = Object.assign({ since: "24h", by: "model" }, params());
const form = h("form", { class: "filters" },
  select("since", [["1h", "1 hour"], ["6h", "6 hours"], ["24h", "24 hours"], ["7d", "7 days"], ["30d", "30 days"]], state.since, "Since"),
  select("by", [["model", "model"], ["provider", "provider"], ["service", "service"]], state.by, "By"));
const chart = h("figure", { class: "chart" });
const table = h("table", { class: "list usage" });

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawChart(series) {
  if (!series.length) { chart.replaceChildren(); return; } // the table says "No GenAI spans in this window." once
  const hours = [...new Set(series.map((p) => p.time))].sort();
  const groups = [...new Set(series.map((p) => p[state.by]))];
  const totals = new Map(hours.map((t) => [t, 0]));
  for (const p of series) totals.set(p.time, totals.get(p.time) + p.total_tokens);
  const max = Math.max(...totals.values(), 1);
  const width = Math.max(chart.clientWidth || 760, 300), height = 220, left = 60, bottom = 24, top = 10;
  const step = (width - left - 10) / hours.length;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "tokens per hour, stacked by " + state.by });
  for (const f of [0, 0.5, 1]) {
    const y = height - bottom - f * (height - bottom - top);
    root.append(svg("line", { x1: left, x2: width - 10, y1: y, y2: y, class: "grid" }), svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, fmtCount(Math.round(max * f))));
  }
  const stacked = new Map(hours.map((t) => [t, 0]));
  for (const p of series) {
    const i = hours.indexOf(p.time);
    const base = stacked.get(p.time);
    const y0 = height - bottom - (base / max) * (height - bottom - top);
    const y1 = height - bottom - ((base + p.total_tokens) / max) * (height - bottom - top);
    const bar = svg("rect", { x: left + i * step + 1, y: y1, width: Math.max(step - 2, 1), height: Math.max(y0 - y1, 0.5), fill: serviceColor(p[state.by]) });
    bar.append(svg("title", {}, `${p[state.by]} ${p.time}: ${fmtCount(p.total_tokens)} tokens`));
    root.append(bar);
    stacked.set(p.time, base + p.total_tokens);
  }
  // Each bar is one hour: the axis names the hours the chart spans, start of the first to end of the last
  // (one hour shows one "MM-DD HH:00–HH+1:00", not the same label at both ends).
  const hourOf = (t) => new Date(t.length <= 13 ? t + ":00:00Z" : t);
  const end = new Date(hourOf(hours[hours.length - 1]).getTime() + 3600e3);
  const iso = (d) => (Number.isNaN(d.getTime()) ? "" : d.toISOString());
  const from = iso(hourOf(hours[0])), to = iso(end);
  const day = (s) => s.slice(5, 10), hm = (s) => s.slice(11, 16);
  const range = !from || !to ? hours[0] : day(from) === day(to) ? `${day(from)} ${hm(from)}–${hm(to)}` : `${day(from)} ${hm(from)} – ${day(to)} ${hm(to)}`;
  root.append(svg("text", { x: left, y: height - 6, class: "axis" }, range + " UTC"));
  if (hours.length > 1) root.append(svg("text", { x: width - 10, y: height - 6, class: "axis", "text-anchor": "end" }, `${hours.length} hours`));
  const legend = h("div", { class: "legend" }, groups.map((g) => { const d = h("span", { class: "dot" }); d.style.background = serviceColor(g); return h("span", {}, d, g); }));
  chart.replaceChildren(h("figcaption", {}, `Tokens per hour (UTC) by ${state.by}`), root, legend);
}

function drawTable(rows) {
  const money = (v) => (v === null || v === undefined ? "—" : `$${v.toFixed(v < 1 ? 4 : 2)}`);
  table.replaceChildren(
    h("thead", {}, h("tr", {}, [state.by[0].toUpperCase() + state.by.slice(1), "Spans", "Input", "Output", "Cache read", "Reasoning", "Total", "Cost"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", {},
      h("td", { class: "name" }, r[state.by]), h("td", { class: "num" }, fmtCount(r.span_count)),
      h("td", { class: "num" }, fmtCount(r.input_tokens)), h("td", { class: "num" }, fmtCount(r.output_tokens)),
      h("td", { class: "num" }, fmtCount(r.cache_read_tokens)), h("td", { class: "num" }, fmtCount(r.reasoning_tokens)),
      h("td", { class: "num" }, fmtCount(r.total_tokens)), h("td", { class: "num", title: r.price_key || "no price known" }, money(r.cost)))) :
      h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No GenAI spans in this window."))));
}


let shownSeries = [];
let drawnWidth = 0;
// The chart is drawn for its figure's width: drawn again when that changes (a window resized, a phone turned).
new ResizeObserver(() => { if (chart.clientWidth !== drawnWidth) { drawnWidth = chart.clientWidth; if (shownSeries.length) drawChart(shownSeries); } }).observe(chart);

const wait = retrier(load);

async function load() {
  wait.cancel();
  setParams({ since: state.since === "24h" ? "" : state.since, by: state.by === "model" ? "" : state.by });
  setStatus("loading…");
  try {
    const data = await api("/api/usage", { since: state.since, by: state.by, series: 1 });
    shownSeries = data.series;
    drawChart(data.series);
    drawTable(data.usage);
    wait.succeeded();
    setStatus("");
  } catch (error) {
    if (!wait.failed(error)) showError(error);
  }
}

form.addEventListener("change", () => { const d = new FormData(form); state.since = d.get("since"); state.by = d.get("by"); load(); });
app().append(h("div", { class: "toolbar" }, h("h1", {}, "Usage")), form, chart, h("div", { class: "scroll-x" }, table));
load();
