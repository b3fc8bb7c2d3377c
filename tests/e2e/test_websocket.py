"""WebSocket through the gateway (HTTP/1.1 Upgrade, RFC 6455) to the echo's /ws and to a raw backend:
messages both ways, control frames, refused and refusing upgrades, the tunnel idle timeout,
back-pressure, counters, the access log, no mirror copy, and an upgrade request smuggling a second one.

Loopback block 127.0.56.0/24: gateway .1, gateway with a short tunnel idle timeout .5, a gateway that
is drained .6, echo pod .2 (Service port with appProtocol kubernetes.io/ws), mirror echo pod .3, raw
backend .4."""

import os
import signal
import socket
import threading
import time

import h2frames
import mgtest
import wsframes
from h2frames import DATA, END_HEADERS, END_STREAM, HEADERS, RST_STREAM, SETTINGS, frame, literal, status_of
from mgtest import wait_for

NET = "127.0.56"
V1 = "infra-backend-v1-7d9c6b5f4-ws001"
V2 = "infra-backend-v2-5d4f8b7c9d-ws002"


def config(gateway: str, ip: str, port: int, raw_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml(gateway, ip, port),
        mgtest.route_yaml("ws", gateway, "/ws", "infra-backend-v1", mirror="infra-backend-v2"),
        mgtest.route_yaml("plain", gateway, "/plain", "infra-backend-v1"),
        mgtest.route_yaml("raw", gateway, "/raw", "raw-backend", backend_port=raw_port),
        mgtest.service_yaml("infra-backend-v1", app_protocol="kubernetes.io/ws"),
        mgtest.service_yaml("infra-backend-v2"),
        mgtest.service_yaml("raw-backend", port=raw_port, target_port=raw_port),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
        mgtest.endpointslice_yaml("infra-backend-v2", [(f"{NET}.3", V2, True)]),
        mgtest.endpointslice_yaml("raw-backend", [(f"{NET}.4", "raw-backend-pod", True)], port=raw_port),
    )


