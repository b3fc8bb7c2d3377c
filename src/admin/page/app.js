// The admin page: draws /topology with the conditions of /status, polls /topology every 2 s while the page
// is visible (a hidden tab asks nothing) and /status when the table changed (its table_version), and looks a
// request up in /mirrors and /mirrors/diff. Plain DOM, no
// library: every name from the config goes in through textContent, never as markup.
"use strict";

const POLL_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";
const COLUMNS = ["Gateways", "Listeners", "HTTPRoute rules", "Backends"];
const NODE_W = 220, NODE_H = 46, ROW_GAP = 30, TOP = 28;
// Wider gaps where the edges carry longer labels (the mirrors' are the longest).
const COLUMN_X = [10, 10 + NODE_W + 70, 10 + 2 * NODE_W + 70 + 170, 10 + 3 * NODE_W + 70 + 170 + 260];

let previous = null;   // the last /topology answer, to turn counts into rates
let latest = null;     // {topology, status}
let selected = null;   // id of the node whose details are shown
let timer = null;
let configDump = null; // fetched when details need a rule's matches

// ---------- fetching ----------

async function getJson(path) {
  const r = await fetch(path, {cache: "no-store", credentials: "same-origin"});
  if (!r.ok) throw new Error(`${path}: ${r.status} ${r.statusText}`);
  return r.json();
}

async function poll() {
  timer = null;
  if (document.visibilityState !== "visible") return;  // resumed by visibilitychange
  const state = document.getElementById("state");
  try {
    const topology = await getJson("topology");
    // The objects' conditions change with the table only: a large config's /status is not read every poll.
    const fresh = latest && latest.topology.table_version === topology.table_version;
    const status = fresh ? latest.status : await getJson("status");
    previous = latest ? latest.topology : null;
    latest = {topology, status};
    draw();
    state.textContent = `updated ${new Date().toLocaleTimeString()}`;
    state.classList.remove("error");
  } catch (e) {
    state.textContent = `cannot read the gateway: ${e.message}`;
    state.classList.add("error");
  }
  schedule();
}

function schedule() {
  if (timer === null && document.visibilityState === "visible") timer = setTimeout(poll, POLL_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && timer === null) poll();
});

// ---------- figures ----------

function rate(now, before) {
  if (!previous || before === undefined) return null;
  const dt = latest.topology.time_s - previous.time_s;
  return dt > 0 ? Math.max(0, now - before) / dt : null;
}

function fmtRate(r) {
  if (r === null) return "–/s";
  return r >= 100 ? `${r.toFixed(0)}/s` : r >= 10 ? `${r.toFixed(1)}/s` : `${r.toFixed(2)}/s`;
}

function fmtPercent(part, all) {
  return all > 0 ? `${(100 * part / all).toFixed(part === all || part === 0 ? 0 : 1)}%` : "–";
}

// histogram_quantile over the buckets recorded since the last poll (since start on the first one).
function quantile(q, now, before, bounds) {
  if (!now || !now.buckets.length) return null;
  const diff = now.buckets.map((n, i) => n - (before && before.buckets.length ? before.buckets[i] : 0));
  const total = diff.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < diff.length; i++) {
    if (seen + diff[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];  // +Inf: the largest bound we know
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - seen) / diff[i]);
    }
    seen += diff[i];
  }
  return null;
}

