"""Upstream faults: a backend that refuses, resets mid-response, answers garbage or answers slowly. The
gateway must answer 502 (or cut the client off when the head is already out), keep serving other
connections meanwhile, keep /metrics up, and not leak file descriptors across many faulty requests.

Loopback block 127.0.20.0/24 (shared with test_hostile_http, which uses .1 and .2): gateway .11,
refusing endpoint .12 (nothing listens), resetting backend .13, garbage backend .14, slow backend .15,
healthy backend .16, keep-alive-closing backend .17, bad-chunk backend .18; every backend on port 3000."""

import os
import socket
import struct
import threading
import time
import unittest

import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.20"
SLOW_SECONDS = 2.0


class FaultyBackend(mgtest.ThreadedTcpServer):
    """A thread that accepts on ip:3000, reads each request head, then calls behaviour(conn, head)."""

    def __init__(self, ip: str, behaviour):
        super().__init__(ip, 3000, backlog=128, conn_timeout=None)
        self.requests: list[bytes] = []
        self.behaviour = behaviour
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int):
        conn.settimeout(0.1)
        buf = b""
        deadline = time.monotonic() + 10
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except socket.timeout:
                        if self.stop.is_set() or time.monotonic() > deadline:
                            return
                        continue
                    if not data:
                        return
                    buf += data
                end = buf.index(b"\r\n\r\n") + 4
                head, buf = buf[:end], buf[end:]
                with self.lock:
                    self.requests.append(head)
                if not self.behaviour(self, conn, head):
                    return
        except OSError as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        super().close(join_timeout=3)


def reset_mid_response(backend, conn, head):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"0123456789")
    time.sleep(0.05)  # let the partial body leave before the reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False  # close() now sends RST


def garbage(backend, conn, head):
    conn.sendall(b"HELLO\r\n\r\n")
    return False


def bad_chunk(backend, conn, head):
    """A chunked answer whose second chunk size is not hex, in one packet with its head."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nxx\r\n0\r\n\r\n")
    return False


def slow(backend, conn, head):
    backend.stop.wait(SLOW_SECONDS)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
    return True


def close_on_second_request(backend, conn, head):
    """Answers the first request of a connection with keep-alive, then closes the connection when the
    second arrives, unanswered: the race of a server's idle close with the gateway reusing the connection."""
    with backend.lock:
        n = backend.per_connection[conn.fileno()] = backend.per_connection.get(conn.fileno(), 0) + 1
    if n >= 2:
        backend.per_connection.pop(conn.fileno(), None)
        return False
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


def healthy(backend, conn, head):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


