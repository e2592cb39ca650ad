// Replay (issue 19; Phoenix and Langfuse call it a playground): from an LLM span's details, open its request
// (model, messages, parameters, tools) in an editor, edit it and send it again through POST /api/replay, to the
// OpenAI-compatible endpoint the server was started with (traceglass ui --replay-base-url URL). The answer shows
// here, with a link to the new trace (linked to the original span) and to a comparison of the two.
// Only when GET /api/replay says it is on: otherwise no button at all. The key stays on the server.
// Kept apart from app.js: it watches the details panel (MutationObserver) and reads the span it shows from
// the trace's JSON; every value is set as text or as a form field's value, never as markup.
(function () {
  "use strict";
  const { el } = window.Traceglass;
  const ROLES = ["system", "developer", "user", "assistant", "tool"];
  const MODEL_TYPES = new Set(["llm", "chat_model"]);
  const K = { input: "gen_ai.input.messages", system: "gen_ai.system_instructions", tools: "gen_ai.tool.definitions",
    model: "gen_ai.request.model", tgInput: "traceglass.input" };
  const REQUEST_PREFIX = "gen_ai.request.";
  // gen_ai.request.* names -> chat.completions parameters (what POST /api/replay accepts).
  const PARAMS = { temperature: "temperature", top_p: "top_p", max_tokens: "max_tokens", seed: "seed",
    stop_sequences: "stop", presence_penalty: "presence_penalty", frequency_penalty: "frequency_penalty",
    "choice.count": "n", reasoning_effort: "reasoning_effort" };
  let enabled = false;
  let traces = new Map();  // trace id -> the trace JSON (a promise), for the trace shown

  async function request(url, options) {
    const response = await fetch(url, { credentials: "same-origin", ...options,
      headers: { accept: "application/json", ...((options && options.headers) || {}) } });
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON */ }
    return { ok: response.ok, status: response.status, data };
  }

  function parseJson(value) {
    if (typeof value !== "string") return value;
    try { return JSON.parse(value); } catch (e) { return undefined; }
  }

  // ---- the span's request, in the OpenAI chat format ------------------------------------------------
  const partsText = (parts) => parts.filter((p) => p && (p.type || "text") === "text").map((p) => String(p.content ?? "")).join("\n");
  const asText = (value) => (typeof value === "string" ? value : JSON.stringify(value ?? ""));

  function messagesOf(span) {
    const a = span.attributes || {};
    const out = [];
    const system = parseJson(a[K.system]);
    if (Array.isArray(system) && system.length) out.push({ role: "system", content: partsText(system) });
    const messages = parseJson(a[K.input]);
    if (!Array.isArray(messages)) {
      if (a[K.tgInput] !== undefined) out.push({ role: "user", content: asText(parseJson(a[K.tgInput]) ?? a[K.tgInput]) });
      return out;
    }
    for (const message of messages) {
      if (!message || typeof message !== "object") continue;
      const role = ROLES.includes(message.role) ? message.role : "user";
      const parts = Array.isArray(message.parts) ? message.parts
        : [{ type: "text", content: message.content ?? "" }];
      const responses = parts.filter((p) => p && p.type === "tool_call_response");
      if (responses.length) {
        for (const r of responses) out.push({ role: "tool", tool_call_id: r.id || "", content: asText(r.response ?? r.result) });
        continue;
      }
      const calls = parts.filter((p) => p && p.type === "tool_call").map((p) => ({ id: p.id || "", type: "function",
        function: { name: p.name || "", arguments: typeof p.arguments === "string" ? p.arguments : JSON.stringify(p.arguments ?? {}) } }));
      const text = partsText(parts);
      const item = { role, content: text || (calls.length ? null : "") };
      if (calls.length) item.tool_calls = calls;
      out.push(item);
    }
    return out;
  }

  function paramsOf(span) {
    const a = span.attributes || {};
    const params = {};
    const skipped = [];
    for (const key of Object.keys(a).sort()) {
      if (!key.startsWith(REQUEST_PREFIX) || key === K.model) continue;
      const name = key.slice(REQUEST_PREFIX.length);
      if (PARAMS[name] && !(name === "choice.count" && a[key] === 1)) params[PARAMS[name]] = a[key];
      else if (!PARAMS[name]) skipped.push(name);
    }
    return { params, skipped };
  }

  function toolsOf(span) {
    const tools = parseJson((span.attributes || {})[K.tools]);
    if (!Array.isArray(tools) || !tools.length) return null;
    return tools.map((t) => {
      if (!t || typeof t !== "object" || t.function) return t;
      const fn = { name: t.name };
      if (t.description !== undefined) fn.description = t.description;
      if (t.parameters !== undefined) fn.parameters = t.parameters;
      return { type: t.type || "function", function: fn };
    });
  }

  // ---- the editor ---------------------------------------------------------------------------------------
  function messageRow(message) {
    const role = el("select", { class: "replay-role", "aria-label": "Role" },
      ...ROLES.map((r) => el("option", { value: r, text: r })));
    role.value = ROLES.includes(message.role) ? message.role : "user";
    const content = el("textarea", { class: "replay-content", rows: "3", "aria-label": "Content", spellcheck: "false" });
    content.value = message.content == null ? "" : String(message.content);
    const remove = el("button", { type: "button", class: "replay-remove", text: "Remove", "aria-label": "Remove this message" });
    const extras = {};
    for (const key of ["tool_calls", "tool_call_id", "name"]) if (message[key] !== undefined) extras[key] = message[key];
    const row = el("div", { class: "replay-msg" }, el("div", { class: "replay-msg-head" }, role, remove), content);
    if (extras.tool_calls) row.append(el("p", { class: "muted", text: `+ ${extras.tool_calls.length} tool call(s): ` +
      extras.tool_calls.map((c) => (c.function && c.function.name) || "?").join(", ") }));
    if (extras.tool_call_id) row.append(el("p", { class: "muted", text: `answers tool call ${extras.tool_call_id}` }));
    row.replayExtras = extras;
    remove.addEventListener("click", () => row.remove());
    return row;
  }

  function readEditor(dialog) {
    const model = dialog.querySelector("#replay-model").value.trim();
    const messages = Array.from(dialog.querySelectorAll(".replay-msg")).map((row) => {
      const message = { role: row.querySelector(".replay-role").value, content: row.querySelector(".replay-content").value,
        ...(row.replayExtras || {}) };
      if (message.tool_calls && message.content === "") message.content = null;
      return message;
    });
    const params = parseJson(dialog.querySelector("#replay-params").value.trim() || "{}");
    if (!params || typeof params !== "object" || Array.isArray(params)) throw new Error("Parameters must be a JSON object");
    const toolsText = dialog.querySelector("#replay-tools").value.trim();
    const tools = toolsText ? parseJson(toolsText) : null;
    if (toolsText && !Array.isArray(tools)) throw new Error("Tools must be a JSON array (or empty)");
    const call = { model, messages, ...params };
    if (tools && tools.length) call.tools = tools;
    return call;
  }

  function showResult(dialog, source, data) {
    const box = dialog.querySelector("#replay-result");
    box.replaceChildren();
    const answer = data.answer || {};
    const usage = answer.usage || {};
    box.append(el("h3", { text: "Answer" }));
    box.append(el("pre", { class: "replay-answer", text: answer.content == null ? "" : String(answer.content) }));
    for (const call of answer.tool_calls || []) {
      box.append(el("pre", { class: "replay-tool-call", text: `Tool call ${call.name || ""}\n${call.arguments || ""}` }));
    }
    const facts = el("dl", { class: "kv replay-facts" });
    const fact = (key, value, cls) => facts.append(el("dt", { text: key }), el("dd", { class: cls, text: value }));
    fact("Model", answer.model || "–", "replay-model-answered");
    fact("Finish", answer.finish_reason || "–", "replay-finish");
    fact("Tokens", usage.total_tokens == null ? "–" : `${usage.input_tokens} in · ${usage.output_tokens} out`, "replay-tokens");
    fact("Latency", `${Math.round(data.latency_ms)} ms`, "replay-latency");
    box.append(facts);
    box.append(links(dialog, source, data));
    box.scrollIntoView({ block: "nearest" });
  }

  function links(dialog, source, data) {
    const close = () => dialog.close();
    const open = el("a", { class: "replay-trace-link", href: `#/trace/${data.trace_id}`, text: "Open the new trace" });
    const compare = el("a", { class: "replay-compare-link", text: "Compare with the original",
      href: `#/compare/${source.trace_id}:${source.span_id}/${data.trace_id}` });
    open.addEventListener("click", close);
    compare.addEventListener("click", close);
    return el("p", { class: "replay-links" }, open, " · ", compare);
  }

  async function send(dialog, source) {
    const status = dialog.querySelector("#replay-status");
    const button = dialog.querySelector("#replay-send");
    let call;
    try {
      call = readEditor(dialog);
    } catch (e) {
      status.textContent = e.message;
      status.className = "error";
      return;
    }
    button.disabled = true;
    status.className = "muted";
    status.textContent = "Sending…";
    dialog.querySelector("#replay-result").replaceChildren();
    try {
      const answer = await request("/api/replay", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ source, request: call }) });
      const data = answer.data || {};
      if (answer.ok) {
        status.textContent = "Done: stored as a new trace.";
        showResult(dialog, source, data);
      } else {
        status.className = "error";
        status.textContent = `Replay failed (HTTP ${answer.status}): ${data.error || "no reason given"}`;
        if (data.trace_id) dialog.querySelector("#replay-result").append(links(dialog, source, data));
      }
    } catch (e) {
      status.className = "error";
      status.textContent = "Replay failed: the server could not be reached (" + e.message + ")";
    } finally {
      button.disabled = false;
    }
  }

  function dialog() {
    let box = document.getElementById("replay-dialog");
    if (box) return box;
    box = el("dialog", { id: "replay-dialog", class: "replay", "aria-labelledby": "replay-title" });
    document.body.append(box);
    return box;
  }

  function openEditor(span) {
    const box = dialog();
    const source = { trace_id: span.trace_id, span_id: span.span_id };
    const { params, skipped } = paramsOf(span);
    const tools = toolsOf(span);
    const model = el("input", { id: "replay-model", type: "text", spellcheck: "false" });
    model.value = (span.attributes || {})[K.model] || span.model || "";
    const list = el("div", { id: "replay-messages" }, ...messagesOf(span).map(messageRow));
    const add = el("button", { type: "button", id: "replay-add", text: "Add message" });
    add.addEventListener("click", () => list.append(messageRow({ role: "user", content: "" })));
    const paramsBox = el("textarea", { id: "replay-params", rows: "4", spellcheck: "false" });
    paramsBox.value = JSON.stringify(params, null, 2);
    const toolsBox = el("textarea", { id: "replay-tools", rows: "4", spellcheck: "false", placeholder: "[] (no tools)" });
    toolsBox.value = tools ? JSON.stringify(tools, null, 2) : "";
    const sendButton = el("button", { type: "button", id: "replay-send", class: "primary", text: "Send" });
    sendButton.addEventListener("click", () => send(box, source));
    const closeButton = el("button", { type: "button", id: "replay-close", text: "Close" });
    closeButton.addEventListener("click", () => box.close());
    box.replaceChildren(...[
      el("h2", { id: "replay-title", text: `Replay ${span.name}` }),
      el("p", { class: "muted", text: "Edit the request and send it to the server's replay endpoint. The call is " +
        "traced as a new trace, linked to this span." }),
      el("label", { class: "replay-field" }, "Model", model),
      el("h3", { text: "Messages" }), list, add,
      el("label", { class: "replay-field" }, "Parameters (JSON)", paramsBox),
      skipped.length ? el("p", { class: "muted", text: "Not replayed: " + skipped.join(", ") }) : null,
      el("label", { class: "replay-field" }, "Tools (JSON)", toolsBox),
      el("div", { class: "replay-buttons" }, sendButton, closeButton),
      el("p", { id: "replay-status", class: "muted", "aria-live": "polite" }),
      el("section", { id: "replay-result" })].filter(Boolean));  // replaceChildren would write null as text
    if (!box.open) box.showModal();
    model.focus();
  }

  // ---- hooking into the details panel ----------------------------------------------------------------------
  function shownTrace() {
    const m = /^#\/trace\/([0-9a-fA-F]{32})/.exec(location.hash || "");
    return m ? m[1].toLowerCase() : null;
  }
  function shownSpan(details) {
    for (const dt of details.querySelectorAll("dl dt")) {
      if (dt.textContent === "Span id" && dt.nextElementSibling) return dt.nextElementSibling.textContent.trim();
    }
    return null;
  }
  async function findSpan(traceId, spanId) {
    if (!traces.has(traceId)) {
      traces = new Map([[traceId, request("/api/traces/" + traceId).then((r) => {
        if (!r.ok) throw new Error((r.data && r.data.error) || `HTTP ${r.status}`);
        return r.data;
      })]]);
    }
    const trace = await traces.get(traceId);
    const stack = (trace.spans || []).slice();
    while (stack.length) {
      const span = stack.pop();
      if (span.span_id === spanId) return span;
      stack.push(...(span.children || []));
    }
    throw new Error(`span ${spanId} is not in trace ${traceId}`);
  }

  function decorate() {
    const details = document.getElementById("details");
    const traceId = shownTrace();
    if (!enabled || !details || !traceId || details.querySelector(".replay-open")) return;
    const spanId = shownSpan(details);
    const badge = details.querySelector("h2.span-name .badge");
    const isModelCall = details.querySelector(".conversation.input") || (badge && MODEL_TYPES.has(badge.textContent));
    if (!spanId || !/^[0-9a-f]{16}$/i.test(spanId) || !isModelCall) return;
    const button = el("button", { type: "button", class: "replay-open", text: "Replay…",
      title: "Edit this request and send it again (traced as a new trace)" });
    const note = el("span", { class: "replay-note muted", "aria-live": "polite" });
    button.addEventListener("click", async () => {
      note.textContent = "";
      try {
        openEditor(await findSpan(traceId, spanId.toLowerCase()));
      } catch (e) {
        note.textContent = "Could not open the request: " + e.message;
      }
    });
    const bar = el("div", { class: "replay-actions" }, button, note);
    const name = details.querySelector("h2.span-name");
    if (name) name.after(bar); else details.prepend(bar);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    const details = document.getElementById("details");
    if (details) new MutationObserver(decorate).observe(details, { childList: true });
    window.addEventListener("hashchange", () => { if (!shownTrace()) traces = new Map(); });
    const status = await request("/api/replay").catch(() => ({ ok: false, data: null }));
    enabled = Boolean(status.ok && status.data && status.data.enabled === true);
    document.body.dataset.replay = enabled ? "on" : "off";
    decorate();
  });
})();
