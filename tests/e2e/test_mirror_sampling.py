"""Several RequestMirror filters in one rule, sampled with `percent` and `fraction`, randomly and
independently per mirror, and a RequestMirror filter on a backendRef: every sampled request gets
exactly one copy per mirror, to one endpoint picked by the mirror Service's load balancer.

Loopback block 127.0.31.0/24: gateway and admin .1, primary echo pod .2, mirror pods A .3, B .4,
C .5 and .6, D .7. The mirror pods are capture backends: the echo pod's log line names the target
only, and the test must see the X-Request-Id header of every copy.

Rule 0 (/sampling): mirrors A `percent: 30`, B `fraction: 1/4`, C (every request, 2 pods).
Rule 1 (/backend-mirror): mirror D `percent: 50` in `backendRefs[0].filters`.
A batch is 500 requests on one keep-alive connection, each with its own X-Request-Id, also put in the
query so a copy is tied to its request by target and by header. Exact for every batch: one copy per
request and mirror at most, carrying the primary's X-Request-Id; C gets every request, split over its
two pods by round robin; sent + sampled_out == 500 per mirror, every copy completed, and the pods,
/mirrors and the access log name the same copies (request id, mirror, pod). Statistical: A, B, D and
"both A and B" within 3 sigma (sigma = sqrt(n p (1 - p))) of 500 p; a miss (about 1% of correct runs
over the four checks) gets one fresh batch, which must pass."""

import json
import math
import uuid

import mgtest
from mgtest import wait_for

NET = "127.0.31"
N = 500
ROUTE = "default/sampling"
PRIMARY_POD = "primary-7d9c6b5f4-p1r2m"
MIRRORS = {  # name -> (pod ips, expected share)
    "A": ((f"{NET}.3",), 0.30),
    "B": ((f"{NET}.4",), 0.25),
    "C": ((f"{NET}.5", f"{NET}.6"), 1.0),
    "D": ((f"{NET}.7",), 0.50),
}


def backend(name: str) -> str:
    return f"default/mirror-{name.lower()}:8080"


def mirror_filter(name: str, sampling: list[str], indent: str) -> str:
    """One RequestMirror list item at `indent`; `sampling` lines go next to its backendRef."""
    extra = "".join(f"{indent}    {line}\n" for line in sampling)
    return f"""{indent}- type: RequestMirror
{indent}  requestMirror:
{indent}    backendRef:
{indent}      name: mirror-{name.lower()}
{indent}      port: 8080
{extra}"""


def route_yaml() -> str:
    rule_filters = (mirror_filter("A", ["percent: 30"], "    ")
                    + mirror_filter("B", ["fraction:", "  numerator: 1", "  denominator: 4"], "    ")
                    + mirror_filter("C", [], "    "))
    backend_filters = mirror_filter("D", ["percent: 50"], "      ")
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: sampling
  namespace: default
