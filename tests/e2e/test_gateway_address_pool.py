"""--gateway-address-pool: Gateways that ask for no address each get one of their own from the pool, as a
load balancer controller would give them, bind it and report it in status.addresses; the pool's last
address taken, the next Gateway is Programmed=False/AddressNotAssigned and serves nothing; a Gateway that
goes away frees its address for the next, while the others keep theirs across reloads.

Loopback block 127.0.70.0/24: the pool is 127.0.70.0/30 (.1 and .2); echo pod .9; admin .10."""

import os

import mgtest
from mgtest import get, wait_for

NET = "127.0.70"
POD = "infra-backend-v1-7d9c6b5f4-p0o1l"


def gateway_yaml(name: str, created: str, port: int) -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: default, creationTimestamp: "{created}"}}
spec:
  gatewayClassName: mirrorgate
  listeners: [{{name: http, protocol: HTTP, port: {port}}}]
"""


class GatewayAddressPool(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.port = mgtest.free_port(f"{NET}.1")
        cls.dir = c.config_dir()
        (cls.dir / "base.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.service_yaml("infra-backend-v1"),
            mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.9", POD, True)]),
            *(mgtest.route_yaml(name, name, f"/{name}", "infra-backend-v1") for name in ("old", "mid", "new")),
        ))
        cls.write_gateways(["old", "mid", "new"])
        cls.v1 = c.echo(POD, f"{NET}.9")
        cls.gw = c.gateway(cls.dir, admin_ip=f"{NET}.10",
                           extra_args=["--gateway-address-pool", f"{NET}.0/30", "--watch-interval", "0.1"])
        cls.v1.wait_ready()
        cls.gw.wait_ready()

    @classmethod
    def write_gateways(cls, names: list[str]) -> None:
        created = {"old": "2026-01-01T00:00:00Z", "mid": "2026-01-02T00:00:00Z", "new": "2026-01-03T00:00:00Z"}
        tmp = cls.dir / ".gateways.yaml.tmp"
        tmp.write_text(mgtest.join_docs(*(gateway_yaml(n, created[n], cls.port) for n in names)))
        os.replace(tmp, cls.dir / "gateways.yaml")

    def gateway_status(self, name: str) -> dict:
        for item in self.gw.admin("/status").json()["items"]:
            if item["kind"] == "Gateway" and item["metadata"]["name"] == name:
                return item["status"]
        raise AssertionError(f"no status for Gateway {name}")

    def status_code(self, last: int, path: str) -> int | None:
        try:
            return get(f"{NET}.{last}", self.port, path, timeout=2).status
        except OSError:
            return None

    def test_each_gateway_its_own_address_then_the_freed_one_to_the_next(self):
        # Older first: "old" gets .1, "mid" .2, "new" nothing.
        wait_for(lambda: self.status_code(1, "/old") == 200, 10, "Gateway old on .1")
        self.assertEqual(self.status_code(2, "/mid"), 200)
        self.assertEqual(self.status_code(1, "/mid"), 404, "each address serves its own Gateway's routes")
        self.assertEqual(self.gateway_status("old")["addresses"], [{"type": "IPAddress", "value": f"{NET}.1"}])
        self.assertEqual(self.gateway_status("mid")["addresses"], [{"type": "IPAddress", "value": f"{NET}.2"}])
        new = self.gateway_status("new")
        programmed = next(c for c in new["conditions"] if c["type"] == "Programmed")
        self.assertEqual((programmed["status"], programmed["reason"]), ("False", "AddressNotAssigned"), programmed)
        self.assertIn(f"{NET}.0/30 (--gateway-address-pool) has no free address", programmed["message"])
        self.assertNotIn("addresses", new)
        self.assertTrue(any("Gateway default/new: the address pool" in w
                            for w in self.gw.admin("/status").json()["warnings"]))

        # "old" goes: "new" gets its address, "mid" keeps its own.
        self.write_gateways(["mid", "new"])
        wait_for(lambda: self.status_code(1, "/new") == 200, 10, "Gateway new on the freed .1")
        self.assertEqual(self.status_code(2, "/mid"), 200)
        self.assertEqual(self.gateway_status("new")["addresses"], [{"type": "IPAddress", "value": f"{NET}.1"}])
        self.assertEqual(self.gateway_status("mid")["addresses"], [{"type": "IPAddress", "value": f"{NET}.2"}])


if __name__ == "__main__":
    mgtest.main()