class RawBackend(mgtest.ThreadedTcpServer):
    """/raw/refuse answers 200 to the upgrade; /raw/flood switches and then sends as fast as it may.
    Every request line any connection brings is kept (a smuggled request would show here)."""

    def __init__(self, ip: str, port: int):
        super().__init__(ip, port, conn_timeout=0.5)
        self.requests: list[str] = []
        self.flood_sent = 0
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int) -> None:
        buf = b""
        while not self.stop.is_set():
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with self.lock:
                    self.requests.append(line)
                if " /raw/flood " in line:
                    self.flood(conn, head)
                    return
                if " /raw/halfclose " in line:
                    self.half_close(conn, head, buf)
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrefused")
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk

    @staticmethod
    def switch(conn: socket.socket, head: bytes) -> None:
        key = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {wsframes.accept_for(key)}\r\n\r\n").encode())

    def half_close(self, conn: socket.socket, head: bytes, got: bytes) -> None:
        """Switches, reads to the client's EOF, then answers how much it got and closes."""
        self.switch(conn, head)
        conn.settimeout(5)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        conn.sendall(f"got {len(got)} bytes after EOF".encode())
        conn.close()

    def flood(self, conn: socket.socket, head: bytes) -> None:
        self.switch(conn, head)
        piece = wsframes.frame(wsframes.BINARY, b"f" * 65530, mask=False)
        conn.settimeout(0.2)
        view = memoryview(piece)
        while not self.stop.is_set():
            try:
                n = conn.send(view)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.flood_sent += n
            view = view[n:] if n < len(view) else memoryview(piece)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class WebSocketThroughGateway(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.idle_ip, cls.idle_port = f"{NET}.5", mgtest.free_port(f"{NET}.5")
        raw_port = mgtest.free_port(f"{NET}.4")
        cls.raw_port = raw_port
        cls.raw = RawBackend(f"{NET}.4", raw_port)
        c.captures.append(cls.raw)
        main_cfg = c.config_dir("main") / "ws.yaml"
        main_cfg.write_text(config("ws-gateway", cls.gw_ip, cls.gw_port, raw_port))
        idle_cfg = c.config_dir("idle") / "ws.yaml"
        idle_cfg.write_text(config("ws-idle-gateway", cls.idle_ip, cls.idle_port, raw_port))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.v2 = c.echo(V2, f"{NET}.3")
        cls.gw = c.gateway(main_cfg, admin_ip=cls.gw_ip)
        cls.gw_idle = c.gateway(idle_cfg, admin_ip=cls.idle_ip, name="mirrorgate-idle",
                                extra_args=["--tunnel-idle-timeout", "1"])
        for p in (cls.v1, cls.v2):
            p.wait_ready()
        cls.gw.wait_ready()
        cls.gw_idle.wait_ready()

    def connect(self, path: str = "/ws", **kw) -> wsframes.WebSocket:
        return wsframes.WebSocket.connect(self.gw_ip, self.gw_port, path, **kw)

    def raw_request(self, data: bytes, ip: str | None = None, port: int | None = None) -> bytes:
        """Sends `data` and reads until the gateway closes the connection."""
        with socket.create_connection((ip or self.gw_ip, port or self.gw_port), timeout=5) as s:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk

    def test_text_and_binary_messages_come_back_as_text(self):
        # The upstream echo (x/net/websocket's default codec) writes every message back as a text frame,
        # whatever the client sent (echo-basic §9).
        with self.connect() as ws:
            ws.send(wsframes.TEXT, b"Websocket Support!")
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, b"Websocket Support!"))
            ws.send(wsframes.BINARY, bytes(range(256)))
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, bytes(range(256))))
            # A fragmented message comes back whole.
            ws.send(wsframes.TEXT, b"frag", fin=False)
            ws.send(wsframes.CONT, b"men", fin=False)
            ws.send(wsframes.CONT, b"ted")
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, b"fragmented"))

    def test_one_mebibyte_message(self):
        payload = os.urandom(1 << 20)
        with self.connect() as ws:
            ws.send(wsframes.BINARY, payload)
            opcode, got = ws.recv_message()
            self.assertEqual(opcode, wsframes.TEXT)
            self.assertEqual(len(got), len(payload))
            self.assertTrue(got == payload, "the 1 MiB message came back altered")

    def test_half_close_each_way(self):
        # The client's EOF reaches the backend as EOF while the backend can still answer; the backend's
        # close then ends the tunnel.
        sock = socket.create_connection((self.gw_ip, self.gw_port), timeout=5)
        with sock:
            sock.sendall(wsframes.handshake_request("/raw/halfclose", self.gw_ip, "dGhlIHNhbXBsZSBub25jZQ=="))
            head = wsframes.read_head(sock)
            self.assertEqual(head.status, 101)
            sock.sendall(b"x" * 100_000)
            sock.shutdown(socket.SHUT_WR)
            out = head.rest
            while chunk := sock.recv(65536):
                out += chunk
            self.assertEqual(out, b"got 100000 bytes after EOF")

    def test_ping_gets_pong(self):
        with self.connect() as ws:
            ws.send(wsframes.PING, b"are you there")
            self.assertEqual(ws.recv_frame(), (wsframes.PONG, True, b"are you there"))

    def test_close_handshake_then_both_ends_close(self):
        with self.connect() as ws:
            ws.send(wsframes.CLOSE, b"\x03\xe8bye")
            self.assertEqual(ws.recv_frame(), (wsframes.CLOSE, True, b"\x03\xe8"))
            self.assertEqual(ws.sock.recv(10), b"", "the connection stays open after the close handshake")

    def test_backend_refusing_the_upgrade_is_relayed_and_the_connection_ends(self):
        req = wsframes.handshake_request("/raw/refuse", self.gw_ip, "dGhlIHNhbXBsZSBub25jZQ==")
        # Bytes of the new protocol sent eagerly behind the head are never read as a request.
        out = self.raw_request(req + wsframes.frame(wsframes.TEXT, b"early"))
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:200])
        self.assertTrue(out.endswith(b"\r\n\r\nrefused"), out[-200:])
        self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)

    def test_other_upgrades_are_refused_and_h2c_is_ignored(self):
        req = wsframes.handshake_request("/ws", self.gw_ip, "x", upgrade="foo/1")
        out = self.raw_request(req)
        self.assertTrue(out.startswith(b"HTTP/1.1 403 "), out[:200])
        self.assertIn(b"upgrade not allowed", out)
        # h2c: the request is served as HTTP/1.1, its Upgrade dropped (Envoy does the same), and the
        # connection goes on.
        conn = mgtest.RawConnection(self.gw_ip, self.gw_port)
        try:
            for _ in range(2):
                r = conn.request("GET", "/plain", headers={"Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings",
                                                           "HTTP2-Settings": "AAMAAABkAAQAAP__"})
                self.assertEqual(r.status, 200, r)
                echoed = {k.lower() for k in r.json()["headers"]}
                self.assertNotIn("upgrade", echoed)
                self.assertNotIn("http2-settings", echoed)
        finally:
            conn.close()

    def test_an_upgrade_with_a_body_cannot_smuggle_a_request(self):
        smuggled = b"GET /raw/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        head = wsframes.handshake_request("/raw/refuse", self.gw_ip, "x").replace(
            b"\r\n\r\n", f"\r\nContent-Length: {len(smuggled)}\r\n\r\n".encode())
        out = self.raw_request(head + smuggled)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
        self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)
        # Without a length, the same bytes behind a refused upgrade are not a request either.
        out = self.raw_request(wsframes.handshake_request("/raw/refuse", self.gw_ip, "x") + smuggled)
        self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)
        time.sleep(0.2)  # the backend thread records what it got: nothing more may come
        with self.raw.lock:
            self.assertFalse([line for line in self.raw.requests if "smuggled" in line],
                             self.raw.requests)

    def test_silent_tunnel_is_closed_after_the_idle_timeout(self):
        started = time.monotonic()
        ws = wsframes.WebSocket.connect(self.idle_ip, self.idle_port, "/ws")
        with ws:
            ws.sock.settimeout(10)
            self.assertEqual(ws.sock.recv(10), b"", "the idle tunnel was not closed")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5)
        entries = wait_for(lambda: [e for e in self.gw_idle.access_log()
                                    if e.get("status") == 101 and e.get("error") == "tunnel idle timeout"],
                           5, "the idle tunnel's access log line")
        self.assertTrue(entries)

    def test_a_client_that_stops_reading_holds_the_backend_back(self):
        before = rss_kib(self.gw.pid)
        sock = socket.create_connection((self.gw_ip, self.gw_port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        try:
            sock.sendall(wsframes.handshake_request("/raw/flood", self.gw_ip, "dGhlIHNhbXBsZSBub25jZQ=="))
            head = wsframes.read_head(sock)
            self.assertEqual(head.status, 101)

            def plateau():
                with self.raw.lock:
                    first = self.raw.flood_sent
                time.sleep(0.5)
                with self.raw.lock:
                    return first if first > 0 and self.raw.flood_sent == first else None
            sent = wait_for(plateau, 15, "the flooding backend to be held back")
            # What is in flight: socket buffers on three hops and the gateway's one piece, not the flood.
            self.assertLess(sent, 32 << 20, f"{sent} bytes went out to a client that reads nothing")
            self.assertLess(rss_kib(self.gw.pid) - before, 32 << 10, "the gateway's RSS grew")
            # Once the client reads again, the bytes move.
            got = 0
            while got < sent + (1 << 20):
                chunk = sock.recv(1 << 20)
                self.assertTrue(chunk, "the tunnel closed")
                got += len(chunk)
        finally:
            sock.close()

    def test_tunnels_are_counted_logged_and_never_mirrored(self):
        with self.connect() as ws:
            rid = ws.response.headers.get("x-request-id")
            self.assertTrue(rid)
            ws.send(wsframes.TEXT, b"count me")
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, b"count me"))
            m = self.gw.metrics()
            self.assertGreaterEqual(m.get("mirrorgate_downstream_tunnels_active"), 1)
            ws.send(wsframes.CLOSE, b"\x03\xe8")
            ws.recv_frame()
        wait_for(lambda: self.gw.metrics().get("mirrorgate_downstream_tunnels_active") == 0, 5,
                 "no tunnel open")
        m = self.gw.metrics()
        self.assertGreaterEqual(m.get("mirrorgate_downstream_tunnels_total"), 1)
        entry = wait_for(lambda: self.gw.access_entries(rid, mirror=False), 5, "the tunnel's access log line")[0]
        self.assertEqual((entry["method"], entry["status"]), ("GET", 101), entry)
        self.assertEqual(entry["error"] if "error" in entry else "", "", entry)
        self.assertGreater(entry["request_bytes"], len("count me"), entry)
        self.assertGreater(entry["bytes"], len("count me"), entry)
        self.assertGreater(entry["duration_ms"], 0, entry)
        dropped = [v for labels, v in m.series("mirrorgate_mirror_copies_dropped_total")
                   if labels.get("reason") == "upgrade"]
        self.assertTrue(dropped and sum(dropped) >= 1, m.series("mirrorgate_mirror_copies_dropped_total"))
        self.assertFalse([line for line in self.v2.stdout_lines() if "websocket" in line],
                         "the mirror's echo saw a WebSocket")

    def test_sigterm_closes_an_open_tunnel_after_the_drain_timeout(self):
        ip = f"{NET}.6"
        port = mgtest.free_port(ip)
        cfg = self.cluster.config_dir("drain") / "ws.yaml"
        cfg.write_text(config("ws-drain-gateway", ip, port, self.raw_port))
        gw = self.cluster.gateway(cfg, admin_ip=ip, name="mirrorgate-drain", extra_args=["--drain-timeout", "1"])
        gw.wait_ready()
        with wsframes.WebSocket.connect(ip, port, "/ws") as ws:
            ws.send(wsframes.TEXT, b"before")
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, b"before"))
            started = time.monotonic()
            gw.signal(signal.SIGTERM)
            # The tunnel is a request in flight: it still works during the drain...
            ws.send(wsframes.TEXT, b"during")
            self.assertEqual(ws.recv_message(), (wsframes.TEXT, b"during"))
            # ...and is closed when the drain timeout ends, with the gateway.
            ws.sock.settimeout(10)
            try:
                rest = ws.sock.recv(10)
            except ConnectionResetError:
                rest = b""
            self.assertEqual(rest, b"")
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
            self.assertEqual(gw.wait(10), 0)

    def test_echo_alone_refuses_bad_handshakes_and_unmasked_frames(self):
        ip, port = self.v1.ip, self.v1.port
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        out = self.raw_request(wsframes.handshake_request("/ws", ip, key).replace(b"GET ", b"POST ", 1), ip, port)
        self.assertTrue(out.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), out)
        out = self.raw_request(wsframes.handshake_request("/ws", ip, key).replace(b"Version: 13", b"Version: 8"),
                               ip, port)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out)
        self.assertIn(b"\r\nSec-WebSocket-Version: 13\r\n", out)
        out = self.raw_request(wsframes.handshake_request("/ws", ip, key, origin=None), ip, port)
        self.assertTrue(out.startswith(b"HTTP/1.1 403 Forbidden\r\n"), out)
        with wsframes.WebSocket.connect(ip, port, "/ws") as ws:  # (connect checks Sec-WebSocket-Accept)
            ws.sock.sendall(wsframes.frame(wsframes.TEXT, b"plain", mask=False))
            self.assertEqual(ws.recv_frame(), (wsframes.CLOSE, True, b"\x03\xea"))  # 1002 protocol error

    def extended_connect(self, h2: h2frames.RawH2, stream: int, path: str, authority: str | None = None) -> int:
        """Opens a WebSocket over HTTP/2 (RFC 8441) on `stream`; its :status."""
        block = (literal(":method", "CONNECT") + literal(":protocol", "websocket") + literal(":scheme", "http") +
                 literal(":path", path) + literal(":authority", authority or f"{self.gw_ip}:{self.gw_port}") +
                 literal("sec-websocket-version", "13") + literal("origin", "http://localhost"))
        h2.send(frame(HEADERS, END_HEADERS, stream, block))
        f = h2.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM) and f[2] == stream)
        self.assertIsNotNone(f, "no answer to the extended CONNECT")
        self.assertEqual(f[0], HEADERS, f)
        return status_of(f[3])

    def h2_message(self, h2: h2frames.RawH2, stream: int, buf: bytearray) -> tuple[int, bool, bytes]:
        """The next WebSocket frame from the DATA of `stream`."""
        while (parsed := wsframes.parse(bytes(buf))) is None:
            f = h2.frames_until(lambda f: f[0] == DATA and f[2] == stream)
            self.assertIsNotNone(f, f"no DATA on stream {stream}; got {bytes(buf)!r}")
            buf += f[3]
            if f[3]:  # keep the windows open
                h2.send(frame(h2frames.WINDOW_UPDATE, 0, 0, len(f[3]).to_bytes(4, "big")) +
                        frame(h2frames.WINDOW_UPDATE, 0, stream, len(f[3]).to_bytes(4, "big")))
        opcode, fin, payload, rest = parsed
        buf[:] = rest
        return opcode, fin, payload

    def test_websocket_over_http2_extended_connect(self):
        h2 = h2frames.RawH2(self.gw_ip, self.gw_port)
        try:
            settings = h2.frames_until(lambda f: f[0] == SETTINGS and not f[1] & h2frames.ACK)
            pairs = {int.from_bytes(settings[3][i:i + 2], "big"): int.from_bytes(settings[3][i + 2:i + 6], "big")
                     for i in range(0, len(settings[3]), 6)}
            self.assertEqual(pairs.get(8), 1, f"SETTINGS_ENABLE_CONNECT_PROTOCOL not announced: {pairs}")
            self.assertEqual(self.extended_connect(h2, 1, "/ws"), 200)
            buf = bytearray()
            h2.send(frame(DATA, 0, 1, wsframes.frame(wsframes.TEXT, b"over h2")))
            self.assertEqual(self.h2_message(h2, 1, buf), (wsframes.TEXT, True, b"over h2"))
            big = os.urandom(200_000)  # past the 64 KiB windows both ways: flow control moves it
            data = wsframes.frame(wsframes.BINARY, big)
            for i in range(0, len(data), 16384):
                h2.send(frame(DATA, 0, 1, data[i:i + 16384]))
            self.assertEqual(self.h2_message(h2, 1, buf), (wsframes.TEXT, True, big))
            # A second tunnel on the same connection, beside the first.
            self.assertEqual(self.extended_connect(h2, 3, "/ws"), 200)
            h2.send(frame(DATA, 0, 3, wsframes.frame(wsframes.PING, b"p")))
            self.assertEqual(self.h2_message(h2, 3, bytearray()), (wsframes.PONG, True, b"p"))
            # The close handshake, then the backend's EOF is the stream's END_STREAM.
            h2.send(frame(DATA, 0, 1, wsframes.frame(wsframes.CLOSE, b"\x03\xe8")))
            self.assertEqual(self.h2_message(h2, 1, buf), (wsframes.CLOSE, True, b"\x03\xe8"))
            end = h2.frames_until(lambda f: f[2] == 1 and (f[1] & END_STREAM or f[0] == RST_STREAM))
            self.assertIsNotNone(end)
            self.assertEqual(end[0], DATA, end)
            h2.send(frame(DATA, END_STREAM, 1))
            # A backend that answers 200 instead of switching: the client must not take it for a tunnel.
            self.assertEqual(self.extended_connect(h2, 5, "/raw/refuse"), 502)
            # CONNECT without :protocol is still not served.
            h2.send(frame(HEADERS, END_HEADERS, 7, literal(":method", "CONNECT") +
                          literal(":authority", "h2.example:443")))
            f = h2.frames_until(lambda f: f[0] in (HEADERS, RST_STREAM) and f[2] == 7)
            self.assertEqual(status_of(f[3]), 501, f)
        finally:
            h2.close()
        # Logged as the client saw it: a CONNECT answered 200 (the backend's GET and 101 are the hop's).
        def tunnel_lines():
            lines = [e for e in self.gw.access_log() if e.get("protocol") == "HTTP/2" and e.get("path") == "/ws"]
            return lines if len(lines) == 2 else None
        entries = wait_for(tunnel_lines, 5, "the two HTTP/2 tunnels' access log lines")
        self.assertEqual([(e["method"], e["status"]) for e in entries], [("CONNECT", 200)] * 2, entries)
        self.assertGreater(max(e["bytes"] for e in entries), 200_000, entries)

    def test_silent_http2_tunnel_is_reset_after_the_idle_timeout(self):
        h2 = h2frames.RawH2(self.idle_ip, self.idle_port)
        try:
            self.assertEqual(self.extended_connect(h2, 1, "/ws", f"{self.idle_ip}:{self.idle_port}"), 200)
            started = time.monotonic()
            f = h2.frames_until(lambda f: f[0] == RST_STREAM and f[2] == 1, limit=10)
            self.assertIsNotNone(f, "the silent HTTP/2 tunnel was not reset")
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
        finally:
            h2.close()


if __name__ == "__main__":
    mgtest.main()
