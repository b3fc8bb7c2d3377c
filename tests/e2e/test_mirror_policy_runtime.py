"""MirrorPolicy settings applied to mirror copies, proven on the wire.

Loopback block 127.0.29.0/24: gateway and admin .1, primary echo pod .2, mirror "mirror-edit" .3 (a
capture backend, so the test sees the exact head of each copy), mirror "mirror-slow" .4 (an echo pod
that answers after 5 s). One worker, so the per-worker budget arithmetic is exact.

- allowedMethods: a POST is not copied, is counted (dropped, reason method_not_allowed) and its
  drop is in the access log and /mirrors;
- requestHeaderModifier and hostSuffix change the copy, never the primary's request;
- maxInFlight: with a slow mirror, copies past the per-backend budget are dropped (reason budget),
  never queued, and the client never waits;
- the mirror and primary latency histograms and the completed-by-class counter move."""

import json
import time

import mgtest
from mgtest import http_request, unique_id, wait_for

NET = "127.0.29"
V1 = "infra-backend-v1-7d9c6b5f4-x8k2p"
SLOW_POD = "mirror-slow-6c8f9d7b5-s1o2w"
EDIT_BACKEND = "default/mirror-edit:8080"
SLOW_BACKEND = "default/mirror-slow:8080"
PRIMARY_BACKEND = "default/infra-backend-v1:8080"
SLOW_BUDGET = 2


def mirror_policy_yaml(name: str, route: str, spec: str) -> str:
    return f"""apiVersion: mirrorgate.io/v1alpha1
kind: MirrorPolicy
metadata:
  name: {name}
  namespace: default
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: {route}
{spec}"""


