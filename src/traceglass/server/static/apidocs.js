// The API reference at /docs (issue 19): the server's own OpenAPI document (/openapi.json) as a page, offline
// and under the dashboard's strict CSP (no inline script, no eval, no library). Every operation with its
// parameters, request body, responses and schemas, an example built from each schema, and a curl line.
// Every string from the document is set as text (textContent), never as markup.
(function () {
  "use strict";
  const { el } = window.Traceglass;
  const METHODS = ["get", "post", "put", "patch", "delete"];
  const MAX_DEPTH = 4; // nested schemas shown inline; deeper ones (and every $ref) are links
  let doc = null;

  const refName = (ref) => String(ref).split("/").pop();
  const anchor = (prefix, text) => prefix + "-" + String(text).replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  function resolve(schema) {
    if (schema && schema.$ref) return (doc.components && doc.components.schemas || {})[refName(schema.$ref)] || {};
    return schema || {};
  }

  // ---- a schema in words ------------------------------------------------------------------------------
  function typeText(schema) {
    if (!schema || typeof schema !== "object") return "any";
    if (schema.enum) return "one of " + schema.enum.map((v) => JSON.stringify(v)).join(", ");
    let type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
    if (!type) type = schema.properties ? "object" : "any";
    const extra = [];
    if (schema.format) extra.push(schema.format);
    if (schema.pattern) extra.push("pattern " + schema.pattern);
    if (schema.minimum !== undefined) extra.push("≥ " + schema.minimum);
    if (schema.maximum !== undefined) extra.push("≤ " + schema.maximum);
    if (schema.minLength !== undefined) extra.push("length ≥ " + schema.minLength);
    if (schema.maxLength !== undefined) extra.push("length ≤ " + schema.maxLength);
    if (schema.default !== undefined) extra.push("default " + JSON.stringify(schema.default));
    return extra.length ? `${type} (${extra.join(", ")})` : type;
  }

  function refLink(ref) {
    const name = refName(ref);
    return el("a", { class: "api-ref", href: "#" + anchor("schema", name), text: name });
  }

  function schemaView(schema, depth) {
    if (schema && schema.$ref) return el("span", { class: "api-type" }, refLink(schema.$ref));
    schema = schema || {};
    const box = el("div", { class: "api-schema" });
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (types.includes("array") && schema.items) {
      box.append(el("span", { class: "api-type", text: "array of " }), schemaView(schema.items, depth + 1));
      return box;
    }
    box.append(el("span", { class: "api-type", text: typeText(schema) }));
    if (schema.description) box.append(el("span", { class: "api-desc", text: " — " + schema.description }));
    if (depth >= MAX_DEPTH) return box;
    if (schema.properties) {
      const required = new Set(schema.required || []);
      const list = el("ul", { class: "api-props" });
      for (const [name, sub] of Object.entries(schema.properties)) {
        const resolved = sub && sub.$ref ? null : sub || {};
        list.append(el("li", { "data-property": name },
          el("code", { class: "api-prop", text: name }),
          required.has(name) ? el("span", { class: "api-required", text: " required" }) : null,
          el("span", { text: ": " }),
          resolved && resolved.description && !resolved.properties && !resolved.items
            ? el("span", {}, el("span", { class: "api-type", text: typeText(resolved) }),
                 el("span", { class: "api-desc", text: " — " + resolved.description }))
            : schemaView(sub, depth + 1)));
      }
      box.append(list);
    }
    if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
      box.append(el("div", { class: "api-map" }, el("span", { class: "api-type", text: "each value: " }),
                    schemaView(schema.additionalProperties, depth + 1)));
    }
    return box;
  }

  // ---- an example from a schema ---------------------------------------------------------------------------
  function example(schema, seen) {
    seen = seen || [];
    if (schema && schema.$ref) {
      const name = refName(schema.$ref);
      if (seen.includes(name) || seen.length > MAX_DEPTH) return {};
      return example(resolve(schema), seen.concat([name]));
    }
    schema = schema || {};
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (schema.enum) return schema.enum[0];
    const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null") : [schema.type];
    const type = types[0] || (schema.properties ? "object" : undefined);
    if (type === "object") {
      const out = {};
      for (const [name, sub] of Object.entries(schema.properties || {})) out[name] = example(sub, seen);
      if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === "object") {
        out.name = example(schema.additionalProperties, seen);
      }
      return out;
    }
    if (type === "array") return schema.items ? [example(schema.items, seen)] : [];
    if (type === "integer") return schema.minimum !== undefined ? schema.minimum : 0;
    if (type === "number") return schema.minimum !== undefined ? schema.minimum : 0.5;
    if (type === "boolean") return true;
    if (type === "string") {
      if (schema.format === "date-time") return "2027-01-15T08:00:00+00:00";
      if (schema.format === "binary") return "<binary>";
      const hex = /\{(\d+)\}/.exec(schema.pattern || "");
      if (hex && /0-9a-f/i.test(schema.pattern)) return "0123456789abcdef".repeat(4).slice(0, Number(hex[1]));
      return "string";
    }
    return null;
  }

  function exampleBlock(schema, label) {
    const text = JSON.stringify(example(schema), null, 2);
    return el("details", { class: "api-example" }, el("summary", { text: label }), el("pre", {}, el("code", { text: text })));
  }

  // ---- operations ---------------------------------------------------------------------------------------
  function curl(method, path, op) {
    const query = (op.parameters || []).filter((p) => p.in === "query" && p.required).map((p) => `${p.name}=…`);
    let line = `curl${method === "get" ? "" : " -X " + method.toUpperCase()} '${location.origin}${path}${query.length ? "?" + query.join("&") : ""}'`;
    const body = op.requestBody && op.requestBody.content || {};
    if (body["application/json"]) {
      line += ` \\\n  -H 'content-type: application/json' -d '${JSON.stringify(example(body["application/json"].schema))}'`;
    } else if (body["application/x-protobuf"]) {
      line += " \\\n  -H 'content-type: application/x-protobuf' --data-binary @request.pb";
    }
    return el("pre", { class: "api-curl" }, el("code", { text: line }));
  }

  function parametersTable(params) {
    const head = el("tr", {}, ...["Name", "In", "Type", "Description"].map((h) => el("th", { scope: "col", text: h })));
    const rows = params.map((p) => el("tr", { "data-param": String(p.name) },
      el("td", {}, el("code", { text: String(p.name) }), p.required ? el("span", { class: "api-required", text: " required" }) : null),
      el("td", { text: String(p.in) }), el("td", { text: typeText(p.schema) }),
      el("td", { class: "api-desc-cell", text: p.description || "" })));
    return el("div", { class: "table-wrap" }, el("table", { class: "api-params" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  function contentBlock(content, what) {
    const out = [];
    for (const [type, media] of Object.entries(content || {})) {
      out.push(el("div", { class: "api-media" }, el("span", { class: "api-media-type", text: type }),
                  media.schema ? schemaView(media.schema, 0) : null));
      if (type === "application/json" && media.schema) out.push(exampleBlock(media.schema, `Example ${what}`));
    }
    return out;
  }

  function operation(path, method, op) {
    const id = anchor("op", op.operationId || method + path);
    const section = el("section", { class: "api-op", id: id, "data-method": method, "data-path": path });
    section.append(el("h3", { class: "api-op-title" },
      el("span", { class: "api-method m-" + method, text: method.toUpperCase() }), el("code", { class: "api-path", text: path })));
    if (op.summary) section.append(el("p", { class: "api-summary", text: op.summary }));
    if (op.description) section.append(el("p", { class: "api-description", text: op.description }));
    if (Array.isArray(op.security) && op.security.length === 0) {
      section.append(el("p", { class: "muted", text: "No token needed." }));
    }
    if ((op.parameters || []).length) {
      section.append(el("h4", { text: "Parameters" }), parametersTable(op.parameters));
    }
    if (op.requestBody) {
      section.append(el("h4", { text: "Request body" + (op.requestBody.required ? " (required)" : "") }),
                     ...contentBlock(op.requestBody.content, "request"));
    }
    section.append(el("h4", { text: "Responses" }));
    const responses = el("dl", { class: "api-responses" });
    for (const [status, response] of Object.entries(op.responses || {})) {
      responses.append(el("dt", { class: "api-status s" + String(status)[0], "data-status": status, text: status }),
                       el("dd", {}, el("div", { text: response.description || "" }),
                          ...contentBlock(response.content, "response")));
    }
    section.append(responses, el("h4", { text: "Try it" }), curl(method, path, op));
    return section;
  }

  function render() {
    const main = document.getElementById("api-docs");
    const toc = document.getElementById("api-toc");
    const info = doc.info || {};
    const filter = el("input", { type: "search", id: "api-filter", placeholder: "Filter: path or words", "aria-label": "Filter operations" });
    const ops = [];
    const tocList = el("ul", { class: "api-toc-list" });
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        if (!item[method]) continue;
        const section = operation(path, method, item[method]);
        ops.push(section);
        tocList.append(el("li", { "data-method": method, "data-path": path }, el("a", { href: "#" + section.id },
          el("span", { class: "api-method m-" + method, text: method.toUpperCase() }), " ", el("span", { text: path }))));
      }
    }
    const schemas = el("section", { class: "api-schemas", "aria-labelledby": "api-schemas-title" },
                       el("h2", { id: "api-schemas-title", text: "Schemas" }));
    for (const [name, schema] of Object.entries(doc.components && doc.components.schemas || {})) {
      schemas.append(el("section", { class: "api-schema-def", id: anchor("schema", name), "data-schema": name },
        el("h3", {}, el("code", { text: name })), schemaView(schema, 0), exampleBlock(schema, "Example")));
    }
    toc.replaceChildren(filter, tocList, el("p", {}, el("a", { href: "#api-schemas-title", text: "Schemas" })));
    main.replaceChildren(
      el("h1", { text: `${info.title || "API"} ${info.version || ""}`.trim() }),
      el("p", { class: "api-info", text: info.description || "" }),
      el("p", { class: "muted", text: `OpenAPI ${doc.openapi || ""} · ${ops.length} operations · the document itself: /openapi.json` }),
      el("div", { class: "api-ops" }, ...ops), schemas);
    filter.addEventListener("input", () => {
      const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      for (const section of ops) {
        const text = section.textContent.toLowerCase();
        const shown = words.every((w) => text.includes(w));
        section.hidden = !shown;
        const entry = tocList.querySelector(`li[data-method="${section.dataset.method}"][data-path="${CSS.escape(section.dataset.path)}"]`);
        if (entry) entry.hidden = !shown;
      }
    });
    document.body.dataset.rendered = String(ops.length);
    if (location.hash) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    try {
      const response = await fetch("/openapi.json", { headers: { accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      doc = await response.json();
      render();
    } catch (e) {
      document.getElementById("api-docs").replaceChildren(
        el("p", { class: "error", text: "Could not load /openapi.json: " + e.message }));
    }
  });
})();
