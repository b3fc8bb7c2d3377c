"""A mirror that is down or hangs never touches the client's request.

Loopback block 127.0.13.0/24: gateway .1, v1 echo pod .2, mirror "down" endpoint .4 on a port
where nothing listens, mirror "hang" endpoint .5 (a capture backend that never answers)."""

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.13"
V1 = "infra-backend-v1-7d9c6b5f4-x8k2p"
DOWN_BACKEND = "default/mirror-down:8080"
HANG_BACKEND = "default/mirror-hang:8080"


class MirrorDown(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        down_port = mgtest.free_port(f"{NET}.4")  # free now, and nothing of ours binds it
        cls.hang = c.capture(f"{NET}.5", 3000, mode="hang")
        config = c.config_dir() / "mirror-down.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("mirror-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("mirror", "mirror-gateway", "/mirror", "infra-backend-v1",
                              mirror="mirror-down"),
            mgtest.route_yaml("mirror-hang", "mirror-gateway", "/hang", "infra-backend-v1",
                              mirror="mirror-hang"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("mirror-down", target_port=down_port),
            mgtest.service_yaml("mirror-hang"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
            mgtest.endpointslice_yaml("mirror-down",
                                      [(f"{NET}.4", "mirror-down-6c8f9d7b5-z9x8c", True)],
                                      port=down_port),
            mgtest.endpointslice_yaml("mirror-hang",
                                      [(f"{NET}.5", "mirror-hang-6c8f9d7b5-h4n9r", True)]),
        ))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    def failed(self, backend: str, route: str, **labels) -> float:
        return self.gw.metrics().get("mirrorgate_mirror_copies_failed_total", route=route,
                                     mirror_backend=backend, **labels)

    def test_refused_mirror_does_not_affect_client_and_is_counted(self):
        n = 10
        before = self.failed(DOWN_BACKEND, "default/mirror")
        before_connect = self.failed(DOWN_BACKEND, "default/mirror", reason="connect")
        # The first copies fail to connect; that ejects the endpoint (passive health, per worker), so
        # the following ones are dropped as no_endpoint without trying. Every copy is counted.
        dropped = lambda: self.gw.metrics().get("mirrorgate_mirror_copies_dropped_total", route="default/mirror",
                                                mirror_backend=DOWN_BACKEND, reason="no_endpoint")
        before_dropped = dropped()
        ids = []
        for _ in range(n):
            r = get(self.gw_ip, self.gw_port, f"/mirror?e2e-down={unique_id()}", timeout=5)
            self.assertEqual(r.status, 200, r)
            self.assertLess(r.elapsed, 2.0, f"request took {r.elapsed:.2f}s")
            echo = r.json()
            self.assertEqual(echo["pod"], V1, echo)
            ids.append(echo["headers"]["X-Request-Id"][0])
        wait_for(lambda: self.failed(DOWN_BACKEND, "default/mirror") + dropped() >= before + before_dropped + n, 10,
                 f"failed + dropped mirror copies for {DOWN_BACKEND} to grow by {n}")
        connect_failures = self.failed(DOWN_BACKEND, "default/mirror", reason="connect") - before_connect
        self.assertGreaterEqual(connect_failures, 1, "a refused connection is reason=\"connect\"")
        self.assertGreaterEqual(connect_failures + dropped() - before_dropped, n)
        self.assertGreater(dropped() - before_dropped, 0, "the refusing endpoint is ejected after a failure")
        # Each copy has its access log line, tied to the request.
        entry = wait_for(lambda: self.gw.access_entries(ids[-1], mirror=True), 5,
                         "access log mirror line of a failed copy")[0]
        self.assertIn(entry["outcome"], ("failed", "dropped"), entry)
        self.assertEqual(entry["mirror_backend"], DOWN_BACKEND, entry)

    def test_hanging_mirror_does_not_delay_client(self):
        n = 5
        paths = [f"/hang?e2e-hang={unique_id()}" for _ in range(n)]
        for path in paths:
            r = get(self.gw_ip, self.gw_port, path, timeout=5)
            self.assertEqual(r.status, 200, r)
            self.assertLess(r.elapsed, 2.0, f"request took {r.elapsed:.2f}s")
            self.assertEqual(r.json()["pod"], V1)
        # The copies did go out (the hanging backend received them), they just never finish.
        # Not necessarily all of them: a per-mirror budget may shed copies while others hang.
        wait_for(lambda: self.hang.find(lambda q: q.target in paths), 10,
                 "the hanging mirror backend to receive a copy")

    def test_gateway_keeps_serving_after_mirror_failures(self):
        r = get(self.gw_ip, self.gw_port, "/mirror/still-alive")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.gw.alive())


if __name__ == "__main__":
    mgtest.main()
