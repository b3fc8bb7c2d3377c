// The admin page: polls /topology every 2 s while the page is visible (a hidden tab asks nothing), reads
// /status again only when the route table changed (its table_version), and redraws; wires the clicks and the
// request lookup. Plain ES modules, no library, nothing from anywhere but the admin listener.
import {showDetails} from "./details.js";
import {draw} from "./graph.js";
import {lookup} from "./lookup.js";

const POLL_MS = 2000;

let previous = null;   // the topology of the poll before, to turn counts into rates
let latest = null;     // {topology, status}
let selected = null;   // id of the node whose details are shown
let nodes = new Map(); // of the last drawing
let configDump = null; // read when a rule's details need its matches
let timer = null;
let polling = false;

async function getJson(path) {
  const r = await fetch(path, {cache: "no-store", credentials: "same-origin"});
  if (!r.ok) throw new Error(`${path}: ${r.status} ${r.statusText}`);
  return r.json();
}

function render() {
  const {topology, status} = latest;
  nodes = draw(document.getElementById("topology"), topology, status, previous, selected, select);
  showDetails(document.getElementById("details"), selected && nodes.get(selected), configDump);
}

async function poll() {
  timer = null;
  if (polling || document.visibilityState !== "visible") return;  // resumed by visibilitychange
  polling = true;
  const state = document.getElementById("state");
  try {
    const topology = await getJson("topology");
    // The objects' conditions change with the table only: a large config's /status is not read every poll.
    const fresh = latest && latest.topology.table_version === topology.table_version;
    const status = fresh ? latest.status : await getJson("status");
    previous = latest ? latest.topology : null;
    latest = {topology, status};
    render();
    state.textContent = `updated ${new Date().toLocaleTimeString()}`;
    state.classList.remove("error");
  } catch (e) {
    state.textContent = `cannot read the gateway: ${e.message}`;
    state.classList.add("error");
  }
  polling = false;
  if (timer === null && document.visibilityState === "visible") timer = setTimeout(poll, POLL_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && timer === null) poll();
});

async function select(id) {
  selected = selected === id ? null : id;
  if (selected && selected.startsWith("rule:") && !configDump) {
    try { configDump = await getJson("config_dump"); } catch (e) { configDump = null; }
  }
  if (latest) render();
}

document.getElementById("lookup").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const id = document.getElementById("request-id").value.trim();
  if (!id) return;
  history.replaceState(null, "", `#request=${encodeURIComponent(id)}`);
  lookup(document.getElementById("lookup-result"), id, getJson);
});

// A link to #request=ID opens with that request looked up.
const fromHash = /^#request=(.+)$/.exec(location.hash);
if (fromHash) {
  const id = decodeURIComponent(fromHash[1]);
  document.getElementById("request-id").value = id;
  lookup(document.getElementById("lookup-result"), id, getJson);
}
poll();
