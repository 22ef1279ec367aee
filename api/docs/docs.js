// The API docs page: fetches /openapi.json and renders every operation
// (method, path, summary, parameters, request body schema, responses) with
// a form that sends the request with the API key typed at the top. Plain
// DOM, no dependencies; text from the document and from responses is only
// ever set as text, never parsed as HTML.
"use strict";

(function () {
  const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
  const KEY_STORE = "reactivation.docs.apiKey";
  let spec = null;

  // el builds an element: attributes, then children (strings become text).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // text renders the document's prose: lines join into paragraphs and
  // `code` spans become code; the rest stays text.
  function text(s) {
    return String(s || "").trim().replace(/([^\n])\n(?!\n)/g, "$1 ").split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part));
  }

  // resolve follows a local $ref ("#/components/schemas/Job").
  function resolve(obj) {
    let seen = 0;
    while (obj && obj.$ref && seen++ < 20) {
      const parts = obj.$ref.replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
      obj = parts.reduce((o, p) => (o ? o[p] : undefined), spec);
    }
    return obj || {};
  }

  function refName(obj) {
    return obj && obj.$ref ? obj.$ref.split("/").pop() : "";
  }

  // typeOf summarises a schema in one line: "array of Customer", "string (uuid)".
  function typeOf(schema) {
    const name = refName(schema);
    const s = resolve(schema);
    let t;
    if (s.oneOf || s.anyOf) t = (s.oneOf || s.anyOf).map(typeOf).join(" | ");
    else if (s.allOf) t = s.allOf.map(typeOf).join(" & ");
    else if (s.type === "array") t = "array of " + typeOf(s.items || {});
    else if (s.type) t = s.type + (s.format ? " (" + s.format + ")" : "");
    else t = "any";
    if (name && (s.type === "object" || s.enum)) t = name;
    if (s.nullable) t += " | null";
    return t;
  }

  function constraints(s) {
    const out = [];
    if (s.enum) out.push("one of: " + s.enum.join(", "));
    for (const [key, label] of [["minimum", "≥"], ["maximum", "≤"], ["minLength", "min length"], ["maxLength", "max length"],
      ["minItems", "min items"], ["maxItems", "max items"], ["pattern", "pattern"], ["default", "default"]]) {
      if (s[key] !== undefined) out.push(label + " " + JSON.stringify(s[key]));
    }
    if (s.uniqueItems) out.push("unique items");
    if (s.additionalProperties === false) out.push("no other fields");
    return out.join("; ");
  }

  // schemaTree renders a schema as nested lists, to a bounded depth and
  // without following a $ref into itself.
  function schemaTree(schema, depth, path) {
    const s = resolve(schema);
    const name = refName(schema);
    if (depth > 6 || (name && path.includes(name))) return null;
    const next = name ? path.concat(name) : path;
    if (s.allOf) {
      const merged = { type: "object", properties: {}, required: [] };
      for (const part of s.allOf) {
        const p = resolve(part);
        Object.assign(merged.properties, p.properties || {});
        merged.required = merged.required.concat(p.required || []);
      }
      return schemaTree(merged, depth, next);
    }
    if (s.oneOf || s.anyOf) {
      // The one-line type names the alternatives; list them only when one
      // has fields of its own.
      const alts = (s.oneOf || s.anyOf).map((alt) => [alt, schemaTree(alt, depth + 1, next)]);
      if (!alts.some(([, tree]) => tree)) return null;
      return el("ul", { class: "schema" }, alts.map(([alt, tree]) => el("li", {}, el("span", { class: "type" }, typeOf(alt)), tree)));
    }
    if (s.type === "array") return schemaTree(s.items || {}, depth + 1, next);
    if (s.type !== "object" && !s.properties) return null;
    const required = new Set(s.required || []);
    const items = Object.entries(s.properties || {}).map(([prop, ps]) => {
      const r = resolve(ps);
      return el("li", {},
        el("span", { class: "name" }, prop), " ",
        el("span", { class: "type" }, typeOf(ps)), " ",
        required.has(prop) ? el("span", { class: "req" }, "required") : null,
        r.description ? el("div", { class: "desc" }, text(r.description)) : null,
        constraints(r) ? el("div", { class: "constraints" }, constraints(r)) : null,
        schemaTree(ps, depth + 1, next));
    });
    if (s.additionalProperties && typeof s.additionalProperties === "object") {
      items.push(el("li", {}, el("span", { class: "name" }, "{any name}"), " ",
        el("span", { class: "type" }, typeOf(s.additionalProperties)), schemaTree(s.additionalProperties, depth + 1, next)));
    }
    return items.length ? el("ul", { class: "schema" }, items) : null;
  }

  function schemaBlock(schema) {
    const s = resolve(schema);
    return el("div", {},
      el("div", {}, el("span", { class: "type mono" }, typeOf(schema)), constraints(s) ? el("span", { class: "constraints" }, " — " + constraints(s)) : null),
      s.description ? el("div", { class: "desc muted" }, text(s.description)) : null,
      schemaTree(schema, 0, []));
  }

  function parametersOf(pathItem, op) {
    const byKey = new Map();
    for (const p of (pathItem.parameters || []).concat(op.parameters || [])) {
      const r = resolve(p);
      byKey.set(r.in + ":" + r.name, r);
    }
    return [...byKey.values()];
  }

  function parametersTable(params) {
    return el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "Description"))),
      el("tbody", {}, params.map((p) => el("tr", {},
        el("td", { class: "mono" }, p.name, p.required ? el("span", { class: "req" }, " *") : null),
        el("td", {}, p.in),
        el("td", { class: "mono" }, typeOf(p.schema || {}), constraints(resolve(p.schema || {})) ? el("div", { class: "constraints" }, constraints(resolve(p.schema || {}))) : null),
        el("td", {}, text(p.description))))));
  }

  function responsesTable(responses) {
    return el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Status"), el("th", {}, "Description"), el("th", {}, "Body and headers"))),
      el("tbody", {}, Object.entries(responses || {}).map(([status, ref]) => {
        const r = resolve(ref);
        const content = Object.entries(r.content || {});
        const headers = Object.keys(r.headers || {});
        return el("tr", {},
          el("td", { class: "status s" + status[0] }, status),
          el("td", {}, text(r.description)),
          el("td", {},
            content.map(([type, media]) => el("div", {}, el("code", {}, type), media.schema ? schemaBlock(media.schema) : null)),
            headers.length ? el("div", { class: "constraints" }, "headers: " + headers.join(", ")) : null,
            r.links ? el("div", { class: "constraints" }, "next: ", Object.values(r.links).map((l, i) =>
              [i ? ", " : "", el("a", { href: "#op-" + l.operationId }, l.operationId)])) : null));
      })));
  }

  function securityOf(op) {
    const req = op.security !== undefined ? op.security : spec.security || [];
    return req.flatMap((r) => Object.keys(r));
  }

  // exampleBody is the request body's example, or one built from its schema.
  function exampleBody(media) {
    if (media.example !== undefined) return media.example;
    const s = resolve(media.schema || {});
    if (s.example !== undefined) return s.example;
    const out = {};
    for (const name of s.required || []) {
      const p = resolve((s.properties || {})[name] || {});
      out[name] = p.enum ? p.enum[0] : p.type === "array" ? [] : p.type === "integer" || p.type === "number" ? 0 : p.type === "boolean" ? false : "";
    }
    return out;
  }

  function tryForm(method, path, pathItem, op) {
    const params = parametersOf(pathItem, op);
    const inputs = params.map((p) => ({ p, input: el("input", { type: "text", name: p.name, placeholder: typeOf(p.schema || {}) }) }));
    const media = op.requestBody ? (resolve(op.requestBody).content || {})["application/json"] : null;
    const body = media ? el("textarea", { rows: 8, name: "body", spellcheck: "false" }) : null;
    if (body) body.value = JSON.stringify(exampleBody(media), null, 2);
    const result = el("div", { class: "result" });
    const send = el("button", { type: "submit" }, "Send");
    const form = el("form", { class: "try" },
      el("strong", {}, "Try it"),
      inputs.map(({ p, input }) => el("label", {}, p.name + " (" + p.in + (p.required ? ", required" : "") + ")", input)),
      body ? el("label", {}, "Body (application/json)", body) : null,
      el("div", { class: "row" }, send, el("span", { class: "muted mono" }, method.toUpperCase() + " " + path)),
      result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      const headers = {};
      for (const { p, input } of inputs) {
        const v = input.value;
        if (v === "") continue;
        if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
        else if (p.in === "query") query.set(p.name, v);
        else if (p.in === "header") headers[p.name] = v;
      }
      if (query.toString()) url += "?" + query.toString();
      const key = document.getElementById("api-key").value.trim();
      if (key && securityOf(op).length) {
        if (document.getElementById("auth-scheme").value === "Bearer") headers.Authorization = "Bearer " + key;
        else headers["X-API-Key"] = key;
      }
      const init = { method: method.toUpperCase(), headers };
      if (body) {
        init.body = body.value;
        headers["Content-Type"] = "application/json";
      }
      send.disabled = true;
      result.replaceChildren(el("p", { class: "muted" }, "Sending…"));
      sendRequest(url, init).then((nodes) => result.replaceChildren(...nodes)).finally(() => { send.disabled = false; });
    });
    return form;
  }

  async function sendRequest(url, init) {
    const started = performance.now();
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      return [el("p", { class: "error" }, "Request failed: " + err.message)];
    }
    const ms = Math.round(performance.now() - started);
    const type = res.headers.get("Content-Type") || "";
    const headerText = [...res.headers.entries()].map(([k, v]) => k + ": " + v).join("\n");
    let bodyNode;
    if (/json|text|javascript|css|html/.test(type) || type === "") {
      let text = await res.text();
      if (/json/.test(type)) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* shown as sent */ }
      }
      bodyNode = el("pre", {}, text || "(empty body)");
    } else {
      const blob = await res.blob();
      const name = (/filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") || "") || [])[1] || "download";
      bodyNode = el("p", {}, blob.size + " bytes of " + type + " ",
        el("a", { href: URL.createObjectURL(blob), download: name }, "save " + name));
    }
    return [
      el("p", {}, el("span", { class: "status s" + String(res.status)[0] }, res.status + " " + res.statusText), el("span", { class: "muted" }, " in " + ms + " ms")),
      el("details", {}, el("summary", {}, "Response headers"), el("pre", {}, headerText)),
      bodyNode,
    ];
  }

  function operation(method, path, pathItem, op) {
    const id = op.operationId || method + path;
    const params = parametersOf(pathItem, op);
    const body = op.requestBody ? resolve(op.requestBody) : null;
    const security = securityOf(op);
    return el("details", { class: "op", id: "op-" + id },
      el("summary", {},
        el("span", { class: "method " + method }, method),
        el("span", { class: "path" }, path),
        el("span", { class: "muted" }, op.summary || "")),
      el("div", { class: "body" },
        op.description ? el("p", { class: "intro" }, text(op.description)) : null,
        el("p", { class: "muted" }, "operationId ", el("code", {}, id), " · ",
          security.length ? "auth: " + security.join(" or ") : "no auth"),
        params.length ? [el("h4", {}, "Parameters"), parametersTable(params)] : null,
        body ? [el("h4", {}, "Request body" + (body.required ? " (required)" : "")),
          Object.entries(body.content || {}).map(([type, media]) => el("div", {}, el("code", {}, type), schemaBlock(media.schema || {})))] : null,
        el("h4", {}, "Responses"),
        responsesTable(op.responses),
        tryForm(method, path, pathItem, op)));
  }

  function render() {
    document.title = spec.info.title;
    document.getElementById("title").textContent = spec.info.title;
    document.getElementById("version").textContent = "version " + spec.info.version + " · OpenAPI " + spec.openapi;
    const groups = new Map((spec.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
    for (const [path, item] of Object.entries(spec.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags || ["Other"])[0];
        if (!groups.has(tag)) groups.set(tag, { tag: { name: tag }, ops: [] });
        groups.get(tag).ops.push({ method, path, item, op });
      }
    }
    const toc = document.getElementById("toc");
    const content = document.getElementById("content");
    content.replaceChildren(el("p", { class: "intro" }, text(spec.info.description)));
    for (const { tag, ops } of groups.values()) {
      if (!ops.length) continue;
      toc.append(el("h2", {}, tag.name));
      content.append(el("h2", { class: "tag", id: "tag-" + tag.name }, tag.name), tag.description ? el("p", { class: "muted" }, text(tag.description)) : null);
      for (const { method, path, item, op } of ops) {
        const node = operation(method, path, item, op);
        content.append(node);
        toc.append(el("a", { href: "#" + node.id },
          el("span", { class: "method " + method }, method), " ", path));
      }
    }
    openFromHash();
  }

  // openFromHash opens the operation the URL's fragment names.
  function openFromHash() {
    const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      target.scrollIntoView();
    }
  }

  function start() {
    const key = document.getElementById("api-key");
    key.value = sessionStorage.getItem(KEY_STORE) || "";
    key.addEventListener("input", () => sessionStorage.setItem(KEY_STORE, key.value));
    document.getElementById("auth").addEventListener("submit", (e) => e.preventDefault());
    window.addEventListener("hashchange", openFromHash);
    fetch("/openapi.json")
      .then((res) => {
        if (!res.ok) throw new Error("GET /openapi.json answered " + res.status);
        return res.json();
      })
      .then((doc) => { spec = doc; render(); })
      .catch((err) => {
        document.getElementById("content").replaceChildren(el("p", { class: "error" }, "Could not load the API document: " + err.message));
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
