// Evaluations in the dashboard (issue 15): an Evaluations page (#/evals) listing the stored runs with each
// scorer's mean, and a run's view (#/evals/RUN_ID) with its results lowest score first, each linking to the
// span it scored. Kept apart from app.js: it adds its own nav link and view and reads only GET /api/evals/runs.
// Every value from the store is set as text (textContent), never as markup.
(function () {
  "use strict";
  const { el, getJSON } = window.Traceglass;
  const MAX_ROWS = 1000; // a run's results shown at once, lowest first: enough to find what went wrong
  const TEXT_CHARS = 160;
  let loading = 0; // the latest request wins: an older answer arriving late is dropped

  function when(iso) {
    const date = new Date(iso);
    return iso == null || isNaN(date) ? String(iso == null ? "" : iso) : date.toLocaleString();
  }

  function number(value, digits) {
    return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "–";
  }

  function percent(value) {
    return typeof value === "number" && isFinite(value) ? Math.round(value * 100) + "%" : "–";
  }

  // A prompt as one line: the last message's text for chat input, the value itself otherwise.
  function brief(value) {
    let text = value;
    if (Array.isArray(value) && value.length && value[value.length - 1] && typeof value[value.length - 1] === "object") {
      const last = value[value.length - 1];
      text = typeof last.content === "string" ? last.content : JSON.stringify(last.content ?? last);
    } else if (value != null && typeof value !== "string") {
      text = JSON.stringify(value);
    }
    text = text == null ? "" : String(text).replace(/\s+/g, " ").trim();
    return text.length > TEXT_CHARS ? text.slice(0, TEXT_CHARS - 1) + "…" : text;
  }

  function table(cls, head, rows) {
    const thead = el("thead", {}, el("tr", {}, ...head.map(([h, c]) => el("th", { scope: "col", class: c || "", text: h }))));
    return el("div", { class: "table-wrap" }, el("table", { class: cls }, thead, el("tbody", {}, ...rows)));
  }

  function td(text, cls) {
    return el("td", { class: cls || "", text: text == null ? "" : String(text) });
  }

  function means(run) {
    const cell = el("td", { class: "eval-means" });
    const summary = run.summary || {};
    for (const name of run.scorers || Object.keys(summary)) {
      const s = summary[name] || {};
      cell.append(el("span", { class: "eval-mean", "data-scorer": String(name),
                               title: `pass rate ${percent(s.pass_rate)}, ${s.count ?? 0} scored, ${s.errors ?? 0} errors` },
        el("span", { class: "eval-scorer", text: String(name) }), " ", el("strong", { text: number(s.mean, 2) })));
    }
    return cell;
  }

  function renderRuns(body, data) {
    body.replaceChildren();
    const runs = data.runs || [];
    if (!runs.length) {
      body.append(el("p", { class: "muted", text: "No evaluation run yet: run traceglass evals run --scorer … or evaluate_traces()." }));
      return;
    }
    const rows = runs.map((run) => {
      const first = el("td", {}, el("a", { href: "#/evals/" + encodeURIComponent(String(run.id)), text: when(run.created_at) }));
      const tr = el("tr", { "data-run": String(run.id) }, first, td(run.status), td(run.item_count, "num"), means(run),
        td(run.judge_cost_usd == null ? "" : "$" + Number(run.judge_cost_usd).toFixed(4), "num"));
      return tr;
    });
    body.append(table("evals runs", [["Run"], ["Status"], ["Items", "num"], ["Mean per scorer"], ["Judge cost", "num"]], rows));
    scoresOverTime(body);
  }

  // Scores over time per scorer (charts.js draws it): the daily mean of every evaluation score by name.
  function scoresOverTime(body) {
    if (!window.TraceglassCharts) return;
    const chart = el("div", { id: "evals-chart" });
    body.append(el("section", { class: "evals-over-time", "aria-label": "Scores over time" }, chart));
    window.TraceglassCharts.scores(chart, { source: "eval", bucket: "day" }, "Scores over time (daily mean per scorer, UTC)");
  }

  // Lowest value first; results without a value (the scorer raised or gave none) after every scored one.
  function ordered(results) {
    return results.slice().sort((a, b) => {
      const av = typeof a.value === "number" ? a.value : Infinity;
      const bv = typeof b.value === "number" ? b.value : Infinity;
      return av - bv || (a.position - b.position) || String(a.scorer).localeCompare(String(b.scorer));
    });
  }

  function traceLink(r) {
    const cell = el("td");
    const trace = String(r.trace_id || "");
    if (/^[0-9a-f]{32}$/i.test(trace)) {
      const span = String(r.span_id || "");
      const href = "#/trace/" + trace + (/^[0-9a-f]{16}$/i.test(span) ? "/" + span : "");
      cell.append(el("a", { href: href, class: "eval-trace", text: "trace" }));
    }
    return cell;
  }

  function renderRun(body, run) {
    body.replaceChildren();
    body.append(el("p", {}, el("a", { href: "#/evals", text: "← All evaluation runs" })));
    body.append(el("h2", { text: `Run ${run.id}` }));
    body.append(el("p", { class: "muted", text: `${when(run.created_at)} · ${run.status} · ${run.item_count} items` +
      (run.judge_cost_usd == null ? "" : ` · judge cost $${Number(run.judge_cost_usd).toFixed(4)}`) }));
    const summary = run.summary || {};
    const summaryRows = (run.scorers || Object.keys(summary)).map((name) => {
      const s = summary[name] || {};
      return el("tr", { "data-scorer": String(name) }, td(name), td(number(s.mean, 3), "num"), td(percent(s.pass_rate), "num"),
        td(s.count, "num"), td(s.errors, "num"), td(s.no_score, "num"));
    });
    body.append(table("evals summary", [["Scorer"], ["Mean", "num"], ["Pass rate", "num"], ["Scored", "num"],
                                        ["Errors", "num"], ["No score", "num"]], summaryRows));
    const results = ordered(run.results || []);
    body.append(el("h2", { text: "Results, lowest score first" }));
    if (!results.length) {
      body.append(el("p", { class: "muted", text: "This run has no results." }));
      return;
    }
    const rows = results.slice(0, MAX_ROWS).map((r) => {
      const item = r.item || {};
      const value = typeof r.value === "number" ? number(r.value, 2) : (r.error ? "error" : "no score");
      return el("tr", { class: r.error ? "eval-error" : "" }, td(value, "num"), td(r.scorer), td(r.label),
        td(brief(item.input)), td(brief(item.output)), td(brief(r.error || r.explanation)), traceLink(r));
    });
    body.append(table("evals results", [["Score", "num"], ["Scorer"], ["Label"], ["Input"], ["Output"],
                                        ["Why"], [""]], rows));
    if (results.length > MAX_ROWS) {
      body.append(el("p", { class: "muted", text: `Showing the lowest ${MAX_ROWS} of ${results.length} results.` }));
    }
  }

  async function show(runId) {
    const body = document.getElementById("evals-body");
    const mine = ++loading;
    try {
      if (runId === null) {
        const data = await getJSON("/api/evals/runs?limit=200");
        if (mine === loading) renderRuns(body, data);
      } else {
        const run = await getJSON("/api/evals/runs/" + encodeURIComponent(runId));
        if (mine === loading) renderRun(body, run);
      }
    } catch (e) {
      if (mine === loading) body.replaceChildren(el("p", { class: "error", text: "Could not load evaluations: " + e.message }));
    }
  }

  function route() {
    const nav = document.getElementById("nav-evals");
    const page = document.getElementById("view-evals");
    const hash = location.hash || "";
    const match = hash.match(/^#\/evals(?:\/([^/?#]+))?\/?$/);
    if (match) {
      // app.js showed its default view for a hash it does not know: this one is ours.
      for (const view of document.querySelectorAll(".view")) view.hidden = view !== page;
      for (const link of document.querySelectorAll(".top nav a")) link.removeAttribute("aria-current");
      nav.setAttribute("aria-current", "page");
      page.hidden = false;
      let runId = null;
      if (match[1]) {
        try { runId = decodeURIComponent(match[1]); } catch (e) { runId = match[1]; }
      }
      show(runId);
    } else {
      nav.removeAttribute("aria-current");
      page.hidden = true;
      loading++;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const nav = document.querySelector(".top nav");
    if (nav) nav.append(el("a", { id: "nav-evals", href: "#/evals", text: "Evaluations" }));
    const main = document.getElementById("main");
    const page = el("section", { id: "view-evals", class: "view", "aria-labelledby": "evals-title" },
      el("h1", { id: "evals-title", text: "Evaluations" }), el("div", { id: "evals-body" }));
    page.hidden = true;
    if (main) main.insertBefore(page, document.getElementById("error"));
    window.addEventListener("hashchange", route);
    route();
  });
})();
