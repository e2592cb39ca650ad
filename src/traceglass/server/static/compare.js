// Compare two traces or two spans side by side (issue 19): #/compare/A/B, where A and B are a trace id or
// TRACE:SPAN. Shows name, model, status, latency, tokens, cost and the request parameters of each, with the
// difference, and the prompts and outputs of their LLM calls diffed line by line and word by word (a trace's
// calls are paired in start order; a span is its own one call).
// Picking: a checkbox on each row of the trace list (two checked: "Compare"), and "Compare with…" on a
// trace or span, which remembers it until the next one is picked. Kept apart from app.js: it watches the
// list's rows and the details panel (MutationObserver) and adds its own view; every value is set as text.
(function () {
  "use strict";
  const { el, getJSON } = window.Traceglass;
  const PENDING_KEY = "traceglass.compare.pending";
  const MAX_CALLS = 20;  // LLM calls paired per trace: enough to read, bounded for huge traces
  const MAX_CELLS = 400000;  // the line/word diff's table size; larger texts show as replaced whole
  const MODEL_TYPES = new Set(["llm", "chat_model"]);
  const K = {
    input: "gen_ai.input.messages", output: "gen_ai.output.messages", system: "gen_ai.system_instructions",
    tools: "gen_ai.tool.definitions", responseModel: "gen_ai.response.model",
    finish: "gen_ai.response.finish_reasons", tgInput: "traceglass.input", tgOutput: "traceglass.output",
  };
  const REQUEST_PREFIX = "gen_ai.request.";
  const ID = /^([0-9a-fA-F]{32})(?::([0-9a-fA-F]{16}))?$/;
  const picked = new Set();  // trace ids checked in the list
  let loading = 0;

  // ---- formatting ------------------------------------------------------------------------------------
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const fmt = {
    tokens: (n) => (num(n) === null ? "–" : n.toLocaleString("en-US")),
    cost: (c) => {
      if (num(c) === null) return "–";
      if (c === 0) return "$0";
      if (Math.abs(c) >= 0.000001) return "$" + c.toFixed(6);
      return "<$0.000001";
    },
    ms: (ms) => {
      if (num(ms) === null) return "–";
      if (Math.abs(ms) < 1000) return (Math.abs(ms) < 1 ? ms.toFixed(2) : String(Math.round(ms))) + " ms";
      return (ms / 1000).toFixed(2) + " s";
    },
  };
  function delta(a, b, format) {
    if (num(a) === null || num(b) === null) return "";
    const d = b - a;
    if (d === 0) return "=";
    const pct = a !== 0 ? ` (${d > 0 ? "+" : "−"}${Math.abs(Math.round((d / Math.abs(a)) * 100))}%)` : "";
    return (d > 0 ? "+" : "−") + format(Math.abs(d)) + pct;
  }

  function parseJson(value) {
    if (typeof value !== "string") return value;
    try { return JSON.parse(value); } catch (e) { return value; }
  }
  function text(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value, null, 2);
  }

  // ---- spans and calls --------------------------------------------------------------------------------
  function allSpans(trace) {
    const out = [];
    const stack = (trace.spans || []).slice().reverse();
    while (stack.length) {
      const span = stack.pop();
      out.push(span);
      const children = span.children || [];
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
    return out;
  }
  function isCall(span) {
    const a = span.attributes || {};
    return MODEL_TYPES.has(span.type) || a[K.input] !== undefined || a[K.output] !== undefined;
  }
  // A framework's model step whose only call below is the provider's own span is one call: keep the innermost.
  function calls(spans) {
    const found = spans.filter(isCall);
    const ids = new Set(found.map((s) => s.span_id));
    const hasCallBelow = new Set(found.filter((s) => s.parent_id && ids.has(s.parent_id)).map((s) => s.parent_id));
    return found.filter((s) => !hasCallBelow.has(s.span_id))
      .sort((x, y) => (x.start_ns || 0) - (y.start_ns || 0));
  }

  async function loadSide(ref, cache) {
    const match = ID.exec(ref);
    if (!match) throw new Error(`not a trace id or TRACE:SPAN: ${ref}`);
    const traceId = match[1].toLowerCase();
    const spanId = match[2] ? match[2].toLowerCase() : null;
    if (!cache.has(traceId)) cache.set(traceId, getJSON("/api/traces/" + traceId));
    const trace = await cache.get(traceId);
    const spans = allSpans(trace);
    if (spanId) {
      const span = spans.find((s) => s.span_id === spanId);
      if (!span) throw new Error(`no span ${spanId} in trace ${traceId}`);
      return { ref, trace, span, calls: [span], root: span };
    }
    const root = (trace.spans || [])[0] || null;
    return { ref, trace, span: null, calls: calls(spans).slice(0, MAX_CALLS), callCount: calls(spans).length, root };
  }

  // ---- the diff --------------------------------------------------------------------------------------
  // Longest common subsequence over the middle (common prefix and suffix trimmed first), as a list of
  // {op: "same" | "del" | "add", a, b}. Beyond MAX_CELLS the middle is reported replaced whole.
  function diff(a, b) {
    let start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    let endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    const out = [];
    for (let i = 0; i < start; i++) out.push({ op: "same", a: a[i], b: b[i] });
    const n = endA - start, m = endB - start;
    if (n * m > MAX_CELLS) {
      for (let i = start; i < endA; i++) out.push({ op: "del", a: a[i] });
      for (let j = start; j < endB; j++) out.push({ op: "add", b: b[j] });
    } else {
      // lengths[i][j]: LCS of a[start+i..endA) and b[start+j..endB), one flat typed array.
      const width = m + 1;
      const lengths = new Uint32Array((n + 1) * width);
      for (let i = n - 1; i >= 0; i--) {
        for (let j = m - 1; j >= 0; j--) {
          lengths[i * width + j] = a[start + i] === b[start + j] ? lengths[(i + 1) * width + j + 1] + 1
            : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
        }
      }
      let i = 0, j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && a[start + i] === b[start + j]) { out.push({ op: "same", a: a[start + i], b: b[start + j] }); i++; j++; }
        // On a tie the removal comes first, so a changed line reads as "− old" then "+ new".
        else if (i < n && (j === m || lengths[(i + 1) * width + j] >= lengths[i * width + j + 1])) { out.push({ op: "del", a: a[start + i] }); i++; }
        else { out.push({ op: "add", b: b[start + j] }); j++; }
      }
    }
    for (let i = endA, j = endB; i < a.length; i++, j++) out.push({ op: "same", a: a[i], b: b[j] });
    return out;
  }
  const words = (line) => line.split(/(\s+)/).filter((w) => w !== "");

  function wordLine(cls, mark, pieces) {
    const line = el("div", { class: "diff-line " + cls }, el("span", { class: "diff-mark", "aria-hidden": "true", text: mark }));
    const body = el("span", { class: "diff-text" });
    for (const [kind, value] of pieces) {
      body.append(kind === "same" ? document.createTextNode(value)
        : el(kind === "add" ? "ins" : "del", { class: "diff-word diff-" + kind, text: value }));
    }
    line.append(body);
    return line;
  }

  // A unified diff of two texts: lines kept, removed (−) and added (+); a removed line followed by an added
  // one is diffed word by word, the changed words marked.
  function renderDiff(before, after, cls) {
    const box = el("div", { class: "diff " + cls, role: "group" });
    const ops = diff(before.split("\n"), after.split("\n"));
    let changed = 0;
    for (let k = 0; k < ops.length;) {
      if (ops[k].op === "same") { box.append(wordLine("same", " ", [["same", ops[k].a]])); k++; continue; }
      const dels = [], adds = [];
      for (; k < ops.length && ops[k].op !== "same"; k++) {
        if (ops[k].op === "del") dels.push(ops[k].a); else adds.push(ops[k].b);
      }
      changed += dels.length + adds.length;
      const paired = Math.min(dels.length, adds.length);
      for (let p = 0; p < paired; p++) {
        const w = diff(words(dels[p]), words(adds[p]));
        box.append(wordLine("del", "−", w.filter((x) => x.op !== "add").map((x) => [x.op, x.a])));
        box.append(wordLine("add", "+", w.filter((x) => x.op !== "del").map((x) => [x.op, x.b])));
      }
      for (let p = paired; p < dels.length; p++) box.append(wordLine("del", "−", [["del", dels[p]]]));
      for (let p = paired; p < adds.length; p++) box.append(wordLine("add", "+", [["add", adds[p]]]));
    }
    box.dataset.changed = String(changed);
    if (!before && !after) box.append(el("p", { class: "muted", text: "(none on either side)" }));
    return box;
  }

  // Messages (GenAI parts format) as lines "role: text", so a diff line carries its message's role.
  function partText(part) {
    if (!part || typeof part !== "object") return String(part);
    const type = part.type || "text";
    if (type === "text" || type === "reasoning") return String(part.content ?? "");
    if (type === "tool_call") return `[tool call ${part.name || ""}] ${text(parseJson(part.arguments ?? ""))}`;
    if (type === "tool_call_response") return `[tool result] ${text(parseJson(part.response ?? part.result ?? ""))}`;
    return JSON.stringify(part);
  }
  function messageLines(raw, fallbackRole) {
    const messages = parseJson(raw);
    if (raw === undefined) return [];
    if (!Array.isArray(messages)) return text(messages).split("\n").map((l) => `${fallbackRole}: ${l}`);
    const lines = [];
    for (const message of messages) {
      const role = message && typeof message.role === "string" ? message.role : fallbackRole;
      const parts = message && Array.isArray(message.parts) ? message.parts
        : [message && message.content !== undefined ? message.content : message];
      const body = parts.map(partText).join("\n");
      for (const line of body.split("\n")) lines.push(`${role}: ${line}`);
    }
    return lines;
  }
  function promptText(span) {
    const a = span.attributes || {};
    const lines = [];
    if (a[K.system] !== undefined) {
      const parts = parseJson(a[K.system]);
      lines.push(...messageLines(JSON.stringify([{ role: "system", parts: Array.isArray(parts) ? parts : [parts] }]), "system"));
    }
    lines.push(...messageLines(a[K.input], "input"));
    if (!lines.length && a[K.tgInput] !== undefined) lines.push(...text(parseJson(a[K.tgInput])).split("\n"));
    return lines.join("\n");
  }
  function outputText(span) {
    const a = span.attributes || {};
    if (a[K.output] !== undefined) return messageLines(a[K.output], "output").join("\n");
    return a[K.tgOutput] !== undefined ? text(parseJson(a[K.tgOutput])) : "";
  }

  // ---- the view -------------------------------------------------------------------------------------
  function sideLabel(side) {
    const subject = side.span || side.trace;
    const href = "#/trace/" + side.trace.trace_id + (side.span ? "/" + side.span.span_id : "");
    return el("a", { href, class: "cmp-link", title: side.ref, text: (subject.name || "(unnamed)") +
      (side.span ? " (span)" : " (trace)") });
  }

  function row(field, label, a, b, format, numeric) {
    const same = text(a) === text(b);
    const tr = el("tr", { "data-field": field, class: same ? "same" : "differs" },
      el("th", { scope: "row", text: label }),
      el("td", { class: "a", text: format ? format(a) : (text(a) || "–") }),
      el("td", { class: "b", text: format ? format(b) : (text(b) || "–") }),
      el("td", { class: "delta", text: numeric ? delta(a, b, format) : (same ? "=" : "≠") }));
    return tr;
  }

  function params(span) {
    const out = {};
    const a = span.attributes || {};
    for (const key of Object.keys(a)) {
      if (key.startsWith(REQUEST_PREFIX) && key !== REQUEST_PREFIX + "model") out[key.slice(REQUEST_PREFIX.length)] = a[key];
    }
    return out;
  }
  function toolNames(span) {
    const tools = parseJson((span.attributes || {})[K.tools]);
    if (!Array.isArray(tools)) return "";
    return tools.map((t) => (t && (t.name || (t.function && t.function.name))) || "?").join(", ");
  }

  function overview(A, B) {
    const subject = (side) => side.span || side.trace;
    const models = (side) => (side.span ? side.span.model : (side.trace.models || []).join(", "));
    const latency = (side) => (side.span ? side.span.duration_ms : side.trace.latency_ms);
    const status = (side) => (subject(side).status === "ERROR" ? "error" : "ok");
    const rows = [
      row("name", "Name", subject(A).name, subject(B).name),
      row("model", "Model", models(A), models(B)),
      row("status", "Status", status(A), status(B)),
      row("latency", "Latency", latency(A), latency(B), fmt.ms, true),
      row("input_tokens", "Input tokens", subject(A).input_tokens, subject(B).input_tokens, fmt.tokens, true),
      row("output_tokens", "Output tokens", subject(A).output_tokens, subject(B).output_tokens, fmt.tokens, true),
      row("total_tokens", "Total tokens", subject(A).total_tokens, subject(B).total_tokens, fmt.tokens, true),
      row("cost", "Cost", subject(A).cost_usd, subject(B).cost_usd, fmt.cost, true),
      row("calls", "LLM calls", A.span ? 1 : A.callCount, B.span ? 1 : B.callCount, fmt.tokens, true),
    ];
    return table("cmp-overview", rows);
  }

  function table(cls, rows) {
    return el("div", { class: "table-wrap" }, el("table", { class: "cmp " + cls },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }), el("th", { scope: "col", text: "A" }),
        el("th", { scope: "col", text: "B" }), el("th", { scope: "col", text: "Difference" }))),
      el("tbody", {}, ...rows)));
  }

  function callSection(index, a, b) {
    const section = el("section", { class: "cmp-call", "data-index": String(index) },
      el("h2", { text: `LLM call ${index + 1}` + (a && b ? "" : a ? " (only in A)" : " (only in B)") }));
    const none = { attributes: {} };
    const x = a || none, y = b || none;
    const px = params(x), py = params(y);
    const rows = [
      row("span", "Span", x.name, y.name),
      row("model", "Model", x.model, y.model),
      row("response_model", "Response model", (x.attributes || {})[K.responseModel], (y.attributes || {})[K.responseModel]),
      row("latency", "Latency", x.duration_ms, y.duration_ms, fmt.ms, true),
      row("input_tokens", "Input tokens", x.input_tokens, y.input_tokens, fmt.tokens, true),
      row("output_tokens", "Output tokens", x.output_tokens, y.output_tokens, fmt.tokens, true),
      row("cost", "Cost", x.cost_usd, y.cost_usd, fmt.cost, true),
      row("finish", "Finish", (x.attributes || {})[K.finish], (y.attributes || {})[K.finish]),
      row("tools", "Tools", toolNames(x), toolNames(y)),
    ];
    for (const key of Array.from(new Set([...Object.keys(px), ...Object.keys(py)])).sort()) {
      rows.push(row("param:" + key, key, px[key], py[key], null, false));
    }
    section.append(table("cmp-call-table", rows));
    section.append(el("h3", { text: "Prompt" }), renderDiff(promptText(x), promptText(y), "prompt"));
    section.append(el("h3", { text: "Output" }), renderDiff(outputText(x), outputText(y), "output"));
    return section;
  }

  async function show(refA, refB) {
    const body = document.getElementById("compare-body");
    const mine = ++loading;
    body.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
    try {
      const cache = new Map();
      const [A, B] = await Promise.all([loadSide(refA, cache), loadSide(refB, cache)]);
      if (mine !== loading) return;
      body.replaceChildren();
      body.append(el("div", { class: "cmp-heads" },
        el("div", { class: "cmp-head a" }, el("span", { class: "cmp-tag", text: "A" }), " ", sideLabel(A)),
        el("div", { class: "cmp-head b" }, el("span", { class: "cmp-tag", text: "B" }), " ", sideLabel(B)),
        el("a", { class: "cmp-swap", href: `#/compare/${refB}/${refA}`, text: "⇄ Swap" })));
      body.append(overview(A, B));
      if (!A.span && !B.span) {
        const ra = A.root || { attributes: {} }, rb = B.root || { attributes: {} };
        const ia = text(parseJson((ra.attributes || {})[K.tgInput])), ib = text(parseJson((rb.attributes || {})[K.tgInput]));
        const oa = text(parseJson((ra.attributes || {})[K.tgOutput])), ob = text(parseJson((rb.attributes || {})[K.tgOutput]));
        if (ia || ib) body.append(el("h2", { text: "Trace input" }), renderDiff(ia, ib, "trace-input"));
        if (oa || ob) body.append(el("h2", { text: "Trace output" }), renderDiff(oa, ob, "trace-output"));
      }
      const pairs = Math.max(A.calls.length, B.calls.length);
      if (!pairs) body.append(el("p", { class: "muted", text: "Neither side made an LLM call." }));
      for (let i = 0; i < pairs; i++) body.append(callSection(i, A.calls[i], B.calls[i]));
      document.body.dataset.compared = `${refA}/${refB}`;
    } catch (e) {
      if (mine === loading) body.replaceChildren(el("p", { class: "error", text: "Could not compare: " + e.message }));
    }
  }

  // ---- picking -----------------------------------------------------------------------------------------
  function pending() {
    try { return sessionStorage.getItem(PENDING_KEY) || ""; } catch (e) { return ""; }
  }
  function setPending(ref, label) {
    try {
      if (ref) sessionStorage.setItem(PENDING_KEY, ref); else sessionStorage.removeItem(PENDING_KEY);
      if (ref) sessionStorage.setItem(PENDING_KEY + ".label", label || ref);
    } catch (e) { /* storage off: picking by checkboxes still works */ }
    updateBar();
  }
  function pendingLabel() {
    try { return sessionStorage.getItem(PENDING_KEY + ".label") || pending(); } catch (e) { return pending(); }
  }
  function compareWith(ref) {
    const first = pending();
    if (first && first !== ref) {
      setPending("");
      location.hash = `#/compare/${first}/${ref}`;
      return true;
    }
    return false;
  }

  function updateBar() {
    const bar = document.getElementById("compare-bar");
    if (!bar) return;
    const first = pending();
    const button = document.getElementById("compare-go");
    const note = document.getElementById("compare-note");
    button.disabled = picked.size !== 2;
    button.textContent = picked.size === 2 ? "Compare the 2 selected" : `Compare (${picked.size}/2 selected)`;
    note.textContent = first ? `Comparing with ${pendingLabel()}: pick one more (a row's checkbox, or “Compare with…” ` +
      "on a trace or span)." : "";
    document.getElementById("compare-cancel").hidden = !first;
  }

  function onPick(ev) {
    const box = ev.target;
    const id = box.dataset.traceId;
    if (box.checked) {
      if (pending() && compareWith(id)) return;
      picked.add(id);
      if (picked.size > 2) {  // the oldest pick gives way
        const oldest = picked.values().next().value;
        picked.delete(oldest);
        const old = document.querySelector(`input.compare-pick[data-trace-id="${oldest}"]`);
        if (old) old.checked = false;
      }
    } else {
      picked.delete(id);
    }
    updateBar();
  }

  function decorateRows() {
    const rows = document.getElementById("trace-rows");
    if (!rows) return;
    const headRow = document.querySelector("#trace-table thead tr");
    if (headRow && !headRow.querySelector("th.pick")) {
      headRow.insertBefore(el("th", { scope: "col", class: "pick" }, el("span", { class: "visually-hidden", text: "Compare" })), headRow.firstChild);
    }
    for (const tr of rows.querySelectorAll("tr.trace-row")) {
      if (tr.querySelector("td.pick")) continue;
      const id = tr.dataset.traceId || "";
      if (!/^[0-9a-f]{32}$/i.test(id)) continue;
      const box = el("input", { type: "checkbox", class: "compare-pick", "data-trace-id": id,
        "aria-label": "Select for comparison", title: "Select for comparison" });
      box.checked = picked.has(id);
      // The row opens its trace on click, Enter and Space: a click on the box must only tick it.
      for (const type of ["click", "keydown"]) box.addEventListener(type, (ev) => ev.stopPropagation());
      box.addEventListener("change", onPick);
      const cell = el("td", { class: "pick" }, box);
      cell.addEventListener("click", (ev) => ev.stopPropagation());
      tr.insertBefore(cell, tr.firstChild);
    }
  }

  // The trace and span being shown (app.js renders them): the trace from the route, the span from the
  // details panel's "Span id".
  function shownTrace() {
    const m = /^#\/trace\/([0-9a-fA-F]{32})/.exec(location.hash || "");
    return m ? m[1].toLowerCase() : null;
  }
  function shownSpan() {
    const details = document.getElementById("details");
    if (!details) return null;
    for (const dt of details.querySelectorAll("dl.overview dt, dl dt")) {
      if (dt.textContent === "Span id" && dt.nextElementSibling) return dt.nextElementSibling.textContent.trim();
    }
    return null;
  }

  function pickButton(ref, label, cls) {
    const first = pending();
    const text = first && first !== ref ? `Compare with ${pendingLabel()}` : "Compare with…";
    const button = el("button", { type: "button", class: "compare-with " + cls, text,
      title: first && first !== ref ? "Open the comparison" : "Remember this one, then pick the other" });
    button.addEventListener("click", () => {
      if (!compareWith(ref)) {
        setPending(ref, label);
        button.textContent = "Picked: now choose the other";
      }
    });
    return button;
  }

  function decorateDetails() {
    const details = document.getElementById("details");
    const traceId = shownTrace();
    if (!details || !traceId || details.querySelector(".compare-with")) return;
    const spanId = shownSpan();
    if (!spanId || !/^[0-9a-f]{16}$/i.test(spanId)) return;
    const name = details.querySelector("h2.span-name");
    const bar = el("div", { class: "compare-actions" },
      pickButton(`${traceId}:${spanId}`, `span ${name ? name.textContent : spanId}`, "span"));
    if (name) name.after(bar); else details.prepend(bar);
  }

  function decorateTraceHead() {
    const head = document.querySelector("#view-trace .trace-head");
    const traceId = shownTrace();
    if (!head || !traceId) return;
    const existing = head.querySelector(".compare-with.trace");
    if (existing && existing.dataset.ref === traceId) return;
    if (existing) existing.remove();
    const title = document.getElementById("trace-title");
    const button = pickButton(traceId, `trace ${title ? title.textContent : traceId}`, "trace");
    button.dataset.ref = traceId;
    if (title) title.after(button); else head.append(button);
  }

  function route() {
    const page = document.getElementById("view-compare");
    const m = /^#\/compare\/([^/]+)\/([^/]+)\/?$/.exec(location.hash || "");
    if (m) {
      for (const view of document.querySelectorAll(".view")) view.hidden = view !== page;
      for (const link of document.querySelectorAll(".top nav a")) link.removeAttribute("aria-current");
      page.hidden = false;
      const decode = (x) => { try { return decodeURIComponent(x); } catch (e) { return x; } };
      show(decode(m[1]), decode(m[2]));
    } else {
      page.hidden = true;
      delete document.body.dataset.compared;
      loading++;
      if (shownTrace()) decorateTraceHead();
    }
    updateBar();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const main = document.getElementById("main");
    const page = el("section", { id: "view-compare", class: "view", "aria-labelledby": "compare-title" },
      el("h1", { id: "compare-title", text: "Compare" }), el("div", { id: "compare-body" }));
    page.hidden = true;
    if (main) main.insertBefore(page, document.getElementById("error"));
    const go = el("button", { type: "button", id: "compare-go", disabled: "" });
    go.addEventListener("click", () => {
      const [a, b] = Array.from(picked);
      if (a && b) location.hash = `#/compare/${a}/${b}`;
    });
    const cancel = el("button", { type: "button", id: "compare-cancel", text: "Cancel" });
    cancel.hidden = true;
    cancel.addEventListener("click", () => setPending(""));
    const bar = el("div", { id: "compare-bar", class: "compare-bar" }, go, el("span", { id: "compare-note", class: "muted" }), cancel);
    const wrap = document.querySelector("#view-list .table-wrap");
    if (wrap) wrap.before(bar);
    const rows = document.getElementById("trace-rows");
    if (rows) new MutationObserver(decorateRows).observe(rows, { childList: true });
    const details = document.getElementById("details");
    if (details) new MutationObserver(decorateDetails).observe(details, { childList: true });
    const title = document.getElementById("trace-title");
    if (title) new MutationObserver(decorateTraceHead).observe(title, { childList: true, characterData: true, subtree: true });
    window.addEventListener("hashchange", route);
    decorateRows();
    route();
  });
})();
