/* The "Platform" pages: vanilla JavaScript over the platform API, with the browser's Airflow session.
 * No build step and no third-party code. Every call goes to the same API that SDK/CLI clients use;
 * the server checks every call again, so hidden buttons are a courtesy, not the protection. */
(function () {
  "use strict";

  var body = document.body;
  var PREFIX = body.dataset.prefix;
  var PAGE = body.dataset.page;
  var ARG = body.dataset.arg;
  var main = document.getElementById("pf-main");
  var ME = null;

  // --- small DOM helpers ----------------------------------------------------------------------

  function h(tag, props) {
    var el = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "value") el.value = v;
      else if (k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = !!v;
      else el.setAttribute(k, v === true ? "" : String(v));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function fmtDate(value) {
    if (!value) return "—";
    var d = new Date(value);
    return isNaN(d) ? String(value) : d.toLocaleString();
  }

  function badge(text, kind) { return h("span", { class: "pf-badge " + (kind || text || "") }, text); }

  function flash(message, kind) {
    var box = document.getElementById("pf-flash");
    box.className = "pf-flash " + (kind || "error");
    box.textContent = message;
    box.hidden = false;
    if (kind === "ok") setTimeout(function () { if (box.textContent === message) box.hidden = true; }, 6000);
  }

  function unflash() { document.getElementById("pf-flash").hidden = true; }

  function can(resource, action) {
    return !!(ME && ME.can && ME.can[resource] && ME.can[resource][action]);
  }

  function table(headers, rows, emptyText) {
    if (!rows.length) return h("div", { class: "pf-card pf-empty" }, emptyText || "Nothing here yet.");
    return h("table", { class: "pf-table" },
      h("thead", {}, h("tr", {}, headers.map(function (x) { return h("th", {}, x); }))),
      h("tbody", {}, rows));
  }

  // --- the API --------------------------------------------------------------------------------

  function ApiError(message, status, payload) {
    this.message = message; this.status = status; this.payload = payload;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function tenantHeader() {
    try { return window.localStorage.getItem("platform.tenant") || ""; } catch (e) { return ""; }
  }

  function errorMessage(status, payload, fallback) {
    if (payload && payload.error && payload.error.message) return payload.error.message;
    if (payload && payload.detail) {
      return typeof payload.detail === "string" ? payload.detail : JSON.stringify(payload.detail);
    }
    if (payload && payload.title) return payload.title;
    return status + " " + (fallback || "Request failed");
  }

  function api(method, path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    var tenant = tenantHeader();
    if (tenant && path.indexOf("/api/v1/") === 0) headers["X-Tenant-ID"] = tenant;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (options.yaml !== undefined) {
      headers["Content-Type"] = "application/yaml";
      init.body = options.yaml;
    } else if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var payload = null;
        try { payload = text ? JSON.parse(text) : null; } catch (e) { payload = null; }
        if (!response.ok) throw new ApiError(errorMessage(response.status, payload, response.statusText), response.status, payload);
        return payload;
      });
    }, function () {
      throw new ApiError("The server could not be reached.", 0, null);
    });
  }

  // Downloads go through fetch, not a plain link: a link cannot send the X-Tenant-ID header that
  // users of several tenants need.
  function download(path, filename) {
    var headers = {};
    var tenant = tenantHeader();
    if (tenant) headers["X-Tenant-ID"] = tenant;
    return fetch(path, { headers: headers, credentials: "same-origin" }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) {
          var payload = null;
          try { payload = JSON.parse(text); } catch (e) { payload = null; }
          throw new ApiError(errorMessage(response.status, payload, response.statusText), response.status, payload);
        });
      }
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = h("a", { href: url, download: filename });
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      });
    }).catch(showError);
  }

  function showError(err) { flash(err && err.message ? err.message : String(err), "error"); }

  function qs(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== "" && params[k] !== null && params[k] !== undefined) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function noPermission(what) {
    clear(main).appendChild(h("div", { class: "pf-card pf-empty" }, "You do not have permission to see " + what + "."));
  }

  // --- the user -------------------------------------------------------------------------------

  function renderUser() {
    var box = clear(document.getElementById("pf-user"));
    if (!ME) return;
    append(box, ME.user + (ME.is_platform_admin ? " (platform admin)" : ME.tenant_id ? " · " + ME.tenant_id : ""));
    var tenants = ME.tenants || [];
    if (tenants.length > 1 || (tenantHeader() && tenants.indexOf(tenantHeader()) < 0 && !ME.is_platform_admin)) {
      box.appendChild(tenantSelect(tenants));
    }
  }

  function tenantSelect(tenants) {
    var select = h("select", { "aria-label": "Tenant", onchange: function () {
      try { window.localStorage.setItem("platform.tenant", select.value); } catch (e) { /* private mode */ }
      window.location.reload();
    } }, h("option", { value: "" }, "choose a tenant…"),
      tenants.map(function (t) { return h("option", { value: t, selected: t === tenantHeader() }, t); }));
    return select;
  }

  function loadMe() {
    return api("GET", PREFIX + "/me").then(function (me) { ME = me; renderUser(); return me; }, function (err) {
      var tenants = err.payload && err.payload.error && err.payload.error.details && err.payload.error.details.tenants;
      if (tenants) {
        clear(main).appendChild(h("div", { class: "pf-card" }, h("p", {}, err.message), tenantSelect(tenants)));
      } else if (err.status === 401) {
        window.location.reload(); // the page itself sends the browser to Airflow's login
      } else {
        showError(err);
      }
      throw err;
    });
  }

  // --- DataKits -------------------------------------------------------------------------------

  function pageDatakits() {
    var search = h("input", { type: "search", placeholder: "Search name or description", "aria-label": "Search", id: "pf-dk-search" });
    var type = h("select", { "aria-label": "Type", id: "pf-dk-type" }, h("option", { value: "" }, "All types"),
      ["transformation", "ingestion", "export", "quality"].map(function (t) { return h("option", { value: t }, t); }));
    var tags = h("input", { type: "text", placeholder: "tags, comma-separated", "aria-label": "Tags", id: "pf-dk-tags" });
    var list = h("div", { id: "pf-dk-list" });
    var registerPanel = h("div", { class: "pf-card", hidden: true, id: "pf-register" });
    var registerButton = can("DataKits", "create")
      ? h("button", { class: "primary", id: "pf-register-open", onclick: function () { registerPanel.hidden = !registerPanel.hidden; } }, "Register DataKit")
      : null;
    clear(main);
    append(main, [h("h1", {}, "DataKits"),
      h("div", { class: "pf-toolbar" }, search, type, tags, h("span", { class: "pf-grow" }), registerButton),
      registerPanel, list]);
    if (registerButton) buildRegister(registerPanel);

    function load() {
      var path = "/api/v1/datakits" + qs({ search: search.value.trim(), type: type.value, tags: tags.value.trim(), limit: 200 });
      api("GET", path).then(function (res) {
        clear(list);
        var rows = res.datakits.map(function (k) {
          return h("tr", { "data-datakit": k.id },
            h("td", {}, h("a", { href: PREFIX + "/datakits/" + encodeURIComponent(k.id) }, k.name)),
            h("td", {}, k.latest_version), h("td", {}, k.type),
            h("td", {}, k.tags.map(function (t) { return badge(t, "tag"); })),
            h("td", {}, k.description), h("td", {}, k.tenant_id || "shared"));
        });
        append(list, [table(["Name", "Latest", "Type", "Tags", "Description", "Tenant"], rows, "No DataKits match."),
          h("p", { class: "pf-muted" }, res.total_entries + " DataKit(s)")]);
      }, showError);
    }
    var later = debounce(load, 250);
    search.addEventListener("input", later);
    tags.addEventListener("input", later);
    type.addEventListener("change", load);
    load();
  }

  function buildRegister(panel) {
    var text = h("textarea", { rows: 14, id: "pf-register-yaml", "aria-label": "datakit.yaml",
      placeholder: "Paste a datakit.yaml (or JSON) here, or choose a file." });
    var file = h("input", { type: "file", accept: ".yaml,.yml,.json", id: "pf-register-file", onchange: function () {
      var f = file.files && file.files[0];
      if (!f) return;
      f.text().then(function (content) { text.value = content; });
    } });
    var submit = h("button", { class: "primary", id: "pf-register-submit", onclick: function () {
      unflash();
      if (!text.value.trim()) { flash("Paste a datakit.yaml or choose a file first."); return; }
      submit.disabled = true;
      api("POST", "/api/v1/datakits", { yaml: text.value }).then(function (kit) {
        flash("Registered " + kit.name + " " + kit.version + ".", "ok");
        window.location.href = PREFIX + "/datakits/" + encodeURIComponent(kit.id) + "?registered=" + encodeURIComponent(kit.version);
      }, showError).then(function () { submit.disabled = false; });
    } }, "Register");
    append(panel, [h("h2", {}, "Register a DataKit version"), text,
      h("div", { class: "pf-toolbar" }, file, h("span", { class: "pf-grow" }), submit)]);
  }

  // A form from a kit's configuration schema; read() validates what the user typed against it.
  function configForm(schema, values) {
    var form = h("div", { class: "pf-form", id: "pf-config-form" });
    var fields = {};
    Object.keys(schema).forEach(function (key) {
      var spec = schema[key];
      var current = values && values[key] !== undefined ? values[key] : undefined;
      var input;
      if (spec.enum) {
        input = h("select", {}, h("option", { value: "" }, spec.default !== undefined && spec.default !== null ? "default (" + JSON.stringify(spec.default) + ")" : "—"),
          spec.enum.map(function (v) { return h("option", { value: JSON.stringify(v), selected: current !== undefined && JSON.stringify(current) === JSON.stringify(v) }, String(v)); }));
      } else if (spec.type === "boolean") {
        input = h("select", {}, h("option", { value: "" }, "default (" + JSON.stringify(spec.default) + ")"),
          h("option", { value: "true", selected: current === true }, "true"), h("option", { value: "false", selected: current === false }, "false"));
      } else if (spec.type === "integer" || spec.type === "number") {
        input = h("input", { type: "number", step: spec.type === "integer" ? "1" : "any", min: spec.minimum, max: spec.maximum,
          placeholder: spec.default !== undefined && spec.default !== null ? String(spec.default) : "", value: current !== undefined ? String(current) : "" });
      } else if (spec.type === "array" || spec.type === "object") {
        input = h("textarea", { rows: 2, placeholder: spec.default !== undefined && spec.default !== null ? JSON.stringify(spec.default) : "JSON " + spec.type,
          value: current !== undefined ? JSON.stringify(current) : "" });
      } else {
        input = h("input", { type: "text", placeholder: spec.default !== undefined && spec.default !== null ? String(spec.default) : "", value: current !== undefined ? String(current) : "" });
      }
      input.name = "config." + key;
      input.setAttribute("data-config-key", key);
      var error = h("div", { class: "pf-field-error", hidden: true });
      fields[key] = { spec: spec, input: input, error: error };
      append(form, [h("label", {}, key, spec.required ? h("span", { class: "pf-req", title: "required" }, " *") : null, " ",
        h("span", { class: "pf-muted" }, "(" + spec.type + ")")), input,
        spec.description ? h("div", { class: "pf-help" }, spec.description) : null, error]);
    });
    if (!Object.keys(schema).length) append(form, h("p", { class: "pf-muted" }, "This kit has no configuration."));

    function parse(spec, raw) {
      if (spec.enum || spec.type === "boolean") return JSON.parse(raw);
      if (spec.type === "integer") {
        if (!/^-?\d+$/.test(raw)) throw new Error("must be a whole number");
        return parseInt(raw, 10);
      }
      if (spec.type === "number") {
        var n = Number(raw);
        if (raw === "" || isNaN(n)) throw new Error("must be a number");
        return n;
      }
      if (spec.type === "array" || spec.type === "object") {
        var v;
        try { v = JSON.parse(raw); } catch (e) { throw new Error("must be JSON"); }
        if (spec.type === "array" ? !Array.isArray(v) : (v === null || typeof v !== "object" || Array.isArray(v))) {
          throw new Error("must be a JSON " + spec.type);
        }
        return v;
      }
      return raw;
    }

    return {
      el: form,
      read: function () {
        var out = {}, problems = [];
        Object.keys(fields).forEach(function (key) {
          var f = fields[key], raw = f.input.value.trim(), problem = null;
          f.error.hidden = true;
          if (raw === "") {
            if (f.spec.required && (f.spec.default === undefined || f.spec.default === null)) problem = "required";
          } else {
            try {
              var value = parse(f.spec, raw);
              if (typeof value === "number" && f.spec.minimum !== null && f.spec.minimum !== undefined && value < f.spec.minimum) problem = "must be ≥ " + f.spec.minimum;
              else if (typeof value === "number" && f.spec.maximum !== null && f.spec.maximum !== undefined && value > f.spec.maximum) problem = "must be ≤ " + f.spec.maximum;
              else out[key] = value;
            } catch (e) { problem = e.message; }
          }
          if (problem) { f.error.textContent = key + ": " + problem; f.error.hidden = false; problems.push(key + ": " + problem); }
        });
        return { values: out, problems: problems };
      }
    };
  }

  function pageDatakit() {
    var params = new URLSearchParams(window.location.search);
    var version = params.get("version") || "";
    api("GET", "/api/v1/datakits/" + encodeURIComponent(ARG) + qs({ version: version })).then(function (kit) {
      renderDatakit(kit);
      if (params.get("registered")) flash("Registered " + kit.name + " " + params.get("registered") + ".", "ok");
    }, function (err) {
      clear(main).appendChild(h("div", { class: "pf-card pf-empty" }, err.message));
    });
  }

  function renderDatakit(kit) {
    clear(main);
    var versionSelect = h("select", { "aria-label": "Version", id: "pf-dk-version", onchange: function () {
      window.location.search = "?version=" + encodeURIComponent(versionSelect.value);
    } }, kit.versions.map(function (v) { return h("option", { value: v.version, selected: v.version === kit.version }, v.version); }));
    var ports = function (items) {
      return table(["Name", "Schema", "Description"], items.map(function (p) {
        return h("tr", {}, h("td", {}, h("code", {}, p.name)), h("td", {}, p.schema || "—"), h("td", {}, p.description || ""));
      }), "None.");
    };
    var req = kit.requirements || {};
    append(main, [
      h("h1", {}, kit.name, " ", versionSelect, " ", kit.version === kit.latest_version ? badge("latest", "active") : null),
      h("div", { class: "pf-grid2" },
        h("div", { class: "pf-card" }, h("dl", { class: "pf-dl" },
          h("dt", {}, "Description"), h("dd", {}, kit.description || "—"),
          h("dt", {}, "Image"), h("dd", {}, h("code", {}, kit.image)),
          h("dt", {}, "Type"), h("dd", {}, kit.type),
          h("dt", {}, "Tags"), h("dd", {}, kit.tags.length ? kit.tags.map(function (t) { return badge(t, "tag"); }) : "—"),
          h("dt", {}, "Tenant"), h("dd", {}, kit.tenant_id || "shared"),
          h("dt", {}, "Requirements"), h("dd", {}, ["cpu " + (req.cpu || "—"), "memory " + (req.memory || "—"), req.gpu ? "GPU" : null, req.network ? "network" : "no network"].filter(Boolean).join(" · ")),
          h("dt", {}, "Registered"), h("dd", {}, kit.created_by + ", " + fmtDate(kit.created_at)))),
        h("div", {}, h("h2", {}, "Inputs"), ports(kit.inputs), h("h2", {}, "Outputs"), ports(kit.outputs))),
      h("h2", {}, "Versions"),
      table(["Version", "Image", "Registered by", "At", "Deployments"], kit.versions.map(function (v) {
        return h("tr", {}, h("td", {}, h("a", { href: "?version=" + encodeURIComponent(v.version) }, v.version)), h("td", {}, h("code", {}, v.image)),
          h("td", {}, v.created_by), h("td", {}, fmtDate(v.created_at)), h("td", {}, v.deployments.join(", ") || "—"));
      })),
    ]);
    var deploy = h("div", { class: "pf-card", id: "pf-deploy" });
    append(main, [h("h2", {}, "Configuration and deploy"), deploy]);
    buildDeployForm(deploy, kit);
    append(main, [h("h2", {}, "Manifest"), h("pre", { class: "pf-pre", id: "pf-manifest" }, JSON.stringify({
      name: kit.name, version: kit.version, description: kit.description, image: kit.image, type: kit.type,
      inputs: kit.inputs, outputs: kit.outputs, configuration: kit.configuration, requirements: kit.requirements, tags: kit.tags
    }, null, 2))]);
  }

  function buildDeployForm(panel, kit) {
    var config = configForm(kit.configuration || {}, {});
    var env = h("input", { type: "text", value: "production", id: "pf-deploy-env", "aria-label": "Environment" });
    var schedule = h("input", { type: "text", placeholder: "cron or @daily; empty: manual runs", id: "pf-deploy-schedule", "aria-label": "Schedule" });
    var paused = h("input", { type: "checkbox", id: "pf-deploy-paused" });
    var allowed = can("Deployments", "create");
    var submit = h("button", { class: "primary", id: "pf-deploy-submit", disabled: !allowed,
      title: allowed ? null : "You may not deploy", onclick: function () {
        unflash();
        var read = config.read();
        if (read.problems.length) { flash("The configuration does not match the kit's schema: " + read.problems.join("; ")); return; }
        submit.disabled = true;
        api("POST", "/api/v1/datakits/" + encodeURIComponent(kit.id) + "/deploy", { body: {
          environment: env.value.trim() || "production", version: kit.version, schedule: schedule.value.trim() || null,
          configuration: read.values, paused: paused.checked } }).then(function (dep) {
          flash("Deployed " + kit.name + " " + dep.version + " as DAG " + dep.dag_id + ".", "ok");
          panel.appendChild(h("p", { id: "pf-deploy-done" }, "Deployed as ", h("a", { href: PREFIX + "/deployments#" + dep.id }, dep.dag_id), "."));
        }, showError).then(function () { submit.disabled = false; });
      } }, "Deploy " + kit.version);
    append(panel, [config.el, h("div", { class: "pf-form" },
      h("label", { for: "pf-deploy-env" }, "Environment"), env,
      h("label", { for: "pf-deploy-schedule" }, "Schedule"), schedule,
      h("label", { for: "pf-deploy-paused" }, "Start paused"), h("div", {}, paused),
      allowed ? h("div", { class: "pf-actions" }, submit) : null)]);
  }

  // --- Deployments ----------------------------------------------------------------------------

  function pageDeployments() {
    clear(main);
    var list = h("div", { id: "pf-deployments" }, h("p", { class: "pf-muted" }, "Loading…"));
    append(main, [h("div", { class: "pf-toolbar" }, h("h1", { class: "pf-grow" }, "Deployments"),
      h("button", { onclick: pageDeployments }, "Refresh")), list]);
    api("GET", "/api/v1/datakits/deployments?limit=200").then(function (res) {
      return Promise.all(res.deployments.map(function (d) {
        return Promise.all([
          api("GET", "/api/v1/datakits/deployments/" + encodeURIComponent(d.id)).catch(function () { return d; }),
          api("GET", "/api/v1/datakits/" + encodeURIComponent(d.datakit)).catch(function () { return null; })
        ]);
      }));
    }).then(function (pairs) {
      clear(list).appendChild(table(["Deployment", "DataKit", "Environment", "Schedule", "State", "Last runs", "Next run", "Actions"],
        pairs.map(function (p) { return deploymentRow(p[0], p[1]); }), "Nothing is deployed yet: deploy a DataKit from its page."));
    }, function (err) { clear(list); showError(err); });
  }

  function dagLink(dagId) { return ME.links.dag.replace("{dag_id}", encodeURIComponent(dagId)); }

  function deploymentRow(d, kit) {
    var runs = (d.last_runs || []).map(function (r) {
      return h("a", { href: dagLink(d.dag_id), target: "_top", title: r.run_id + ": " + (r.state || "no state") + " (" + fmtDate(r.logical_date || r.start_date) + ")",
        class: "pf-run " + (r.state || "none"), "aria-label": "run " + (r.state || "none") });
    });
    var actions = h("div", { class: "pf-toolbar" });
    if (d.dag_present && can("DAGs", "edit")) {
      append(actions, h("button", { "data-action": "pause", onclick: function (ev) {
        var button = ev.target; button.disabled = true;
        var path = ME.links.dag_api.replace("{dag_id}", encodeURIComponent(d.dag_id));
        api("PATCH", path, { body: { is_paused: !d.is_paused } }).then(function () {
          flash((d.is_paused ? "Unpaused " : "Paused ") + d.dag_id + ".", "ok"); pageDeployments();
        }, function (err) { button.disabled = false; showError(err); });
      } }, d.is_paused ? "Unpause" : "Pause"));
    }
    if (can("Deployments", "create") && kit && kit.versions.length > 1) {
      var select = h("select", { "aria-label": "Rollback version" }, kit.versions.filter(function (v) { return v.version !== d.version; })
        .map(function (v) { return h("option", { value: v.version }, v.version); }));
      append(actions, [select, h("button", { "data-action": "rollback", onclick: function () {
        if (!window.confirm("Roll " + d.dag_id + " back to " + select.value + "?")) return;
        api("POST", "/api/v1/datakits/" + encodeURIComponent(d.datakit) + "/rollback", { body: { version: select.value, environment: d.environment } })
          .then(function () { flash("Rolled " + d.dag_id + " to " + select.value + ".", "ok"); pageDeployments(); }, showError);
      } }, "Roll back")]);
    }
    if (can("Deployments", "delete")) {
      append(actions, h("button", { class: "danger", "data-action": "undeploy", onclick: function () {
        if (!window.confirm("Undeploy " + d.dag_id + "? The DAG disappears; runs and history stay.")) return;
        api("DELETE", "/api/v1/datakits/deployments/" + encodeURIComponent(d.id)).then(function () {
          flash("Undeployed " + d.dag_id + ".", "ok"); pageDeployments();
        }, showError);
      } }, "Undeploy"));
    }
    var state = d.status || "pending";
    return h("tr", { id: d.id, "data-deployment": d.id },
      h("td", {}, h("a", { href: dagLink(d.dag_id), target: "_top" }, d.dag_id)),
      h("td", {}, h("a", { href: PREFIX + "/datakits/" + encodeURIComponent(d.datakit) }, d.datakit), " ", d.version),
      h("td", {}, d.environment), h("td", {}, d.schedule || "manual"),
      h("td", {}, badge(state, state), d.import_error ? h("div", { class: "pf-muted", title: d.import_error }, "import error") : null),
      h("td", {}, runs.length ? runs : h("span", { class: "pf-muted" }, "no runs")),
      h("td", {}, fmtDate(d.next_run)), h("td", {}, actions));
  }

  // --- SQL editor -----------------------------------------------------------------------------

  var KEYWORDS = ("select from where group by order having limit offset join left right inner outer full cross on as and or not in is null " +
    "like ilike between case when then else end distinct union all except intersect with asc desc over partition true false " +
    "cast exists qualify using window filter interval").split(" ");
  var KW = {};
  KEYWORDS.forEach(function (k) { KW[k] = true; });

  function escapeHtml(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

  function highlight(sql) {
    var re = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|(\b\d+(?:\.\d+)?\b)|(:[A-Za-z_]\w*)|([A-Za-z_]\w*)(?=\s*\()|([A-Za-z_]\w*)/g;
    var out = "", last = 0, m;
    while ((m = re.exec(sql)) !== null) {
      out += escapeHtml(sql.slice(last, m.index));
      var t = escapeHtml(m[0]);
      if (m[1]) out += '<span class="tok-com">' + t + "</span>";
      else if (m[2]) out += '<span class="tok-str">' + t + "</span>";
      else if (m[3]) out += '<span class="tok-num">' + t + "</span>";
      else if (m[4]) out += '<span class="tok-param">' + t + "</span>";
      else if (m[5]) out += KW[m[5].toLowerCase()] ? '<span class="tok-kw">' + t + "</span>" : '<span class="tok-fn">' + t + "</span>";
      else out += KW[m[6].toLowerCase()] ? '<span class="tok-kw">' + t + "</span>" : t;
      last = re.lastIndex;
    }
    return out + escapeHtml(sql.slice(last)) + "\n";
  }

  var PAGE_SIZE = 50;

  function pageSql() {
    clear(main);
    var mayRun = can("Analytics", "create");
    var pre = h("pre", { "aria-hidden": "true" });
    var initial = "SELECT region, COUNT(*) AS orders, SUM(total_amount) AS revenue\nFROM gold.fact_orders\nGROUP BY region\nORDER BY revenue DESC";
    try { initial = window.localStorage.getItem("platform.sql") || initial; } catch (e) { /* private mode */ }
    var box = h("textarea", { id: "pf-sql", spellcheck: "false", "aria-label": "SQL query", value: initial });
    var sync = function () { pre.innerHTML = highlight(box.value); pre.scrollTop = box.scrollTop; };
    box.addEventListener("input", function () { sync(); try { window.localStorage.setItem("platform.sql", box.value); } catch (e) { /* */ } });
    box.addEventListener("scroll", function () { pre.scrollTop = box.scrollTop; pre.scrollLeft = box.scrollLeft; });
    box.addEventListener("keydown", function (ev) {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); if (mayRun) run(); }
    });
    var database = h("input", { type: "text", value: "warehouse", "aria-label": "Database", id: "pf-sql-db", size: 14 });
    var limit = h("input", { type: "number", value: "10000", min: "1", "aria-label": "Row limit", id: "pf-sql-limit" });
    limit.style.width = "90px";
    var runButton = h("button", { class: "primary", id: "pf-sql-run", disabled: !mayRun, title: mayRun ? "Run (Ctrl+Enter)" : "You may not run queries", onclick: function () { run(); } }, "Run");
    var cancelButton = h("button", { class: "danger", id: "pf-sql-cancel", hidden: true, onclick: function () { cancel(); } }, "Cancel");
    var saveButton = ME.features.saved_queries && can("Saved Queries", "create")
      ? h("button", { id: "pf-sql-save", onclick: function () { save(); } }, "Save as…") : null;
    var status = h("span", { class: "pf-status", id: "pf-sql-status" }, mayRun ? "Ctrl+Enter runs the query." : "You may read query history but not run queries.");
    var results = h("div", { id: "pf-sql-results" });
    var chart = h("div", { class: "pf-chart", id: "pf-sql-chart" });
    var history = h("ul", { class: "pf-history", id: "pf-sql-history" });
    append(main, [h("h1", {}, "SQL editor"),
      h("div", { class: "pf-editor" }, pre, box),
      h("div", { class: "pf-toolbar" }, runButton, cancelButton, saveButton, h("label", {}, "Database ", database), h("label", {}, "Limit ", limit),
        h("span", { class: "pf-grow" }), status),
      results, chart, h("h2", {}, "Your recent queries"), history]);
    sync();

    var current = null; // {id, started, timer, poll}

    function setRunning(on) {
      runButton.disabled = on || !mayRun;
      cancelButton.hidden = !on;
    }

    function run() {
      if (current) return;
      unflash();
      clear(results); clear(chart);
      var started = Date.now();
      current = { id: null, started: started };
      setRunning(true);
      var ticker = function () {
        if (!current) return;
        clear(status);
        append(status, [h("span", { class: "pf-spinner" }), "Running… " + ((Date.now() - started) / 1000).toFixed(1) + " s"]);
      };
      ticker();
      current.timer = setInterval(ticker, 200);
      var sent = current;
      api("POST", "/api/v1/analytics/query", { body: { query: box.value, database: database.value.trim() || "warehouse",
        limit: parseInt(limit.value, 10) || 10000, async: true } }).then(function (res) {
        if (current !== sent) return;
        current.id = res.query_id;
        follow(res);
      }, function (err) { finish(); status.textContent = "Failed."; showError(err); loadHistory(); });
    }

    function follow(res) {
      if (!current || current.id !== res.query_id) return;
      if (res.status === "queued" || res.status === "running") {
        current.poll = setTimeout(function () {
          api("GET", "/api/v1/analytics/query/" + encodeURIComponent(res.query_id) + "?limit=" + PAGE_SIZE).then(follow, function (err) {
            finish(); showError(err);
          });
        }, 300);
        return;
      }
      finish();
      showResult(res);
      loadHistory();
    }

    function finish() {
      if (current) { clearInterval(current.timer); clearTimeout(current.poll); }
      current = null;
      setRunning(false);
    }

    function cancel() {
      if (!current || !current.id) return;
      var id = current.id;
      cancelButton.disabled = true;
      api("POST", "/api/v1/analytics/query/" + encodeURIComponent(id) + "/cancel").then(function (res) {
        finish(); showResult(res); loadHistory();
      }, showError).then(function () { cancelButton.disabled = false; });
    }

    function showResult(res) {
      clear(status);
      if (res.status !== "completed") {
        append(status, [badge(res.status, res.status), res.execution_time_ms != null ? " after " + Math.round(res.execution_time_ms) + " ms" : ""]);
        if (res.error) flash(res.error.message, res.status === "cancelled" ? "ok" : "error");
        return;
      }
      append(status, [badge("completed", "completed"), " ", h("span", { id: "pf-sql-count" }, res.rows_returned + " row(s)"),
        " in " + Math.round(res.execution_time_ms || 0) + " ms", res.truncated ? " (truncated at the limit)" : "",
        res.metadata && res.metadata.cache_hit ? " · cached" : ""]);
      renderPage(res, 0);
    }

    function renderPage(res, offset) {
      var show = function (page) {
        var cols = page.columns || [];
        var rows = page.data || [];
        clear(results);
        var csv = h("button", { class: "pf-button", id: "pf-sql-csv", onclick: function () {
          download("/api/v1/analytics/query/" + encodeURIComponent(page.query_id) + "?format=csv", page.query_id + ".csv");
        } }, "Download CSV");
        var total = page.rows_returned || 0;
        var prev = h("button", { disabled: offset === 0, onclick: function () { renderPage(page, Math.max(0, offset - PAGE_SIZE)); } }, "Prev");
        var next = h("button", { disabled: offset + PAGE_SIZE >= total, onclick: function () { renderPage(page, offset + PAGE_SIZE); } }, "Next");
        append(results, [h("div", { class: "pf-toolbar" }, prev, next,
          h("span", { id: "pf-sql-range" }, total ? "rows " + (offset + 1) + "-" + Math.min(offset + PAGE_SIZE, total) + " of " + total : "no rows"),
          h("span", { class: "pf-grow" }), csv),
          h("div", { class: "pf-scroll" }, table(cols.map(function (c) { return h("span", { title: c.type }, c.name); }),
            rows.map(function (r) {
              return h("tr", {}, cols.map(function (c) {
                var v = r[c.name];
                var numeric = typeof v === "number";
                return h("td", { class: numeric ? "num" : null }, v === null || v === undefined ? h("span", { class: "pf-muted" }, "NULL") : typeof v === "object" ? JSON.stringify(v) : String(v));
              }));
            }), "The query answered no rows."))]);
        renderChartControls(cols, rows);
      };
      if (offset === 0 && res.data && res.offset === 0) { show(res); return; }
      api("GET", "/api/v1/analytics/query/" + encodeURIComponent(res.query_id) + qs({ offset: offset, limit: PAGE_SIZE })).then(show, showError);
    }

    function renderChartControls(cols, rows) {
      clear(chart);
      if (!cols.length || !rows.length) return;
      var numeric = cols.filter(function (c) { return rows.some(function (r) { return typeof r[c.name] === "number"; }) || /INT|DOUBLE|FLOAT|DECIMAL|NUMERIC|REAL/i.test(c.type); });
      if (!numeric.length) return;
      var kind = h("select", { "aria-label": "Chart type", id: "pf-chart-kind" }, h("option", { value: "bar" }, "Bar"), h("option", { value: "line" }, "Line"));
      var x = h("select", { "aria-label": "X column", id: "pf-chart-x" }, cols.map(function (c) { return h("option", { value: c.name }, c.name); }));
      var y = h("select", { "aria-label": "Y column", id: "pf-chart-y" }, numeric.map(function (c, i) { return h("option", { value: c.name, selected: i === numeric.length - 1 }, c.name); }));
      var area = h("div", {});
      var draw = function () { clear(area).appendChild(svgChart(kind.value, rows, x.value, y.value)); };
      [kind, x, y].forEach(function (s) { s.addEventListener("change", draw); });
      append(chart, [h("h2", {}, "Chart (rows on this page)"), h("div", { class: "pf-toolbar" }, h("label", {}, "Type ", kind), h("label", {}, "X ", x), h("label", {}, "Y ", y)), area]);
      draw();
    }

    function save() {
      var name = window.prompt("Name of the saved query:");
      if (!name) return;
      api("POST", "/api/v1/analytics/saved-queries", { body: { name: name, query: box.value } }).then(function () {
        flash("Saved as \u201c" + name + "\u201d.", "ok");
      }, showError);
    }

    function loadHistory() {
      api("GET", "/api/v1/analytics/queries?limit=25").then(function (res) {
        clear(history);
        if (!res.queries.length) { append(history, h("li", { class: "pf-muted" }, "No queries yet.")); return; }
        res.queries.forEach(function (q) {
          append(history, h("li", {}, badge(q.status, q.status),
            h("code", { title: "Load into the editor", onclick: function () { box.value = q.query; sync(); box.focus(); } }, q.query.replace(/\s+/g, " ")),
            h("span", { class: "pf-muted" }, (q.rows_returned != null ? q.rows_returned + " rows · " : "") + fmtDate(q.submitted_at))));
        });
      }, function (err) { clear(history); append(history, h("li", { class: "pf-muted" }, err.message)); });
    }
    loadHistory();
  }

  // An inline SVG bar or line chart of one numeric column against another column.
  function svgChart(kind, rows, xName, yName) {
    var NS = "http://www.w3.org/2000/svg";
    var W = 760, H = 280, L = 60, R = 16, T = 14, B = 56;
    var s = function (tag, attrs, text) {
      var el = document.createElementNS(NS, tag);
      Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
      if (text !== undefined) el.textContent = text;
      return el;
    };
    var points = rows.slice(0, 200).map(function (r) { return { x: r[xName], y: Number(r[yName]) }; }).filter(function (p) { return !isNaN(p.y); });
    var svg = s("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": kind + " chart of " + yName + " by " + xName, id: "pf-chart-svg" });
    if (!points.length) { svg.appendChild(s("text", { x: 20, y: 30 }, "No numeric values to draw.")); return svg; }
    var max = Math.max(0, Math.max.apply(null, points.map(function (p) { return p.y; })));
    var min = Math.min(0, Math.min.apply(null, points.map(function (p) { return p.y; })));
    var span = max - min || 1;
    var plotW = W - L - R, plotH = H - T - B, step = plotW / points.length;
    var yOf = function (v) { return T + plotH - ((v - min) / span) * plotH; };
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var v = min + span * f, yy = yOf(v);
      svg.appendChild(s("line", { x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#eef0f3" }));
      svg.appendChild(s("text", { x: L - 6, y: yy + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, Number(v.toPrecision(4)).toLocaleString()));
    });
    svg.appendChild(s("line", { x1: L, x2: W - R, y1: yOf(0), y2: yOf(0), stroke: "#9aa4af" }));
    var labelEvery = Math.ceil(points.length / 16);
    if (kind === "line") {
      var d = points.map(function (p, i) { return (i ? "L" : "M") + (L + step * (i + 0.5)).toFixed(1) + " " + yOf(p.y).toFixed(1); }).join(" ");
      svg.appendChild(s("path", { d: d, fill: "none", stroke: "#017cee", "stroke-width": 2 }));
    }
    points.forEach(function (p, i) {
      var cx = L + step * (i + 0.5);
      if (kind === "bar") {
        var top = yOf(Math.max(p.y, 0)), bottom = yOf(Math.min(p.y, 0));
        var bar = s("rect", { x: (cx - step * 0.38).toFixed(1), y: top.toFixed(1), width: Math.max(1, step * 0.76).toFixed(1), height: Math.max(1, bottom - top).toFixed(1), fill: "#017cee", class: "pf-bar" });
        bar.appendChild(s("title", {}, String(p.x) + ": " + p.y));
        svg.appendChild(bar);
      } else {
        var dot = s("circle", { cx: cx.toFixed(1), cy: yOf(p.y).toFixed(1), r: 3, fill: "#017cee" });
        dot.appendChild(s("title", {}, String(p.x) + ": " + p.y));
        svg.appendChild(dot);
      }
      if (i % labelEvery === 0) {
        var label = String(p.x === null ? "NULL" : p.x);
        if (label.length > 14) label = label.slice(0, 13) + "…";
        svg.appendChild(s("text", { x: cx.toFixed(1), y: H - B + 14, "text-anchor": "end", "font-size": 11, fill: "#3d444d",
          transform: "rotate(-35 " + cx.toFixed(1) + " " + (H - B + 14) + ")" }, label));
      }
    });
    return svg;
  }

  // --- Tenants --------------------------------------------------------------------------------

  function pageTenants() {
    if (!can("Tenants", "read")) { noPermission("tenants"); return; }
    clear(main);
    var list = h("div", { id: "pf-tenants" });
    var form = null;
    if (can("Tenants", "create") && ME.is_platform_admin) {
      var id = h("input", { type: "text", placeholder: "team-c", id: "pf-tenant-id" });
      var name = h("input", { type: "text", placeholder: "Team C", id: "pf-tenant-name" });
      var admins = h("input", { type: "text", placeholder: "a@example.com, b@example.com", id: "pf-tenant-admins" });
      form = h("div", { class: "pf-card" }, h("h2", {}, "New tenant"), h("div", { class: "pf-form" },
        h("label", {}, "Tenant id"), id, h("label", {}, "Display name"), name, h("label", {}, "Admin e-mails"), admins,
        h("div", { class: "pf-actions" }, h("button", { class: "primary", id: "pf-tenant-create", onclick: function () {
          unflash();
          api("POST", "/api/v1/platform/tenants", { body: { tenant_id: id.value.trim(), display_name: name.value.trim() || id.value.trim(),
            admin_users: admins.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean) } })
            .then(function (t) { flash("Created tenant " + t.tenant_id + ".", "ok"); load(); }, showError);
        } }, "Create tenant"))));
    }
    append(main, [h("h1", {}, "Tenants"), form, list]);
    function load() {
      api("GET", "/api/v1/platform/tenants?limit=500").then(function (res) {
        clear(list).appendChild(table(["Tenant", "Name", "Namespace", "Features", "Limits", "Admins", "Created", ""], res.tenants.map(function (t) {
          var features = Object.keys(t.features).map(function (f) { return badge(f + (t.features[f] ? "" : " off"), t.features[f] ? "active" : "paused"); });
          var limits = Object.keys(t.resource_limits).map(function (k) { return k + " " + t.resource_limits[k]; }).join(", ");
          return h("tr", { "data-tenant": t.tenant_id }, h("td", {}, h("code", {}, t.tenant_id)), h("td", {}, t.display_name), h("td", {}, t.namespace),
            h("td", {}, features.length ? features : "all"), h("td", {}, limits || "—"), h("td", {}, t.admin_users.join(", ") || "—"),
            h("td", {}, fmtDate(t.created_at)),
            h("td", {}, can("Tenants", "delete") && ME.is_platform_admin ? h("button", { class: "danger", onclick: function () {
              if (!window.confirm("Delete tenant " + t.tenant_id + "?")) return;
              api("DELETE", "/api/v1/platform/tenants/" + encodeURIComponent(t.tenant_id)).then(function () { flash("Deleted " + t.tenant_id + ".", "ok"); load(); }, showError);
            } }, "Delete") : null));
        }), "No tenants."));
      }, showError);
    }
    load();
  }

  // --- Connections ----------------------------------------------------------------------------

  function pageConnections() {
    if (!can("Connections", "read")) { noPermission("connections"); return; }
    clear(main);
    var list = h("div", { id: "pf-connections" });
    var form = null;
    if (can("Connections", "create")) {
      var f = {
        connection_id: h("input", { type: "text", id: "pf-conn-id" }), connection_type: h("input", { type: "text", placeholder: "postgres, duckdb, http…", id: "pf-conn-type" }),
        host: h("input", { type: "text", id: "pf-conn-host" }), port: h("input", { type: "number", id: "pf-conn-port" }),
        schema: h("input", { type: "text", id: "pf-conn-schema" }), login: h("input", { type: "text", id: "pf-conn-login" }),
        password: h("input", { type: "password", id: "pf-conn-password", autocomplete: "new-password" }),
        extra: h("textarea", { rows: 2, placeholder: "{\"key\": \"value\"}", id: "pf-conn-extra" })
      };
      var panel = h("div", { class: "pf-card", hidden: true }, h("h2", {}, "New connection"), h("div", { class: "pf-form" },
        Object.keys(f).map(function (k) { return [h("label", { for: f[k].id }, k.replace("_", " ")), f[k]]; }),
        h("div", { class: "pf-actions" }, h("button", { class: "primary", id: "pf-conn-create", onclick: function () {
          unflash();
          var bodyOut = {};
          try {
            Object.keys(f).forEach(function (k) {
              var v = f[k].value.trim();
              if (!v) return;
              bodyOut[k] = k === "port" ? parseInt(v, 10) : k === "extra" ? JSON.parse(v) : v;
            });
          } catch (e) { flash("extra must be a JSON object."); return; }
          api("POST", "/api/v1/platform/connections", { body: bodyOut }).then(function (c) {
            flash("Created connection " + c.connection_id + ".", "ok"); panel.hidden = true; load();
          }, showError);
        } }, "Create"))));
      form = [h("div", { class: "pf-toolbar" }, h("span", { class: "pf-grow" }), h("button", { class: "primary", id: "pf-conn-new", onclick: function () { panel.hidden = !panel.hidden; } }, "New connection")), panel];
    }
    append(main, [h("h1", {}, "Connections"), form, list]);
    function load() {
      api("GET", "/api/v1/platform/connections?limit=500").then(function (res) {
        clear(list).appendChild(table(["Connection", "Type", "Host", "Port", "Schema", "Login", "Tenant", "Test", ""], res.connections.map(function (c) {
          var result = h("span", { class: "pf-test-result" });
          var test = h("button", { "data-action": "test", disabled: !can("Connections", "create"), title: can("Connections", "create") ? null : "You may not test connections", onclick: function () {
            test.disabled = true; clear(result).appendChild(h("span", { class: "pf-spinner" }));
            api("POST", "/api/v1/platform/connections/" + encodeURIComponent(c.connection_id) + "/test").then(function (r) {
              clear(result);
              append(result, [h("span", { class: r.status === "success" ? "pf-result-ok" : "pf-result-bad" }, r.status === "success" ? "✓ OK" : "✗ Failed"),
                " " + r.latency_ms + " ms", r.message ? h("div", { class: "pf-muted" }, r.message) : null]);
            }, function (err) { clear(result); append(result, h("span", { class: "pf-result-bad" }, err.message)); })
              .then(function () { test.disabled = false; });
          } }, "Test");
          return h("tr", { "data-connection": c.connection_id }, h("td", {}, h("code", {}, c.connection_id)), h("td", {}, c.connection_type || "—"),
            h("td", {}, c.host || "—"), h("td", {}, c.port || "—"), h("td", {}, c.schema || "—"), h("td", {}, c.login || "—"), h("td", {}, c.tenant_id || "—"),
            h("td", {}, test, " ", result),
            h("td", {}, can("Connections", "delete") ? h("button", { class: "danger", "data-action": "delete", onclick: function () {
              if (!window.confirm("Delete connection " + c.connection_id + "?")) return;
              api("DELETE", "/api/v1/platform/connections/" + encodeURIComponent(c.connection_id)).then(function () { flash("Deleted " + c.connection_id + ".", "ok"); load(); }, showError);
            } }, "Delete") : null));
        }), "No connections yet."));
      }, showError);
    }
    load();
  }

  // --- API keys -------------------------------------------------------------------------------

  function pageApiKeys() {
    if (!can("API Keys", "read")) { noPermission("API keys"); return; }
    clear(main);
    var list = h("div", { id: "pf-keys" });
    var secretBox = h("div", { id: "pf-key-secret" });
    var form = null;
    if (can("API Keys", "create")) {
      var name = h("input", { type: "text", id: "pf-key-name", placeholder: "what the key is for" });
      var scopes = h("input", { type: "text", id: "pf-key-scopes", placeholder: "empty: all your permissions; e.g. datakits:read, analytics:write" });
      var days = h("input", { type: "number", id: "pf-key-days", min: "1", placeholder: "never" });
      form = h("div", { class: "pf-card" }, h("h2", {}, "New API key"), h("div", { class: "pf-form" },
        h("label", { for: "pf-key-name" }, "Name"), name, h("label", { for: "pf-key-scopes" }, "Scopes"), scopes,
        h("label", { for: "pf-key-days" }, "Expires in days"), days,
        h("div", { class: "pf-actions" }, h("button", { class: "primary", id: "pf-key-create", onclick: function () {
          unflash();
          var req = { name: name.value.trim() };
          var sc = scopes.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
          if (sc.length) req.scopes = sc;
          if (days.value) req.expires_in_days = parseInt(days.value, 10);
          api("POST", "/api/v1/platform/api-keys", { body: req }).then(function (k) {
            showSecret(k); name.value = ""; load();
          }, showError);
        } }, "Create key"))));
    }
    append(main, [h("h1", {}, "API keys"), form, secretBox, list]);

    function showSecret(k) {
      var code = h("code", { id: "pf-key-value" }, k.key);
      var copied = h("span", { class: "pf-muted", id: "pf-key-copied" });
      var copy = h("button", { id: "pf-key-copy", onclick: function () {
        var done = function () { copied.textContent = "Copied."; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(k.key).then(done, function () { fallbackCopy(code); done(); });
        } else { fallbackCopy(code); done(); }
      } }, "Copy");
      clear(secretBox).appendChild(h("div", { class: "pf-secret" },
        h("strong", {}, "Key “" + k.name + "”:"), code, copy, copied));
      append(secretBox, h("p", { class: "pf-muted" }, "This is the only time the secret is shown: store it now."));
    }

    function fallbackCopy(node) {
      var range = document.createRange();
      range.selectNodeContents(node);
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      try { document.execCommand("copy"); } catch (e) { /* the text stays selected for Ctrl+C */ }
    }

    function load() {
      api("GET", "/api/v1/platform/api-keys?limit=500").then(function (res) {
        clear(list).appendChild(table(["Name", "Prefix", "User", "Tenant", "Scopes", "Created", "Last used", "Expires", "Status", ""], res.api_keys.map(function (k) {
          return h("tr", { "data-key": k.id, "data-key-name": k.name }, h("td", {}, k.name), h("td", {}, h("code", {}, k.prefix + "…")), h("td", {}, k.user),
            h("td", {}, k.tenant_id || "all"), h("td", {}, k.scopes.length ? k.scopes.map(function (s) { return badge(s, "tag"); }) : "all"),
            h("td", {}, fmtDate(k.created_at)), h("td", {}, fmtDate(k.last_used_at)), h("td", {}, k.expires_at ? fmtDate(k.expires_at) : "never"),
            h("td", {}, badge(k.status, k.status)),
            h("td", {}, k.status === "active" && can("API Keys", "delete") ? h("button", { class: "danger", "data-action": "revoke", onclick: function () {
              if (!window.confirm("Revoke key " + k.name + "? Clients using it stop working at once.")) return;
              api("DELETE", "/api/v1/platform/api-keys/" + encodeURIComponent(k.id)).then(function () { flash("Revoked " + k.name + ".", "ok"); load(); }, showError);
            } }, "Revoke") : null));
        }), "No API keys yet."));
      }, showError);
    }
    load();
  }

  // --- Webhooks -------------------------------------------------------------------------------

  var WEBHOOK_EVENTS = ["dag.success", "dag.failure", "dag.running", "task.success", "task.failure", "task.retry"];
  var WEBHOOKS = "/api/v1/platform/webhooks";

  function webhookPath(id, rest) { return WEBHOOKS + "/" + encodeURIComponent(id) + (rest || ""); }

  function splitList(text) { return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }

  // A secret shown once, with a copy button (the API never answers it again).
  function secretBox(label, secret, note) {
    var code = h("code", { id: "pf-wh-secret-value" }, secret);
    var copied = h("span", { class: "pf-muted", id: "pf-wh-secret-copied" });
    var copy = h("button", { id: "pf-wh-secret-copy", onclick: function () {
      var done = function () { copied.textContent = "Copied."; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(secret).then(done, function () { selectText(code); done(); });
      } else { selectText(code); done(); }
    } }, "Copy");
    return h("div", { id: "pf-wh-secret" }, h("div", { class: "pf-secret" }, h("strong", {}, label), code, copy, copied),
      h("p", { class: "pf-muted" }, note || "This is the only time the secret is shown: store it now."));
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* the text stays selected for Ctrl+C */ }
  }

  function pageWebhooks() {
    if (!can("Webhooks", "read")) { noPermission("webhooks"); return; }
    clear(main);
    if (!ME.features.webhooks) {
      append(main, [h("h1", {}, "Webhooks"), h("div", { class: "pf-card pf-empty" }, "This server does not serve the webhooks API.")]);
      return;
    }
    var mayCreate = can("Webhooks", "create"), mayEdit = can("Webhooks", "edit"), mayDelete = can("Webhooks", "delete");
    var eventFilter = h("select", { "aria-label": "Event", id: "pf-wh-filter-event" }, h("option", { value: "" }, "All events"),
      WEBHOOK_EVENTS.map(function (e) { return h("option", { value: e }, e); }));
    var enabledFilter = h("select", { "aria-label": "Enabled", id: "pf-wh-filter-enabled" }, h("option", { value: "" }, "Enabled and disabled"),
      h("option", { value: "true" }, "Enabled"), h("option", { value: "false" }, "Disabled"));
    var secretArea = h("div", { id: "pf-wh-secret-area" });
    var panel = h("div", { class: "pf-card", hidden: true, id: "pf-wh-form" });
    var list = h("div", { id: "pf-webhooks" }, h("p", { class: "pf-muted" }, "Loading…"));
    var detail = h("div", { id: "pf-wh-detail" });
    var testResults = {};
    var newButton = mayCreate ? h("button", { class: "primary", id: "pf-wh-new", onclick: function () { panel.hidden = !panel.hidden; } }, "New webhook") : null;
    append(main, [h("div", { class: "pf-toolbar" }, h("h1", { class: "pf-grow" }, "Webhooks"), eventFilter, enabledFilter,
      h("button", { onclick: function () { load(); } }, "Refresh"), newButton), panel, secretArea, list, detail]);
    if (mayCreate) buildWebhookForm(panel, function (created) {
      clear(secretArea).appendChild(secretBox("Signing secret of “" + created.name + "”:", created.secret));
      panel.hidden = true;
      load();
    });
    eventFilter.addEventListener("change", function () { load(); });
    enabledFilter.addEventListener("change", function () { load(); });

    function load() {
      return api("GET", WEBHOOKS + qs({ limit: 200, event: eventFilter.value, enabled: enabledFilter.value })).then(function (res) {
        var rows = res.webhooks.map(webhookRow);
        clear(list);
        append(list, [table(["Name", "URL", "Events", "Enabled", "Last delivery", "Actions"], rows,
          mayCreate ? "No webhooks yet: create one with “New webhook”." : "No webhooks."),
          h("p", { class: "pf-muted" }, res.total + " webhook(s)")]);
        var open = window.location.hash.slice(1);
        if (open && res.webhooks.some(function (w) { return w.webhook_id === open; })) {
          showDetail(res.webhooks.filter(function (w) { return w.webhook_id === open; })[0]);
        } else if (open) { clear(detail); }
      }, function (err) { clear(list); showError(err); });
    }

    function webhookRow(w) {
      var last = h("span", { class: "pf-wh-last" }, h("span", { class: "pf-muted" }, "…"));
      api("GET", webhookPath(w.webhook_id, "/deliveries?limit=1")).then(function (res) {
        clear(last);
        var d = res.deliveries[0];
        append(last, d ? [badge(d.status, d.status), " ", h("span", { class: "pf-muted" }, d.event + " · " + fmtDate(d.last_attempt_at || d.created_at))]
          : h("span", { class: "pf-muted" }, "never"));
      }, function () { clear(last).appendChild(h("span", { class: "pf-muted" }, "—")); });
      // The last test's result stays in its row when the list is drawn again.
      var result = testResults[w.webhook_id] || (testResults[w.webhook_id] = h("span", { class: "pf-test-result" }));
      var actions = h("div", { class: "pf-toolbar pf-actions-cell" });
      if (mayEdit) {
        append(actions, h("button", { "data-action": "toggle", onclick: function (ev) {
          var button = ev.target; button.disabled = true;
          api("PATCH", webhookPath(w.webhook_id), { body: { enabled: !w.enabled } }).then(function () {
            flash((w.enabled ? "Disabled " : "Enabled ") + w.name + ".", "ok"); load();
          }, function (err) { button.disabled = false; showError(err); });
        } }, w.enabled ? "Disable" : "Enable"));
      }
      if (mayCreate) {
        var test = h("button", { "data-action": "test", onclick: function () {
          test.disabled = true; unflash(); clear(result).appendChild(h("span", { class: "pf-spinner" }));
          api("POST", webhookPath(w.webhook_id, "/test")).then(function (d) {
            clear(result);
            append(result, [h("span", { class: d.status === "succeeded" ? "pf-result-ok" : "pf-result-bad" },
              d.status === "succeeded" ? "✓ Delivered" : "✗ " + (d.status === "failed" ? "Failed" : d.status)),
              d.response_status ? " HTTP " + d.response_status : "", d.duration_ms != null ? " · " + Math.round(d.duration_ms) + " ms" : "",
              d.error ? h("div", { class: "pf-muted" }, d.error) : null]);
            window.location.hash = w.webhook_id;
            load();
          }, function (err) { clear(result); append(result, h("span", { class: "pf-result-bad" }, err.message)); })
            .then(function () { test.disabled = false; });
        } }, "Send test");
        append(actions, [test, h("button", { "data-action": "rotate", onclick: function () {
          if (!window.confirm("Rotate the signing secret of " + w.name + "? The old one keeps signing for a grace period.")) return;
          api("POST", webhookPath(w.webhook_id, "/rotate-secret")).then(function (r) {
            clear(secretArea).appendChild(secretBox("New signing secret of “" + w.name + "”:", r.secret,
              "This is the only time the new secret is shown: store it now. The previous secret keeps signing until " +
              fmtDate(r.previous_secret_expires_at) + "."));
            flash("Rotated the secret of " + w.name + ".", "ok");
          }, showError);
        } }, "Rotate secret")]);
      }
      append(actions, h("button", { "data-action": "deliveries", onclick: function () {
        window.location.hash = w.webhook_id; showDetail(w);
      } }, "Deliveries"));
      if (mayDelete) {
        append(actions, h("button", { class: "danger", "data-action": "delete", onclick: function () {
          if (!window.confirm("Delete webhook " + w.name + "? Its delivery log goes too.")) return;
          api("DELETE", webhookPath(w.webhook_id)).then(function () {
            flash("Deleted " + w.name + ".", "ok");
            if (window.location.hash.slice(1) === w.webhook_id) { history.replaceState(null, "", window.location.pathname); clear(detail); }
            load();
          }, showError);
        } }, "Delete"));
      }
      return h("tr", { "data-webhook": w.webhook_id, "data-webhook-name": w.name },
        h("td", { class: "pf-nowrap" }, h("a", { href: "#" + w.webhook_id, onclick: function () { showDetail(w); } }, w.name),
          w.description ? h("div", { class: "pf-muted" }, w.description) : null,
          ME.is_platform_admin ? h("div", { class: "pf-muted" }, w.tenant_id || "platform-wide") : null),
        h("td", { class: "pf-url" }, h("code", {}, w.url)),
        h("td", {}, w.events.map(function (e) { return badge(e, "tag"); })),
        h("td", {}, badge(w.enabled ? "enabled" : "disabled", w.enabled ? "active" : "paused")),
        h("td", {}, last), h("td", {}, actions, result));
    }

    function showDetail(w) {
      clear(detail);
      var statusFilter = h("select", { "aria-label": "Delivery status", id: "pf-wh-dl-status" }, h("option", { value: "" }, "All"),
        ["pending", "succeeded", "failed"].map(function (s) { return h("option", { value: s }, s); }));
      var log = h("div", { id: "pf-wh-deliveries" }, h("p", { class: "pf-muted" }, "Loading…"));
      var one = h("div", { id: "pf-wh-delivery" });
      var headerNames = Object.keys(w.headers || {});
      var filters = w.filters || {};
      var policy = w.retry_policy || {};
      append(detail, [h("h2", {}, "Webhook “" + w.name + "”"),
        h("div", { class: "pf-card" }, h("dl", { class: "pf-dl" },
          h("dt", {}, "Id"), h("dd", {}, h("code", {}, w.webhook_id)),
          h("dt", {}, "URL"), h("dd", {}, h("code", {}, w.url)),
          h("dt", {}, "Events"), h("dd", {}, w.events.join(", ")),
          h("dt", {}, "DAG ids"), h("dd", {}, (filters.dag_ids || []).join(", ") || "all"),
          h("dt", {}, "Tags"), h("dd", {}, (filters.tags || []).join(", ") || "all"),
          h("dt", {}, "Custom headers"), h("dd", {}, headerNames.length ? headerNames.join(", ") + " (values hidden)" : "—"),
          h("dt", {}, "Retries"), h("dd", {}, (policy.max_attempts || "—") + " attempt(s), backoff " + (policy.backoff_seconds || []).join(", ") + " s"),
          h("dt", {}, "Created"), h("dd", {}, (w.created_by || "—") + ", " + fmtDate(w.created_at)),
          h("dt", {}, "Secret rotated"), h("dd", {}, fmtDate(w.secret_rotated_at)))),
        h("div", { class: "pf-toolbar" }, h("h2", { class: "pf-grow" }, "Delivery log"), h("label", {}, "Status ", statusFilter),
          h("button", { id: "pf-wh-dl-refresh", onclick: function () { loadLog(); } }, "Refresh")),
        log, one]);
      statusFilter.addEventListener("change", function () { loadLog(); });
      loadLog();
      detail.scrollIntoView({ block: "start" });

      function loadLog() {
        return api("GET", webhookPath(w.webhook_id, "/deliveries" + qs({ status: statusFilter.value, limit: 100 }))).then(function (res) {
          clear(log).appendChild(table(["Status", "Event", "Attempts", "Response", "Error", "Duration", "Created", "Last attempt", ""],
            res.deliveries.map(function (d) {
              return h("tr", { "data-delivery": d.delivery_id, "data-status": d.status }, h("td", {}, badge(d.status, d.status)), h("td", {}, h("code", {}, d.event)),
                h("td", { class: "num" }, d.attempts), h("td", { class: "num" }, d.response_status != null ? String(d.response_status) : "—"),
                h("td", { class: "pf-error-cell" }, d.error || ""), h("td", { class: "num" }, d.duration_ms != null ? Math.round(d.duration_ms) + " ms" : "—"),
                h("td", {}, fmtDate(d.created_at)), h("td", {}, fmtDate(d.last_attempt_at) + (d.status === "pending" && d.next_attempt_at ? " · next " + fmtDate(d.next_attempt_at) : "")),
                h("td", {}, h("button", { "data-action": "view", onclick: function () { showDelivery(d.delivery_id); } }, "View")));
            }), "No deliveries yet."));
          append(log, h("p", { class: "pf-muted" }, res.total + " deliver" + (res.total === 1 ? "y" : "ies")));
        }, function (err) { clear(log); showError(err); });
      }

      function showDelivery(id) {
        api("GET", webhookPath(w.webhook_id, "/deliveries/" + encodeURIComponent(id))).then(function (d) {
          clear(one);
          var redeliver = mayCreate ? h("button", { class: "primary", id: "pf-wh-redeliver", onclick: function () {
            redeliver.disabled = true;
            api("POST", webhookPath(w.webhook_id, "/deliveries/" + encodeURIComponent(id) + "/redeliver")).then(function () {
              flash("Redelivery of " + id + " queued.", "ok");
              loadLog(); showDelivery(id);
            }, function (err) { redeliver.disabled = false; showError(err); });
          } }, "Redeliver") : null;
          append(one, h("div", { class: "pf-card", "data-delivery-detail": d.delivery_id },
            h("div", { class: "pf-toolbar" }, h("h2", { class: "pf-grow" }, "Delivery ", h("code", {}, d.delivery_id), " ", badge(d.status, d.status)), redeliver),
            h("dl", { class: "pf-dl" }, h("dt", {}, "Event"), h("dd", {}, d.event), h("dt", {}, "Attempts"), h("dd", {}, String(d.attempts)),
              h("dt", {}, "Delivered"), h("dd", {}, fmtDate(d.delivered_at)), h("dt", {}, "Next attempt"), h("dd", {}, fmtDate(d.next_attempt_at))),
            h("h2", {}, "Attempts"),
            table(["#", "At", "Response", "Error", "Duration"], (d.attempt_log || []).map(function (a) {
              return h("tr", {}, h("td", { class: "num" }, a.attempt), h("td", {}, fmtDate(a.at)),
                h("td", {}, a.response_status != null ? h("span", { class: a.response_status >= 200 && a.response_status < 300 ? "pf-result-ok" : "pf-result-bad" }, String(a.response_status)) : "—"),
                h("td", { class: "pf-error-cell" }, a.error || ""), h("td", { class: "num" }, a.duration_ms != null ? Math.round(a.duration_ms) + " ms" : "—"));
            }), "Not attempted yet."),
            h("h2", {}, "Payload"), h("pre", { class: "pf-pre", id: "pf-wh-payload" }, JSON.stringify(d.payload, null, 2))));
        }, showError);
      }
    }

    load();
  }

  function buildWebhookForm(panel, onCreated) {
    var f = {
      name: h("input", { type: "text", id: "pf-wh-name", maxlength: 200 }),
      url: h("input", { type: "url", id: "pf-wh-url", placeholder: "https://hooks.example.com/airflow", maxlength: 2048 }),
      description: h("input", { type: "text", id: "pf-wh-description" }),
      dag_ids: h("input", { type: "text", id: "pf-wh-dag-ids", placeholder: "empty: every DAG; e.g. etl_daily, export_orders" }),
      tags: h("input", { type: "text", id: "pf-wh-tags", placeholder: "empty: any tags; e.g. production" }),
      headers: h("textarea", { rows: 2, id: "pf-wh-headers", placeholder: "Name: value, one per line (values are kept secret)" }),
      max_attempts: h("input", { type: "number", id: "pf-wh-max-attempts", min: "1", max: "10", value: "3" }),
      backoff: h("input", { type: "text", id: "pf-wh-backoff", value: "10, 30, 60" }),
      enabled: h("input", { type: "checkbox", id: "pf-wh-enabled", checked: true })
    };
    var tenant = ME.is_platform_admin ? h("input", { type: "text", id: "pf-wh-tenant", placeholder: "empty: platform-wide" }) : null;
    var events = h("div", { class: "pf-checks", id: "pf-wh-events" }, WEBHOOK_EVENTS.map(function (e) {
      return h("label", {}, h("input", { type: "checkbox", value: e, name: "event", "data-event": e }), " ", e);
    }));
    var submit = h("button", { class: "primary", id: "pf-wh-create", onclick: function () {
      unflash();
      var problems = [];
      var chosen = Array.prototype.filter.call(events.querySelectorAll("input"), function (i) { return i.checked; })
        .map(function (i) { return i.value; });
      var name = f.name.value.trim(), url = f.url.value.trim();
      if (!name) problems.push("a name");
      if (!/^https?:\/\/\S+$/i.test(url)) problems.push("an http(s) URL");
      if (!chosen.length) problems.push("at least one event");
      var headers = {};
      f.headers.value.split("\n").forEach(function (line) {
        if (!line.trim()) return;
        var at = line.indexOf(":");
        if (at < 1) { problems.push("headers as “Name: value” lines"); return; }
        headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      });
      var backoff = splitList(f.backoff.value).map(Number);
      if (!backoff.length || backoff.some(function (n) { return !Number.isInteger(n) || n < 0; })) problems.push("backoff as whole seconds, comma-separated");
      var attempts = parseInt(f.max_attempts.value, 10);
      if (!(attempts >= 1 && attempts <= 10)) problems.push("1 to 10 attempts");
      if (problems.length) { flash("The webhook needs " + problems.join(", ") + "."); return; }
      var req = { name: name, url: url, events: chosen, enabled: f.enabled.checked,
        filters: { dag_ids: splitList(f.dag_ids.value), tags: splitList(f.tags.value) },
        retry_policy: { max_attempts: attempts, backoff_seconds: backoff } };
      if (Object.keys(headers).length) req.headers = headers;
      if (f.description.value.trim()) req.description = f.description.value.trim();
      if (tenant && tenant.value.trim()) req.tenant_id = tenant.value.trim();
      submit.disabled = true;
      api("POST", WEBHOOKS, { body: req }).then(function (created) {
        flash("Created webhook " + created.name + ".", "ok");
        [f.name, f.url, f.description, f.dag_ids, f.tags, f.headers].forEach(function (i) { i.value = ""; });
        onCreated(created);
      }, showError).then(function () { submit.disabled = false; });
    } }, "Create webhook");
    var label = function (input, text) { return h("label", { for: input.id }, text); };
    append(panel, [h("h2", {}, "New webhook"), h("div", { class: "pf-form" },
      label(f.name, "Name"), f.name, label(f.url, "URL"), f.url, label(f.description, "Description"), f.description,
      h("label", {}, "Events"), events,
      label(f.dag_ids, "Only DAG ids"), f.dag_ids, label(f.tags, "Only DAG tags"), f.tags,
      label(f.headers, "Custom headers"), f.headers,
      label(f.max_attempts, "Max attempts"), f.max_attempts, label(f.backoff, "Backoff (seconds)"), f.backoff,
      h("div", { class: "pf-help" }, "Seconds to wait before each retry."),
      label(f.enabled, "Enabled"), h("div", {}, f.enabled),
      tenant ? [label(tenant, "Tenant"), tenant] : null,
      h("div", { class: "pf-actions" }, submit))]);
  }

  // --- start ----------------------------------------------------------------------------------

  var PAGES = { datakits: pageDatakits, datakit: pageDatakit, deployments: pageDeployments, sql: pageSql,
    tenants: pageTenants, connections: pageConnections, "api-keys": pageApiKeys, webhooks: pageWebhooks };

  loadMe().then(function () {
    var page = PAGES[PAGE];
    if (page) page();
    body.setAttribute("data-ready", "true");
  }, function () { body.setAttribute("data-ready", "error"); });
})();
