// wago API explorer: lists the routes of /openapi.json and runs them.
// No external resources; the token lives in sessionStorage only.
(function () {
  "use strict";
  var KEY = "wago.token";
  var METHODS = ["get", "post", "put", "delete", "patch"];
  var doc = null;
  var ops = [];
  var current = null;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function resolve(s) {
    var seen = 0;
    while (s && s.$ref && seen < 20) {
      var node = doc;
      s.$ref.replace(/^#\//, "").split("/").forEach(function (k) { node = node && node[k]; });
      s = node;
      seen += 1;
    }
    return s || {};
  }

  // A starting body from the schema: examples, else required properties.
  function sample(schema, depth) {
    var s = resolve(schema);
    if (depth > 4) { return null; }
    if (s.examples && s.examples.length) { return s.examples[0]; }
    if (s.oneOf) { return sample(s.oneOf[0], depth + 1); }
    if (s.const !== undefined) { return s.const; }
    if (s.enum) { return s.enum[0]; }
    var t = Array.isArray(s.type) ? s.type[0] : s.type;
    if (t === "object" || s.properties) {
      var o = {};
      (s.required || []).forEach(function (k) { o[k] = sample((s.properties || {})[k] || {}, depth + 1); });
      return o;
    }
    if (t === "array") { return []; }
    if (t === "integer" || t === "number") { return 0; }
    if (t === "boolean") { return false; }
    if (t === "string") { return ""; }
    return null;
  }

  function key(op) { return op.method.toUpperCase() + " " + op.path; }

  function listRoutes() {
    var nav = $("routes");
    var tags = (doc.tags || []).map(function (t) { return t.name; });
    Object.keys(doc.paths || {}).forEach(function (path) {
      var item = doc.paths[path];
      METHODS.forEach(function (m) {
        if (!item[m]) { return; }
        var op = { method: m, path: path, op: item[m], params: (item.parameters || []).concat(item[m].parameters || []) };
        var tag = (item[m].tags || ["other"])[0];
        if (tags.indexOf(tag) < 0) { tags.push(tag); }
        op.tag = tag;
        ops.push(op);
      });
    });
    tags.forEach(function (tag) {
      var mine = ops.filter(function (o) { return o.tag === tag; });
      if (!mine.length) { return; }
      nav.appendChild(el("h2", "", tag));
      var ul = el("ul");
      mine.forEach(function (o) {
        var li = el("li");
        var b = el("button");
        b.type = "button";
        b.dataset.op = key(o);
        b.appendChild(el("span", "method m-" + o.method, o.method.toUpperCase()));
        b.appendChild(el("span", "path", o.path));
        b.appendChild(el("span", "summary", o.op.summary || ""));
        b.addEventListener("click", function () { select(o); });
        o.button = b;
        li.appendChild(b);
        ul.appendChild(li);
      });
      nav.appendChild(ul);
    });
  }

  function select(o) {
    current = o;
    ops.forEach(function (x) { x.button.classList.toggle("selected", x === o); });
    $("operation").hidden = false;
    $("result").hidden = true;
    $("op-title").textContent = key(o);
    $("op-summary").textContent = o.op.summary || "";
    $("op-description").textContent = o.op.description || "";
    var box = $("op-params");
    box.textContent = "";
    o.params.map(resolve).forEach(function (p) {
      var label = el("label", "", p.name + " (" + p["in"] + (p.required ? ", required" : "") + ")");
      var input = el("input");
      input.name = p.name;
      input.dataset["in"] = p["in"];
      input.placeholder = p.description || "";
      label.appendChild(input);
      box.appendChild(label);
    });
    var rb = o.op.requestBody && resolve(o.op.requestBody);
    var json = rb && rb.content && rb.content["application/json"];
    $("op-body-label").hidden = !json;
    $("op-body").value = json ? JSON.stringify(sample(json.schema, 0), null, 2) : "";
  }

  function show(status, text) {
    $("result").hidden = false;
    var st = $("result-status");
    st.textContent = String(status);
    st.className = status >= 200 && status < 300 ? "s-ok" : "s-err";
    var body = text;
    try { body = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
    $("result-body").textContent = body;
  }

  function execute() {
    var o = current;
    if (!o) { return Promise.resolve(); }
    var path = o.path;
    var query = [];
    var headers = {};
    var inputs = $("op-params").querySelectorAll("input");
    for (var i = 0; i < inputs.length; i += 1) {
      var inp = inputs[i];
      var v = inp.value;
      var where = inp.dataset["in"];
      if (where === "path") {
        path = path.replace("{" + inp.name + "}", encodeURIComponent(v));
      } else if (v !== "" && where === "query") {
        query.push(encodeURIComponent(inp.name) + "=" + encodeURIComponent(v));
      } else if (v !== "" && where === "header") {
        headers[inp.name] = v;
      }
    }
    var url = path + (query.length ? "?" + query.join("&") : "");
    var token = $("token").value.trim();
    if (token && (o.op.security || doc.security || []).length) { headers.token = token; }
    var init = { method: o.method.toUpperCase(), headers: headers };
    if (!$("op-body-label").hidden && $("op-body").value.trim() !== "") {
      headers["Content-Type"] = "application/json";
      init.body = $("op-body").value;
    }
    if ((o.op.responses && o.op.responses["200"] && o.op.responses["200"].content || {})["text/event-stream"]) {
      show("-", "This route streams forever; open it with curl -N or EventSource.");
      return Promise.resolve();
    }
    $("result-status").textContent = "…";
    return fetch(url, init).then(function (r) {
      return r.text().then(function (t) { show(r.status, t); });
    }, function (e) { show("network error", String(e)); });
  }

  function fromHash() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    var m = /^(run|op)=(\w+) (\S+)$/.exec(h);
    if (!m) { return; }
    var want = m[2].toUpperCase() + " " + m[3];
    var o = ops.filter(function (x) { return key(x) === want; })[0];
    if (!o) { return; }
    select(o);
    if (m[1] === "run") { execute(); }
  }

  $("token").value = sessionStorage.getItem(KEY) || "";
  $("token").addEventListener("input", function () { sessionStorage.setItem(KEY, $("token").value); });
  $("forget").addEventListener("click", function () { sessionStorage.removeItem(KEY); $("token").value = ""; });
  $("op-form").addEventListener("submit", function (e) { e.preventDefault(); execute(); });
  window.addEventListener("hashchange", fromHash);

  fetch("/openapi.json").then(function (r) { return r.json(); }).then(function (d) {
    doc = d;
    var info = $("doc-info");
    info.textContent = (d.info && d.info.title || "API") + " " + (d.info && d.info.version || "") + " — OpenAPI " + d.openapi + ", ";
    var a = el("a", "", "/openapi.json");
    a.href = "/openapi.json";
    info.appendChild(a);
    listRoutes();
    fromHash();
  }, function (e) { $("doc-info").textContent = "Cannot load /openapi.json: " + e; });
}());