function fmtSeconds(s) {
  if (s === null) return "p99 –";
  return s < 1 ? `p99 ${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `p99 ${s.toFixed(2)} s`;
}

// ---------- status ----------

function statusKey(kind, namespace, name) { return `${kind}:${namespace ? namespace + "/" : ""}${name}`; }

// Every object of /status by kind:namespace/name, with all its conditions flattened (with where they sit).
function indexStatus(status) {
  const out = new Map();
  for (const item of status.items || []) {
    const m = item.metadata || {}, s = item.status || {};
    const conditions = [];
    for (const c of s.conditions || []) conditions.push({where: "", ...c});
    for (const l of s.listeners || []) for (const c of l.conditions || []) conditions.push({where: `listener ${l.name}`, ...c});
    for (const p of s.parents || []) {
      const ref = p.parentRef || {};
      for (const c of p.conditions || []) conditions.push({where: `parent ${ref.name}${ref.sectionName ? "/" + ref.sectionName : ""}`, ...c});
    }
    for (const a of s.ancestors || []) {
      const ref = a.ancestorRef || {};
      for (const c of a.conditions || []) conditions.push({where: `ancestor ${ref.kind || ""} ${ref.name}`, ...c});
    }
    out.set(statusKey(item.kind, m.namespace, m.name), {item, conditions});
  }
  return out;
}

const HEALTH = new Set(["Accepted", "ResolvedRefs", "Programmed"]);
// The first condition that says the object is not (fully) served, or null.
function problem(entry, where) {
  if (!entry) return null;
  return entry.conditions.find(c => HEALTH.has(c.type) && c.status !== "True" && (!where || c.where === "" || c.where === where)) || null;
}

// ---------- the graph ----------

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, content, cls) {
  const t = el("text", {x, y}, parent);
  if (cls) t.setAttribute("class", cls);
  t.textContent = content;
  return t;
}

function shorten(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

// Nodes by column, edges between them: built from the topology and the status index.
function model(topology, statusIndex) {
  const nodes = new Map(), edges = [];
  const node = (id, column, title, sub, entry, where) => {
    if (!nodes.has(id)) {
      const bad = problem(entry, where);
      nodes.set(id, {id, column, title, sub, entry, bad, order: nodes.size});
    }
    return nodes.get(id);
  };
  const routesServed = new Set();
  for (const l of topology.listeners) {
    const [gwNs, gwName] = l.gateway.split("/");
    const gwEntry = statusIndex.get(statusKey("Gateway", gwNs, gwName));
    node(`gateway:${l.gateway}`, 0, l.gateway, "Gateway", gwEntry);
    const listenerId = `listener:${l.gateway}/${l.name}`;
    node(listenerId, 1, `${l.sections.join(", ")}`, `${l.protocol} ${l.address}:${l.port}`, gwEntry, `listener ${l.name}`);
    edges.push({from: `gateway:${l.gateway}`, to: listenerId, kind: "plain"});
    for (const r of l.rules) {
      routesServed.add(r.route);
      const [rNs, rName] = r.route.split("/");
      const ruleId = `rule:${r.route}/${r.rule}`;
      node(ruleId, 2, r.route, `rule ${r.name || r.rule}`, statusIndex.get(statusKey("HTTPRoute", rNs, rName)));
      nodes.get(ruleId).rule = r;
      edges.push({from: listenerId, to: ruleId, kind: "route", route: r.route});
      const mirrorsOf = (list) => {
        for (const m of list) {
          node(`backend:${m.name}`, 3, m.name, backendSub(topology, m.name, m.endpoints), null);
          edges.push({from: ruleId, to: `backend:${m.name}`, kind: "mirror", mirror: m, resolved: m.resolved, key: `${r.route}/${r.label}/${m.name}`});
        }
      };
      for (const b of r.backends) {
        node(`backend:${b.name}`, 3, b.name, backendSub(topology, b.name), null);
        edges.push({from: ruleId, to: `backend:${b.name}`, kind: "backend", backend: b, resolved: b.resolved, key: `${r.route}/${b.name}`});
        mirrorsOf(b.mirrors);
      }
      mirrorsOf(r.mirrors);
    }
  }
  // Routes that serve nothing (not accepted by any listener) still show, with why.
  for (const [key, entry] of statusIndex) {
    if (entry.item.kind !== "HTTPRoute") continue;
    const route = key.slice("HTTPRoute:".length);
    if (!routesServed.has(route)) node(`route:${route}`, 2, route, "not served", entry);
  }
  return {nodes, edges};
}

function backendSub(topology, name, endpoints) {
  const b = topology.backends[name];
  const n = b ? b.endpoints : endpoints;
  return n === undefined ? "Service" : `${n} ready endpoint${n === 1 ? "" : "s"}`;
}

// What an edge says: its figures, and its cumulative count for whoever reads the DOM (tests, tooltips).
function edgeFigures(edge, topology) {
  const before = previous || null;
  if (edge.kind === "route") {
    const now = topology.routes[edge.route] || {requests: 0, "5xx": 0};
    const was = before && before.routes[edge.route];
    const errors = was ? now["5xx"] - was["5xx"] : now["5xx"], all = was ? now.requests - was.requests : now.requests;
    return {total: now.requests, lines: [`${fmtRate(rate(now.requests, was && was.requests))} · 5xx ${fmtPercent(errors, all)}`]};
  }
  if (edge.kind === "backend") {
    const now = edge.backend.latency;
    const was = before && findBackend(before, edge.key);
    const p99 = quantile(0.99, now, was && was.latency, topology.latency_bounds_s);
    const upstream = topology.backends[edge.backend.name] || {requests: 0, "5xx": 0};
    const upWas = before && before.backends[edge.backend.name];
    const errors = upWas ? upstream["5xx"] - upWas["5xx"] : upstream["5xx"];
    const all = upWas ? upstream.requests - upWas.requests : upstream.requests;
    return {total: now.count, lines: [`${fmtRate(rate(now.count, was && was.latency.count))} · 5xx ${fmtPercent(errors, all)}`, fmtSeconds(p99)]};
  }
  if (edge.kind === "mirror") {
    const c = edge.mirror.counters;
    const was = before && findMirror(before, edge.key);
    const w = was ? was.counters : null;
    const r = (f) => fmtRate(rate(f(c), w ? f(w) : undefined));
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    const reasons = [];
    for (const group of ["failed", "dropped"])
      for (const [reason, n] of Object.entries(c[group])) {
        const delta = w ? n - w[group][reason] : n;
        if (delta > 0) reasons.push(`${group} ${reason} ${w ? fmtRate(rate(n, w[group][reason])) : n}`);
      }
    const lines = [`mirror ${edge.mirror.percent < 100 ? edge.mirror.percent + "% " : ""}sent ${r(x => x.sent)} · completed ${r(x => x.completed)}`,
                   `failed ${r(x => sum(x.failed))} · dropped ${r(x => sum(x.dropped))}`];
    if (reasons.length) lines.push(reasons.join(", "));
    return {total: c.sent, lines, reasons: reasons.length > 0};
  }
  return {total: null, lines: []};
}

function eachRule(topology, visit) {
  for (const l of topology.listeners) for (const r of l.rules) visit(r);
}
function findBackend(topology, key) {
  let found = null;
  eachRule(topology, r => { for (const b of r.backends) if (`${r.route}/${b.name}` === key) found = b; });
  return found;
}
function findMirror(topology, key) {
  let found = null;
  eachRule(topology, r => {
    for (const m of [...r.mirrors, ...r.backends.flatMap(b => b.mirrors)])
      if (`${r.route}/${r.label}/${m.name}` === key) found = m;
  });
  return found;
}

function draw() {
  const {topology, status} = latest;
  const statusIndex = indexStatus(status);
  const {nodes, edges} = model(topology, statusIndex);
  const svg = document.getElementById("topology");
  svg.replaceChildren();
  const defs = el("defs", {}, svg);
  for (const id of ["arrow", "arrow-mirror"]) {
    const m = el("marker", {id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, defs);
    el("path", {d: "M 0 0 L 10 5 L 0 10 z"}, m);
  }
  // Place: each column top to bottom in order of appearance.
  const rows = [0, 0, 0, 0];
  for (const n of [...nodes.values()].sort((a, b) => a.order - b.order)) {
    n.x = COLUMN_X[n.column];
    n.y = TOP + rows[n.column] * (NODE_H + ROW_GAP);
    rows[n.column]++;
  }
  const height = TOP + Math.max(1, ...rows) * (NODE_H + ROW_GAP) + 20;
  const width = COLUMN_X[COLUMN_X.length - 1] + NODE_W + 10;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  COLUMNS.forEach((title, i) => text(svg, COLUMN_X[i], 14, title, "column-title"));

  // Edges first, under the nodes, their labels last, over everything. Several edges between one pair (a
  // backend that is also a mirror) fan out.
  const pairCount = new Map();
  const labels = [];
  for (const e of edges) {
    const a = nodes.get(e.from), b = nodes.get(e.to);
    if (!a || !b) continue;
    const pair = `${e.from}>${e.to}`;
    const k = pairCount.get(pair) || 0;
    pairCount.set(pair, k + 1);
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2 + k * 8, x2 = b.x, y2 = b.y + NODE_H / 2 + k * 8;
    const bend = (x2 - x1) / 2;
    const bad = e.resolved === false;
    const path = el("path", {d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
                             class: `edge ${e.kind === "mirror" ? "mirror" : ""} ${bad ? "bad" : ""}`,
                             "marker-end": `url(#${e.kind === "mirror" ? "arrow-mirror" : "arrow"})`,
                             "data-from": e.from, "data-to": e.to, "data-kind": e.kind}, svg);
    const f = edgeFigures(e, topology);
    if (f.total !== null) path.setAttribute("data-total", f.total);
    if (!f.lines.length) continue;
    const label = el("text", {class: `edge-label ${e.kind === "mirror" ? "mirror" : ""}`, "data-from": e.from, "data-to": e.to,
                              "data-kind": e.kind, "data-total": f.total,
                              x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6 - (f.lines.length - 1) * 13 + (e.kind === "mirror" ? 12 : 0),
                              "text-anchor": "middle"});
    labels.push(label);
    f.lines.forEach((line, i) => {
      const t = el("tspan", {x: (x1 + x2) / 2, dy: i ? 13 : 0}, label);
      if (i === 2 && f.reasons) t.setAttribute("class", "reasons");
      t.textContent = line;
    });
  }
  for (const n of nodes.values()) {
    const g = el("g", {class: `node ${n.bad ? "bad" : ""} ${selected === n.id ? "selected" : ""}`, "data-id": n.id, tabindex: 0}, svg);
    const h = n.bad ? NODE_H + 14 : NODE_H;
    el("rect", {x: n.x, y: n.y, width: NODE_W, height: h}, g);
    text(g, n.x + 8, n.y + 18, shorten(n.title, 32));
    text(g, n.x + 8, n.y + 35, shorten(n.sub, 36), "sub");
    if (n.bad) text(g, n.x + 8, n.y + 52, shorten(`${n.bad.type} ${n.bad.status}: ${n.bad.reason}`, 34), "why");
    const title = el("title", {}, g);
    title.textContent = n.bad ? `${n.title}\n${n.bad.type}=${n.bad.status} ${n.bad.reason}: ${n.bad.message}` : n.title;
    g.addEventListener("click", () => select(n.id));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(n.id); });
  }
  for (const label of labels) svg.appendChild(label);
  if (selected) showDetails(nodes.get(selected));
}

