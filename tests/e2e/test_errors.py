"""Local replies and config errors: 404 without a route, 503 without a ready endpoint, 502 when
the backend refuses, 500 for a backendRef to a missing Service; an invalid object is left out with one
line naming file, object and field while the rest serves; a missing config fails fast; SIGTERM exits 0.

Loopback block 127.0.14.0/24: gateway .1, echo pod .2, "down" endpoint .3, not-ready .4."""

import subprocess
import time

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.14"
POD = "app-backend-v1-6f8d9c7b5-r2d2x"


class Errors(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        down_port = mgtest.free_port(f"{NET}.3")
        config = c.config_dir() / "errors.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("errors-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("ok", "errors-gateway", "/ok", "app-backend-v1"),
            mgtest.route_yaml("not-ready", "errors-gateway", "/not-ready", "not-ready-backend"),
            mgtest.route_yaml("down", "errors-gateway", "/down", "down-backend"),
            mgtest.route_yaml("missing", "errors-gateway", "/missing", "no-such-service"),
            mgtest.service_yaml("app-backend-v1"),
            mgtest.service_yaml("not-ready-backend"),
            mgtest.service_yaml("down-backend", target_port=down_port),
            mgtest.endpointslice_yaml("app-backend-v1", [(f"{NET}.2", POD, True)]),
            mgtest.endpointslice_yaml("not-ready-backend",
                                      [(f"{NET}.4", "not-ready-backend-5b7c8d9f6-n0r3d", False)]),
            mgtest.endpointslice_yaml("down-backend",
                                      [(f"{NET}.3", "down-backend-5b7c8d9f6-d0wn1", True)],
                                      port=down_port),
        ))
        cls.pod = c.echo(POD, f"{NET}.2")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip)
        cls.pod.wait_ready()
        cls.gw.wait_ready()

    def assert_ok_route_still_serves(self):
        r = get(self.gw_ip, self.gw_port, f"/ok?e2e={unique_id()}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pod"], POD)

    def test_no_matching_route_is_404_with_short_body(self):
        before = self.gw.metrics().get("mirrorgate_downstream_requests_total", route="", code="404")
        r = get(self.gw_ip, self.gw_port, "/nothing/routes/here")
        self.assertEqual(r.status, 404, r)
        self.assertLess(len(r.body), 1024, r)
        wait_for(lambda: self.gw.metrics().get("mirrorgate_downstream_requests_total", route="",
                                               code="404") >= before + 1, 5,
                 'mirrorgate_downstream_requests_total{route="",code="404"} to grow')

    def test_service_without_ready_endpoint_is_503(self):
        r = get(self.gw_ip, self.gw_port, "/not-ready")
        self.assertEqual(r.status, 503, r)
        self.assert_ok_route_still_serves()

    def test_refusing_backend_is_502_and_gateway_keeps_serving(self):
        for _ in range(3):
            r = get(self.gw_ip, self.gw_port, "/down")
            self.assertEqual(r.status, 502, r)
            self.assertLess(r.elapsed, 2.0, f"502 took {r.elapsed:.2f}s")
        self.assert_ok_route_still_serves()

    def test_backend_ref_to_missing_service_is_500_and_warned(self):
        r = get(self.gw_ip, self.gw_port, "/missing")
        self.assertEqual(r.status, 500, r)
        warnings = [line for line in self.gw.stderr().splitlines()
                    if "default/missing" in line and "no-such-service" in line]
        self.assertTrue(warnings, "no stderr line names route default/missing and Service "
                                  f"no-such-service:\n{self.gw.stderr()}")
        self.assert_ok_route_still_serves()

    def test_local_replies_answer_each_request_once_on_a_keep_alive_connection(self):
        # Regression: a local reply (404/500/503/502) must consume its request; the next request
        # on the same connection gets its own answer, and the access log has one line per request.
        cases = [("/nothing/here", 404), ("/missing", 500), ("/not-ready", 503), ("/down", 502)]
        for prefix, status in cases:
            with self.subTest(prefix=prefix):
                path = f"{prefix}?e2e={unique_id()}"
                ok_path = f"/ok?e2e={unique_id()}"
                conn = mgtest.RawConnection(self.gw_ip, self.gw_port)
                try:
                    r = conn.request("GET", path)
                    self.assertEqual(r.status, status, r)
                    if (r.header("Connection") or "").lower() == "close":
                        conn.close()
                        conn = mgtest.RawConnection(self.gw_ip, self.gw_port)
                    r2 = conn.request("GET", ok_path)
                    self.assertEqual(r2.status, 200, f"next request after a {status} on the same "
                                                     f"connection got: {r2!r}")
                    self.assertEqual(r2.json()["path"], ok_path)
                finally:
                    conn.close()
                lines = wait_for(lambda: [e for e in self.gw.access_log() if e.get("path") == path],
                                 5, f"access log line for {path}")
                self.assertEqual(len(lines), 1, f"{len(lines)} access-log lines for one request "
                                                f"{path}; first: {lines[0]}")

    def test_config_with_unknown_field_leaves_out_that_object_with_one_line(self):
        # As in a cluster, an invalid HTTPRoute does not take the Gateway down: it is left out, named
        # in one line with file, object and field, and the valid routes serve.
        d = self.cluster.config_dir("bad")
        port = mgtest.free_port(f"{NET}.1")
        route = mgtest.route_yaml("bad-route", "errors-gateway", "/bad", "app-backend-v1")
        route = route.replace("        type: PathPrefix", "        tpye: PathPrefix")
        self.assertIn("tpye", route)
        bad = d / "bad.yaml"
        bad.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("errors-gateway", f"{NET}.1", port),
            route,
            mgtest.route_yaml("good-route", "errors-gateway", "/good", "app-backend-v1"),
            mgtest.service_yaml("app-backend-v1"),
            mgtest.endpointslice_yaml("app-backend-v1", [(f"{NET}.2", POD, True)]),
        ))
        g = self.cluster.gateway(bad, admin_ip=f"{NET}.1", name="mirrorgate-bad-object")
        g.wait_ready()
        r = get(f"{NET}.1", port, f"/good?e2e={unique_id()}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["pod"], POD)
        self.assertEqual(get(f"{NET}.1", port, "/bad").status, 404, "the invalid route is left out")
        lines = [line for line in g.stderr().splitlines() if "tpye" in line]
        self.assertEqual(len(lines), 1, f"expected one line naming the field, got:\n{g.stderr()}")
        line = lines[0]
        self.assertIn("[warning]", line)
        self.assertRegex(line, r"bad\.yaml(:\d+)?:", "names the file")
        self.assertIn("HTTPRoute default/bad-route", line, "names the object")
        g.signal(15)
        self.assertEqual(g.wait(timeout=10), 0, g.describe())

    def test_config_path_that_does_not_exist_fails_fast_with_one_line(self):
        missing = self.cluster.dir / "no-such-config.yaml"
        g = self.cluster.gateway(missing, admin_ip=f"{NET}.1", name="mirrorgate-missing-config")
        try:
            rc = g.wait(timeout=5)
        except Exception:  # subprocess.TimeoutExpired
            self.fail(f"gateway without a config still running after 5 s:\n{g.describe()}")
        self.assertNotEqual(rc, 0, g.describe())
        lines = [line for line in g.stderr().splitlines() if line.strip()]
        self.assertEqual(lines, [f"mirrorgate: config error: {missing}: no such file or directory"])

    def test_status_command_prints_objects_left_out_and_exits_1(self):
        d = self.cluster.config_dir("status-bad")
        (d / "gw.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("errors-gateway", f"{NET}.1", 8080),
            mgtest.route_yaml("bad-route", "errors-gateway", "/bad", "app-backend-v1")
            .replace("backendRefs:", "backendRefz:"),
        ))
        r = subprocess.run([mgtest.GATEWAY_BIN, "status", "-c", str(d)], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("kind: Gateway", r.stdout)
        errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertIn("gw.yaml:", errors[0])
        self.assertIn("HTTPRoute default/bad-route", errors[0])
        self.assertIn("backendRefz: unknown field", errors[0])

    def test_sigterm_exits_zero(self):
        # A gateway of its own, so that the other tests keep theirs.
        d = self.cluster.config_dir("sigterm")
        port = mgtest.free_port(f"{NET}.1")
        (d / "gw.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("term-gateway", f"{NET}.1", port),
            mgtest.route_yaml("ok", "term-gateway", "/ok", "app-backend-v1"),
            mgtest.service_yaml("app-backend-v1"),
            mgtest.endpointslice_yaml("app-backend-v1", [(f"{NET}.2", POD, True)]),
        ))
        g = self.cluster.gateway(d, admin_ip=f"{NET}.1", name="mirrorgate-sigterm")
        g.wait_ready()
        r = get(f"{NET}.1", port, "/ok")
        self.assertEqual(r.status, 200, r)
        g.signal(15)
        try:
            rc = g.wait(timeout=10)
        except Exception:  # subprocess.TimeoutExpired
            self.fail(f"gateway still running 10 s after SIGTERM:\n{g.describe()}")
        self.assertEqual(rc, 0, g.describe())
        # Its listener is gone.
        with self.assertRaises(OSError):
            get(f"{NET}.1", port, "/ok", timeout=1)


if __name__ == "__main__":
    mgtest.main()
