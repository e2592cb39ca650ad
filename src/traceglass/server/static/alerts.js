// Alerts in the dashboard (issue 16): a banner while something fires, an Alerts page (#/alerts) with what
// fires and the history, and alert links (#/?user=alice&since=1h) that fill the trace list's filters.
// Kept apart from app.js: it adds its own nav link, banner and view, and reads only GET /api/alerts.
(function () {
  "use strict";
  const { el } = window.Traceglass;
  const POLL_MS = 30000;
  const state = { timer: null, last: null };

  async function fetchAlerts() {
    const response = await fetch("/api/alerts?limit=100", { headers: { accept: "application/json" },
                                                             credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  function when(iso) {
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toLocaleString();
  }

  function renderBanner(alerts) {
    const banner = document.getElementById("alerts-banner");
    const firing = alerts.firing || [];
    banner.replaceChildren();
    banner.hidden = firing.length === 0;
    if (!firing.length) return;
    const worst = firing.some((a) => a.severity === "critical") ? "critical" : "warning";
    banner.className = "alerts-banner " + worst;
    const first = firing[0];
    banner.append(el("strong", { text: `${firing.length} alert${firing.length === 1 ? "" : "s"} firing` }),
      el("span", { class: "alerts-first", text: String(first.message || first.rule) }),
      el("a", { href: "#/alerts", text: "See alerts" }));
  }

  function row(a, cells) {
    const tr = el("tr", { class: "alert-" + String(a.state || "") });
    for (const text of cells) tr.append(el("td", { text: text == null ? "" : String(text) }));
    return tr;
  }

  function table(head, rows) {
    const thead = el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h }))));
    return el("div", { class: "table-wrap" }, el("table", { class: "alerts" }, thead, el("tbody", {}, ...rows)));
  }

  function link(a) {
    const cell = el("td");
    if (a.link) {
      const hash = String(a.link).indexOf("#");
      cell.append(el("a", { href: hash >= 0 ? String(a.link).slice(hash) : "#/", text: "traces" }));
    }
    return cell;
  }

  function renderPage(alerts) {
    const body = document.getElementById("alerts-body");
    body.replaceChildren();
    const firing = alerts.firing || [];
    body.append(el("h2", { text: "Firing now" }));
    if (!firing.length) body.append(el("p", { class: "muted", text: "Nothing fires." }));
    else {
      const rows = firing.map((a) => {
        const tr = row(a, [a.severity, a.rule, a.message, when(a.at)]);
        tr.append(link(a));
        return tr;
      });
      body.append(table(["Severity", "Rule", "What", "Since", ""], rows));
    }
    const history = alerts.history || [];
    body.append(el("h2", { text: "History" }));
    if (!history.length) body.append(el("p", { class: "muted", text: "No alert has fired yet." }));
    else {
      const rows = history.map((a) => {
        const tr = row(a, [when(a.at), a.state, a.rule, a.message, a.delivery]);
        tr.append(link(a));
        return tr;
      });
      body.append(table(["Time", "State", "Rule", "What", "Notification", ""], rows));
    }
    const rules = alerts.rules || [];
    body.append(el("p", { class: "muted", text: rules.length
      ? `${rules.length} rule${rules.length === 1 ? "" : "s"} evaluated by this server.`
      : "This server evaluates no rules (start it with traceglass ui --alerts FILE); the history above is the store's." }));
  }

  async function refresh() {
    clearTimeout(state.timer);
    try {
      const alerts = await fetchAlerts();
      state.last = alerts;
      renderBanner(alerts);
      if (!document.getElementById("view-alerts").hidden) renderPage(alerts);
    } catch (e) {
      if (!document.getElementById("view-alerts").hidden) {
        document.getElementById("alerts-body").replaceChildren(
          el("p", { class: "error", text: "Could not load alerts: " + e.message }));
      }
    }
    state.timer = setTimeout(refresh, POLL_MS);
  }

  // #/?user=alice&since=1h (an alert's link): the trace list with those filters.
  function applyLinkFilters() {
    const hash = location.hash || "";
    if (!hash.startsWith("#/?")) return;
    const form = document.getElementById("filters");
    if (!form) return;
    const params = new URLSearchParams(hash.slice(3));
    for (const [name, value] of params) {
      const field = form.elements.namedItem(name);
      if (!field) continue;
      if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === value)) {
        field.append(el("option", { value: value, text: value }));
      }
      field.value = value;
    }
    form.requestSubmit();
  }

  function route() {
    const nav = document.getElementById("nav-alerts");
    const page = document.getElementById("view-alerts");
    if ((location.hash || "") === "#/alerts") {
      // app.js showed its default view for a hash it does not know: this one is ours.
      for (const view of document.querySelectorAll(".view")) view.hidden = view !== page;
      for (const link of document.querySelectorAll(".top nav a")) link.removeAttribute("aria-current");
      nav.setAttribute("aria-current", "page");
      page.hidden = false;
      if (state.last) renderPage(state.last);
      refresh();
    } else {
      nav.removeAttribute("aria-current");
      page.hidden = true;
      applyLinkFilters();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const nav = document.querySelector(".top nav");
    if (nav) nav.append(el("a", { id: "nav-alerts", href: "#/alerts", text: "Alerts" }));
    const header = document.querySelector("header.top");
    const banner = el("div", { id: "alerts-banner", class: "alerts-banner", role: "status" });
    banner.hidden = true;
    if (header) header.after(banner);
    const main = document.getElementById("main");
    const page = el("section", { id: "view-alerts", class: "view", "aria-labelledby": "alerts-title" },
      el("h1", { id: "alerts-title", text: "Alerts" }), el("div", { id: "alerts-body" }));
    page.hidden = true;
    const error = document.getElementById("error");
    if (main) main.insertBefore(page, error);
    window.addEventListener("hashchange", route);
    route();
    refresh();
  });
})();