// ---------- details of one object ----------

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function table(headers, rows, cls) {
  const t = h("table", cls ? {class: cls} : {});
  t.append(h("thead", {}, h("tr", {}, ...headers.map(x => h("th", {}, x)))));
  const body = h("tbody");
  for (const row of rows) body.append(h("tr", {}, ...row.map((cell, i) => {
    const td = h("td", {"data-column": headers[i]}, cell && cell.text !== undefined ? cell.text : cell);
    if (cell && cell.cls) td.className = cell.cls;
    return td;
  })));
  t.append(body);
  return t;
}

async function select(id) {
  selected = selected === id ? null : id;
  if (selected && selected.startsWith("rule:") && !configDump) {
    try { configDump = await getJson("config_dump"); } catch (e) { configDump = null; }
  }
  draw();
  if (!selected) document.getElementById("details").hidden = true;
}

function showDetails(n) {
  const box = document.getElementById("details");
  if (!n) { box.hidden = true; return; }
  box.hidden = false;
  box.replaceChildren(h("h3", {}, `${n.sub}: ${n.title}`));
  if (n.entry) {
    box.append(table(["where", "type", "status", "reason", "message"],
      n.entry.conditions.map(c => [c.where || n.entry.item.kind, c.type, {text: c.status, cls: c.status === "True" ? "true" : "false"}, c.reason, c.message])));
  } else if (n.id.startsWith("backend:")) {
    box.append(h("p", {}, "A Service port: its conditions are those of the routes that name it."));
  }
  if (n.rule) {
    const r = n.rule;
    const dumped = configDump && configDump.listeners.flatMap(l => l.rules).find(x => x.route === r.route && x.rule === r.rule);
    const matches = dumped ? dumped.matches.map(m => `${m.hostname} ${m.method || ""} ${m.path.type} ${m.path.value}` +
      `${m.headers ? " headers " + m.headers.map(x => x.name + "=" + x.value).join(",") : ""}` +
      `${m.queryParams ? " query " + m.queryParams.map(x => x.name + "=" + x.value).join(",") : ""}`) : [];
    box.append(table(["rule", "matches", "backends", "mirrors"], [[
      r.name ? `${r.rule} (${r.name})` : String(r.rule),
      h("ul", {class: "plain"}, ...matches.map(x => h("li", {class: "mono"}, x))),
      h("ul", {class: "plain"}, ...r.backends.map(b => h("li", {}, `${b.name} weight ${b.weight}${b.resolved ? "" : " (unresolved: 500)"}`))),
      h("ul", {class: "plain"}, ...[...r.mirrors, ...r.backends.flatMap(b => b.mirrors)].map(m => h("li", {}, `${m.name} ${m.percent}%${m.resolved ? "" : " (unresolved)"}`))),
    ]]));
  }
}

