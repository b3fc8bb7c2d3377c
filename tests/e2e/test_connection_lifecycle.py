"""Connection lifecycle defects found by trying the gateway as a new user would:

- a new connection that never sends a byte is closed after --header-timeout, not --idle-timeout;
- an HTTP/1.0 request without Host reaches the backend with a Host (HTTP/1.1 requires one);
- idle upstream connections expire (--upstream-idle-timeout), and one the backend closed is closed
  by the gateway within a second or so instead of lingering in CLOSE_WAIT until reuse; a worker keeps
  at most --upstream-max-idle-per-endpoint of them per endpoint;
- a second gateway or echo server on an address:port that a running one serves fails at start with
  "address in use" instead of silently splitting connections with it;
- an idle keep-alive connection is parked (its session ends) and still serves its next requests, and a
  parked connection is closed at its idle deadline, not before.

Loopback block 127.0.32.0/24: gateway A .1 (short upstream idle timeout), echo pod .2, capture
backends .3 (Host check) and .4 (closes its connections), gateway B .5 (long upstream idle timeout, at
most 2 idle upstream connections per endpoint), an echo pod that answers after 300 ms .6."""

import socket
import threading
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.32"
POD = "lifecycle-echo-7c9d8f6b5-l1f3c"
SLOW_POD = "lifecycle-slow-7c9d8f6b5-s10w0"


def config(c, name: str, ip: str, port: int):
    path = c.config_dir(name) / "lifecycle.yaml"
    path.write_text(mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("lifecycle-gateway", ip, port),
        mgtest.route_yaml("ok", "lifecycle-gateway", "/ok", "lifecycle-echo"),
        mgtest.route_yaml("cap", "lifecycle-gateway", "/cap", "lifecycle-capture"),
        mgtest.route_yaml("fin", "lifecycle-gateway", "/fin", "lifecycle-fin"),
        mgtest.route_yaml("slow", "lifecycle-gateway", "/slow", "lifecycle-slow"),
        mgtest.service_yaml("lifecycle-echo"),
        mgtest.service_yaml("lifecycle-slow"),
        mgtest.service_yaml("lifecycle-capture"),
        mgtest.service_yaml("lifecycle-fin"),
        mgtest.endpointslice_yaml("lifecycle-echo", [(f"{NET}.2", POD, True)]),
        mgtest.endpointslice_yaml("lifecycle-slow", [(f"{NET}.6", SLOW_POD, True)]),
        mgtest.endpointslice_yaml("lifecycle-capture", [(f"{NET}.3", "lifecycle-capture-5b7c8d9f6-c4p7r", True)]),
        mgtest.endpointslice_yaml("lifecycle-fin", [(f"{NET}.4", "lifecycle-fin-5b7c8d9f6-f1n00", True)]),
    ))
    return path


