// The campaign report page: reads the campaign id from the path and the API
// key from the field at the top (kept in sessionStorage like the docs
// page's, or given once as #key=... and then removed from the address),
// fetches the report and draws the groups side by side, the lift with its
// interval and an SVG chart of cumulative reactivation. Plain DOM, no
// dependencies; values are only ever set as text.
"use strict";

(function () {
  const KEY_STORE = "reactivation.docs.apiKey";
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = { treatment: "#1f6feb", holdout: "#d29922", globalControl: "#8b949e" };
  const id = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

  function $(sel) { return document.querySelector(sel); }
  function el(tag, text) { const n = document.createElement(tag); if (text !== undefined) n.textContent = text; return n; }
  function svg(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    return n;
  }
  function pct(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(2) + "%"; }
  function money(x, cur) { return x === null || x === undefined ? "–" : Number(x).toLocaleString("en", { minimumFractionDigits: 2 }) + (cur ? " " + cur : ""); }

  function status(text, error) {
    const s = $("#status");
    s.textContent = text;
    s.className = error ? "error" : "";
  }

  async function load() {
    const key = $("#key").value.trim();
    sessionStorage.setItem(KEY_STORE, key);
    if (!key) { status("Type an API key first.", true); return; }
    status("Loading…");
    try {
      const res = await fetch("/api/v1/campaigns/" + encodeURIComponent(id) + "/report", { headers: { "X-API-Key": key, Accept: "application/json" } });
      const body = await res.json();
      if (!res.ok) { status(res.status + ": " + (body.detail || body.title), true); return; }
      render(body);
      status("Report as of " + body.window.asOf + ".");
    } catch (e) {
      status("Could not load the report: " + e.message, true);
    }
  }

  function render(r) {
    $("#title").textContent = "Campaign report: " + r.name;
    $("#summary").hidden = false;
    $("#window").textContent = "Window " + r.window.start + " to " + r.window.end + " (" + r.window.days + " days, " +
      (r.window.complete ? "complete" : "still open") + "), channel " + r.channel + ".";
    const groups = [["treatment", r.groups.treatment], ["holdout", r.groups.holdout]];
    if (r.groups.globalControl) groups.push(["globalControl", r.groups.globalControl]);
    const head = $("#groups thead tr");
    head.replaceChildren(el("th", ""));
    for (const [name] of groups) head.append(el("th", name));
    const body = $("#groups tbody");
    body.replaceChildren();
    const rows = [["customers", (g) => g.customers], ["reactivated", (g) => g.reactivated], ["rate", (g) => pct(g.rate)],
      ["orders", (g) => g.orders], ["revenue", (g) => money(g.revenue, r.currency)],
      ["revenue per customer", (g) => money(g.revenuePerCustomer, r.currency)]];
    for (const [label, f] of rows) {
      const tr = el("tr");
      tr.append(el("td", label));
      for (const [, g] of groups) tr.append(el("td", String(f(g))));
      body.append(tr);
    }
    const l = r.lift;
    $("#lift").textContent = l
      ? "Absolute " + pct(l.absolute) + " (95% interval " + pct(l.ci95[0]) + " to " + pct(l.ci95[1]) + "), relative " +
        (l.relative === null ? "–" : pct(l.relative)) + ", p-value " + (l.pValue === null ? "–" : l.pValue.toPrecision(3)) +
        ". Incremental: " + r.incremental.customers.toFixed(1) + " customers, " + money(r.incremental.revenue, r.currency) +
        (r.roi === null ? "" : ", ROI " + pct(r.roi)) + "."
      : "No lift: the holdout or the treatment is empty.";
    const e = r.events;
    $("#events").textContent = "Delivered " + e.delivered + " (" + pct(e.deliveredRate) + "), opened " + e.opened + " (" +
      pct(e.openRate) + "), clicked " + e.clicked + " (" + pct(e.clickRate) + "), bounced " + e.bounced + ", unsubscribed " +
      e.unsubscribed + ", complained " + e.complained + "; " + r.suppressed + " of the audience suppressed.";
    const w = $("#warnings");
    w.replaceChildren(...r.warnings.map((x) => el("li", x)));
    chart(r, groups.map(([name]) => name));
  }

  // chart draws one polyline per group: cumulative rate by day.
  function chart(r, names) {
    const W = 720, H = 260, P = 40, L = 64; // L: room for the y labels
    const days = r.window.days;
    let top = 0;
    for (const d of r.daily) for (const n of names) top = Math.max(top, d[n] || 0);
    top = top > 0 ? top * 1.1 : 0.01;
    const x = (day) => L + ((W - L - P) * day) / days;
    const y = (v) => H - P - ((H - 2 * P) * v) / top;
    const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "cumulative reactivation rate per group" });
    root.append(svg("line", { x1: L, y1: H - P, x2: W - P, y2: H - P, stroke: "#999" }));
    root.append(svg("line", { x1: L, y1: P, x2: L, y2: H - P, stroke: "#999" }));
    const label = (tx, ty, text, anchor) => { const t = svg("text", { x: tx, y: ty, "font-size": 11, "text-anchor": anchor || "middle" }); t.textContent = text; root.append(t); };
    label(L - 4, y(top) + 4, pct(top), "end");
    label(L - 4, H - P + 4, "0%", "end");
    label(x(days), H - P + 16, "day " + days);
    label(x(0), H - P + 16, "sent");
    names.forEach((n, i) => {
      const pts = [[x(0), y(0)]].concat(r.daily.map((d) => [x(d.day), y(d[n] || 0)]));
      root.append(svg("polyline", { class: "series", "data-group": n, fill: "none", stroke: COLORS[n], "stroke-width": 2, points: pts.map((p) => p.join(",")).join(" ") }));
      root.append(svg("rect", { x: W - P - 130, y: P + i * 16 - 9, width: 10, height: 10, fill: COLORS[n] }));
      label(W - P - 115, P + i * 16, n, "start");
    });
    $("#chart").replaceChildren(root);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const m = location.hash.match(/key=([^&]+)/);
    if (m) {
      sessionStorage.setItem(KEY_STORE, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname);
    }
    $("#key").value = sessionStorage.getItem(KEY_STORE) || "";
    $("#load").addEventListener("click", load);
    $("#key").addEventListener("keydown", (ev) => { if (ev.key === "Enter") load(); });
    if ($("#key").value) load();
  });
})();
