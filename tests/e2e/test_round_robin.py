"""Both the primary and the mirror Service spread requests over their pods.

Loopback block 127.0.12.0/24: gateway .1, v1 pods .2 .3, v2 pods .4 .5."""

from collections import Counter

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.12"
V1 = ["infra-backend-v1-7d9c6b5f4-x8k2p", "infra-backend-v1-7d9c6b5f4-q5w9n"]
V2 = ["infra-backend-v2-5d4f8b7c9d-k2x7q", "infra-backend-v2-5d4f8b7c9d-m3t6v"]


class RoundRobin(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        config = c.config_dir() / "mirror.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("mirror-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("mirror", "mirror-gateway", "/mirror", "infra-backend-v1",
                              mirror="infra-backend-v2"),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.service_yaml("infra-backend-v2"),
            mgtest.endpointslice_yaml("infra-backend-v1",
                                      [(f"{NET}.2", V1[0], True), (f"{NET}.3", V1[1], True)]),
            mgtest.endpointslice_yaml("infra-backend-v2",
                                      [(f"{NET}.4", V2[0], True), (f"{NET}.5", V2[1], True)]),
        ))
        cls.v1 = [c.echo(V1[0], f"{NET}.2"), c.echo(V1[1], f"{NET}.3")]
        cls.v2 = [c.echo(V2[0], f"{NET}.4"), c.echo(V2[1], f"{NET}.5")]
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        for p in cls.v1 + cls.v2:
            p.wait_ready()
        cls.gw.wait_ready()

    def test_twenty_requests_reach_both_v1_pods_and_both_v2_pods(self):
        n = 20
        paths = [f"/mirror?e2e-rr={unique_id()}" for _ in range(n)]
        served = Counter()
        for path in paths:
            r = get(self.gw_ip, self.gw_port, path)
            self.assertEqual(r.status, 200, r)
            served[r.json()["pod"]] += 1
        self.assertEqual(set(served), set(V1), f"v1 pods that answered: {dict(served)}")

        # Every copy lands on exactly one v2 pod (sequential requests, healthy mirror: none is
        # dropped), and both pods get some.
        def mirrored():
            per_pod = {p.pod: sum(p.has_echoed(path) for path in paths) for p in self.v2}
            return per_pod if sum(per_pod.values()) >= n else None
        per_pod = wait_for(mirrored, 15, f"all {n} mirrored copies in the v2 pods' logs")
        self.assertEqual(sum(per_pod.values()), n, per_pod)
        self.assertTrue(all(count > 0 for count in per_pod.values()),
                        f"copies per v2 pod: {per_pod}")
        for path in paths:
            self.assertEqual(sum(p.has_echoed(path) for p in self.v2), 1, path)


if __name__ == "__main__":
    mgtest.main()