def exchange(ip: str, port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Sends raw bytes on a new connection and reads until the peer closes."""
    with socket.create_connection((ip, port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


class ConnectionLifecycle(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.c = c
        cls.ip_a, cls.port_a = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.ip_b, cls.port_b = f"{NET}.5", mgtest.free_port(f"{NET}.5")
        cls.config_a = config(c, "a", cls.ip_a, cls.port_a)
        cls.pod = c.echo(POD, f"{NET}.2")
        cls.slow_pod = c.echo(SLOW_POD, f"{NET}.6", extra_args=["--delay", "300"])
        cls.capture = c.capture(f"{NET}.3", 3000)
        cls.fin_backend = c.capture(f"{NET}.4", 3000)
        cls.gw_a = c.gateway(cls.config_a, admin_ip=cls.ip_a, workers=1, name="gateway-a", extra_args=[
            "--header-timeout", "1", "--idle-timeout", "30", "--upstream-idle-timeout", "1.5"])
        cls.gw_b = c.gateway(config(c, "b", cls.ip_b, cls.port_b), admin_ip=cls.ip_b, workers=1,
                             name="gateway-b", extra_args=["--upstream-idle-timeout", "60", "--idle-timeout", "4",
                                                           "--upstream-max-idle-per-endpoint", "2"])
        cls.pod.wait_ready()
        cls.slow_pod.wait_ready()
        cls.gw_a.wait_ready()
        cls.gw_b.wait_ready()

    def test_silent_new_connection_is_closed_after_the_header_timeout(self):
        with socket.create_connection((self.ip_a, self.port_a), timeout=10) as s:
            start = time.monotonic()
            self.assertEqual(s.recv(1), b"", "a silent connection got bytes")
            elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 0.8, "closed before the 1 s header timeout")
        self.assertLess(elapsed, 8.0, "held for the 30 s idle timeout instead of the 1 s header timeout")

    def test_http10_request_without_host_reaches_the_backend_with_one(self):
        reply = exchange(self.ip_a, self.port_a, b"GET /cap/no-host HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), reply[:200])
        got = wait_for(lambda: self.capture.find(lambda r: r.target == "/cap/no-host"), 5, "the request")
        self.assertEqual(got[0].header("Host"), "lifecycle-capture.default.svc:8080", got[0].headers)

    def test_http10_absolute_form_without_host_forwards_its_authority(self):
        reply = exchange(self.ip_a, self.port_a, b"GET http://lifecycle.example/cap/absolute HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), reply[:200])
        got = wait_for(lambda: self.capture.find(lambda r: r.target == "/cap/absolute"), 5, "the request")
        self.assertEqual(got[0].header("Host"), "lifecycle.example", got[0].headers)
        self.assertEqual(len([k for k, _ in got[0].headers if k.lower() == "host"]), 1, got[0].headers)

    def test_parked_keep_alive_connection_serves_its_next_requests(self):
        # Idle for more than a worker tick: the session ends and the connection is parked; the next
        # request starts a new session on it.
        parked = "mirrorgate_downstream_connections_parked"
        conn = mgtest.RawConnection(self.ip_a, self.port_a)
        self.addCleanup(conn.close)
        self.assertEqual(conn.request("GET", "/ok/before-idle").status, 200)
        wait_for(lambda: self.gw_a.metrics().get(parked) >= 1, 5, "the idle connection to be parked")
        r = conn.request("GET", "/ok/after-idle", headers={"X-Filler": "f" * 2000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["path"], "/ok/after-idle")
        wait_for(lambda: self.gw_a.metrics().get(parked) >= 1, 5, "the connection to be parked again")
        # Two requests in one write to a parked connection: both answered, in order.
        conn.sock.sendall(b"GET /ok/one HTTP/1.1\r\nHost: a\r\n\r\nGET /ok/two HTTP/1.1\r\nHost: a\r\n\r\n")
        first, second = conn.read_response("GET"), conn.read_response("GET")
        self.assertEqual((first.json()["path"], second.json()["path"]), ("/ok/one", "/ok/two"))
        # A client that closes while parked is gone from the gauge (and from the active connections).
        active = self.gw_a.metrics().get("mirrorgate_downstream_connections_active")
        wait_for(lambda: self.gw_a.metrics().get(parked) >= 1, 5, "the connection to be parked once more")
        conn.close()
        wait_for(lambda: self.gw_a.metrics().get("mirrorgate_downstream_connections_active") < active, 5,
                 "the closed parked connection to be forgotten")

    def test_parked_connection_closes_at_its_idle_deadline(self):
        # Gateway B: --idle-timeout 4. Parked after ~1-2 s; closed at 4 s after the response, not at the park.
        conn = mgtest.RawConnection(self.ip_b, self.port_b)
        self.addCleanup(conn.close)
        self.assertEqual(conn.request("GET", "/ok/deadline").status, 200)
        start = time.monotonic()
        wait_for(lambda: self.gw_b.metrics().get("mirrorgate_downstream_connections_parked") >= 1, 5,
                 "the idle connection to be parked")
        conn.sock.settimeout(15)
        self.assertEqual(conn.sock.recv(1), b"", "a parked connection got bytes")
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 3.5, "closed before the 4 s idle timeout")
        self.assertLess(elapsed, 8.0, "a parked connection outlived its idle timeout")
        wait_for(lambda: self.gw_b.metrics().get("mirrorgate_downstream_connections_parked") == 0, 5,
                 "the gauge to drop")

    def test_idle_upstream_connections_expire(self):
        expired = "mirrorgate_upstream_connections_expired_total"
        before = self.gw_a.metrics().get(expired)
        self.assertEqual(get(self.ip_a, self.port_a, "/ok/pooled").status, 200)
        # Pooled now; gone once --upstream-idle-timeout (1.5 s) has passed, with nothing sent.
        wait_for(lambda: self.gw_a.metrics().get(expired) > before, 10, "the idle upstream connection to expire")
        wait_for(lambda: self.gw_a.metrics().get("mirrorgate_upstream_connections_idle") == 0, 5,
                 "the pool to be empty")
        self.assertEqual(get(self.ip_a, self.port_a, "/ok/after-expiry").status, 200)

    def test_backend_close_of_an_idle_connection_is_noticed(self):
        self.assertEqual(get(self.ip_b, self.port_b, "/fin/pooled").status, 200)
        # The client may read its answer a moment before the worker pools the connection.
        wait_for(lambda: self.gw_b.metrics().get("mirrorgate_upstream_connections_idle") >= 1, 5,
                 "the connection to be pooled")
        self.fin_backend.close()  # FIN on the pooled connection; the 60 s idle timeout is far away
        start = time.monotonic()
        wait_for(lambda: self.gw_b.metrics().get("mirrorgate_upstream_connections_idle") == 0, 10,
                 "the gateway to close the connection its backend closed")
        self.assertLess(time.monotonic() - start, 10)
        self.assertGreaterEqual(self.gw_b.metrics().get("mirrorgate_upstream_connections_expired_total"), 1)

    def test_idle_upstream_connections_per_endpoint_are_capped(self):
        # Six requests at once hold six connections to the slow pod; two stay pooled afterwards.
        before = self.gw_b.metrics().get("mirrorgate_upstream_connections_idle")
        statuses = []
        threads = [threading.Thread(target=lambda i=i: statuses.append(
            get(self.ip_b, self.port_b, f"/slow/{i}", timeout=5).status)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(statuses, [200] * 6)
        self.assertEqual(self.slow_pod.echoed_paths().count("/slow/0"), 1)
        self.assertEqual(self.gw_b.metrics().get("mirrorgate_upstream_connections_idle") - before, 2)

    def test_second_gateway_on_the_same_port_fails_at_start(self):
        second = self.c.gateway(self.config_a, admin_ip=self.ip_a, workers=1, name="gateway-second")
        code = second.wait(START_WAIT)
        self.assertNotEqual(code, 0, second.describe())
        err = second.stderr() + second.stdout()
        self.assertIn("address already in use", err.lower(), err)
        self.assertIn("default/lifecycle-gateway", err, err)
        for i in range(10):  # every connection still reaches the first gateway
            self.assertEqual(get(self.ip_a, self.port_a, f"/ok/after-second-{i}").status, 200)

    def test_second_echo_on_the_same_address_fails_at_start(self):
        second = self.c.echo("lifecycle-echo-7c9d8f6b5-dup00", f"{NET}.2")
        code = second.wait(START_WAIT)
        self.assertNotEqual(code, 0, second.describe())
        self.assertIn("address already in use", second.stderr().lower(), second.describe())
        self.assertIn(f"{NET}.2:3000", second.stderr(), second.describe())
        self.assertEqual(get(f"{NET}.2", 3000, "/health").status, 200)


START_WAIT = 20.0

if __name__ == "__main__":
    mgtest.main()