// ---------- request lookup ----------

async function lookup(id) {
  const out = document.getElementById("lookup-result");
  out.replaceChildren(h("p", {}, "looking…"));
  const q = `request_id=${encodeURIComponent(id)}&limit=1000`;
  try {
    const [trace, diff] = await Promise.all([getJson(`mirrors?${q}`), getJson(`mirrors/diff?${q}`)]);
    out.replaceChildren(...lookupView(id, trace.mirrors || [], diff.mismatches || []));
  } catch (e) {
    out.replaceChildren(h("p", {class: "bad-text"}, `cannot look it up: ${e.message}`));
  }
}

function lookupView(id, copies, mismatches) {
  if (!copies.length)
    return [h("p", {id: "lookup-none"}, `Request ${id} was not mirrored, or is older than the last entries each worker keeps.`)];
  const first = copies[0];
  const columns = ["", "primary", ...copies.map((c, i) => `copy ${i + 1}`)];
  const mismatchOf = (c) => mismatches.find(m => m.mirror_backend === c.mirror_backend && m.mirror_pod === c.mirror_pod) ||
                            mismatches.find(m => m.mirror_backend === c.mirror_backend);
  const primaryMismatch = mismatches[0];
  const pod = (p, host) => p ? `${p} (${host})` : (host || "–");
  const row = (name, primary, copy) => [h("strong", {}, name), primary, ...copies.map(copy)];
  const rows = [
    row("route", first.route, c => c.route),
    row("rule", first.rule || "–", c => c.rule || "–"),
    row("backend", "(the rule's backend)", c => c.mirror_backend),
    row("pod", pod(first.primary_pod, first.primary_host), c => pod(c.mirror_pod, c.mirror_host)),
    row("outcome", "answered the client", c => ({text: c.outcome + (c.reason ? ` (${c.reason})` : ""), cls: `outcome-${c.outcome}`})),
    row("status", primaryMismatch ? String(primaryMismatch.primary_status) : "–", c => c.status ? String(c.status) : "–"),
    row("latency", "–", c => `${c.latency_ms.toFixed(1)} ms`),
    row("request bytes", "–", c => String(c.request_bytes)),
    row("comparison", "", c => {
      const m = mismatchOf(c);
      return m ? {text: "mismatch", cls: "mismatch"} : "no mismatch recorded";
    }),
    row("differing", "", c => {
      const m = mismatchOf(c);
      if (!m) return "–";
      return h("ul", {class: "plain"}, ...m.differences.map(d => h("li", {class: "mono"}, d)), ...(m.note ? [h("li", {}, m.note)] : []));
    }),
  ];
  return [h("p", {}, `Request `, h("code", {}, id), ` at ${new Date(first.time_us / 1000).toLocaleTimeString()}: ${copies.length} cop${copies.length === 1 ? "y" : "ies"}.`),
          table(columns, rows, "side-by-side")];
}

document.getElementById("lookup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = document.getElementById("request-id").value.trim();
  if (!id) return;
  history.replaceState(null, "", `#request=${encodeURIComponent(id)}`);
  lookup(id);
});

// A link to #request=ID opens with that request looked up.
const fromHash = /^#request=(.+)$/.exec(location.hash);
if (fromHash) {
  document.getElementById("request-id").value = decodeURIComponent(fromHash[1]);
  lookup(decodeURIComponent(fromHash[1]));
}
poll();
