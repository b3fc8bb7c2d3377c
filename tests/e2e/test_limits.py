"""Limits, timeouts and lifecycle from the command line: --max-request-body (413), --header-timeout
(slowloris gets 408 and the connection is freed), --idle-timeout (idle keep-alive connection closed),
--max-connections (connections past the cap are closed at once and counted), --response-timeout (504
from a backend that never answers), and SIGTERM draining an in-flight request before exiting 0.

Loopback block 127.0.22.0/24: gateway .1, echo pod .2, black-hole capture backend .3."""

import socket
import threading
import time

import mgtest
from mgtest import get, wait_for

NET = "127.0.22"
POD = "limits-backend-6f8d9c7b5-l1m1t"


def recv_all(sock: socket.socket, timeout: float) -> bytes:
    """Reads until the peer closes or `timeout` passes."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


class Limits(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        config = c.config_dir() / "limits.yaml"
        config.write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("limits-gateway", cls.gw_ip, cls.gw_port),
            mgtest.route_yaml("ok", "limits-gateway", "/ok", "limits-backend"),
            mgtest.route_yaml("hang", "limits-gateway", "/hang", "hang-backend"),
            mgtest.service_yaml("limits-backend"),
            mgtest.service_yaml("hang-backend"),
            mgtest.endpointslice_yaml("limits-backend", [(f"{NET}.2", POD, True)]),
            mgtest.endpointslice_yaml("hang-backend", [(f"{NET}.3", "hang-backend-5b7c8d9f6-h4ng1", True)]),
        ))
        cls.pod = c.echo(POD, f"{NET}.2", extra_args=["--delay", "0"])
        cls.hang = c.capture(f"{NET}.3", 3000, mode="hang")
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, workers=1, extra_args=[
            "--max-request-body", "1000", "--header-timeout", "1", "--idle-timeout", "2",
            "--max-connections", "8", "--response-timeout", "1", "--drain-timeout", "5"])
        cls.pod.wait_ready()
        cls.gw.wait_ready()

    def connect(self) -> socket.socket:
        s = socket.create_connection((self.gw_ip, self.gw_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def test_body_over_limit_is_413_and_not_forwarded(self):
        before = len(self.pod.echoed_paths())
        r = mgtest.http_request(self.gw_ip, self.gw_port, "POST", "/ok/too-big", body=b"x" * 1001)
        self.assertEqual(r.status, 413, r)
        r = mgtest.http_request(self.gw_ip, self.gw_port, "POST", "/ok/fits", body=b"x" * 1000)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("/ok/too-big", self.pod.echoed_paths()[before:])

    def test_chunked_body_over_limit_is_413(self):
        s = self.connect()
        chunk = b"x" * 600
        s.sendall(b"POST /ok/chunked-too-big HTTP/1.1\r\nHost: limits\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
        reply = recv_all(s, 5)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413 "), reply[:200])

    def test_slowloris_gets_408_and_is_disconnected(self):
        s = self.connect()
        s.sendall(b"GET /ok HTTP/1.1\r\nHost: limits\r\n")  # never finishes the head
        start = time.monotonic()
        reply = recv_all(s, 5)
        elapsed = time.monotonic() - start
        self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply[:200])
        self.assertLess(elapsed, 3.0, "the 1 s header timeout took too long")

    def test_idle_keep_alive_connection_is_closed(self):
        s = self.connect()
        s.sendall(b"GET /ok/idle HTTP/1.1\r\nHost: limits\r\n\r\n")
        start = time.monotonic()
        data = recv_all(s, 6)  # the answer, then silence until the idle timeout closes the connection
        elapsed = time.monotonic() - start
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        self.assertGreater(elapsed, 1.5, "closed before the 2 s idle timeout")
        self.assertLess(elapsed, 5.0, "the idle connection was not closed")

    def test_connections_past_the_cap_are_refused_and_counted(self):
        held = [self.connect() for _ in range(8)]
        wait_for(lambda: self.gw.metrics().get("mirrorgate_downstream_connections_active") >= 8, 5,
                 "8 connections to be active")
        extra = self.connect()
        self.assertEqual(recv_all(extra, 2), b"", "a connection past --max-connections was served")
        wait_for(lambda: self.gw.metrics().get("mirrorgate_downstream_connections_rejected_total") >= 1, 5,
                 "the rejected connection to be counted")
        for s in held:
            s.close()
        wait_for(lambda: get(self.gw_ip, self.gw_port, "/ok/after-cap", timeout=2).status == 200, 5,
                 "service after the held connections closed")

    def test_backend_that_never_answers_is_504(self):
        start = time.monotonic()
        r = get(self.gw_ip, self.gw_port, "/hang/forever", timeout=5)
        self.assertEqual(r.status, 504, r)
        self.assertLess(time.monotonic() - start, 3.0)

    def test_zz_sigterm_drains_in_flight_request_then_exits_0(self):
        # Runs last (name order): it stops the gateway.
        result = {}

        def slow_request():
            result["r"] = get(self.gw_ip, self.gw_port, "/ok/slow?delay=800ms", timeout=10)

        t = threading.Thread(target=slow_request)
        t.start()
        wait_for(lambda: "/ok/slow?delay=800ms" in self.pod.echoed_paths(), 5, "the slow request to arrive")
        self.gw.signal(15)
        self.assertEqual(self.gw.wait(10), 0, self.gw.describe())
        t.join(10)
        self.assertIn("r", result, "the in-flight request got no answer")
        self.assertEqual(result["r"].status, 200, result["r"])
        with self.assertRaises(OSError):
            socket.create_connection((self.gw_ip, self.gw_port), timeout=1)


if __name__ == "__main__":
    mgtest.main()
