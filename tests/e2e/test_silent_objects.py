"""Objects that serve nothing are said to: an HTTPRoute whose parentRef names a Gateway that does not
exist (read from files, every object is ours to report: a log line, and Accepted=False/NoMatchingParent
in /status and `mirrorgate status`), and a Service without ready endpoints (a log line once per change,
and a warning in /status and /config_dump before the first 503).

Loopback block 127.0.33.0/24: gateway .1, echo pod .2."""

import os
import subprocess
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.33"
POD = "silent-echo-7c9d8f6b5-s1l3n"
MISSING = "Gateway default/no-such-gateway does not exist"
EMPTY = "Service default/silent-empty:8080 has no ready endpoints"


class SilentObjects(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.dir = c.config_dir("silent")
        (cls.dir / "base.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("silent-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("ok", "silent-gateway", "/ok", "silent-echo"),
            mgtest.route_yaml("lost", "no-such-gateway", "/lost", "silent-echo"),
            mgtest.route_yaml("empty", "silent-gateway", "/empty", "silent-empty"),
            mgtest.service_yaml("silent-echo"),
            mgtest.service_yaml("silent-empty"),
            mgtest.endpointslice_yaml("silent-echo", [(f"{NET}.2", POD, True)]),
        ))
        cls.pod = c.echo(POD, f"{NET}.2")
        cls.gw = c.gateway(cls.dir, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.1"])
        cls.pod.wait_ready()
        cls.gw.wait_ready()

    def test_route_with_a_missing_parent_is_logged_and_in_status(self):
        self.assertIn(MISSING, self.gw.stderr())
        items = self.gw.admin("/status").json()["items"]
        route = next(i for i in items if i["kind"] == "HTTPRoute" and i["metadata"]["name"] == "lost")
        parent = route["status"]["parents"][0]
        self.assertEqual(parent["parentRef"]["name"], "no-such-gateway")
        accepted = next(c for c in parent["conditions"] if c["type"] == "Accepted")
        self.assertEqual((accepted["status"], accepted["reason"]), ("False", "NoMatchingParent"), accepted)
        cli = subprocess.run([mgtest.GATEWAY_BIN, "status", "-c", str(self.dir)], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn("NoMatchingParent", cli.stdout)
        self.assertIn(MISSING, cli.stderr)

    def test_service_without_endpoints_is_warned_before_the_503(self):
        self.assertIn(EMPTY, self.gw.stderr())
        self.assertTrue(any(EMPTY in w for w in self.gw.admin("/status").json()["warnings"]))
        self.assertTrue(any(EMPTY in w for w in self.gw.admin("/config_dump").json()["warnings"]))
        self.assertEqual(get(self.gw_ip, self.gw_port, "/empty/x").status, 503)

    def test_a_warning_is_logged_once_per_change(self):
        # An unrelated change reloads the config: the standing warnings are not logged again.
        before = self.gw.stderr().count(EMPTY)
        (self.dir / "extra.yaml").write_text(mgtest.route_yaml("extra", "silent-gateway", "/extra", "silent-echo"))
        wait_for(lambda: get(self.gw_ip, self.gw_port, "/extra/x").status == 200, 10, "the new route")
        time.sleep(0.3)
        self.assertEqual(self.gw.stderr().count(EMPTY), before)
        self.assertEqual(self.gw.stderr().count(MISSING), 1)
        os.remove(self.dir / "extra.yaml")


if __name__ == "__main__":
    mgtest.main()
