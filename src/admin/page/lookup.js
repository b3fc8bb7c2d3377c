// "Was this request mirrored?": the primary and each copy of one request side by side.
import {h, table} from "./dom.js";

// Looks request `id` up in /mirrors and /mirrors/diff and shows the answer in `out`.
export async function lookup(out, id, getJson) {
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
  // The primary's outcome comes with each copy once the primary ended (the mirror trace records it).
  const answered = copies.find(c => c.primary_status !== undefined);
  const primaryStatus = answered ? String(answered.primary_status) : primaryMismatch ? String(primaryMismatch.primary_status) : "–";
  const pod = (p, host) => p ? `${p} (${host})` : (host || "–");
  const row = (name, primary, copy) => [h("strong", {}, name), primary, ...copies.map(copy)];
  const rows = [
    row("route", first.route, c => c.route),
    row("trace id", first.trace_id || "–", c => c.trace_id || "–"),
    row("rule", first.rule || "–", c => c.rule || "–"),
    row("backend", "(the rule's backend)", c => c.mirror_backend),
    row("pod", pod(first.primary_pod, first.primary_host), c => pod(c.mirror_pod, c.mirror_host)),
    row("outcome", "answered the client", c => ({text: c.outcome + (c.reason ? ` (${c.reason})` : ""), cls: `outcome-${c.outcome}`})),
    row("status", primaryStatus, c => c.status ? String(c.status) : "–"),
    row("latency", answered ? `${answered.primary_latency_ms.toFixed(1)} ms` : "–", c => `${c.latency_ms.toFixed(1)} ms`),
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
