"""The seed scenario (examples/mirror) end to end: the client is answered by a v1 pod, a copy of
the request reaches a v2 pod, both carry the same X-Request-Id, and the mirror is counted.

Loopback block 127.0.10.0/24: gateway 127.0.10.1, pods 127.0.10.2-5 (the example's .2-.5)."""

import mgtest
from mgtest import EXAMPLE_PODS, UUID_RE, get, unique_id, wait_for

NET = "127.0.10"
ROUTE = "default/mirror"
MIRROR_BACKEND = "default/infra-backend-v2:8080"


class MirrorScenario(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        pod_ips = {old: f"{NET}.{old.rsplit('.', 1)[1]}" for _, old, _ in EXAMPLE_PODS}
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        config = mgtest.copy_example(c.config_dir(), cls.gw_ip, cls.gw_port, pod_ips)
        cls.pods = [c.echo(pod, pod_ips[ip], service=svc) for pod, ip, svc in EXAMPLE_PODS]
        cls.v1 = [p for p in cls.pods if p.pod.startswith("infra-backend-v1-")]
        cls.v2 = [p for p in cls.pods if p.pod.startswith("infra-backend-v2-")]
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        for p in cls.pods:
            p.wait_ready()
        cls.gw.wait_ready()

    def mirror_counter(self, kind: str) -> float:
        return self.gw.metrics().get(f"mirrorgate_mirror_copies_{kind}_total", route=ROUTE,
                                     mirror_backend=MIRROR_BACKEND)

    def wait_mirrored(self, path: str) -> mgtest.EchoPod:
        """The v2 pod whose stdout shows the copy of `path` (polls all v2 pods)."""
        def find():
            return next((p for p in self.v2 if p.has_echoed(path)), None)
        return wait_for(find, 10, f"a v2 pod to log 'Echoing back request made to {path} to client'")

    def test_client_answered_by_v1_and_copy_reaches_v2_with_same_request_id(self):
        sent_before = self.mirror_counter("sent")
        completed_before = self.mirror_counter("completed")
        path = f"/mirror?e2e-request={unique_id()}"

        r = get(self.gw_ip, self.gw_port, path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        echo = r.json()
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["namespace"], "default", echo)
        self.assertEqual(echo["path"], path, echo)  # \u0026 in the JSON text, & once decoded
        self.assertEqual(echo["method"], "GET", echo)
        headers = echo["headers"]
        self.assertEqual(headers.get("X-Forwarded-Proto"), ["http"], echo)
        self.assertIn("X-Forwarded-For", headers, echo)
        self.assertEqual(len(headers.get("X-Request-Id", [])), 1, echo)
        request_id = headers["X-Request-Id"][0]
        self.assertRegex(request_id, UUID_RE)

        # The v1 pod that answered logged the request, and no other v1 pod did.
        answering = [p for p in self.v1 if p.has_echoed(path)]
        self.assertEqual([p.pod for p in answering], [echo["pod"]])

        # The copy reached exactly one v2 pod, with the same request target.
        v2_pod = self.wait_mirrored(path)
        self.assertEqual(sum(p.has_echoed(path) for p in self.v2), 1)

        # The access log ties both sides together through the request id.
        main_entries = wait_for(lambda: self.gw.access_entries(request_id, mirror=False), 5,
                                f"access log line for request {request_id}")
        self.assertEqual(len(main_entries), 1, main_entries)
        self.assertEqual(main_entries[0]["route"], ROUTE, main_entries)
        self.assertEqual(int(main_entries[0]["status"]), 200, main_entries)
        self.assertEqual(main_entries[0]["upstream_host"], f"{answering[0].ip}:3000", main_entries)
        mirror_entries = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10,
                                  f"access log mirror line for request {request_id}")
        self.assertEqual(len(mirror_entries), 1, mirror_entries)
        m = mirror_entries[0]
        self.assertEqual(m["route"], ROUTE, m)
        self.assertEqual(m["mirror_backend"], MIRROR_BACKEND, m)
        self.assertEqual(m["outcome"], "completed", m)
        self.assertEqual(int(m["status"]), 200, m)
        self.assertEqual(m["upstream_host"], f"{v2_pod.ip}:3000", m)

        wait_for(lambda: self.mirror_counter("sent") >= sent_before + 1, 5, "mirror sent counter")
        wait_for(lambda: self.mirror_counter("completed") >= completed_before + 1, 5,
                 "mirror completed counter")

    def test_client_supplied_request_id_is_kept_on_both_sides(self):
        request_id = "3f0c9c0e-7a51-4d6e-9a55-0c1c2b7e4d11"
        path = f"/mirror/sub?e2e-request={unique_id()}&x=1"
        r = get(self.gw_ip, self.gw_port, path, headers={"X-Request-Id": request_id})
        self.assertEqual(r.status, 200, r)
        echo = r.json()
        self.assertTrue(echo["pod"].startswith("infra-backend-v1-"), echo)
        self.assertEqual(echo["headers"].get("X-Request-Id"), [request_id], echo)
        self.assertEqual(echo["path"], path, echo)  # \u0026 in the JSON text, & once decoded
        self.wait_mirrored(path)
        mirror_entries = wait_for(lambda: self.gw.access_entries(request_id, mirror=True), 10,
                                  f"access log mirror line for request {request_id}")
        self.assertEqual(mirror_entries[0]["outcome"], "completed", mirror_entries)

    def test_metrics_count_downstream_upstream_and_mirror(self):
        before = self.gw.metrics()
        n = 5
        paths = [f"/mirror?e2e-count={unique_id()}" for _ in range(n)]
        for path in paths:
            self.assertEqual(get(self.gw_ip, self.gw_port, path).status, 200)
        for path in paths:
            self.wait_mirrored(path)

        def counted():
            after = self.gw.metrics()
            grew = lambda name, **l: after.get(name, **l) - before.get(name, **l)  # noqa: E731
            return (grew("mirrorgate_downstream_requests_total", route=ROUTE, code="200") >= n
                    and grew("mirrorgate_upstream_requests_total",
                             backend="default/infra-backend-v1:8080", code="200") >= n
                    and grew("mirrorgate_mirror_copies_sent_total", route=ROUTE,
                             mirror_backend=MIRROR_BACKEND) >= n
                    and grew("mirrorgate_mirror_copies_completed_total", route=ROUTE,
                             mirror_backend=MIRROR_BACKEND) >= n)
        try:
            wait_for(counted, 5, "downstream, upstream, mirror sent and completed counters to grow")
        except AssertionError:
            print(self.gw.admin("/metrics").body.decode())
            raise
        # Nothing failed along the way.
        failed = self.gw.metrics().get("mirrorgate_mirror_copies_failed_total", route=ROUTE)
        self.assertEqual(failed, before.get("mirrorgate_mirror_copies_failed_total", route=ROUTE))

    def test_keep_alive_requests_are_each_answered_and_mirrored_once(self):
        conn = mgtest.RawConnection(self.gw_ip, self.gw_port)
        paths = [f"/mirror?e2e-keepalive={unique_id()}" for _ in range(3)]
        try:
            for path in paths:
                r = conn.request("GET", path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["path"], path, r)
        finally:
            conn.close()
        for path in paths:
            self.wait_mirrored(path)
            self.assertEqual(sum(p.has_echoed(path) for p in self.v1), 1, path)
            self.assertEqual(sum(p.has_echoed(path) for p in self.v2), 1, path)

    def test_paths_outside_the_route_are_not_mirrored(self):
        path = f"/other?e2e-request={unique_id()}"
        r = get(self.gw_ip, self.gw_port, path)
        self.assertEqual(r.status, 404, r)
        self.assertFalse(any(p.has_echoed(path) for p in self.pods))


if __name__ == "__main__":
    mgtest.main()