class MirrorPolicyRuntime(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.1"
        cls.gw_port = mgtest.free_port(cls.gw_ip)
        cls.edit_mirror = c.capture(f"{NET}.3", 3000)
        config = c.config_dir() / "mirror-policy.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("mirror-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("edit", "mirror-gateway", "/edit", "infra-backend-v1", mirror="mirror-edit"),
            mgtest.route_yaml("slow", "mirror-gateway", "/slow", "infra-backend-v1", mirror="mirror-slow"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("mirror-edit"),
            mgtest.service_yaml("mirror-slow"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
            mgtest.endpointslice_yaml("mirror-edit", [(f"{NET}.3", "mirror-edit-6c8f9d7b5-e3d1t", True)]),
            mgtest.endpointslice_yaml("mirror-slow", [(f"{NET}.4", SLOW_POD, True)]),
            mirror_policy_yaml("edit-policy", "edit", """  hostSuffix: "-shadow"
  allowedMethods: [GET]
  requestHeaderModifier:
    set:
    - name: X-Env
      value: shadow
    remove: [Authorization]
"""),
            mirror_policy_yaml("slow-policy", "slow", f"""  maxInFlight: {SLOW_BUDGET}
  timeout: 20s
"""),
        ))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.slow = c.echo(SLOW_POD, f"{NET}.4", extra_args=["--delay", "5000"])
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, workers=1)
        cls.v1.wait_ready()
        cls.slow.wait_ready(timeout=mgtest.START_TIMEOUT + 10)  # /health does not wait the delay
        cls.gw.wait_ready()

    def metric(self, name: str, **labels) -> float:
        return self.gw.metrics().get(name, **labels)

    def request(self, method: str, path: str, headers=None, body: bytes | None = None):
        r = http_request(self.gw_ip, self.gw_port, method, path, headers=headers, body=body, timeout=5)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pod"], V1, r)
        return r

    def mirror_lines(self, request_id: str) -> list[dict]:
        return wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10,
                        f"the access log mirror line of {request_id}")

    def test_method_not_in_allowed_methods_is_not_copied_and_is_counted(self):
        before = self.metric("mirrorgate_mirror_copies_dropped_total", route="default/edit",
                             mirror_backend=EDIT_BACKEND, reason="method_not_allowed")
        post_path = f"/edit?e2e-post={unique_id()}"
        r = self.request("POST", post_path, body=b"order=1")
        post_id = r.json()["headers"]["X-Request-Id"][0]
        self.assertEqual(self.metric("mirrorgate_mirror_copies_dropped_total", route="default/edit",
                                     mirror_backend=EDIT_BACKEND, reason="method_not_allowed"), before + 1)
        line = self.mirror_lines(post_id)[0]
        self.assertEqual((line["outcome"], line["reason"]), ("dropped", "method_not_allowed"), line)
        trace = json.loads(self.gw.admin(f"/mirrors?request_id={post_id}").body)["mirrors"]
        self.assertEqual([(t["outcome"], t["reason"]) for t in trace], [("dropped", "method_not_allowed")])

        # A GET on the same route is copied; the POST before it never reached the mirror.
        get_path = f"/edit?e2e-get={unique_id()}"
        self.request("GET", get_path)
        wait_for(lambda: self.edit_mirror.find(lambda q: q.target == get_path), 10, "the GET's copy")
        self.assertEqual(self.edit_mirror.find(lambda q: q.target == post_path), [])

    def test_header_edits_and_host_suffix_on_the_copy_only(self):
        path = f"/edit?e2e-headers={unique_id()}"
        r = self.request("GET", path, headers={"Host": "shop.example:8080", "Authorization": "Bearer secret",
                                               "X-Env": "prod"})
        primary_saw = r.json()["headers"]
        request_id = primary_saw["X-Request-Id"][0]
        # The primary got the client's headers, untouched by the mirror's policy.
        self.assertEqual(primary_saw.get("Authorization"), ["Bearer secret"], primary_saw)
        self.assertEqual(primary_saw.get("X-Env"), ["prod"], primary_saw)
        self.assertEqual(r.json()["host"], "shop.example:8080", r.json())

        copy = wait_for(lambda: self.edit_mirror.find(lambda q: q.target == path), 10, "the copy")[0]
        self.assertIsNone(copy.header("Authorization"), copy.headers)
        self.assertEqual([v for k, v in copy.headers if k.lower() == "x-env"], ["shadow"], copy.headers)
        self.assertEqual(copy.header("Host"), "shop.example-shadow:8080", copy.headers)
        self.assertEqual(copy.header("X-Request-Id"), request_id, copy.headers)
        self.assertIn("route=default/edit", copy.header("X-Mirrorgate-Mirror") or "", copy.headers)

        line = self.mirror_lines(request_id)[0]
        self.assertEqual(line["outcome"], "completed", line)
        wait_for(lambda: self.metric("mirrorgate_mirror_copies_completed_total", route="default/edit",
                                     mirror_backend=EDIT_BACKEND, **{"class": "2xx"}) >= 1, 10,
                 "completed_total{class=\"2xx\"}")
        self.assertGreaterEqual(self.metric("mirrorgate_mirror_response_seconds_count", route="default/edit",
                                            mirror_backend=EDIT_BACKEND), 1)
        self.assertGreaterEqual(self.metric("mirrorgate_upstream_response_seconds_count", route="default/edit",
                                            backend=PRIMARY_BACKEND), 1)
        self.assertGreaterEqual(self.metric("mirrorgate_upstream_response_seconds_bucket", route="default/edit",
                                            backend=PRIMARY_BACKEND, le="+Inf"), 1)

    def test_slow_mirror_budget_drops_copies_never_delays_client(self):
        labels = dict(route="default/slow", mirror_backend=SLOW_BACKEND)
        sent_before = self.metric("mirrorgate_mirror_copies_sent_total", **labels)
        dropped_before = self.metric("mirrorgate_mirror_copies_dropped_total", reason="budget", **labels)
        n = SLOW_BUDGET + 3
        ids = []
        start = time.monotonic()
        for _ in range(n):
            r = self.request("GET", f"/slow?e2e-budget={unique_id()}")
            self.assertLess(r.elapsed, 2.0, f"the client waited {r.elapsed:.2f}s for a slow mirror")
            ids.append(r.json()["headers"]["X-Request-Id"][0])
        # The slow pod answers after 5 s: if all n requests went out before then, exactly the budget
        # was sent and the rest dropped (counted synchronously, so the metrics are exact now).
        self.assertLess(time.monotonic() - start, 4.5, "requests too slow for the budget arithmetic")
        self.assertEqual(self.metric("mirrorgate_mirror_copies_sent_total", **labels), sent_before + SLOW_BUDGET)
        self.assertEqual(self.metric("mirrorgate_mirror_copies_dropped_total", reason="budget", **labels),
                         dropped_before + n - SLOW_BUDGET)
        last = self.mirror_lines(ids[-1])[0]
        self.assertEqual((last["outcome"], last["reason"]), ("dropped", "budget"), last)
        # The copies that were sent do reach the slow pod.
        wait_for(lambda: len(self.slow.echoed_paths()) >= SLOW_BUDGET, 10, "the slow pod to log the copies")


if __name__ == "__main__":
    mgtest.main()
