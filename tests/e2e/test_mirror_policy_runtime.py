"""MirrorPolicy settings and the flag defaults applied to mirror copies, proven on the wire.

Loopback block 127.0.29.0/24. MirrorPolicyRuntime: gateway and admin .1, primary echo pod .2, mirror
"mirror-edit" .3 (a capture backend, so the test sees the exact head of each copy), mirror
"mirror-slow" .4 (an echo pod that answers after 5 s). MirrorFlagDefaults (no MirrorPolicy): gateway
.11, primary .12, fast mirror .13, slow mirror .14. One worker each, so the per-worker budget
arithmetic is exact.

- allowedMethods: a POST is not copied, is counted (dropped, reason method_not_allowed) and its
  drop is in the access log and /mirrors;
- requestHeaderModifier and hostSuffix change the copy, never the primary's request;
- maxInFlight: with a slow mirror, copies past the per-backend budget are dropped (reason budget),
  never queued, and the client never waits;
- without a policy, --mirror-backend-max-in-flight is the per-backend budget, a mirror Service
  without endpoints is a drop (no_endpoint), and the mirror and primary latency histograms and the
  completed-by-class counter move."""

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


class MirrorFlagDefaults(mgtest.ClusterTestCase):
    """No MirrorPolicy: the --mirror-* flags are the budgets."""

    @classmethod
    def start(cls, c):
        cls.gw_ip = f"{NET}.11"
        cls.gw_port = mgtest.free_port(cls.gw_ip)
        config = c.config_dir() / "mirror-defaults.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("mirror-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("fast", "mirror-gateway", "/fast", "infra-backend-v1", mirror="mirror-fast"),
            mgtest.route_yaml("slow", "mirror-gateway", "/slow", "infra-backend-v1", mirror="mirror-slow"),
            mgtest.route_yaml("empty", "mirror-gateway", "/empty", "infra-backend-v1", mirror="mirror-empty"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("mirror-fast"),
            mgtest.service_yaml("mirror-slow"),
            mgtest.service_yaml("mirror-empty"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.12", V1, True)]),
            mgtest.endpointslice_yaml("mirror-fast", [(f"{NET}.13", "mirror-fast-6c8f9d7b5-f4s7t", True)]),
            mgtest.endpointslice_yaml("mirror-slow", [(f"{NET}.14", SLOW_POD, True)]),
            mgtest.endpointslice_yaml("mirror-empty", []),
        ))
        cls.v1 = c.echo(V1, f"{NET}.12")
        cls.fast = c.echo("mirror-fast-6c8f9d7b5-f4s7t", f"{NET}.13")
        cls.slow = c.echo(SLOW_POD, f"{NET}.14", extra_args=["--delay", "5000"])
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, workers=1,
                           extra_args=["--mirror-backend-max-in-flight", str(SLOW_BUDGET)])
        for pod in (cls.v1, cls.fast, cls.slow):
            pod.wait_ready()
        cls.gw.wait_ready()

    def metric(self, name: str, **labels) -> float:
        return self.gw.metrics().get(name, **labels)

    def request(self, path: str):
        r = http_request(self.gw_ip, self.gw_port, "GET", path, timeout=5)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pod"], V1, r)
        return r

    def test_backend_budget_flag_drops_copies_to_a_slow_mirror_only(self):
        slow = dict(route="default/slow", mirror_backend="default/mirror-slow:8080")
        fast = dict(route="default/fast", mirror_backend="default/mirror-fast:8080")
        sent_before = self.metric("mirrorgate_mirror_copies_sent_total", **slow)
        dropped_before = self.metric("mirrorgate_mirror_copies_dropped_total", reason="budget", **slow)
        fast_sent_before = self.metric("mirrorgate_mirror_copies_sent_total", **fast)
        n = SLOW_BUDGET + 3
        start = time.monotonic()
        for _ in range(n):
            r = self.request(f"/slow?e2e-flag-budget={unique_id()}")
            self.assertLess(r.elapsed, 2.0, f"the client waited {r.elapsed:.2f}s for a slow mirror")
        self.assertLess(time.monotonic() - start, 4.5, "requests too slow for the budget arithmetic")
        self.assertEqual(self.metric("mirrorgate_mirror_copies_sent_total", **slow), sent_before + SLOW_BUDGET)
        self.assertEqual(self.metric("mirrorgate_mirror_copies_dropped_total", reason="budget", **slow),
                         dropped_before + n - SLOW_BUDGET)
        # The slow backend's full budget is its own: another mirror backend still gets every copy.
        for _ in range(n):
            self.request(f"/fast?e2e-flag-budget={unique_id()}")
        self.assertEqual(self.metric("mirrorgate_mirror_copies_sent_total", **fast), fast_sent_before + n)

    def test_mirror_without_endpoints_is_a_drop_with_its_reason(self):
        r = self.request(f"/empty?e2e-no-endpoint={unique_id()}")
        request_id = r.json()["headers"]["X-Request-Id"][0]
        self.assertGreaterEqual(self.metric("mirrorgate_mirror_copies_dropped_total", route="default/empty",
                                            reason="no_endpoint"), 1)
        self.assertEqual(self.metric("mirrorgate_mirror_copies_failed_total", route="default/empty"), 0)
        line = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10, "the mirror line")[0]
        self.assertEqual((line["outcome"], line["reason"]), ("dropped", "no_endpoint"), line)
        trace = json.loads(self.gw.admin(f"/mirrors?request_id={request_id}").body)["mirrors"]
        self.assertEqual([(t["outcome"], t["reason"]) for t in trace], [("dropped", "no_endpoint")])

    def test_latency_histograms_and_completed_by_class(self):
        mirror = dict(route="default/fast", mirror_backend="default/mirror-fast:8080")
        primary = dict(route="default/fast", backend=PRIMARY_BACKEND)
        before = self.metric("mirrorgate_mirror_response_seconds_count", **mirror)
        n = 3
        for _ in range(n):
            self.request(f"/fast?e2e-histogram={unique_id()}")
        wait_for(lambda: self.metric("mirrorgate_mirror_response_seconds_count", **mirror) >= before + n, 10,
                 "the mirror latency histogram to count the copies")
        m = self.gw.metrics()
        self.assertGreaterEqual(m.get("mirrorgate_mirror_copies_completed_total", **{"class": "2xx"}, **mirror),
                                before + n)
        self.assertGreaterEqual(m.get("mirrorgate_upstream_response_seconds_count", **primary), n)
        # Buckets are cumulative and end at the count.
        for name, labels in (("mirrorgate_mirror_response_seconds", mirror),
                             ("mirrorgate_upstream_response_seconds", primary)):
            buckets = [(l["le"], v) for l, v in m.series(name + "_bucket")
                       if all(l.get(k) == want for k, want in labels.items())]
            self.assertEqual([le for le, _ in buckets][-1], "+Inf", buckets)
            self.assertEqual(len(buckets), 14, buckets)
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), buckets)
            self.assertEqual(values[-1], m.get(name + "_count", **labels))


if __name__ == "__main__":
    mgtest.main()
