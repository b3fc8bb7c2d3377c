// /status as the page reads it: each object's conditions, and whether one says it is not (fully) served.

export function statusKey(kind, namespace, name) { return `${kind}:${namespace ? namespace + "/" : ""}${name}`; }

// Every object of /status by kind:namespace/name, with all its conditions flattened (with where they sit).
export function indexStatus(status) {
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
export function problem(entry, where) {
  if (!entry) return null;
  return entry.conditions.find(c => HEALTH.has(c.type) && c.status !== "True" && (!where || c.where === "" || c.where === where)) || null;
}
