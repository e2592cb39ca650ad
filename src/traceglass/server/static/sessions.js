// Sessions and users in the dashboard (issue 19): a Sessions page (#/sessions, filtered by ?user=, since,
// project), a session read as a chat transcript (#/sessions/ID: each turn's user input and final answer,
// expandable into its trace's spans, linking to #/trace/ID) and a Users page (#/users) linking to each user's
// sessions. Served at /sessions and /users too. Kept apart from app.js: it adds its own nav links and view and
// reads only GET /api/sessions, /api/sessions/ID, /api/users and /api/traces/ID.
// Every value from the store is set as text (textContent), never as markup.
(function () {
  "use strict";
  const { el, getJSON } = window.Traceglass;
  const PAGE = 50;
  let loading = 0; // the latest request wins: an older answer arriving late is dropped
  const paging = { key: "", cursors: [null], page: 0 }; // the list shown, its cursors and page number

  // A page opened at /sessions or /users (no hash) shows that view: set before app.js routes.
  const start = { "/sessions": "#/sessions", "/users": "#/users" }[location.pathname.replace(/\/+$/, "")];
  if (start && !location.hash) history.replaceState(null, "", location.pathname + location.search + start);

  // ---- formatting: the trace list's rules (a known tiny cost never reads $0; no usage reads –) ----------
  const fmt = {
    int: (n) => (typeof n === "number" && isFinite(n) ? n.toLocaleString("en-US") : "–"),
    tokens: (row) => (row.input_tokens || row.output_tokens || row.total_tokens
      ? Number(row.total_tokens).toLocaleString("en-US") : "–"),
    cost: window.Traceglass.formatCost,
    ms: (ms) => {
      if (typeof ms !== "number" || !isFinite(ms)) return "–";
      if (ms < 1) return ms.toFixed(2) + " ms";
      if (ms < 1000) return Math.round(ms) + " ms";
      return (ms / 1000).toFixed(2) + " s";
    },
    time: (ns) => {
      if (typeof ns !== "number" || !isFinite(ns)) return "–";
      const d = new Date(ns / 1e6);
      const pad = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    },
    // {name: {mean, count, labels}} in one line: "user_feedback 0.50 (2) · tone friendly 2".
    scores: (summary) => {
      const names = Object.keys(summary || {}).sort();
      if (!names.length) return "–";
      return names.map((name) => {
        const s = summary[name] || {};
        if (typeof s.mean === "number") {
          const mean = s.mean.toFixed(2);
          return `${name} ${mean === "-0.00" ? "0.00" : mean} (${s.count})`;
        }
        const labels = Object.entries(s.labels || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .map(([label, n]) => `${label} ${n}`).join(", ");
        return `${name} ${labels || "(" + s.count + ")"}`;
      }).join(" · ");
    },
    status: (status) => (String(status).toUpperCase() === "ERROR" ? "error" : "ok"),
  };

  function td(text, cls, title) {
    return el("td", { class: cls || "", text: text === null || text === undefined ? "" : String(text), title: title });
  }

  function table(cls, head, rows) {
    const thead = el("thead", {}, el("tr", {}, ...head.map(([h, c]) => el("th", { scope: "col", class: c || "", text: h }))));
    return el("div", { class: "table-wrap" }, el("table", { class: cls }, thead, el("tbody", {}, ...rows)));
  }

  function sessionHref(id) { return "#/sessions/" + encodeURIComponent(String(id)); }
  function userSessionsHref(id) { return "#/sessions?user=" + encodeURIComponent(String(id)); }

  // ---- the list pages: filters in the hash (#/sessions?user=ann&since=7d), cursor paging -----------------
  const FILTERS = {
    sessions: [["since", "Since"], ["project", "Project"], ["user", "User"]],
    users: [["since", "Since"], ["project", "Project"]],
  };

  function filtersForm(kind, params) {
    const form = el("form", { class: "filters sessions-filters", autocomplete: "off", "data-kind": kind });
    for (const [name, label] of FILTERS[kind]) {
      let field;
      if (name === "since") {
        field = el("select", { name: "since" });
        for (const [value, text] of [["", "any time"], ["1h", "1 hour"], ["1d", "1 day"], ["7d", "7 days"], ["30d", "30 days"]]) {
          field.append(el("option", { value: value, text: text }));
        }
      } else {
        field = el("input", { name: name, type: "text" });
      }
      field.value = params.get(name) || "";
      form.append(el("label", { text: label + " " }, field));
    }
    form.append(el("button", { type: "submit", text: "Apply" }));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      for (const field of form.elements) if (field.name && field.value.trim()) next.set(field.name, field.value.trim());
      const query = next.toString();
      location.hash = "#/" + kind + (query ? "?" + query : "");
    });
    return form;
  }

  function pager(kind, next, reload) {
    const newer = el("button", { type: "button", class: "sessions-newer", text: "← Newer" });
    const older = el("button", { type: "button", class: "sessions-older", text: "Older →" });
    newer.disabled = paging.page === 0;
    older.disabled = !next;
    newer.addEventListener("click", () => { paging.page -= 1; reload(); });
    older.addEventListener("click", () => { paging.cursors[paging.page + 1] = next; paging.page += 1; reload(); });
    return el("div", { class: "pager" }, newer, el("span", { class: "muted", text: `page ${paging.page + 1}` }), older);
  }

  function sessionRow(s) {
    const users = el("td", { class: "sessions-users" });
    (s.users || []).forEach((user, i) => {
      if (i) users.append(", ");
      users.append(el("a", { href: userSessionsHref(user), text: String(user) }));
    });
    return el("tr", { class: "session-row", "data-session": String(s.session_id) },
      el("td", { class: "sessions-id" }, el("a", { href: sessionHref(s.session_id), text: String(s.session_id), title: String(s.session_id) })),
      users, td(fmt.int(s.turn_count), "num"), td(fmt.time(s.first_seen_ns)), td(fmt.time(s.last_seen_ns)),
      td(fmt.tokens(s), "num"), td(fmt.cost(s.cost_usd), "num"),
      td(fmt.int(s.errors), "num" + (s.errors ? " status-error" : "")), td(fmt.scores(s.scores), "sessions-scores"));
  }

  function userRow(u) {
    return el("tr", { class: "user-row", "data-user": String(u.user_id) },
      el("td", { class: "sessions-id" }, el("a", { href: userSessionsHref(u.user_id), text: String(u.user_id), title: String(u.user_id) })),
      td(fmt.int(u.calls), "num"),
      el("td", { class: "num" }, el("a", { href: userSessionsHref(u.user_id), text: fmt.int(u.sessions) })),
      td(fmt.int(u.errors), "num" + (u.errors ? " status-error" : "")), td(fmt.tokens(u), "num"),
      td(fmt.cost(u.cost_usd), "num"), td(fmt.time(u.first_seen_ns)), td(fmt.time(u.last_seen_ns)),
      td(fmt.scores(u.scores), "sessions-scores"));
  }

  async function showList(kind, params) {
    const body = document.getElementById("sessions-body");
    const key = kind + "?" + params.toString();
    if (paging.key !== key) Object.assign(paging, { key: key, cursors: [null], page: 0 });
    const mine = ++loading;
    const title = document.getElementById("sessions-title");
    title.textContent = kind === "users" ? "Users" : (params.get("user") ? `Sessions of ${params.get("user")}` : "Sessions");
    const query = new URLSearchParams(params);
    query.set("limit", String(PAGE));
    if (paging.cursors[paging.page]) query.set("cursor", paging.cursors[paging.page]);
    performance.mark("tg-sessions-open");
    try {
      const data = await getJSON(`/api/${kind}?${query}`);
      if (mine !== loading) return;
      performance.mark("tg-sessions-loaded");
      const rows = kind === "users" ? (data.users || []).map(userRow) : (data.sessions || []).map(sessionRow);
      const content = rows.length
        ? (kind === "users"
          ? table("sessions users", [["User"], ["Calls", "num"], ["Sessions", "num"], ["Errors", "num"], ["Tokens", "num"],
            ["Cost", "num"], ["First seen"], ["Last seen"], ["Scores"]], rows)
          : table("sessions list", [["Session"], ["Users"], ["Turns", "num"], ["First seen"], ["Last seen"], ["Tokens", "num"],
            ["Cost", "num"], ["Errors", "num"], ["Scores"]], rows))
        : el("p", { class: "muted sessions-empty", text: kind === "users"
          ? "No user yet: traces get one from traceglass.session(..., user_id=...) or a user.id attribute."
          : "No session yet: wrap each turn in traceglass.session(session_id) (or set session.id)." });
      body.replaceChildren(filtersForm(kind, params), content, pager(kind, data.next_cursor, () => showList(kind, params)));
      document.body.dataset.sessionsRendered = kind;
      performance.measure("tg-sessions", "tg-sessions-open");
    } catch (e) {
      if (mine === loading) body.replaceChildren(el("p", { class: "error", text: `Could not load ${kind}: ${e.message}` }));
    }
  }

  // ---- one session as a transcript -------------------------------------------------------------------
  function message(role, text, cls) {
    const box = el("div", { class: "msg " + cls });
    box.append(el("span", { class: "msg-role", text: role }));
    box.append(el("div", { class: "msg-text", text: text === null || text === undefined ? "(nothing captured)" : String(text) }));
    if (text === null || text === undefined) box.classList.add("msg-empty");
    return box;
  }

  // The trace's spans as an indented list (name, type, duration, tokens, cost), read when first expanded.
  async function fillTrace(box, traceId) {
    box.replaceChildren(el("p", { class: "muted", text: "Loading the trace…" }));
    try {
      const trace = await getJSON("/api/traces/" + encodeURIComponent(traceId));
      const list = el("ul", { class: "turn-spans" });
      const walk = (span, depth) => {
        const usage = span.input_tokens || span.output_tokens ? `${fmt.int((span.input_tokens || 0) + (span.output_tokens || 0))} tok` : "";
        list.append(el("li", { class: "turn-span" + (String(span.status).toUpperCase() === "ERROR" ? " status-error" : ""),
                               "data-depth": String(depth) },
          el("span", { class: "turn-span-indent", text: "  ".repeat(depth) + (depth ? "└ " : "") }),
          el("a", { href: `#/trace/${traceId}/${span.span_id}`, text: String(span.name) }),
          el("span", { class: "muted", text: ` ${span.type || "span"} · ${fmt.ms(span.duration_ms)}` +
            (usage ? ` · ${usage}` : "") + (span.cost_usd !== null && span.cost_usd !== undefined ? ` · ${fmt.cost(span.cost_usd)}` : "") })));
        for (const child of span.children || []) walk(child, depth + 1);
      };
      for (const root of trace.spans || []) walk(root, 0);
      box.replaceChildren(list);
    } catch (e) {
      box.replaceChildren(el("p", { class: "error", text: "Could not load the trace: " + e.message }));
    }
  }

  function turnView(turn, number) {
    const error = String(turn.status).toUpperCase() === "ERROR";
    const meta = el("div", { class: "turn-meta muted" },
      el("strong", { text: `#${number}` }), " ",
      el("span", { text: `${fmt.time(turn.start_ns)} · ${turn.user || "no user"} · ${fmt.ms(turn.latency_ms)} · ` +
        `${fmt.tokens(turn)} tokens · ${fmt.cost(turn.cost_usd)} · ` }),
      el("span", { class: error ? "status-error" : "status-ok", text: fmt.status(turn.status) }),
      Object.keys(turn.scores || {}).length ? el("span", { class: "turn-scores", text: " · " + fmt.scores(turn.scores) }) : null,
      " · ", el("a", { href: "#/trace/" + String(turn.trace_id), class: "turn-open", text: "open trace" }));
    const spans = el("div", { class: "turn-trace" });
    const details = el("details", { class: "turn-details" },
      el("summary", { text: `Trace ${turn.name || ""} · ${fmt.int(turn.span_count)} spans` }), spans);
    details.addEventListener("toggle", () => {
      if (details.open && !spans.dataset.loaded) {
        spans.dataset.loaded = "1";
        fillTrace(spans, String(turn.trace_id));
      }
    });
    return el("article", { class: "turn" + (error ? " turn-error" : ""), "data-trace-id": String(turn.trace_id) },
      meta, message("user", turn.input, "msg-user"), message("assistant", turn.output, "msg-assistant"), details);
  }

  async function showSession(sessionId) {
    const body = document.getElementById("sessions-body");
    const mine = ++loading;
    document.getElementById("sessions-title").textContent = "Session";
    performance.mark("tg-session-open");
    try {
      const s = await getJSON("/api/sessions/" + encodeURIComponent(sessionId));
      if (mine !== loading) return;
      const users = el("span", {});
      (s.users || []).forEach((user, i) => {
        if (i) users.append(", ");
        users.append(el("a", { href: userSessionsHref(user), text: String(user) }));
      });
      const head = el("div", { class: "session-head" },
        el("p", {}, el("a", { href: "#/sessions", text: "← All sessions" })),
        el("h2", { class: "session-id", text: String(s.session_id) }),
        el("p", { class: "muted session-summary" },
          `${fmt.int(s.turn_count)} turns · users: `, users,
          ` · ${fmt.time(s.first_seen_ns)} → ${fmt.time(s.last_seen_ns)} · ${fmt.tokens(s)} tokens · ${fmt.cost(s.cost_usd)}` +
          ` · ${fmt.int(s.errors)} errors · scores: ${fmt.scores(s.scores)}`));
      const turns = (s.turns || []).map((turn, i) => turnView(turn, i + 1));
      const transcript = el("div", { class: "transcript" }, ...turns);
      const more = s.turn_count > turns.length
        ? el("p", { class: "muted", text: `Showing the first ${turns.length} of ${s.turn_count} turns.` }) : null;
      body.replaceChildren(head, transcript);
      if (more) body.append(more);
      document.body.dataset.sessionsRendered = "session";
      performance.measure("tg-session", "tg-session-open");
    } catch (e) {
      if (mine === loading) body.replaceChildren(el("p", {}, el("a", { href: "#/sessions", text: "← All sessions" })),
        el("p", { class: "error", text: "Could not load the session: " + e.message }));
    }
  }

  // ---- routing ----------------------------------------------------------------------------------------
  function route() {
    const page = document.getElementById("view-sessions");
    const hash = location.hash || "";
    const match = hash.match(/^#\/(sessions|users)(?:\/([^?#]*))?(?:\?(.*))?$/);
    const navs = { sessions: document.getElementById("nav-sessions"), users: document.getElementById("nav-users") };
    for (const nav of Object.values(navs)) nav.removeAttribute("aria-current");
    if (!match) {
      page.hidden = true;
      loading++;
      return;
    }
    // app.js showed its default view for a hash it does not know: this one is ours.
    for (const view of document.querySelectorAll(".view")) view.hidden = view !== page;
    for (const link of document.querySelectorAll(".top nav a")) link.removeAttribute("aria-current");
    navs[match[1]].setAttribute("aria-current", "page");
    page.hidden = false;
    delete document.body.dataset.sessionsRendered;
    if (match[1] === "sessions" && match[2]) {
      let id = match[2];
      try { id = decodeURIComponent(id); } catch (e) { /* shown as written */ }
      showSession(id);
    } else {
      showList(match[1], new URLSearchParams(match[3] || ""));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const nav = document.querySelector(".top nav");
    if (nav) {
      nav.append(el("a", { id: "nav-sessions", href: "#/sessions", text: "Sessions" }));
      nav.append(el("a", { id: "nav-users", href: "#/users", text: "Users" }));
    }
    const main = document.getElementById("main");
    const page = el("section", { id: "view-sessions", class: "view", "aria-labelledby": "sessions-title" },
      el("h1", { id: "sessions-title", text: "Sessions" }), el("div", { id: "sessions-body", "aria-live": "polite" }));
    page.hidden = true;
    if (main) main.insertBefore(page, document.getElementById("error"));
    window.addEventListener("hashchange", route);
    route();
  });
})();
