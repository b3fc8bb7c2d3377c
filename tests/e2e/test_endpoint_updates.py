"""Endpoint updates: an edit of an EndpointSlice alone (pods come and go) is applied without translating
the routes again. While a client keeps sending requests, the slice moves the Service from one pod to
another: every request is answered, the new pod gets the traffic, and the log says "endpoints updated"
instead of "reload applied". The "no ready endpoints" warning follows the slice, and a change of
anything else (here the route) is still a full reload.

Loopback block 127.0.34.0/24: gateway .1, old pod .2, new pod .3."""

import os
import threading
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.34"
OLD = "ep-backend-5d7f8b9c6-o1dp0"
NEW = "ep-backend-5d7f8b9c6-n3wp0"
EMPTY = "Service default/ep-backend:8080 has no ready endpoints"
UPDATED = "endpoints updated: 1 cluster(s) changed"
RELOADED = "reload applied"


class EndpointUpdates(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.dir = c.config_dir("endpoints")
        (cls.dir / "base.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("ep-gateway", cls.gw_ip, cls.gw_port),
            mgtest.service_yaml("ep-backend"),
        ))
        cls.write_route("/ep")
        cls.write_slice([(f"{NET}.2", OLD, True)])
        cls.old = c.echo(OLD, f"{NET}.2")
        cls.new = c.echo(NEW, f"{NET}.3")
        cls.gw = c.gateway(cls.dir, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.1"])
        cls.old.wait_ready()
        cls.new.wait_ready()
        cls.gw.wait_ready()

    @classmethod
    def write(cls, name: str, text: str) -> bool:
        """Writes then renames, as a config management tool would (the watcher never sees half a
        file); False when the file already says that (nothing to reload)."""
        path = cls.dir / name
        if path.exists() and path.read_text() == text:
            return False
        tmp = cls.dir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
        return True

    @classmethod
    def write_slice(cls, endpoints) -> bool:
        return cls.write("slice.yaml", mgtest.endpointslice_yaml("ep-backend", endpoints))

    @classmethod
    def write_route(cls, prefix: str) -> bool:
        return cls.write("route.yaml", mgtest.route_yaml("ep", "ep-gateway", prefix, "ep-backend"))

    def log_count(self, text: str) -> int:
        return self.gw.stderr().count(text)

    def applied(self, write, logged: str) -> None:
        """Runs write() and, when it changed a file, waits for the gateway to log `logged` once more:
        a test leaves no change still on its way to the next one."""
        before = self.log_count(logged)
        if write():
            wait_for(lambda: self.log_count(logged) > before, 10, f"{logged!r} in the log")

    def apply_slice(self, endpoints) -> None:
        self.applied(lambda: self.write_slice(endpoints), UPDATED)

    def apply_route(self, prefix: str) -> None:
        self.applied(lambda: self.write_route(prefix), RELOADED)

    def served_by(self, path: str = "/ep/which") -> str:
        r = get(self.gw_ip, self.gw_port, path, timeout=5)
        return r.json()["pod"] if r.status == 200 else f"status {r.status}"

    def all_served_by(self, pod: str, requests: int = 8) -> bool:
        # Fresh connections, so that every worker answers some of them.
        return all(self.served_by() == pod for _ in range(requests))

    def test_a_slice_edit_moves_traffic_without_a_translation(self):
        self.apply_slice([(f"{NET}.2", OLD, True)])
        wait_for(lambda: self.all_served_by(OLD), 10, "the old pod to serve")
        reloads = self.log_count(RELOADED)

        stop = threading.Event()
        answers: list[str] = []
        failures: list[str] = []

        def client_loop():
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    pod = self.served_by("/ep/loop")
                    answers.append(pod)
                    if pod not in (OLD, NEW):
                        failures.append(pod)
                except Exception as e:  # a dropped request is exactly what this test must catch
                    failures.append(repr(e))

        loops = [threading.Thread(target=client_loop) for _ in range(2)]
        for t in loops:
            t.start()
        try:
            wait_for(lambda: len(answers) > 20, 10, "traffic before the change")
            self.apply_slice([(f"{NET}.3", NEW, True)])  # waits for "endpoints updated: 1 cluster(s) changed"
            wait_for(lambda: self.all_served_by(NEW), 10, "every worker to send to the new pod")
            switched = len(answers)
            wait_for(lambda: len(answers) > switched + 20, 10, "traffic after the change")
        finally:
            stop.set()
            for t in loops:
                t.join(15)
        self.assertEqual(failures, [], f"{len(failures)} of {len(answers)} requests failed during the change")
        self.assertEqual(answers[switched:].count(OLD), 0, "requests went to the old pod after the change")
        self.assertTrue(self.new.has_echoed("/ep/loop"))
        self.assertEqual(self.log_count(RELOADED), reloads, "a slice edit was translated as a reload")
        clusters = self.gw.admin("/config_dump").json()["clusters"]
        self.assertEqual(clusters, [{"name": "default/ep-backend:8080", "endpoints": [f"{NET}.3:3000"]}])

    def test_the_no_endpoints_warning_follows_the_slice(self):
        warned = self.log_count(EMPTY)
        self.apply_slice([(f"{NET}.2", OLD, False)])  # the one pod is not ready any more
        self.assertEqual(self.log_count(EMPTY), warned + 1, "warned before the update was logged")
        self.assertTrue(any(EMPTY in w for w in self.gw.admin("/status").json()["warnings"]))
        self.assertTrue(any(EMPTY in w for w in self.gw.admin("/config_dump").json()["warnings"]))
        wait_for(lambda: get(self.gw_ip, self.gw_port, "/ep/x").status == 503, 10, "503 without endpoints")

        self.apply_slice([(f"{NET}.3", NEW, True)])
        wait_for(lambda: self.all_served_by(NEW), 10, "the new pod to serve")
        self.assertFalse(any(EMPTY in w for w in self.gw.admin("/status").json()["warnings"]))
        self.assertEqual(self.log_count(EMPTY), warned + 1, "logged once per change")

    def test_a_route_edit_is_still_a_reload(self):
        self.apply_slice([(f"{NET}.3", NEW, True)])
        updates = self.log_count(UPDATED)
        self.apply_route("/moved")  # waits for "reload applied"
        try:
            wait_for(lambda: self.served_by("/moved/x") == NEW, 10, "the moved route")
            self.assertEqual(self.log_count(UPDATED), updates)
        finally:
            self.apply_route("/ep")
            wait_for(lambda: self.served_by() == NEW, 10, "the route back")


if __name__ == "__main__":
    mgtest.main()
