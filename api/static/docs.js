// The tenant's API documentation: fetches openapi.json with the key typed in (kept in this tab's
// sessionStorage only) and renders every operation with a "try it" form. Written without any library so
// the service can serve it offline; every text from the document goes through textContent, never innerHTML.
(function () {
  "use strict";
  var base = window.location.pathname.replace(/\/docs\/?$/, "");
  var keyInput = document.getElementById("api-key");
  var statusEl = document.getElementById("status");
  var main = document.getElementById("operations");
  var toc = document.getElementById("toc");
  var STORAGE = "obsrvr-flow-key:" + base;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function resolve(doc, obj) {
    while (obj && obj.$ref) {
      obj = obj.$ref.replace(/^#\//, "").split("/").reduce(function (o, k) { return o[k]; }, doc);
    }
    return obj;
  }

  function typeText(schema) {
    if (!schema) return "any";
    if (schema.enum) return schema.enum.join(" | ");
    if (schema.anyOf) return schema.anyOf.map(typeText).join(" or ");
    if (schema.type === "array") return "list of " + typeText(schema.items);
    var t = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
    return schema.format ? t + " (" + schema.format + ")" : t;
  }

  // Descriptions are Markdown-ish: `code` spans become <code> (built as nodes, never parsed as HTML).
  function richText(text) {
    var span = el("span", {});
    String(text || "").split("`").forEach(function (part, i) {
      if (!part) return;
      span.appendChild(i % 2 === 1 ? el("code", {}, [part]) : document.createTextNode(part));
    });
    return span;
  }

  // The allowed values of a parameter, from its schema's enum (also inside anyOf, or a list's items).
  function enumValues(schema) {
    if (!schema) return null;
    if (schema.enum) return schema.enum;
    if (schema.items && schema.items.enum) return schema.items.enum;
    var found = null;
    (schema.anyOf || []).some(function (s) { found = enumValues(s); return found; });
    return found;
  }

  function paramInput(p) {
    var values = enumValues(p.schema);
    if (values) {
      var options = [el("option", { value: "" }, [p.required ? "choose…" : "(any)"])].concat(
        values.map(function (v) { return el("option", { value: String(v) }, [String(v)]); }));
      return el("select", { "aria-label": p.name }, options);
    }
    return el("input", { type: "text", "aria-label": p.name, placeholder: p.required ? "required" : "" });
  }

  function authHeaders() {
    return { Authorization: "Bearer " + keyInput.value.trim() };
  }

  function tryIt(doc, path, op, params) {
    var inputs = {};
    var rows = params.map(function (p) {
      var input = paramInput(p);
      inputs[p.name] = { input: input, where: p.in, required: p.required || p.in === "path" };
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [p.name])]),
        el("td", {}, [input]),
      ]);
    });
    var out = el("pre", { hidden: "" });
    var button = el("button", { type: "submit" }, ["Send"]);
    var form = el("form", {}, [el("table", {}, rows), button]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // A required value left empty would send a wrong address (`/accounts//balances`): say so, send nothing.
      var missing = Object.keys(inputs).filter(function (name) {
        var empty = !inputs[name].input.value.trim();
        if (empty && inputs[name].required) inputs[name].input.setAttribute("aria-invalid", "true");
        else inputs[name].input.removeAttribute("aria-invalid");
        return empty && inputs[name].required;
      });
      if (missing.length) {
        out.hidden = false;
        out.className = "error";
        out.textContent = "Fill in the required parameter" + (missing.length > 1 ? "s " : " ") +
          missing.join(", ") + " first: nothing was sent.";
        return;
      }
      out.className = "";
      var url = path;
      var query = new URLSearchParams();
      Object.keys(inputs).forEach(function (name) {
        var value = inputs[name].input.value.trim();
        if (inputs[name].where === "path") {
          url = url.replace("{" + name + "}", encodeURIComponent(value));
        } else if (value) {
          query.set(name, value);
        }
      });
      var full = base + url + (query.toString() ? "?" + query.toString() : "");
      out.hidden = false;
      out.textContent = "GET " + full + "\n…";
      fetch(full, { headers: authHeaders() }).then(function (response) {
        return response.text().then(function (text) {
          var body = text;
          try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
          out.textContent = "GET " + full + "\n" + response.status + " " + response.statusText +
            "   Latest-Ledger: " + (response.headers.get("Latest-Ledger") || "-") + "\n\n" + body;
        });
      }).catch(function (err) { out.textContent = String(err); });
    });
    return el("details", {}, [el("summary", {}, ["Try it"]), form, out]);
  }

  function fields(doc, op) {
    var ok = op.responses && op.responses["200"];
    var schema = ok && resolve(doc, ok.content["application/json"].schema);
    var items = schema && schema.properties && schema.properties.data && resolve(doc, schema.properties.data.items);
    if (!items || !items.properties) return null;
    var rows = Object.keys(items.properties).map(function (name) {
      var prop = items.properties[name];
      return el("tr", {}, [
        el("td", {}, [el("code", {}, [name])]),
        el("td", {}, [typeText(prop)]),
        el("td", {}, [richText(prop.description)]),
      ]);
    });
    return el("details", {}, [el("summary", {}, ["Row fields"]), el("table", {}, rows)]);
  }

  function render(doc) {
    main.textContent = "";
    toc.textContent = "";
    document.getElementById("title").textContent = doc.info.title;
    Object.keys(doc.paths).forEach(function (path) {
      var op = doc.paths[path].get;
      if (!op) return;
      var params = (op.parameters || []).map(function (p) { return resolve(doc, p); });
      var anchor = "op-" + op.operationId;
      toc.appendChild(el("a", { href: "#" + anchor }, [path]));
      var table = el("table", {}, [el("tr", {}, [el("th", {}, ["parameter"]), el("th", {}, ["in"]),
        el("th", {}, ["type"]), el("th", {}, ["description"])])].concat(params.map(function (p) {
        return el("tr", {}, [
          el("td", {}, [el("code", {}, [p.name + (p.required ? " *" : "")])]),
          el("td", {}, [p.in]),
          el("td", {}, [typeText(p.schema)]),
          el("td", {}, [richText(p.description)]),
        ]);
      })));
      var section = el("section", { class: "op", id: anchor }, [
        el("h2", {}, [el("span", { class: "method" }, ["GET"]), el("span", { class: "path" }, [path]),
          el("span", { class: "tag" }, [(op.tags || []).join(", ")])]),
        el("p", {}, [richText(op.description || op.summary)]),
        params.length ? table : el("p", {}, ["No parameters."]),
      ]);
      var rowFields = fields(doc, op);
      if (rowFields) section.appendChild(rowFields);
      section.appendChild(tryIt(doc, path, op, params));
      main.appendChild(section);
    });
  }

  function load() {
    var key = keyInput.value.trim();
    if (!key) { statusEl.textContent = "Enter an API key of this tenant."; return; }
    sessionStorage.setItem(STORAGE, key);
    statusEl.textContent = "Loading…";
    fetch(base + "/openapi.json", { headers: authHeaders() }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) {
          throw new Error(response.status + ": " + ((body.error && body.error.message) || "error"));
        });
      }
      return response.json();
    }).then(function (doc) {
      render(doc);
      statusEl.textContent = Object.keys(doc.paths).length + " endpoints";
    }).catch(function (err) {
      statusEl.textContent = String(err.message || err);
      statusEl.className = "error";
    });
  }

  document.getElementById("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    statusEl.className = "";
    load();
  });
  var saved = sessionStorage.getItem(STORAGE);
  if (saved) { keyInput.value = saved; load(); }
}());
