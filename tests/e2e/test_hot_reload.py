"""Hot reload: the gateway watches its config files. A client loop keeps sending requests while the
config goes through 20 reloads, valid ones (the route alternates between two backends) and invalid ones
(a YAML error, an unknown field): every request gets a correct answer, the valid changes take effect,
an invalid object keeps its previous version with the reason in /status, and the rest of the change
applies. SIGHUP forces a reload too.

Loopback block 127.0.24.0/24: gateway .1, blue pod .2, green pod .3."""

import os
import threading
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.24"
BLUE = "blue-backend-6f8d9c7b5-b1ue1"
GREEN = "green-backend-6f8d9c7b5-gr33n"


class HotReload(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.dir = c.config_dir("reload")
        (cls.dir / "base.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("reload-gateway", cls.gw_ip, cls.gw_port),
            mgtest.service_yaml("blue-backend"),
            mgtest.service_yaml("green-backend"),
            mgtest.endpointslice_yaml("blue-backend", [(f"{NET}.2", BLUE, True)]),
            mgtest.endpointslice_yaml("green-backend", [(f"{NET}.3", GREEN, True)]),
        ))
        cls.write_route("blue-backend")
        cls.blue = c.echo(BLUE, f"{NET}.2")
        cls.green = c.echo(GREEN, f"{NET}.3")
        cls.gw = c.gateway(cls.dir, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.1"])
        cls.blue.wait_ready()
        cls.green.wait_ready()
        cls.gw.wait_ready()

    @classmethod
    def write_route(cls, backend: str, text: str | None = None) -> None:
        # Write then rename, as a config management tool would: the watcher never sees half a file.
        tmp = cls.dir / ".route.yaml.tmp"
        tmp.write_text(text if text is not None else
                       mgtest.route_yaml("app", "reload-gateway", "/app", backend))
        os.replace(tmp, cls.dir / "route.yaml")

    def served_by(self) -> str:
        r = get(self.gw_ip, self.gw_port, "/app/which", timeout=5)
        self.assertEqual(r.status, 200, r)
        return r.json()["pod"]

    def reload_error(self) -> str:
        return self.gw.admin("/status").json().get("lastReloadError", "")

    def test_twenty_reloads_under_load_every_request_answered(self):
        stop = threading.Event()
        answers: list[tuple[int, str]] = []
        failures: list[str] = []

        def client_loop():
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = get(self.gw_ip, self.gw_port, "/app/loop", timeout=5)
                    pod = r.json()["pod"] if r.status == 200 else ""
                    answers.append((r.status, pod))
                    if r.status != 200 or pod not in (BLUE, GREEN):
                        failures.append(f"{r.status} {pod!r}")
                except Exception as e:  # a dropped request is exactly what this test must catch
                    failures.append(repr(e))

        loops = [threading.Thread(target=client_loop) for _ in range(3)]
        for t in loops:
            t.start()
        try:
            expected = BLUE
            for i in range(20):
                if i % 4 == 3:
                    # Invalid: a typo'd field, or broken YAML. The previous config must keep serving.
                    bad = (mgtest.route_yaml("app", "reload-gateway", "/app", "blue-backend")
                           .replace("backendRefs:", "backendRefz:") if i % 8 == 3 else "kind: [unclosed\n")
                    self.write_route("", bad)
                    wait_for(lambda: self.reload_error() != "", 10, f"reload {i} to be rejected")
                    self.assertEqual(self.served_by(), expected, f"after invalid reload {i}")
                else:
                    expected = GREEN if expected == BLUE else BLUE
                    self.write_route(expected.split("-")[0] + "-backend")
                    wait_for(lambda: self.served_by() == expected, 10, f"reload {i} to route to {expected}")
                    self.assertEqual(self.reload_error(), "", f"valid reload {i} left an error")
        finally:
            stop.set()
            for t in loops:
                t.join(15)
        self.assertEqual(failures, [], f"{len(failures)} of {len(answers)} requests failed during reloads")
        self.assertGreater(len(answers), 50, "the client loop barely ran")
        self.assertTrue(self.gw.alive())

    def test_rejected_reload_names_file_and_field(self):
        # The invalid route keeps its running version (as the API server refuses an invalid update);
        # the problem names file, object and field, and the rest of the reload applies.
        self.write_route("blue-backend")
        wait_for(lambda: self.reload_error() == "" and self.served_by() == BLUE, 10, "the blue route")
        extra = mgtest.route_yaml("extra", "reload-gateway", "/extra", "green-backend")
        self.write_route("", mgtest.join_docs(
            mgtest.route_yaml("app", "reload-gateway", "/app", "green-backend")
            .replace("backendRefs:", "backendRefz:"), extra))
        wait_for(lambda: "backendRefz" in self.reload_error(), 10, "the problem in /status")
        self.assertIn("route.yaml", self.reload_error())
        self.assertIn("HTTPRoute default/app", self.reload_error())
        self.assertIn("(previous version kept)", self.reload_error())
        self.assertEqual(self.served_by(), BLUE, "the route's previous version keeps serving")
        metrics = self.gw.metrics()  # what the alert MirrorgateConfigObjectsRejected watches
        self.assertEqual(metrics.get("mirrorgate_config_problems"), 1.0)
        self.assertEqual(metrics.get("mirrorgate_config_last_reload_successful"), 1.0, "the rest applied")
        applied = metrics.get("mirrorgate_config_reloads_total", result="applied")
        r = get(self.gw_ip, self.gw_port, "/extra/which", timeout=5)
        self.assertEqual((r.status, r.json()["pod"]), (200, GREEN), "the valid route of the same reload")
        warned = [line for line in self.gw.stderr().splitlines() if "backendRefz" in line]
        self.assertEqual(len(warned), 1, "logged once")
        self.assertIn("[warning]", warned[0])
        self.write_route("blue-backend")
        wait_for(lambda: self.reload_error() == "", 10, "the fixed config to load")
        metrics = self.gw.metrics()
        self.assertEqual(metrics.get("mirrorgate_config_problems"), 0.0)
        self.assertGreater(metrics.get("mirrorgate_config_reloads_total", result="applied"), applied)
        self.assertEqual(metrics.get("mirrorgate_config_reloads_total", result="rejected"), 0.0)

    def route_status(self) -> dict:
        items = self.gw.admin("/status").json()["items"]
        return next(i for i in items if i["kind"] == "HTTPRoute" and i["metadata"]["name"] == "app")

    def test_spec_change_bumps_generation_and_observed_generation(self):
        # The files set no metadata.generation: the gateway counts spec changes as the API server does.
        self.write_route("blue-backend")
        wait_for(lambda: self.reload_error() == "" and self.served_by() == BLUE, 10, "the blue route")
        before = self.route_status()["metadata"]["generation"]
        self.write_route("green-backend")
        wait_for(lambda: self.route_status()["metadata"]["generation"] == before + 1, 10,
                 "the generation to count the spec change")
        conditions = self.route_status()["status"]["parents"][0]["conditions"]
        self.assertTrue(all(c["observedGeneration"] == before + 1 for c in conditions), conditions)
        # A reload that leaves the route's spec as it is keeps its generation.
        self.gw.signal(1)
        time.sleep(0.5)
        self.assertEqual(self.route_status()["metadata"]["generation"], before + 1)

    def test_gateways_added_and_removed_open_and_close_their_listeners(self):
        # Gateways come and go (in a cluster all the time): a new one is served without a restart, one
        # removed stops accepting, and the other Gateway never notices.
        self.write_route("blue-backend")
        wait_for(lambda: self.served_by() == BLUE, 10, "the blue route")
        ip, port = f"{NET}.9", mgtest.free_port(f"{NET}.9")
        extra = self.dir / "extra.yaml"
        extra.write_text(mgtest.join_docs(
            mgtest.gateway_yaml("extra-gateway", ip, port),
            mgtest.route_yaml("extra", "extra-gateway", "/", "green-backend")))
        r = wait_for(lambda: get(ip, port, "/which", timeout=2), 10, "the new Gateway's listener")
        self.assertEqual((r.status, r.json()["pod"]), (200, GREEN))
        self.assertEqual(self.served_by(), BLUE)
        extra.unlink()
        wait_for(lambda: not mgtest.port_open(ip, port), 10, "the removed Gateway's listener to close")
        self.assertEqual(self.served_by(), BLUE)
        self.assertEqual(self.reload_error(), "")

    def test_sighup_forces_a_reload(self):
        before = self.gw.stderr().count("SIGHUP: reloading")
        self.gw.signal(1)
        wait_for(lambda: self.gw.stderr().count("SIGHUP: reloading") > before, 10, "a SIGHUP reload")
        self.assertTrue(self.gw.alive())
        self.assertIn(self.served_by(), (BLUE, GREEN))


if __name__ == "__main__":
    mgtest.main()
