"""What --log-level debug and trace add (they added nothing before): at trace, the routing decision of
every request (route, backend, endpoint, pod, status); at debug, upstream connections opened, the
provider's snapshots, the translation (how long, how much) and the worker's idle housekeeping. At info,
none of these.

Loopback block 127.0.35.0/24: gateway at trace .1, echo pod .2, gateway at info .3."""

import time

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.35"
POD = "levels-echo-7c9d8f6b5-l3v3l"


def config(c, name: str, ip: str, port: int):
    path = c.config_dir(name) / "levels.yaml"
    path.write_text(mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("levels-gateway", ip, port),
        mgtest.route_yaml("levels", "levels-gateway", "/levels", "levels-echo"),
        mgtest.service_yaml("levels-echo"),
        mgtest.endpointslice_yaml("levels-echo", [(f"{NET}.2", POD, True)]),
    ))
    return path


class LogLevels(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.ip, cls.port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.quiet_ip, cls.quiet_port = f"{NET}.3", mgtest.free_port(f"{NET}.3")
        cls.pod = c.echo(POD, f"{NET}.2")
        cls.gw = c.gateway(config(c, "trace", cls.ip, cls.port), admin_ip=cls.ip, workers=1, name="gateway-trace",
                           extra_args=["--log-level", "trace"])
        cls.quiet = c.gateway(config(c, "info", cls.quiet_ip, cls.quiet_port), admin_ip=cls.quiet_ip, workers=1,
                              name="gateway-info")
        cls.pod.wait_ready()
        cls.gw.wait_ready()
        cls.quiet.wait_ready()

    def test_trace_shows_each_routing_decision(self):
        path = f"/levels/{unique_id()}"
        r = get(self.ip, self.port, path)
        self.assertEqual(r.status, 200, r)
        rid = r.json()["headers"]["X-Request-Id"][0]
        line = wait_for(lambda: next((l for l in self.gw.stderr().splitlines() if f"request {rid}:" in l), None),
                        5, "the request's trace line")
        self.assertIn("[trace]", line)
        for part in (path, "route default/levels", "backend default/levels-echo:8080", f"{NET}.2:3000", POD, ": 200"):
            self.assertIn(part, line)

    def test_debug_shows_upstream_provider_translation_and_housekeeping(self):
        self.assertEqual(get(self.ip, self.port, f"/levels/{unique_id()}").status, 200)
        log = self.gw.stderr()
        self.assertIn("file provider:", log)
        self.assertRegex(log, r"\[debug\] translated in [0-9.]+ ms: 1 listener\(s\), 1 rule\(s\), 1 cluster\(s\)")
        self.assertIn(f"upstream connection to {NET}.2:3000 opened", log)
        # A keep-alive connection left idle is parked by the next ticks.
        conn = mgtest.RawConnection(self.ip, self.port)
        self.addCleanup(conn.close)
        self.assertEqual(conn.request("GET", "/levels/idle").status, 200)
        wait_for(lambda: "idle client connection(s) parked" in self.gw.stderr(), 5, "the housekeeping line")

    def test_info_shows_none_of_it(self):
        self.assertEqual(get(self.quiet_ip, self.quiet_port, f"/levels/{unique_id()}").status, 200)
        time.sleep(0.5)
        log = self.quiet.stderr()
        self.assertIn("mirrorgate ready", log)
        for debug_only in ("[trace]", "[debug]", "upstream connection to", "file provider:"):
            self.assertNotIn(debug_only, log)


if __name__ == "__main__":
    mgtest.main()