class UpstreamFaults(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.11", mgtest.free_port(f"{NET}.11")
        docs = [mgtest.gatewayclass_yaml(), mgtest.gateway_yaml("faults-gateway", cls.gw_ip, cls.gw_port)]
        for name, last in (("refuse", 12), ("reset", 13), ("garbage", 14), ("slow", 15), ("healthy", 16),
                           ("stale", 17), ("badchunk", 18)):
            docs += [mgtest.route_yaml(name, "faults-gateway", f"/{name}", f"{name}-backend"),
                     mgtest.service_yaml(f"{name}-backend"),
                     mgtest.endpointslice_yaml(f"{name}-backend",
                                               [(f"{NET}.{last}", f"{name}-backend-5b7c8d9f6-f{last}", True)])]
        config = c.config_dir() / "faults.yaml"
        config.write_text(mgtest.join_docs(*docs))
        for ip, behaviour in ((f"{NET}.13", reset_mid_response), (f"{NET}.14", garbage), (f"{NET}.15", slow),
                              (f"{NET}.16", healthy), (f"{NET}.18", bad_chunk), (f"{NET}.17", close_on_second_request)):
            c.captures.append(FaultyBackend(ip, behaviour))
        cls.stale_backend = c.captures[-1]
        cls.stale_backend.per_connection = {}
        cls.gw = c.gateway(config, admin_ip=cls.gw_ip, workers=1)
        cls.gw.wait_ready()

    def get(self, path: str, timeout: float = 5.0):
        return get(self.gw_ip, self.gw_port, path, timeout=timeout)

    def assert_still_serving(self):
        r = self.get(f"/healthy/{unique_id()}")
        self.assertEqual((r.status, r.body), (200, b"ok"), r)
        self.assertIn("mirrorgate_", self.gw.metrics().text)  # /metrics answers and parses

    def test_refusing_backend_is_502(self):
        r = self.get("/refuse/x")
        self.assertEqual(r.status, 502, r)
        self.assertLess(r.elapsed, 3.0)
        self.assert_still_serving()

    def test_garbage_answer_is_502(self):
        r = self.get("/garbage/x")
        self.assertEqual(r.status, 502, r)
        self.assert_still_serving()

    def test_malformed_body_found_before_anything_was_sent_is_502(self):
        # The bad chunk is in the first bytes read, so nothing of the answer went out: 502, not a cut.
        r = self.get("/badchunk/x")
        self.assertEqual(r.status, 502, r)
        self.assertNotIn(b"hello", r.body)
        self.assert_still_serving()

    def test_reset_mid_response_closes_the_client_without_a_complete_body(self):
        s = socket.create_connection((self.gw_ip, self.gw_port), timeout=5)
        buf, closed = b"", False
        deadline = time.monotonic() + 5
        try:
            s.sendall(b"GET /reset/x HTTP/1.1\r\nHost: gw\r\n\r\n")
            while time.monotonic() < deadline:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                except socket.timeout:
                    break
                if not data:
                    closed = True
                    break
                buf += data
        finally:
            s.close()
        self.assertTrue(closed, f"client connection still open after the upstream reset; got {buf!r}")
        self.assertTrue(buf.startswith(b"HTTP/1.1 200"), buf)
        body = buf.split(b"\r\n\r\n", 1)[1]
        self.assertLess(len(body), 100, f"a complete body was delivered for a reset upstream: {buf!r}")
        self.assert_still_serving()

    def test_slow_backend_still_answers_and_does_not_block_other_connections(self):
        result = {}

        def slow_request():
            try:
                result["slow"] = self.get("/slow/x", timeout=SLOW_SECONDS + 8)
            except Exception as e:  # noqa: BLE001 - asserted below
                result["slow"] = e

        t = threading.Thread(target=slow_request)
        start = time.monotonic()
        t.start()
        try:
            # Give the slow request time to reach its backend, then use another connection meanwhile.
            wait_for(lambda: any(b"/slow/x" in h for c in self.cluster.captures if c.ip == f"{NET}.15"
                                 for h in c.requests), 5, "slow request at its backend")
            r = self.get(f"/healthy/{unique_id()}")
            self.assertEqual(r.status, 200, r)
            self.assertLess(r.elapsed, 1.0, f"a request on another connection took {r.elapsed:.2f}s")
            self.assertLess(time.monotonic() - start, SLOW_SECONDS, "the parallel request waited for the slow one")
        finally:
            t.join(timeout=SLOW_SECONDS + 10)
        slow_response = result.get("slow")
        self.assertIsInstance(slow_response, mgtest.Response, slow_response)
        self.assertEqual((slow_response.status, slow_response.body), (200, b"slow"))
        self.assertGreaterEqual(slow_response.elapsed, SLOW_SECONDS * 0.9)

    def test_pooled_connection_closed_on_reuse_is_retried_on_a_new_connection(self):
        # The backend closes each connection when its second request arrives, unanswered. The gateway
        # reuses its pooled connection for the second GET, sees it closed before any response byte, and
        # sends the request again on a new connection instead of answering 502.
        for i in range(3):
            r = self.get(f"/stale/{i}-{unique_id()}")
            self.assertEqual((r.status, r.body), (200, b"ok"), (i, r))
        with self.stale_backend.lock:
            seen = len(self.stale_backend.requests)
        self.assertGreaterEqual(seen, 4, "the unanswered tries reached the backend too")

    def test_zz_no_fd_growth_after_many_faulty_requests(self):
        fd_dir = f"/proc/{self.gw.pid}/fd"

        def open_fds() -> int:
            return len(os.listdir(fd_dir))

        self.assert_still_serving()  # warm up: pools, admin connection, log files
        before = open_fds()
        paths = ["/refuse/x", "/garbage/x", "/reset/x"]
        for i in range(50):
            path = paths[i % len(paths)]
            try:
                r = self.get(path, timeout=5)
                if path != "/reset/x":
                    self.assertEqual(r.status, 502, (path, r))
            except (ConnectionError, OSError, mgtest.http.client.HTTPException):
                self.assertEqual(path, "/reset/x", "only the reset case may cut the client off")
        self.assert_still_serving()
        slack = 4
        wait_for(lambda: open_fds() <= before + slack, 5,
                 f"gateway fds back to at most {before}+{slack} (now {open_fds()})")


if __name__ == "__main__":
    mgtest.main()
