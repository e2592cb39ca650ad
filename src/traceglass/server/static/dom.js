// What every dashboard script shares (loaded first; deferred scripts run in document order):
// el() builds an element whose values are always text or attributes, never markup; getJSON() reads one
// of the server's JSON answers and throws "HTTP <status>: <its error>" when it is not a success;
// formatCost() writes dollars so that a known cost, however tiny, never reads as $0.
(function () {
  "use strict";

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) {
      let detail = "";
      try { detail = (await response.json()).error || ""; } catch (e) { /* not JSON */ }
      throw new Error(`HTTP ${response.status}${detail ? ": " + detail : ""}`);
    }
    return response.json();
  }

  // Below a micro-dollar two significant digits are kept (down to a trillionth); only an exact zero is "$0";
  // no cost at all is "–".
  function formatCost(c) {
    if (c === null || c === undefined || !Number.isFinite(Number(c))) return "–";
    const n = Number(c);
    if (n === 0) return "$0";
    if (Math.abs(n) >= 0.000001) return "$" + n.toFixed(6);
    const digits = Math.min(12, 1 - Math.floor(Math.log10(Math.abs(n))));
    const text = n.toFixed(digits).replace(/0+$/, "");
    return Number(text) === 0 ? "<$0.000000000001" : "$" + text;
  }

  window.Traceglass = Object.freeze({ el, getJSON, formatCost });
})();
