// The panel under the drawing: one object's conditions and, for a rule, what it matches and where it sends.
import {h, table} from "./dom.js";

// The conditions of node `n` (and for a rule its matches, from /config_dump), or nothing.
export function showDetails(box, n, configDump) {
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
