// The topology drawing: Gateways -> listeners -> rules -> backends in four columns, a dashed arrow per
// mirror, each edge labelled with its figures and carrying its cumulative count (data-total).
import {el, shorten, text} from "./dom.js";
import {fmtPercent, fmtRate, fmtSeconds, perSecond, quantile} from "./figures.js";
import {indexStatus, problem, statusKey} from "./status.js";

const COLUMNS = ["Gateways", "Listeners", "HTTPRoute rules", "Backends"];
const NODE_W = 220, NODE_H = 46, ROW_GAP = 30, TOP = 28;
// Wider gaps where the edges carry longer labels (the mirrors' are the longest).
const COLUMN_X = [10, 10 + NODE_W + 70, 10 + 2 * NODE_W + 70 + 170, 10 + 3 * NODE_W + 70 + 170 + 260];

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
function edgeFigures(edge, topology, previous) {
  const before = previous || null;
  const rate = (now, was) => perSecond(now, was, topology, previous);
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

// Redraws `svg` from scratch; returns the nodes by id. `onSelect(id)` is called when a node is clicked.
export function draw(svg, topology, status, previous, selected, onSelect) {
  const statusIndex = indexStatus(status);
  const {nodes, edges} = model(topology, statusIndex);
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
    const f = edgeFigures(e, topology, previous);
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
    if (n.bad) text(g, n.x + 8, n.y + 52, shorten(`${n.bad.reason} (${n.bad.type})`, 34), "why");
    const title = el("title", {}, g);
    title.textContent = n.bad ? `${n.title}\n${n.bad.type}=${n.bad.status} ${n.bad.reason}: ${n.bad.message}` : n.title;
    g.addEventListener("click", () => onSelect(n.id));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onSelect(n.id); });
  }
  for (const label of labels) svg.appendChild(label);
  return nodes;
}
