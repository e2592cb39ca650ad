// traceglass dashboard. Plain JavaScript, no build step.
// Every value that comes from a span is inserted as text (textContent / text nodes), never as HTML.
"use strict";

(function () {
  const POLL_MS = 3000;
  const ROW_HEIGHT = 24;  // px; matches .span-row in app.css
  const OVERSCAN = 20;  // rows rendered above and below the visible ones
  const KNOWN_TYPES = new Set(["llm", "chat_model", "chain", "graph_node", "session", "tool", "agent_action",
    "agent", "retriever", "embedding", "custom"]);
  const K = {  // attribute keys the details panel reads
    input: "gen_ai.input.messages", output: "gen_ai.output.messages", system: "gen_ai.system_instructions",
    docs: "gen_ai.retrieval.documents", query: "gen_ai.retrieval.query.text", tool: "gen_ai.tool.name",
    toolArgs: "gen_ai.tool.call.arguments", toolResult: "gen_ai.tool.call.result", toolId: "gen_ai.tool.call.id",
    tgInput: "traceglass.input", tgOutput: "traceglass.output", errorType: "error.type",
    finish: "gen_ai.response.finish_reasons", responseModel: "gen_ai.response.model",
    cacheRead: "gen_ai.usage.cache_read.input_tokens", reasoning: "gen_ai.usage.reasoning.output_tokens",
  };
  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers: text only -------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null) continue;
        if (key === "className") node.className = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "onclick") node.addEventListener("click", value);
        else if (key === "onkeydown") node.addEventListener("keydown", value);
        else if (key.startsWith("on")) throw new Error("unexpected handler " + key);
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function typeClass(type) { return "t-" + (KNOWN_TYPES.has(type) ? type : "other"); }
  function badge(type) { return el("span", { className: "badge " + typeClass(type) }, type || "span"); }

  // ---- formatting (tests compare these with the database) ----------------------------------------
  const fmt = {
    tokens: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
    // A known cost, however tiny, never reads as $0: below a micro-dollar it keeps two significant
    // digits (down to a trillionth of a dollar); only an exact zero is "$0".
    cost: window.Traceglass.formatCost,
    // Tokens of a trace or group that reported no usage at all: unknown ("–"), not 0.
    usage: (row, key) => (row.input_tokens || row.output_tokens || row.total_tokens ? fmt.tokens(row[key]) : "–"),
    ms: (ms) => {
      if (ms === null || ms === undefined) return "–";
      if (ms < 1) return ms.toFixed(2) + " ms";
      if (ms < 1000) return Math.round(ms) + " ms";
      return (ms / 1000).toFixed(2) + " s";
    },
    time: (ns) => {
      const d = new Date(Number(ns) / 1e6);
      const pad = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    },
    pct: (x) => (x * 100).toFixed(1) + "%",
    // ISO 8601 (a score's created_at) in the same local format as span times.
    when: (iso) => {
      const ms = Date.parse(iso);
      return Number.isFinite(ms) ? fmt.time(ms * 1e6) : String(iso || "–");
    },
    // A score value: up to 4 decimals, without trailing zeros (0.5, 1, 0.1235).
    value: (v) => String(Number(Number(v).toFixed(4))),
    // One score's value or label as shown: a boolean's label, a categorical's label, a number.
    score: (s) => (s.data_type === "numeric" || s.label === null || s.label === undefined ? fmt.value(s.value) : s.label),
    // A summary {name: {mean, count, labels}} in one line: "user_feedback 0.50 (2) · tone friendly 2, curt 1".
    scoreSummary: (summary) => {
      const names = Object.keys(summary || {}).sort();
      if (!names.length) return "–";
      return names.map((name) => {
        const s = summary[name] || {};
        if (s.mean !== null && s.mean !== undefined) {
          const mean = Number(s.mean).toFixed(2);
          return `${name} ${mean === "-0.00" ? "0.00" : mean} (${s.count})`;
        }
        const labels = Object.entries(s.labels || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .map(([label, n]) => `${label} ${n}`).join(", ");
        return `${name} ${labels || "(" + s.count + ")"}`;
      }).join(" · ");
    },
  };

  // What a span's status means, not the raw enum: OpenTelemetry leaves most spans UNSET (no error was
  // recorded: "ok"); ERROR carries its message; a span without an end time never finished (or was lost).
  function statusWord(span) {
    if (span.status === "ERROR") {
      return { word: "error", cls: "status-error", note: span.status_message || span.error_type || "" };
    }
    if (span.end_ns === null || span.end_ns === undefined) {
      return { word: "open", cls: "status-open", note: "no end time recorded: still running, or its end was lost" };
    }
    return { word: "ok", cls: "status-ok",
      note: span.status === "OK" ? "the span set its status to OK" : "no error recorded (the status was not set)" };
  }
  function traceStatusText(trace) {
    if (trace.status !== "ERROR") return "ok";
    const n = trace.error_count || 0;
    return n ? `error (${n} span${n === 1 ? "" : "s"})` : "error";
  }
  // A model's family: a dated snapshot name without its date (gpt-4o-2024-08-06 -> gpt-4o,
  // claude-3-5-sonnet-20241022 -> claude-3-5-sonnet, gpt-3.5-turbo-0125 -> gpt-3.5-turbo).
  function modelFamily(name) {
    return String(name).replace(/[-@](?:\d{4}-\d{2}-\d{2}|20\d{6}|(?:0[1-9]|1[0-2])\d{2})$/, "");
  }

  // ---- API ---------------------------------------------------------------------------------------
  async function api(path) {
    const response = await fetch(path, { headers: { accept: "application/json" }, credentials: "same-origin" });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  // POST JSON; a refusal throws an Error whose message is the server's own (a 422 lists its problems).
  async function apiPost(path, payload) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(payload),
        headers: { accept: "application/json", "content-type": "application/json" },
      });
    } catch (e) {
      throw new Error("the server could not be reached (" + e.message + ")");
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const problems = body && Array.isArray(body.problems)
        ? body.problems.map((p) => (p && p.field ? `${p.field}: ${p.message}` : String(p && p.message))) : [];
      const head = (body && body.error) || `HTTP ${response.status}`;
      const error = new Error(problems.length ? `${head}: ${problems.join("; ")}` : head);
      error.status = response.status;
      throw error;
    }
    return body;
  }
  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ---- router ------------------------------------------------------------------------------------
  function route() {
    showError("");
    const hash = location.hash || "#/";
    const match = hash.match(/^#\/trace\/([0-9a-fA-F]{32})(?:\/([0-9a-fA-F]{16}))?$/);
    for (const view of document.querySelectorAll(".view")) view.hidden = true;
    $("nav-traces").removeAttribute("aria-current");
    $("nav-stats").removeAttribute("aria-current");
    stopPolling();
    if (match) {
      $("view-trace").hidden = false;
      openTrace(match[1].toLowerCase(), match[2] ? match[2].toLowerCase() : null);
    } else if (hash.startsWith("#/stats")) {
      $("view-stats").hidden = false;
      $("nav-stats").setAttribute("aria-current", "page");
      loadStats();
    } else {
      $("view-list").hidden = false;
      $("nav-traces").setAttribute("aria-current", "page");
      showListFilters();
      loadList(true);
    }
  }

  // ---- trace list --------------------------------------------------------------------------------
  const list = { cursors: [null], page: 0, next: null, seen: new Set(), timer: null, ticket: 0, hash: "#/",
    filterKey: null };

  function filterParams() {
    const params = new URLSearchParams();
    for (const field of $("filters").elements) {
      if (field.name && field.value.trim()) params.set(field.name, field.value.trim());
    }
    return params;
  }

  // The filters live in the URL (#/?q=...&status=error): a link opens the same list, and back/forward
  // step through the filters applied. A value left at its default is left out of the URL.
  const LIST_DEFAULTS = { limit: "50" };
  function listHash(params) {
    for (const [name, value] of Object.entries(LIST_DEFAULTS)) if (params.get(name) === value) params.delete(name);
    const query = params.toString();
    return "#/" + (query ? "?" + query : "");
  }
  function hashParams() {
    const hash = location.hash || "#/";
    const at = hash.indexOf("?");
    return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : "");
  }
  // On entering the list (a link, back/forward, a filter applied): the form shows the URL's filters,
  // and a change of filters starts again from the first page.
  function showListFilters() {
    const params = hashParams();
    const key = listHash(hashParams());
    list.hash = key;
    $("back").setAttribute("href", key);
    if (key === list.filterKey) return;
    list.filterKey = key;
    for (const field of $("filters").elements) {
      if (!field.name || field === document.activeElement) continue;  // never rewrite what is being typed
      const value = params.get(field.name) ?? (LIST_DEFAULTS[field.name] || "");
      if (field.value !== value) field.value = value;
    }
    resetPaging();
  }
  // Apply the form's filters: a new history entry (replace: the same entry, for search-as-you-type).
  function applyFilters(replace) {
    const hash = listHash(filterParams());
    if (hash === list.hash) {
      resetPaging();
      loadList(false);
    } else if (replace) {
      history.replaceState(null, "", hash);
      route();
    } else {
      location.hash = hash;
    }
  }

  async function loadList(highlightNew) {
    // Every call fetches; only the latest answer is shown (a poll must not overwrite a new filter).
    const ticket = ++list.ticket;
    stopPolling();
    const params = filterParams();
    const cursor = list.cursors[list.page];
    if (cursor) params.set("cursor", cursor);
    if (!params.has("limit")) params.set("limit", "50");
    try {
      const page = await api("/api/traces/?" + params.toString());
      if (ticket !== list.ticket) return;
      renderList(page, highlightNew);
      showError("");
    } catch (e) {
      if (ticket !== list.ticket) return;
      showError("Could not load traces: " + e.message);
    }
    schedulePoll();
  }

  function renderList(page, highlightNew) {
    const body = $("trace-rows");
    // A refresh must not steal the keyboard focus: remember the focused row and focus it again.
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.traceId : undefined;
    clear(body);
    const fragment = document.createDocumentFragment();
    const firstLoad = list.seen.size === 0;
    for (const t of page.traces) {
      const fresh = highlightNew && !firstLoad && !list.seen.has(t.trace_id);
      list.seen.add(t.trace_id);
      const open = () => { location.hash = "#/trace/" + t.trace_id; };
      const row = el("tr", {
        className: "trace-row" + (fresh ? " fresh" : ""), tabindex: "0", dataset: { traceId: t.trace_id },
        "aria-label": `Open trace ${t.name || t.trace_id}`, onclick: open,
        onkeydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); open(); } },
      },
      el("td", { className: "time" }, fmt.time(t.start_ns)),
      el("td", { className: "name", title: t.name || "" }, t.name || "(no root)"),
      el("td", { className: "project", title: t.project || null }, t.project || "–"),
      el("td", { className: "type" }, t.type ? badge(t.type) : "–"),
      modelCell(t.models),
      el("td", { className: "preview input-preview", title: t.input_preview || null }, t.input_preview || "–"),
      el("td", { className: "preview output-preview", title: t.output_preview || null }, t.output_preview || "–"),
      el("td", { className: "num latency" }, fmt.ms(t.latency_ms)),
      el("td", { className: "num tokens" }, fmt.usage(t, "total_tokens")),
      el("td", { className: "num cost", title: t.cost_usd ? `$${t.cost_usd}` : null }, fmt.cost(t.cost_usd)),
      el("td", { className: "status status-" + (t.status === "ERROR" ? "ERROR" : "OK"),
        title: t.status === "ERROR" ? `${t.error_count} span${t.error_count === 1 ? "" : "s"} failed`
          : "no span recorded an error" }, t.status === "ERROR" ? `error (${t.error_count})` : "ok"),
      el("td", { className: "scores", title: fmt.scoreSummary(t.scores) }, fmt.scoreSummary(t.scores)));
      fragment.appendChild(row);
    }
    body.appendChild(fragment);
    if (focused) {
      const again = Array.from(body.children).find((row) => row.dataset.traceId === focused);
      if (again) again.focus();
    }
    list.next = page.next_cursor;
    $("page-older").disabled = !page.next_cursor;
    $("page-newer").disabled = list.page === 0;
    $("page-info").textContent = `page ${list.page + 1}`;
    $("list-status").textContent = page.traces.length ? "" : "No traces match. Run your app with traceglass " +
      "configured, or send OTLP to /v1/traces.";
    $("list-status").dataset.live = list.page === 0 ? "on" : "off";
  }

  // The models' families (gpt-4o-2024-08-06 reads gpt-4o), the full names on hover.
  function modelCell(models) {
    const names = models || [];
    const families = Array.from(new Set(names.map(modelFamily)));
    return el("td", { className: "model", title: names.join(", ") || null }, families.join(", ") || "–");
  }

  function schedulePoll() {
    stopPolling();
    // New traces appear without a reload: the first page refreshes itself while it is shown.
    if (list.page === 0 && !$("view-list").hidden) {
      list.timer = setTimeout(() => (document.hidden ? schedulePoll() : loadList(true)), POLL_MS);
    }
  }
  function stopPolling() { if (list.timer) clearTimeout(list.timer); list.timer = null; }

  function resetPaging() { list.cursors = [null]; list.page = 0; list.seen = new Set(); }

  // ---- trace view ----------------------------------------------------------------------------------
  const AXIS_HEIGHT = 24;  // px; matches .wf-axis in app.css
  const MODEL_TYPES = new Set(["llm", "chat_model"]);
  const FIRST_CHUNK = "gen_ai.response.time_to_first_chunk";  // seconds from the span's start
  // nodes: every span as {span, depth, parent, children, call, index}; rows: the nodes shown, in order.
  // A node's `call` is the provider span merged into it (see mergeable); `toggled` holds the span ids whose
  // subtree is not in its default state (expanded, or merged for a model step with its provider call).
  const view = { trace: null, rows: [], nodes: [], byId: new Map(), selected: null, spacer: null, layer: null,
    window: [-1, -1], start: 0, total: 1, toggled: new Set(), critical: new Set(), ticks: [] };

  async function openTrace(traceId, spanId) {
    performance.clearMarks();
    performance.mark("tg-trace-open");
    const waterfall = $("waterfall");
    clear(waterfall);
    clear($("details"));
    $("details").appendChild(el("p", { className: "muted" }, "Select a span to see its details."));
    $("trace-title").textContent = "Loading…";
    clear($("trace-scores-body"));
    let trace;
    try {
      trace = await api("/api/traces/" + traceId);
    } catch (e) {
      $("trace-title").textContent = e.status === 404 ? "Trace not found" : "Could not load the trace";
      showError(e.message);
      return;
    }
    performance.mark("tg-trace-loaded");
    renderTrace(trace);
    const target = spanId ? view.byId.get(spanId) : null;
    if (target) reveal(target);
    selectSpan(target ? shownNode(target) : view.rows[0], false);
    // "Rendered": the waterfall is laid out (forced here) and the next frame has been painted.
    void waterfall.offsetHeight;
    performance.mark("tg-waterfall-built");
    requestAnimationFrame(() => setTimeout(() => {
      performance.mark("tg-waterfall-rendered");
      performance.measure("tg-waterfall", "tg-trace-open", "tg-waterfall-rendered");
      document.body.dataset.rendered = traceId;
    }, 0));
  }

  const endOf = (span) => (span.end_ns === null || span.end_ns === undefined ? span.start_ns : span.end_ns);

  // A framework's model step (LangChain chat_model/llm) whose only child is the provider's own call to the
  // same model is one model call seen twice: it is shown as one row, expandable into both.
  function mergeable(node) {
    if (node.children.length !== 1 || !MODEL_TYPES.has(node.span.type)) return null;
    const child = node.children[0];
    if (!MODEL_TYPES.has(child.span.type)) return null;
    const a = node.span.model, b = child.span.model;
    return a && b && modelFamily(a) === modelFamily(b) ? child : null;
  }

  function buildNodes(roots) {
    // Depth-first, children in start order; iterative (a 5,000-span chain must not overflow the stack).
    const nodes = [];
    const stack = roots.slice().reverse().map((span) => ({ span, depth: 0, parent: null }));
    while (stack.length) {
      const node = stack.pop();
      node.children = [];
      node.call = null;
      node.index = -1;
      if (node.parent) node.parent.children.push(node);
      nodes.push(node);
      const children = node.span.children || [];
      for (let i = children.length - 1; i >= 0; i--) stack.push({ span: children[i], depth: node.depth + 1, parent: node });
    }
    for (const node of nodes) node.call = mergeable(node);
    return nodes;
  }

  function expanded(node) { return view.toggled.has(node.span.span_id) === Boolean(node.call); }

  function layoutRows() {
    const rows = [];
    for (const node of view.nodes) node.index = -1;
    const stack = view.nodes.filter((n) => !n.parent).reverse();
    while (stack.length) {
      const node = stack.pop();
      node.index = rows.length;
      rows.push(node);
      if (expanded(node)) for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
    view.rows = rows;
    view.spacer.style.height = rows.length * ROW_HEIGHT + "px";
    $("waterfall").dataset.rows = String(rows.length);
  }

  // The nearest shown node at or above `node` (a collapsed ancestor stands for what it hides).
  function shownNode(node) {
    let shown = node;
    for (let p = node.parent; p; p = p.parent) if (!expanded(p)) shown = p;
    return shown;
  }

  function reveal(node) {
    let changed = false;
    for (let p = node.parent; p; p = p.parent) {
      if (!expanded(p)) { toggleState(p); changed = true; }
    }
    if (changed) layoutRows();
  }

  function toggleState(node) {
    const id = node.span.span_id;
    if (view.toggled.has(id)) view.toggled.delete(id); else view.toggled.add(id);
  }

  // Collapse or expand `node`'s subtree (or un-merge / merge a model call); the selection stays, or moves to
  // `node` when its row is now hidden. The details follow: a merged row shows the provider's span.
  function setExpanded(node, open, select) {
    if (!node.children.length || expanded(node) === open) return;
    toggleState(node);
    layoutRows();
    const keep = select || (view.selected && view.selected.index >= 0 ? view.selected : node);
    view.selected = null;
    selectSpan(keep, false);
  }

  // Axis ticks at 1, 2 or 5 times a power of ten nanoseconds, at least TICK_PX apart on the timeline.
  const TICK_PX = 100;
  function axisTicks(total, width) {
    const raw = total / Math.max(2, Math.floor(width / TICK_PX));
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    // Nanosecond times beyond 2^53 reach JavaScript rounded (to 256 ns today): a 30 ms trace may measure
    // 30.00005 ms, so the step and the last tick allow for that.
    const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw * (1 - 1e-4)) || 10 * pow;
    const inSeconds = total >= 1e9;
    const unit = inSeconds ? 1e9 : 1e6;
    const digits = Math.max(0, -Math.floor(Math.log10(step / unit) + 1e-9));
    const ticks = [];
    for (let i = 0; i * step <= total * (1 + 1e-4) && i <= 50; i++) {
      ticks.push({ at: i * step, text: (i * step / unit).toFixed(digits) + (inSeconds ? " s" : " ms") });
    }
    return ticks;
  }

  // The axis (sticky above the rows) and the tick lines behind the rows; the tick spacing follows the
  // timeline's width, measured once the axis is in the page.
  function renderAxis(waterfall) {
    const track = el("div", { className: "wf-ticks" });
    const lines = el("div", { className: "wf-ticks" });
    const axis = el("div", { className: "wf-axis", "aria-hidden": "true" }, el("div", { className: "h-name" }, "Span"),
      track, el("div", { className: "num" }, "Tokens"), el("div", { className: "num" }, "Cost"),
      el("div", { className: "num" }, "Duration"));
    waterfall.appendChild(axis);
    const draw = () => {
      const ticks = axisTicks(view.total, track.clientWidth || 300);
      if (ticks.length === view.ticks.length && track.firstChild) return;  // the same spacing: nothing to do
      view.ticks = ticks;
      clear(track);
      clear(lines);
      for (const tick of ticks) {
        const pct = tick.at / view.total * 100;
        const label = el("span", { className: "tick" + (pct > 85 ? " flip" : "") }, tick.text);
        label.style.left = pct + "%";
        track.appendChild(label);
        const line = el("span", { className: "tick-line" });
        line.style.left = pct + "%";
        lines.appendChild(line);
      }
    };
    view.ticks = [];
    draw();
    // The timeline's width settles once the details are drawn (and changes with the window): redraw then.
    if (view.axisObserver) view.axisObserver.disconnect();
    if (window.ResizeObserver) {
      view.axisObserver = new ResizeObserver(draw);
      view.axisObserver.observe(track);
    }
    return el("div", { className: "wf-grid", "aria-hidden": "true" }, el("div"), lines);
  }

  function renderTrace(trace) {
    view.trace = trace;
    view.nodes = buildNodes(trace.spans || []);
    view.byId = new Map(view.nodes.map((n) => [n.span.span_id, n]));
    view.toggled = new Set();
    view.critical = new Set();
    $("trace-title").textContent = trace.name || trace.trace_id;
    const summary = $("trace-summary");
    clear(summary);
    const item = (label, value, cls) => summary.appendChild(el("div", null, el("dt", null, label),
      el("dd", { className: cls || null }, value)));
    item("Trace", trace.trace_id, "trace-id");
    item("Started", fmt.time(trace.start_ns));
    item("Latency", fmt.ms(trace.latency_ms), "latency");
    item("Spans", String(trace.span_count));
    item("Input tokens", fmt.usage(trace, "input_tokens"), "input-tokens");
    item("Output tokens", fmt.usage(trace, "output_tokens"), "output-tokens");
    item("Total tokens", fmt.usage(trace, "total_tokens"), "total-tokens");
    item("Cost", fmt.cost(trace.cost_usd), "cost");
    item("Status", traceStatusText(trace), "status status-" + (trace.status === "ERROR" ? "error" : "ok"));
    const scoresBody = $("trace-scores-body");
    clear(scoresBody);
    scoresBody.appendChild(scoresBlock(trace, null));

    let start = Infinity, end = -Infinity;
    const types = new Set();
    for (const { span } of view.nodes) {
      start = Math.min(start, span.start_ns);
      end = Math.max(end, endOf(span));
      types.add(span.type || "span");
    }
    view.start = start;
    view.total = Math.max(end - start, 1);
    view.selected = null;
    view.window = [-1, -1];
    const waterfall = $("waterfall");
    clear(waterfall);
    // Windowed rendering: only the rows in (and near) view exist in the DOM, absolutely placed in a
    // spacer as tall as all rows, so a 5,000-span trace costs what a 60-span one does.
    const grid = renderAxis(waterfall);
    view.layer = el("div", { className: "layer", role: "none" });
    view.spacer = el("div", { className: "rows", role: "none" }, grid, view.layer);
    waterfall.appendChild(view.spacer);
    waterfall.removeAttribute("aria-activedescendant");
    layoutRows();
    waterfall.scrollTop = 0;  // the rows are drawn when a span is selected (openTrace selects one)
    const legend = $("legend");
    clear(legend);
    for (const type of Array.from(types).sort()) legend.appendChild(badge(type));
    legend.appendChild(el("span", { className: "legend-keys muted" },
      el("span", { className: "key key-critical" }), "critical path of the selected span",
      el("span", { className: "key ev-exception" }), "exception",
      el("span", { className: "key ev-first-token" }), "first token"));
  }

  // The spans that set the selected span's end: the child that finished last, then the child that finished
  // last before that one started, and so on; each of them followed down the same way (as Jaeger does).
  function criticalPath(node) {
    const out = new Set();
    const stack = [node];
    while (stack.length) {
      const current = stack.pop();
      out.add(current.span.span_id);
      const children = current.children.length < 2 ? current.children
        : current.children.slice().sort((x, y) => endOf(y.span) - endOf(x.span));
      let cursor = Infinity;
      for (const child of children) {
        if (endOf(child.span) <= cursor) {
          stack.push(child);
          cursor = child.span.start_ns;
        }
      }
    }
    return out;
  }

  function usageText(span) {
    const total = span.total_tokens ?? (span.input_tokens === null && span.output_tokens === null ? null
      : (span.input_tokens || 0) + (span.output_tokens || 0));
    return total === null || total === undefined ? "–" : fmt.tokens(total);
  }

  // The markers on a span's bar: its events (an exception in red) and, for a stream, the first token.
  function markers(span) {
    const out = [];
    for (const e of span.events || []) {
      const at = Number(e.time_unix_nano);
      if (!Number.isFinite(at)) continue;
      const ea = e.attributes || {};
      const exception = e.name === "exception";
      const what = exception ? `exception ${ea["exception.type"] || ""}: ${ea["exception.message"] || ""}` : e.name;
      out.push({ at, cls: exception ? "ev-exception" : "ev-event", what,
        title: `${what} (at ${fmt.ms((at - span.start_ns) / 1e6)})` });
    }
    const ttfc = Number((span.attributes || {})[FIRST_CHUNK]);
    if ((span.attributes || {})[FIRST_CHUNK] !== undefined && Number.isFinite(ttfc)) {
      out.push({ at: span.start_ns + ttfc * 1e9, cls: "ev-first-token", what: "first token",
        title: `first token after ${fmt.ms(ttfc * 1000)}` });
    }
    return out;
  }
  // A merged model call's markers: the provider span's, and the framework step's that say something else
  // (both layers see the same first token, and often the same exception).
  function callMarkers(step, call) {
    const own = markers(call);
    const seen = new Set(own.map((m) => m.cls + "\n" + m.what));
    return own.concat(markers(step).filter((m) => !seen.has(m.cls + "\n" + m.what)));
  }

  function spanRow(index) {
    const node = view.rows[index];
    const span = node.span;
    const merged = node.call && !expanded(node) ? node.call.span : null;
    const counted = merged || span;  // the span whose usage counts: the provider's, for a merged call
    const left = ((span.start_ns - view.start) / view.total) * 100;
    const width = ((endOf(span) - span.start_ns) / view.total) * 100;
    const failed = span.status === "ERROR" || (merged && merged.status === "ERROR");
    const bar = el("div", { className: "bar " + typeClass(span.type) + (failed ? " err" : "") });
    bar.style.left = left + "%";
    bar.style.width = width + "%";
    const track = el("div", { className: "track" }, bar);
    for (const mark of merged ? callMarkers(span, merged) : markers(span)) {
      const m = el("span", { className: "ev " + mark.cls, title: mark.title });
      m.style.left = ((mark.at - view.start) / view.total) * 100 + "%";
      track.appendChild(m);
    }
    const scores = (span.scores || []).length + (merged ? (merged.scores || []).length : 0);
    const open = expanded(node);
    const twisty = node.children.length
      ? el("span", { className: "twisty", title: open ? "Collapse" : (node.call ? "Show both spans" : "Expand") },
        open ? "▾" : "▸")
      : el("span", { className: "twisty leaf" });
    const status = failed ? statusWord(merged && merged.status === "ERROR" ? merged : span) : null;
    const label = el("div", { className: "label", title: merged ? `${span.name} + ${merged.name}` : span.name },
      twisty, badge(span.type), el("span", { className: "span-name" }, span.name),
      merged ? el("span", { className: "call-tag", title: `one model call: ${span.name} and its provider span ` +
        `${merged.name} (expand to see both)` }, "+ " + (merged.provider || merged.name)) : null,
      status ? el("span", { className: "row-status status-error", title: status.note }, status.word) : null,
      scores ? el("span", { className: "score-mark", title: `${scores} score${scores === 1 ? "" : "s"}` }, "★" + scores) : null);
    label.style.paddingLeft = (4 + node.depth * 14) + "px";
    const superseded = counted.usage_superseded;
    const note = superseded ? "counted in the span below" : null;
    const row = el("div", {
      className: "span-row" + (view.critical.has(span.span_id) ? " critical" : "") + (merged ? " merged" : ""),
      role: "treeitem", id: "row-" + span.span_id, "aria-level": String(node.depth + 1),
      "aria-selected": view.selected === node ? "true" : "false",
      "aria-expanded": node.children.length ? String(open) : null,
      "aria-posinset": String(index + 1), "aria-setsize": String(view.rows.length),
      dataset: { spanId: span.span_id, index: String(index) },
    }, label, track,
    el("div", { className: "tok" + (superseded ? " superseded" : ""), title: note }, usageText(counted)),
    el("div", { className: "cost" + (superseded ? " superseded" : ""), title: note },
      counted.cost_usd === null || counted.cost_usd === undefined ? "–" : fmt.cost(counted.cost_usd)),
    el("div", { className: "dur" }, fmt.ms(span.duration_ms)));
    row.style.top = index * ROW_HEIGHT + "px";
    return row;
  }

  function renderWindow(force) {
    const waterfall = $("waterfall");
    const visible = Math.ceil((waterfall.clientHeight || 600) / ROW_HEIGHT);
    const first = Math.max(0, Math.floor(waterfall.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(view.rows.length, first + visible + 2 * OVERSCAN);
    if (!force && first === view.window[0] && last === view.window[1]) return;
    view.window = [first, last];
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) fragment.appendChild(spanRow(i));
    clear(view.layer);
    view.layer.appendChild(fragment);
    const selected = view.selected && view.selected.index >= first && view.selected.index < last;
    if (selected) waterfall.setAttribute("aria-activedescendant", "row-" + view.selected.span.span_id);
    else waterfall.removeAttribute("aria-activedescendant");
  }

  function selectSpan(node, focusDetails) {
    if (!node || node.index < 0) return;
    const changed = view.selected !== node;
    view.selected = node;
    if (changed) view.critical = criticalPath(node);
    const waterfall = $("waterfall");
    const top = node.index * ROW_HEIGHT;  // within the rows, which start below the sticky axis
    if (top < waterfall.scrollTop) waterfall.scrollTop = top;
    else if (top + ROW_HEIGHT + AXIS_HEIGHT > waterfall.scrollTop + waterfall.clientHeight) {
      waterfall.scrollTop = top + ROW_HEIGHT + AXIS_HEIGHT - waterfall.clientHeight;
    }
    renderWindow(true);
    if (changed) renderDetails(node.call && !expanded(node) ? node.call.span : node.span, node);
    if (focusDetails) $("details").focus();
  }

  function onWaterfallClick(ev) {
    const row = ev.target.closest(".span-row");
    if (!row) return;
    const node = view.rows[Number(row.dataset.index)];
    if (ev.target.closest(".twisty") && node.children.length) {
      setExpanded(node, !expanded(node), node);
    } else {
      selectSpan(node, false);
    }
  }
  function onWaterfallKey(ev) {
    if (!view.rows.length) return;
    const node = view.selected;
    const index = node ? node.index : -1;
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20, j: 1, k: -1 };
    if (ev.key in moves) {
      ev.preventDefault();
      selectSpan(view.rows[Math.max(0, Math.min(view.rows.length - 1, index + moves[ev.key]))], false);
    } else if (ev.key === "Home" || ev.key === "End") {
      ev.preventDefault();
      selectSpan(view.rows[ev.key === "Home" ? 0 : view.rows.length - 1], false);
    } else if (ev.key === "ArrowRight" && node) {
      ev.preventDefault();
      if (node.children.length && !expanded(node)) setExpanded(node, true);
      else if (node.children.length) selectSpan(view.rows[index + 1], false);
    } else if (ev.key === "ArrowLeft" && node) {
      ev.preventDefault();
      if (node.children.length && expanded(node)) setExpanded(node, false);
      else if (node.parent) selectSpan(shownNode(node.parent), false);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (!node) selectSpan(view.rows[0], false);
      $("details").focus();
    }
  }

  // ---- span details --------------------------------------------------------------------------------
  function parseJson(value) {
    if (typeof value !== "string") return value;
    try { return JSON.parse(value); } catch (e) { return undefined; }
  }
  function pretty(value) {
    const parsed = typeof value === "string" ? parseJson(value) : value;
    if (parsed === undefined) return String(value);
    return typeof parsed === "string" ? parsed : JSON.stringify(parsed, null, 2);
  }
  function kv(pairs, cls) {
    const list = el("dl", { className: "kv" + (cls ? " " + cls : "") });
    for (const [key, value, valueClass] of pairs) {
      if (value === undefined || value === null || value === "") continue;
      list.appendChild(el("dt", null, key));
      list.appendChild(el("dd", { className: valueClass || null }, String(value)));
    }
    return list;
  }

  function renderPart(part) {
    if (!part || typeof part !== "object") return el("div", { className: "part text" }, String(part));
    const type = part.type || "text";
    if (type === "text") return el("div", { className: "part text" }, part.content ?? "");
    if (type === "reasoning") return el("div", { className: "part reasoning" }, "Reasoning: " + (part.content ?? ""));
    if (type === "tool_call") {
      return el("div", { className: "part tool_call" },
        `Tool call ${part.name || ""}${part.id ? " [" + part.id + "]" : ""}\n${pretty(part.arguments ?? "")}`);
    }
    if (type === "tool_call_response") {
      return el("div", { className: "part tool_call_response" },
        `Tool result${part.id ? " [" + part.id + "]" : ""}\n${pretty(part.response ?? part.result ?? "")}`);
    }
    return el("pre", { className: "part code" }, JSON.stringify(part, null, 2));
  }

  function conversation(title, raw, cls) {
    const messages = parseJson(raw);
    const section = el("section", { className: "conversation " + cls }, el("h3", null, title));
    if (!Array.isArray(messages)) {
      section.appendChild(el("pre", { className: "code" }, String(raw)));
      return section;
    }
    for (const message of messages) {
      const role = message && typeof message.role === "string" ? message.role : "message";
      const safeRole = /^[a-z_]+$/.test(role) ? role : "other";
      const box = el("div", { className: "msg role-" + safeRole }, el("div", { className: "role" },
        role + (message && message.finish_reason ? ` · finish: ${message.finish_reason}` : "")));
      for (const part of (message && Array.isArray(message.parts) ? message.parts : [])) box.appendChild(renderPart(part));
      section.appendChild(box);
    }
    return section;
  }

  // `node` (optional): the waterfall row shown; a merged model call shows its provider span, and says so.
  function renderDetails(span, node) {
    const box = $("details");
    clear(box);
    const a = span.attributes || {};
    box.appendChild(el("h2", { className: "span-name" }, badge(span.type), " ", span.name));
    if (node && node.call && node.call.span === span) {
      box.appendChild(el("p", { className: "muted merged-note" }, `One model call: ${node.span.name} ` +
        `(${node.span.type}) and the provider's span ${span.name} below it, shown as one row; ` +
        "expand the row to see both."));
    }
    const status = statusWord(span);
    const params = Object.keys(a).filter((k) => k.startsWith("gen_ai.request.") && k !== "gen_ai.request.model")
      .sort().map((k) => [k.slice("gen_ai.request.".length), Array.isArray(a[k]) ? a[k].join(", ") : a[k]]);
    box.appendChild(kv([
      ["Type", span.type], ["Kind", span.kind], ["Status", status.word === "ok" ? "ok" : `${status.word}${status.note ? ": " + status.note : ""}`,
        "status " + status.cls],
      ["Duration", fmt.ms(span.duration_ms)], ["Started", fmt.time(span.start_ns)],
      ["Model", span.model, "model"], ["Provider", span.provider], ["Operation", span.operation],
      ["Prompt tokens", span.input_tokens === null ? null : fmt.tokens(span.input_tokens), "input-tokens"],
      ["Completion tokens", span.output_tokens === null ? null : fmt.tokens(span.output_tokens), "output-tokens"],
      ["Cached prompt tokens", a[K.cacheRead] === undefined ? null : fmt.tokens(a[K.cacheRead])],
      ["Reasoning tokens", a[K.reasoning] === undefined ? null : fmt.tokens(a[K.reasoning])],
      ["Cost", span.cost_usd === null ? null : fmt.cost(span.cost_usd), "cost"],
      ["Counted in parent", span.usage_superseded ? "no (a span below reports this usage)" : null],
      ["Session", span.session], ["User", span.user], ["Span id", span.span_id],
    ], "overview"));
    box.appendChild(el("section", { className: "span-scores" }, el("h3", null, "Scores"),
      scoresBlock(view.trace, span)));
    if (params.length) {
      box.appendChild(el("h3", null, "Parameters"));
      box.appendChild(kv(params, "params"));
    }

    const exceptions = (span.events || []).filter((e) => e.name === "exception");
    if (span.status === "ERROR" || exceptions.length) {
      const err = el("section", { className: "errors" }, el("h3", null, "Error"));
      const lines = [];
      if (a[K.errorType]) lines.push(a[K.errorType]);
      if (span.status_message) lines.push(span.status_message);
      for (const e of exceptions) {
        const ea = e.attributes || {};
        lines.push(`${ea["exception.type"] || "exception"}: ${ea["exception.message"] || ""}`);
        if (ea["exception.stacktrace"]) lines.push(ea["exception.stacktrace"]);
      }
      // The status message often repeats the exception's "Type: message": said once.
      err.appendChild(el("div", { className: "error-box" }, Array.from(new Set(lines)).join("\n") || "error"));
      box.appendChild(err);
    }
    if (a[K.system] !== undefined) box.appendChild(conversation("System instructions",
      JSON.stringify([{ role: "system", parts: parseJson(a[K.system]) || [] }]), "system"));
    if (a[K.input] !== undefined) box.appendChild(conversation("Input messages", a[K.input], "input"));
    if (a[K.output] !== undefined) box.appendChild(conversation("Output messages", a[K.output], "output"));
    if (a[K.tool] !== undefined || a[K.toolArgs] !== undefined) {
      const tool = el("section", { className: "tool" }, el("h3", null, "Tool call"));
      tool.appendChild(kv([["Tool", a[K.tool]], ["Call id", a[K.toolId]]]));
      if (a[K.toolArgs] !== undefined) tool.appendChild(el("pre", { className: "code" }, "Arguments\n" + pretty(a[K.toolArgs])));
      if (a[K.toolResult] !== undefined) tool.appendChild(el("pre", { className: "code" }, "Result\n" + pretty(a[K.toolResult])));
      box.appendChild(tool);
    }
    if (a[K.docs] !== undefined || a[K.query] !== undefined) {
      const docs = el("section", { className: "documents" }, el("h3", null, "Retrieval"));
      if (a[K.query] !== undefined) docs.appendChild(kv([["Query", a[K.query]]]));
      const parsed = parseJson(a[K.docs]);
      for (const doc of Array.isArray(parsed) ? parsed : []) {
        const head = [doc && doc.id !== undefined ? `#${doc.id}` : null,
          doc && doc.score !== undefined ? `score ${doc.score}` : null].filter(Boolean).join(" · ");
        const content = doc && typeof doc === "object" ? (doc.content ?? JSON.stringify(doc)) : String(doc);
        docs.appendChild(el("div", { className: "doc" }, head ? el("div", { className: "muted" }, head) : null,
          el("div", { className: "part" }, typeof content === "string" ? content : JSON.stringify(content))));
      }
      box.appendChild(docs);
    }
    if (a[K.tgInput] !== undefined) box.appendChild(el("section", null, el("h3", null, "Input"),
      el("pre", { className: "code input-value" }, pretty(a[K.tgInput]))));
    if (a[K.tgOutput] !== undefined) box.appendChild(el("section", null, el("h3", null, "Output"),
      el("pre", { className: "code output-value" }, pretty(a[K.tgOutput]))));

    box.appendChild(el("h3", null, "All attributes"));
    const table = el("table", { className: "attrs" });
    for (const key of Object.keys(a).sort()) {
      const value = Array.isArray(a[key]) ? JSON.stringify(a[key]) : String(a[key]);
      table.appendChild(el("tr", null, el("td", null, key), el("td", null, value)));
    }
    box.appendChild(table);
    const others = (span.events || []).filter((e) => e.name !== "exception");
    if (others.length) {
      box.appendChild(el("h3", null, "Events"));
      for (const e of others) box.appendChild(el("pre", { className: "code" }, `${e.name}\n${JSON.stringify(e.attributes || {}, null, 2)}`));
    }
    if (span.resource && Object.keys(span.resource).length) {
      box.appendChild(el("h3", null, "Resource"));
      box.appendChild(kv(Object.keys(span.resource).sort().map((k) => [k, span.resource[k]])));
    }
  }

  // ---- scores and feedback ----------------------------------------------------------------------------
  // Scores arrive inside the trace JSON (trace.scores: all of them; span.scores: that span's), so a
  // 5,000-span trace costs no extra request; a new score is merged into that model, not re-fetched.
  const FEEDBACK = "user_feedback";
  const USER_KEY = "traceglass.feedback.user";

  function upsertScore(scores, score) {
    const i = scores.findIndex((s) => s.id === score.id);
    if (i >= 0) scores[i] = score; else scores.push(score);
  }

  function scoreTable(scores) {
    if (!scores.length) return el("p", { className: "muted no-scores" }, "No scores yet.");
    const newestFirst = scores.slice().sort((a, b) => (Date.parse(b.created_at) || 0) - (Date.parse(a.created_at) || 0));
    const table = el("table", { className: "scores" }, el("thead", null, el("tr", null,
      ...["Name", "Value", "Source", "Comment", "Who", "When"].map((h) => el("th", { scope: "col" }, h)))));
    const tbody = el("tbody");
    for (const s of newestFirst) {
      // Text, not emoji: a browser without an emoji font would show empty boxes.
      const thumb = s.data_type === "boolean" ? (s.value ? "▲ " : "▼ ") : "";
      tbody.appendChild(el("tr", { className: "score", dataset: { scoreId: String(s.id) } },
        el("td", { className: "score-name" }, s.name),
        el("td", { className: "score-value" + (thumb ? (s.value ? " up" : " down") : "") }, thumb + fmt.score(s)),
        el("td", { className: "score-source" }, s.source || "–"),
        el("td", { className: "score-comment" }, s.comment || ""),
        el("td", { className: "score-user" }, s.user_id || "–"),
        el("td", { className: "score-when" }, fmt.when(s.created_at))));
    }
    table.appendChild(tbody);
    return el("div", { className: "table-wrap" }, table);
  }

  // The scores of the trace (span null: its trace-level ones) or of one span, and a feedback form.
  function scoresBlock(trace, span) {
    const own = () => (span ? span.scores || [] : (trace.scores || []).filter((s) => !s.span_id));
    const holder = el("div", { className: "score-list" }, scoreTable(own()));
    const onSpans = span ? 0 : (trace.scores || []).length - own().length;
    const note = onSpans ? el("p", { className: "muted on-spans" },
      `${onSpans} more score${onSpans === 1 ? "" : "s"} on spans (★ in the waterfall).`) : null;
    const saved = (score) => {
      upsertScore(trace.scores || (trace.scores = []), score);
      if (span) upsertScore(span.scores || (span.scores = []), score);
      clear(holder);
      holder.appendChild(scoreTable(own()));
      if (span && view.trace === trace) renderWindow(true);  // the ★ count on the span's row
    };
    return el("div", { className: "scores-block" }, holder, note, feedbackForm(trace.trace_id, span, saved));
  }

  function feedbackForm(traceId, span, saved) {
    const what = span ? "span" : "trace";
    const comment = el("textarea", { className: "fb-comment", rows: "1", placeholder: "Comment (optional)",
      "aria-label": `Comment on this ${what} (optional)` });
    const user = el("input", { className: "fb-user", type: "text", placeholder: "Your name (optional)",
      "aria-label": "Your name (optional)" });
    try { user.value = localStorage.getItem(USER_KEY) || ""; } catch (e) { /* storage off: no memory */ }
    const status = el("p", { className: "fb-status", role: "status" });
    const send = async (value) => {
      const payload = { name: FEEDBACK, value, source: "human" };
      if (span) payload.span_id = span.span_id;
      if (comment.value.trim()) payload.comment = comment.value;
      if (user.value.trim()) payload.user_id = user.value.trim();
      try { localStorage.setItem(USER_KEY, user.value.trim()); } catch (e) { /* storage off */ }
      up.disabled = down.disabled = true;
      status.className = "fb-status muted";
      status.textContent = "Saving…";
      try {
        const score = await apiPost("/api/traces/" + encodeURIComponent(traceId) + "/scores", payload);
        comment.value = "";
        saved(score);
        status.textContent = value ? "Saved: thumbs up." : "Saved: thumbs down.";
      } catch (e) {
        status.className = "fb-status error";
        status.textContent = "Could not save the feedback: " + e.message;
      } finally {
        up.disabled = down.disabled = false;
      }
    };
    const up = el("button", { type: "button", className: "fb-up", "aria-label": `Thumbs up on this ${what}`,
      onclick: () => send(true) }, "▲ Thumbs up");
    const down = el("button", { type: "button", className: "fb-down", "aria-label": `Thumbs down on this ${what}`,
      onclick: () => send(false) }, "▼ Thumbs down");
    return el("div", { className: "feedback", role: "group", "aria-label": `Feedback on this ${what}` },
      el("div", { className: "fb-row" }, comment, user, up, down), status);
  }

  // ---- aggregates ----------------------------------------------------------------------------------
  async function loadStats() {
    const body = $("stats-body");
    const params = new URLSearchParams();
    for (const field of $("stats-filters").elements) if (field.name && field.value) params.set(field.name, field.value);
    // The charts (charts.js, started by the same navigation or submit) go first, for at most 3 s: these
    // four tables take seconds of the server's CPU over a big store and would hold the charts back.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const charts = window.TraceglassCharts && window.TraceglassCharts.pending;
    if (charts) await Promise.race([charts.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 3000))]);
    try {
      const [byModel, byDay, byType, byProject] = await Promise.all(["model", "day", "type", "project"].map((g) => {
        const p = new URLSearchParams(params);
        p.set("group_by", g);
        return api("/api/stats?" + p.toString());
      }));
      clear(body);
      renderStats(body, byModel, byDay, byType, byProject);
    } catch (e) {
      showError("Could not load statistics: " + e.message);
    }
  }

  function statsTable(title, stats, keyLabel, cls) {
    const maxCost = Math.max(0, ...stats.rows.map((r) => r.cost_usd || 0));
    const table = el("table", { className: "stats " + cls },
      el("thead", null, el("tr", null, ...[keyLabel, "Calls", "Errors", "Error rate", "Input tok.", "Output tok.",
        "Cost", "p50", "p95", "Scores"].map((h, i) => el("th", { scope: "col", className: i && i < 9 ? "num" : null }, h)))));
    const tbody = el("tbody");
    for (const r of stats.rows) {
      const meter = el("span", { className: "meter" });
      meter.style.width = (maxCost ? Math.round((r.cost_usd || 0) / maxCost * 60) : 0) + "px";
      tbody.appendChild(el("tr", null, el("td", null, r.key === null ? "(none)" : r.key),
        el("td", { className: "num" }, fmt.tokens(r.calls)), el("td", { className: "num" }, fmt.tokens(r.errors)),
        el("td", { className: "num" }, fmt.pct(r.error_rate)), el("td", { className: "num" }, fmt.usage(r, "input_tokens")),
        el("td", { className: "num" }, fmt.usage(r, "output_tokens")),
        el("td", { className: "num" }, meter, fmt.cost(r.cost_usd)),
        el("td", { className: "num" }, fmt.ms(r.p50_ms)), el("td", { className: "num" }, fmt.ms(r.p95_ms)),
        el("td", { className: "scores" }, fmt.scoreSummary(r.scores))));
    }
    table.appendChild(tbody);
    return el("div", { className: "card" }, el("h2", null, title), el("div", { className: "table-wrap" }, table));
  }

  function renderStats(body, byModel, byDay, byType, byProject) {
    const sum = (rows, key) => rows.reduce((acc, r) => acc + (r[key] || 0), 0);
    const known = (rows, key) => (rows.some((r) => r[key] !== null && r[key] !== undefined) ? sum(rows, key) : null);
    const calls = sum(byModel.rows, "calls"), errors = sum(byModel.rows, "errors");
    const tile = (k, v) => el("div", { className: "tile" }, el("div", { className: "v" }, v), el("div", { className: "k" }, k));
    body.appendChild(el("div", { className: "tiles" },
      tile("Traces", fmt.tokens(byModel.count.traces)), tile("Spans", fmt.tokens(byModel.count.spans)),
      tile("Model calls", fmt.tokens(calls)), tile("Model error rate", calls ? fmt.pct(errors / calls) : "–"),
      tile("Tokens", fmt.tokens(sum(byModel.rows, "total_tokens"))), tile("Cost", fmt.cost(known(byModel.rows, "cost_usd")))));
    byDay.rows.sort((x, y) => String(x.key).localeCompare(String(y.key)));
    body.appendChild(el("div", { className: "stats-grid" },
      statsTable("By model", byModel, "Model", "by-model"),
      statsTable("Over time (per day, traces)", byDay, "Day", "by-day"),
      statsTable("By span type", byType, "Type", "by-type"),
      statsTable("By project", byProject, "Project", "by-project")));
  }

  // ---- wiring ---------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); applyFilters(false); });
    $("filters").addEventListener("reset", () => setTimeout(() => applyFilters(false), 0));
    $("f-limit").addEventListener("change", () => applyFilters(false));
    $("f-status").addEventListener("change", () => applyFilters(false));
    $("f-since").addEventListener("change", () => applyFilters(false));
    $("f-q").addEventListener("input", debounce(() => applyFilters(true), 300));
    $("page-older").addEventListener("click", () => {
      if (!list.next) return;
      list.cursors[list.page + 1] = list.next;
      list.page += 1;
      loadList(false);
    });
    $("page-newer").addEventListener("click", () => {
      if (list.page === 0) return;
      list.page -= 1;
      loadList(false);
    });
    $("stats-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadStats(); });
    $("waterfall").addEventListener("click", onWaterfallClick);
    $("waterfall").addEventListener("keydown", onWaterfallKey);
    let scrollFrame = 0;
    $("waterfall").addEventListener("scroll", () => {
      if (!scrollFrame) scrollFrame = requestAnimationFrame(() => { scrollFrame = 0; if (view.spacer) renderWindow(false); });
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("view-trace").hidden) location.hash = list.hash;  // the list as it was
      if (ev.key === "/" && !$("view-list").hidden && document.activeElement.tagName !== "INPUT") {
        ev.preventDefault();
        $("f-q").focus();
      }
    });
    window.addEventListener("hashchange", route);
    api("/api/counts").then((c) => {  // two counts, not the per-project aggregation it once took
      $("counts").textContent = `${fmt.tokens(c.traces)} traces · ${fmt.tokens(c.spans)} spans`;
    }).catch(() => {});
    route();
  });

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
})();
