// Charts over time (issue 19), plain SVG: cost, tokens, calls, error rate and p50/p95 latency of the model
// calls per hour or day, in one series or per model or project, on the Aggregates page (#/stats), and score
// means over time wherever a page asks (window.TraceglassCharts.scores, used by evals.js).
// Kept apart from app.js: it adds its own section to the Aggregates view and reads GET /api/timeseries and
// GET /api/timeseries/scores. Every value from the store is set as text (textContent), never as markup.
(function () {
  "use strict";
  const { el } = window.Traceglass;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 460, H = 210; // about the size a chart is drawn at, so text stays ~11 px
  const M = { left: 62, right: 12, top: 12, bottom: 40 };
  const MAX_SERIES = 6; // lines in one chart; the rest are named in a note
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  let loading = 0; // the latest request wins: an older answer arriving late is dropped

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
    return body;
  }

  // ---- numbers as people read them -------------------------------------------------------------------
  const finite = (v) => typeof v === "number" && isFinite(v);
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9) + "B";
    if (a >= 1e6) return trim(v / 1e6) + "M";
    if (a >= 1e4) return trim(v / 1e3) + "k";
    return trim(v);
  }
  function trim(v) { return String(Number(v.toPrecision(3))); }
  const FORMATS = {
    usd: (v) => (!finite(v) ? "–" : v === 0 ? "$0" : Math.abs(v) < 1e-6 ? "<$0.000001" : "$" + trim(v)),
    count: (v) => (!finite(v) ? "–" : compact(v)),
    exact: (v) => (!finite(v) ? "–" : Math.round(v).toLocaleString("en-US")),
    rate: (v) => (!finite(v) ? "–" : trim(v * 100) + "%"),
    ms: (v) => (!finite(v) ? "–" : v < 1000 ? trim(v) + " ms" : trim(v / 1000) + " s"),
    score: (v) => (!finite(v) ? "–" : v.toFixed(2)),
  };

  // Times: buckets are UTC hours or days, so labels are UTC too (and say so on the axis).
  function pad(n) { return String(n).padStart(2, "0"); }
  function dayLabel(d) { return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`; }
  function bucketLabel(ns, bucket) {
    const d = new Date(ns / 1e6);
    return bucket === "hour" ? `${dayLabel(d)} ${pad(d.getUTCHours())}:00` : dayLabel(d);
  }

  // ---- axes --------------------------------------------------------------------------------------------
  // Round tick values (1, 2, 2.5, 5 x 10^n) covering [lo, hi], about five of them.
  // Counts (integer) never get fractional ticks.
  function ticks(lo, hi, integer) {
    if (!(hi > lo)) hi = lo + 1;
    const rough = (hi - lo) / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(rough)));
    let step = mag * [1, 2, 2.5, 5, 10].find((s) => s * mag >= rough);
    if (integer) step = Math.max(1, Math.round(step));
    const first = Math.floor(lo / step), last = Math.ceil(hi / step);
    const out = [];
    for (let i = first; i <= last; i++) out.push(Number((i * step).toPrecision(12)));
    return out;
  }

  // ---- one chart ---------------------------------------------------------------------------------------
  // spec: {id, title, unit, format, kind: "bars" (stacked) | "lines", bucket, buckets: [ns], empty,
  //        series: [{key, label, values: [number|null]}], note}
  function chart(spec) {
    const card = el("figure", { class: "tg-chart-card", "data-chart": spec.id });
    card.append(el("figcaption", { class: "tg-chart-title", text: spec.title }));
    const shown = spec.series.filter((s) => s.values.some((v) => finite(v) && (spec.kind === "lines" || v !== 0)));
    if (!spec.buckets.length || !shown.length) {
      card.append(el("p", { class: "tg-chart-empty muted", text: spec.empty }));
      return card;
    }
    const format = FORMATS[spec.format];
    const n = spec.buckets.length;
    const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
    const slot = plotW / n;
    let lo = 0, hi = 0;
    if (spec.kind === "bars") {
      for (let i = 0; i < n; i++) hi = Math.max(hi, shown.reduce((a, s) => a + (finite(s.values[i]) ? s.values[i] : 0), 0));
    } else {
      for (const s of shown) for (const v of s.values) if (finite(v)) { hi = Math.max(hi, v); lo = Math.min(lo, v); }
      if (spec.format === "score" || spec.format === "rate") hi = Math.max(hi, 1);
    }
    const yTicks = ticks(lo, hi, spec.format === "count");
    const y0 = yTicks[0], y1 = yTicks[yTicks.length - 1];
    const y = (v) => M.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
    const xMid = (i) => M.left + slot * (i + 0.5);
    const root = svg("svg", { class: "tg-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": spec.title,
                              "data-chart": spec.id });
    const yAxis = svg("g", { class: "axis y-axis" });
    for (const t of yTicks) {
      yAxis.append(svg("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
      yAxis.append(svg("text", { class: "tick y-tick", x: M.left - 6, y: y(t) + 4, "text-anchor": "end" }, format(t)));
    }
    yAxis.append(svg("text", { class: "axis-label", x: 12, y: M.top + plotH / 2, "text-anchor": "middle",
                               transform: `rotate(-90 12 ${M.top + plotH / 2})` }, spec.unit));
    root.append(yAxis);
    // At most about eight x labels, on whole days where hours are shown.
    const xAxis = svg("g", { class: "axis x-axis" });
    const every = Math.max(1, Math.ceil(n / 8));
    for (let i = 0; i < n; i += every) {
      xAxis.append(svg("line", { class: "tick-mark", x1: xMid(i), x2: xMid(i), y1: M.top + plotH, y2: M.top + plotH + 4 }));
      xAxis.append(svg("text", { class: "tick x-tick", x: xMid(i), y: M.top + plotH + 16, "text-anchor": "middle" },
                       bucketLabel(spec.buckets[i], spec.bucket)));
    }
    xAxis.append(svg("text", { class: "axis-label", x: M.left + plotW / 2, y: H - 4, "text-anchor": "middle" },
                     spec.bucket === "hour" ? "hour (UTC)" : "day (UTC)"));
    root.append(xAxis);
    const plot = svg("g", { class: "plot" });
    const hoverText = (s, i) => `${s.label} · ${bucketLabel(spec.buckets[i], spec.bucket)}: ${format(s.values[i])}`;
    if (spec.kind === "bars") {
      const bw = Math.max(1, slot * 0.72);
      for (let i = 0; i < n; i++) {
        let base = 0;
        shown.forEach((s, k) => {
          const v = s.values[i];
          if (!finite(v) || v <= 0) return;
          const top = y(base + v), bottom = y(base);
          const bar = svg("rect", { class: `bar s-${k}`, x: xMid(i) - bw / 2, y: top, width: bw,
                                    height: Math.max(0.5, bottom - top), "data-key": s.label,
                                    "data-bucket": String(spec.buckets[i]), "data-value": String(v) });
          bar.append(svg("title", {}, hoverText(s, i)));
          plot.append(bar);
          base += v;
        });
      }
    } else {
      shown.forEach((s, k) => {
        let run = [];
        const flush = () => {
          if (run.length > 1) plot.append(svg("polyline", { class: `line s-${k}`, points: run.join(" ") }));
          run = [];
        };
        s.values.forEach((v, i) => {
          if (!finite(v)) { flush(); return; }
          run.push(`${xMid(i).toFixed(1)},${y(v).toFixed(1)}`);
        });
        flush();
        s.values.forEach((v, i) => {
          if (!finite(v)) return;
          const point = svg("circle", { class: `point s-${k}`, cx: xMid(i), cy: y(v), r: 3.5, "data-key": s.label,
                                        "data-bucket": String(spec.buckets[i]), "data-value": String(v) });
          point.append(svg("title", {}, hoverText(s, i)));
          plot.append(point);
        });
      });
    }
    root.append(plot);
    // Hover: one invisible column per bucket; the tooltip lists every series' value in it.
    const tip = el("div", { class: "tg-tooltip", role: "status" });
    tip.hidden = true;
    const zones = svg("g", { class: "hover-zones" });
    const show = (i) => {
      const rows = shown.map((s, k) => el("div", { class: "tg-tip-row" },
        el("span", { class: `swatch s-${k}` }), el("span", { text: `${s.label}: ${format(s.values[i])}` })));
      if (spec.kind === "bars" && shown.length > 1) {
        const total = shown.reduce((a, s) => a + (finite(s.values[i]) ? s.values[i] : 0), 0);
        rows.push(el("div", { class: "tg-tip-row tg-tip-total", text: `total: ${format(total)}` }));
      }
      tip.replaceChildren(el("div", { class: "tg-tip-head", text: bucketLabel(spec.buckets[i], spec.bucket) + " UTC" }), ...rows);
      tip.hidden = false;
      tip.dataset.bucket = String(spec.buckets[i]);
      const box = root.getBoundingClientRect();
      const scale = box.width / W || 1;
      const x = xMid(i) * scale;
      tip.style.left = Math.round(Math.min(x + 12, Math.max(0, box.width - 220))) + "px";
      tip.style.top = Math.round(M.top * scale) + "px";
    };
    for (let i = 0; i < n; i++) {
      const zone = svg("rect", { class: "hover-zone", x: M.left + slot * i, y: M.top, width: slot, height: plotH,
                                 "data-index": String(i) });
      zone.addEventListener("mouseenter", () => show(i));
      zones.append(zone);
    }
    root.addEventListener("mouseleave", () => { tip.hidden = true; });
    // Keyboard: focus the chart, then Left/Right walk the buckets.
    root.setAttribute("tabindex", "0");
    let at = -1;
    root.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
      ev.preventDefault();
      at = Math.min(n - 1, Math.max(0, at < 0 ? n - 1 : at + (ev.key === "ArrowRight" ? 1 : -1)));
      show(at);
    });
    root.addEventListener("blur", () => { tip.hidden = true; });
    root.append(zones);
    const legend = el("ul", { class: "tg-legend" }, ...shown.map((s, k) =>
      el("li", { class: "tg-legend-item", "data-key": s.label }, el("span", { class: `swatch s-${k}` }),
         el("span", { class: "tg-legend-label", text: s.label, title: s.label }))));
    card.append(el("div", { class: "tg-chart-frame" }, root, tip), legend);
    if (spec.note) card.append(el("p", { class: "tg-chart-note muted", text: spec.note }));
    return card;
  }

  // ---- from the API's series to charts ------------------------------------------------------------------
  function label(key, group) {
    if (key !== null && key !== undefined) return String(key);
    return group ? `(no ${group})` : "all model calls";
  }

  function top(data) {
    const series = (data.series || []).slice(0, MAX_SERIES);
    const rest = (data.series || []).length - series.length;
    return { series, note: rest > 0 ? `${rest} more series not shown (the largest are).` : "" };
  }

  const METRICS = [
    { id: "cost", title: "Cost", unit: "USD", format: "usd", kind: "bars", value: (p) => p.cost_usd },
    { id: "tokens", title: "Tokens", unit: "tokens", format: "count", kind: "bars", value: (p) => p.total_tokens },
    { id: "calls", title: "Model calls", unit: "calls", format: "count", kind: "bars", value: (p) => p.calls },
    { id: "error-rate", title: "Error rate", unit: "% of calls", format: "rate", kind: "lines", value: (p) => p.error_rate },
    { id: "p50", title: "Latency p50", unit: "ms", format: "ms", kind: "lines", value: (p) => p.p50_ms },
    { id: "p95", title: "Latency p95", unit: "ms", format: "ms", kind: "lines", value: (p) => p.p95_ms },
  ];

  function callCharts(data) {
    const { series, note } = top(data);
    return METRICS.map((m) => chart({
      id: m.id, title: m.title, unit: m.unit, format: m.format, kind: m.kind, bucket: data.bucket,
      buckets: data.buckets_ns || [], note, empty: "No model calls in this range.",
      series: series.map((s) => ({ key: s.key, label: label(s.key, data.group_by), values: s.points.map(m.value) })),
    }));
  }

  function scoreChart(data, title) {
    const { series, note } = top(data);
    return chart({
      id: "scores", title: title || "Score means", unit: "mean score", format: "score", kind: "lines",
      bucket: data.bucket, buckets: data.buckets_ns || [], note, empty: "No numeric scores in this range.",
      series: series.map((s) => ({ key: s.key, label: label(s.key, "name"), values: s.points.map((p) => p.mean) })),
    });
  }

  // ---- the Aggregates page ------------------------------------------------------------------------------
  // "auto": hours up to a week, days beyond.
  function bucketFor(choice, since) {
    if (choice === "hour" || choice === "day") return choice;
    return since === "1h" || since === "1d" || since === "7d" ? "hour" : "day";
  }

  async function loadStatsCharts() {
    const body = document.getElementById("stats-charts-body");
    if (!body) return;
    const mine = ++loading;
    const since = (document.getElementById("s-since") || {}).value || "";
    const project = ((document.getElementById("s-project") || {}).value || "").trim();
    const params = new URLSearchParams({ bucket: bucketFor(document.getElementById("c-bucket").value, since),
                                         group_by: document.getElementById("c-group").value });
    if (since) params.set("since", since);
    if (project) params.set("project", project);
    const scoreParams = new URLSearchParams({ bucket: params.get("bucket") });
    if (since) scoreParams.set("since", since);
    if (project) scoreParams.set("project", project);
    const started = performance.now();
    try {
      const [calls, scores] = await Promise.all([getJSON("/api/timeseries?" + params),
                                                 getJSON("/api/timeseries/scores?" + scoreParams)]);
      if (mine !== loading) return;
      const grid = el("div", { class: "tg-chart-grid" }, ...callCharts(calls));
      if ((scores.series || []).length) grid.append(scoreChart(scores, "Score means (per score name)"));
      body.replaceChildren(grid);
      body.dataset.rendered = String(mine);
      // For the benchmark: from the requests to the charts laid out and the next frame painted.
      requestAnimationFrame(() => setTimeout(() => {
        performance.measure("tg-charts", { start: started });
        body.dataset.painted = String(mine);
      }, 0));
    } catch (e) {
      if (mine === loading) body.replaceChildren(el("p", { class: "error", text: "Could not load the charts: " + e.message }));
    }
  }

  function select(id, labelText, options) {
    return el("label", {}, labelText, el("select", { id: id, name: id },
      ...options.map(([value, text]) => el("option", { value: value, text: text }))));
  }

  function setUpStats() {
    const view = document.getElementById("view-stats");
    const form = document.getElementById("stats-filters");
    if (!view || !form) return;
    const controls = el("form", { id: "charts-controls", class: "filters tg-chart-controls", autocomplete: "off" },
      select("c-group", "Series", [["none", "all model calls"], ["model", "per model"], ["project", "per project"]]),
      select("c-bucket", "Bucket", [["auto", "auto"], ["hour", "hour"], ["day", "day"]]));
    const section = el("section", { id: "stats-charts", class: "tg-charts", "aria-labelledby": "stats-charts-title" },
      el("h2", { id: "stats-charts-title", text: "Over time" }), controls, el("div", { id: "stats-charts-body" }));
    form.after(section);
    controls.addEventListener("change", loadStatsCharts);
    controls.addEventListener("submit", (ev) => { ev.preventDefault(); loadStatsCharts(); });
    form.addEventListener("submit", () => pageCharts()); // app.js reloads its tables on the same event
  }

  // The page's charts, loading: app.js waits for them (bounded) before asking for its tables, which
  // take seconds of the same server's CPU over a big store and would make the charts wait instead.
  function pageCharts() {
    window.TraceglassCharts.pending = loadStatsCharts();
  }

  function route() {
    if ((location.hash || "").startsWith("#/stats")) pageCharts();
    else loading++;
  }

  // For other pages (evals.js): a score-means chart into ``container`` from GET /api/timeseries/scores.
  async function scores(container, query, title) {
    const params = new URLSearchParams({ bucket: "day", ...(query || {}) });
    try {
      const data = await getJSON("/api/timeseries/scores?" + params);
      container.replaceChildren(el("div", { class: "tg-chart-grid" }, scoreChart(data, title)));
      container.dataset.rendered = "1";
    } catch (e) {
      container.replaceChildren(el("p", { class: "error", text: "Could not load the score chart: " + e.message }));
    }
  }

  window.TraceglassCharts = { chart, scores, callCharts, scoreChart, ticks, formats: FORMATS };

  document.addEventListener("DOMContentLoaded", () => {
    setUpStats();
    window.addEventListener("hashchange", route);
    route();
  });
})();
