// "Add to dataset" on a trace (issue 15): a small form in the trace view's header that posts the
// trace (or the span in the URL, #/trace/T/S, when "this span only" is ticked) to
// POST /api/datasets/{name}/items, which saves the dataset's next version. Kept apart from app.js: it
// watches the hash itself. Every value from the server is set as text, never as markup.
(function () {
  "use strict";
  const { el } = window.Traceglass;
  const ROUTE = /^#\/trace\/([0-9a-fA-F]{32})(?:\/([0-9a-fA-F]{16}))?$/;
  let current = null; // { trace, span } of the trace view shown, or null

  function say(text, isError) {
    const status = document.getElementById("dataset-status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  async function loadNames() {
    const list = document.getElementById("dataset-names");
    try {
      const response = await fetch("/api/datasets", { headers: { accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) return;
      const names = ((await response.json()).datasets || []).map((d) => String(d.name));
      list.replaceChildren(...names.map((name) => el("option", { value: name })));
    } catch (e) { /* suggestions only: the form works without them */ }
  }

  function problems(body) {
    const listed = (body && Array.isArray(body.problems)) ? body.problems : [];
    if (listed.length) return listed.map((p) => `${p.field}: ${p.message}`).join("; ");
    return (body && body.error) || "";
  }

  async function submit(event) {
    event.preventDefault();
    if (!current) return;
    const name = document.getElementById("dataset-name").value.trim();
    if (!name) { say("Name the dataset to add this trace to.", true); return; }
    const payload = { trace_id: current.trace };
    if (current.span && document.getElementById("dataset-span-only").checked) payload.span_id = current.span;
    const button = document.getElementById("dataset-add");
    button.disabled = true;
    say("Adding…");
    try {
      const response = await fetch("/api/datasets/" + encodeURIComponent(name) + "/items", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(payload),
        headers: { accept: "application/json", "content-type": "application/json" },
      });
      let body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (!response.ok) {
        say(`Not added: ${problems(body) || "HTTP " + response.status}`, true);
        return;
      }
      const d = body.dataset || {};
      say(body.added ? `Added to ${d.name}: version ${d.version}, ${d.item_count} items.`
                     : `Already in ${d.name} (version ${d.version}): nothing added.`);
      loadNames();
    } catch (e) {
      say("Not added: the server could not be reached (" + e.message + ")", true);
    } finally {
      button.disabled = false;
    }
  }

  function panel() {
    let section = document.getElementById("trace-dataset");
    if (section) return section;
    const head = document.querySelector("#view-trace .trace-head");
    if (!head) return null;
    const spanOnly = el("label", { id: "dataset-span-label", class: "dataset-span" },
      el("input", { id: "dataset-span-only", type: "checkbox" }), " this span only");
    const form = el("form", { id: "dataset-form", class: "dataset-form", autocomplete: "off" },
      el("label", { for: "dataset-name", text: "Add to dataset" }),
      el("input", { id: "dataset-name", name: "dataset", type: "text", list: "dataset-names", maxlength: "200",
                    placeholder: "name", required: "" }),
      spanOnly, el("button", { id: "dataset-add", type: "submit", text: "Add" }),
      el("datalist", { id: "dataset-names" }));
    form.addEventListener("submit", submit);
    section = el("section", { id: "trace-dataset", class: "dataset-panel", "aria-label": "Add to dataset" },
      form, el("p", { id: "dataset-status", class: "muted", "aria-live": "polite" }));
    head.append(section);
    return section;
  }

  function route() {
    const match = (location.hash || "").match(ROUTE);
    if (!match) { current = null; return; }
    const section = panel();
    if (!section) return;
    const trace = match[1].toLowerCase();
    const span = match[2] ? match[2].toLowerCase() : null;
    if (!current || current.trace !== trace) say("");
    current = { trace, span };
    document.getElementById("dataset-span-label").hidden = !span;
    loadNames();
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.addEventListener("hashchange", route);
    route();
  });
})();