spec:
  parentRefs:
  - name: sampling-gateway
    sectionName: http
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /sampling
    filters:
{rule_filters}    backendRefs:
    - name: primary
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /backend-mirror
    backendRefs:
    - name: primary
      port: 8080
      filters:
{backend_filters}"""


def within_3_sigma(count: int, n: int, p: float) -> tuple[bool, str]:
    mean, sigma = n * p, math.sqrt(n * p * (1 - p))
    return abs(count - mean) <= 3 * sigma, f"{count} (expected {mean:.1f} +- 3*{sigma:.2f})"


class MirrorSampling(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.1"
        cls.gw_port = mgtest.free_port(cls.gw_ip)
        cls.pods = {name: [c.capture(ip, 3000) for ip in ips] for name, (ips, _) in MIRRORS.items()}
        docs = [mgtest.gatewayclass_yaml(), mgtest.gateway_yaml("sampling-gateway", cls.gw_ip, cls.gw_port),
                route_yaml(), mgtest.service_yaml("primary"),
                mgtest.endpointslice_yaml("primary", [(f"{NET}.2", PRIMARY_POD, True)])]
        for name, (ips, _) in MIRRORS.items():
            service = f"mirror-{name.lower()}"
            docs.append(mgtest.service_yaml(service))
            docs.append(mgtest.endpointslice_yaml(
                service, [(ip, f"{service}-6c8f9d7b5-pod{i}", True) for i, ip in enumerate(ips)]))
        config = c.config_dir() / "sampling.yaml"
        config.write_text(mgtest.join_docs(*docs))
        cls.primary = c.echo(PRIMARY_POD, f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.primary.wait_ready()
        cls.gw.wait_ready()

    # ----------------------------------------------------------------------------------------

    def send(self, prefix: str) -> list[str]:
        """N requests on one keep-alive connection; returns their request ids (in order)."""
        ids = []
        conn = mgtest.RawConnection(self.gw_ip, self.gw_port)
        try:
            for _ in range(N):
                rid = str(uuid.uuid4())
                path = f"{prefix}?rid={rid}"
                r = conn.request("GET", path, headers={"X-Request-Id": rid})
                self.assertEqual(r.status, 200, r)
                echo = r.json()
                self.assertEqual(echo["pod"], PRIMARY_POD, echo)
                self.assertEqual(echo["path"], path, echo)
                self.assertEqual(echo["headers"].get("X-Request-Id"), [rid], echo)
                ids.append(rid)
        finally:
            conn.close()
        return ids

    def counters(self, names) -> dict[str, tuple[float, float, float]]:
        """mirror -> (sent, sampled_out, completed)."""
        m = self.gw.metrics()
        return {n: tuple(m.get(f"mirrorgate_mirror_copies_{kind}_total", route=ROUTE, mirror_backend=backend(n))
                         for kind in ("sent", "sampled_out", "completed")) for n in names}

    def seen(self, name: str, ids: set[str]) -> list[mgtest.Captured]:
        return [q for pod in self.pods[name] for q in pod.find(lambda q: q.header("X-Request-Id") in ids)]

    def batch(self, prefix: str, names: list[str]) -> dict[str, dict[str, list[str]]]:
        """Sends N requests to `prefix`, waits until every copy is decided, completed and seen by a pod,
        checks the exact properties (one copy per request and mirror, same X-Request-Id, counters,
        /mirrors and the access log agree). Returns mirror -> request id -> pod ips of its copies."""
        before = self.counters(names)
        ids = self.send(prefix)
        id_set = set(ids)

        def decided():
            now = self.counters(names)
            delta = {n: [a - b for a, b in zip(now[n], before[n])] for n in names}
            if all(d[0] + d[1] >= N and d[2] >= d[0] and len(self.seen(n, id_set)) >= d[0]
                   for n, d in delta.items()):
                return delta
            return None
        try:
            delta = wait_for(decided, 15, f"every copy to mirrors {names} to be decided, completed and seen")
        except AssertionError:
            print(self.gw.admin("/metrics").body.decode())
            raise
        got = {}
        for n in names:
            sent, sampled_out, completed = delta[n]
            self.assertEqual((sent + sampled_out, completed), (N, sent),
                             f"mirror {n}: sent {sent} + sampled_out {sampled_out} must be {N}, all completed")
            got[n] = self.copies(n, prefix, id_set)
            self.assertEqual(len(got[n]), sent, f"mirror {n}: requests copied vs sent_total")
        self.check_trace_and_log(names, id_set, got)
        return got

    def copies(self, name: str, prefix: str, ids: set[str]) -> dict[str, list[str]]:
        """request id -> the pod ips that got a copy of it, checking each copy's target and header."""
        by_id: dict[str, list[str]] = {}
        for pod in self.pods[name]:
            for q in pod.find(lambda q: q.header("X-Request-Id") in ids):
                rid = q.header("X-Request-Id")
                self.assertEqual(q.target, f"{prefix}?rid={rid}", f"mirror {name}: the copy's X-Request-Id")
                self.assertEqual(q.method, "GET")
                self.assertIn(f"route={ROUTE};", q.header("X-Mirrorgate-Mirror") or "", q.headers)
                by_id.setdefault(rid, []).append(pod.ip)
        twice = {rid: ips for rid, ips in by_id.items() if len(ips) != 1}
        self.assertEqual(twice, {}, f"mirror {name}: requests copied more than once")
        return by_id

    def check_trace_and_log(self, names: list[str], ids: set[str], got: dict[str, dict[str, list[str]]]):
        """/mirrors and the access log name exactly the copies the pods saw, all completed. /mirrors
        keeps 1024 outcomes per worker, enough for one batch (about 775 for the /sampling rule)."""
        want = {(rid, backend(n), got[n][rid][0] + ":3000") for n in names for rid in got[n]}
        trace = json.loads(self.gw.admin("/mirrors?limit=100000").body)["mirrors"]
        traced = [t for t in trace if t["request_id"] in ids]
        bad = [t for t in traced if t["outcome"] != "completed" or t["status"] != 200]
        self.assertEqual(bad, [], "/mirrors: copies that did not complete with 200")
        self.assertEqual(len(traced), len(want), "one /mirrors entry per copy")
        self.assertEqual({(t["request_id"], t["mirror_backend"], t["mirror_host"]) for t in traced}, want)

        logged = [e for e in self.gw.access_log() if e.get("type") == "mirror" and e.get("request_id") in ids]
        self.assertEqual(len(logged), len(want), "one access log mirror line per copy")
        self.assertEqual({(e["request_id"], e["mirror_backend"], e["upstream_host"]) for e in logged}, want)
        self.assertEqual([e for e in logged if e["outcome"] != "completed"], [])

    def sampled_with_retry(self, prefix: str, names: list[str], shares):
        """Runs a batch and checks its shares (what, count function, p) against 3 sigma. Each check
        misses with probability ~0.3% for a correct sampler, so one fresh batch is allowed after a
        miss; a broken sampler (ignored percent, shared draws) misses on both."""
        for attempt in (1, 2):
            got = self.batch(prefix, names)
            misses = []
            for what, count_of, p in shares:
                ok, text = within_3_sigma(count_of(got), N, p)
                print(f"  batch {attempt} {what}: {text}")
                if not ok:
                    misses.append(f"{what}: {text}")
            if not misses:
                return got
            print(f"  batch {attempt} missed 3 sigma: {misses}")
        self.fail(f"two batches in a row outside 3 sigma, last: {misses}")

    # ----------------------------------------------------------------------------------------

    def test_rule_mirrors_sampled_randomly_and_independently(self):
        print()
        got = self.sampled_with_retry("/sampling", ["A", "B", "C"], [
            ("A (percent 30)", lambda g: len(g["A"]), 0.30),
            ("B (fraction 1/4)", lambda g: len(g["B"]), 0.25),
            ("A and B (independent)", lambda g: len(set(g["A"]) & set(g["B"])), 0.30 * 0.25),
        ])
        # C samples nothing out: every request of the batch, once, split by round robin over its pods.
        self.assertEqual(len(got["C"]), N, "mirror C must get a copy of every request")
        per_pod = [sum(ips == [p.ip] for ips in got["C"].values()) for p in self.pods["C"]]
        print(f"  C per pod: {per_pod}")
        for count in per_pod:
            self.assertTrue(150 <= count <= 350, f"mirror C's pods got {per_pod}")
        # The backendRef mirror of the other rule saw none of these requests.
        self.assertEqual([q.target for q in self.pods["D"][0].find(lambda q: q.target.startswith("/sampling"))], [])

    def test_backend_ref_mirror_sampled(self):
        print()
        before = {n: sum(len(p.requests) for p in self.pods[n]) for n in ("A", "B", "C")}
        counters_before = self.counters(["A", "B", "C"])
        self.sampled_with_retry("/backend-mirror", ["D"], [
            ("D (backendRef, percent 50)", lambda g: len(g["D"]), 0.50),
        ])
        # The rule's mirrors of the other rule neither copied nor sampled these requests.
        self.assertEqual({n: sum(len(p.requests) for p in self.pods[n]) for n in ("A", "B", "C")}, before)
        self.assertEqual(self.counters(["A", "B", "C"]), counters_before)


if __name__ == "__main__":
    mgtest.main()
