"""HTTP/2 with prior knowledge (h2c) to Services whose port says appProtocol kubernetes.io/h2c: the echo's
h2c port behind HTTP/1.1 and HTTP/2 clients, many requests multiplexed on few connections, a large
response to a slow client (the backend is held back by the flow-control windows), a backend's GOAWAY
(the refused request is sent again), a RST_STREAM (502), trailers, and a mirror copy to an h2c Service.

Loopback block 127.0.57.0/24: gateway .1, echo pod .2 (h2c port 3001), mirror echo pod .3 (h2c port),
raw HTTP/2 backend .4."""

import json
import socket
import struct
import threading
import time

import h2frames
import hpack_decode
import mgtest
from h2frames import DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, RST_STREAM, SETTINGS, WINDOW_UPDATE
from h2frames import frame, literal
from mgtest import wait_for

NET = "127.0.57"
V1 = "infra-backend-v1-7d9c6b5f4-h2c01"
V2 = "infra-backend-v2-5d4f8b7c9d-h2c02"
H2C = "kubernetes.io/h2c"
BIG = 16 * 1024 * 1024  # well above what the kernel buffers between the gateway and a client


class RawH2Backend(mgtest.ThreadedTcpServer):
    """An HTTP/2 server with prior knowledge that keeps to the flow-control windows: /big sends BIG bytes,
    /trailers a body and a trailer field, /reset a RST_STREAM, and the first connection that brings
    /goaway gets a GOAWAY with last-stream-id 0 (nothing processed) before any answer."""

    def __init__(self, ip: str, port: int):
        super().__init__(ip, port, conn_timeout=None)  # held until the gateway closes it, however idle
        self.big_sent = 0
        self.goaways = 0
        self.requests: list[str] = []
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int) -> None:
        buf = h2frames.read_preface(conn)
        if buf is None:
            return
        conn.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100)))
        decoder = hpack_decode.Decoder()
        state = {"conn_window": 65535, "initial": 65535, "windows": {}, "reset": set()}

        def read_frame():
            nonlocal buf
            while True:
                if len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) >= 9 + length:
                        f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + length])
                        buf = buf[9 + length:]
                        return f
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return None
                if not chunk:
                    return None
                buf += chunk

        def on_control(f) -> None:
            kind, flags, stream, payload = f
            if kind == SETTINGS and not flags & 1:
                for i in range(0, len(payload), 6):
                    ident, value = struct.unpack(">HI", payload[i:i + 6])
                    if ident == 4:
                        for s in state["windows"]:
                            state["windows"][s] += value - state["initial"]
                        state["initial"] = value
                conn.sendall(frame(SETTINGS, 1, 0))
            elif kind == RST_STREAM:
                state["reset"].add(stream)
            elif kind == WINDOW_UPDATE:
                inc = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
                if stream == 0:
                    state["conn_window"] += inc
                elif stream in state["windows"]:
                    state["windows"][stream] += inc

        def send_data(stream: int, data: bytes, end: bool) -> bool:
            pos = 0
            while pos < len(data):
                if stream in state["reset"]:
                    return True
                room = min(state["conn_window"], state["windows"][stream], 16384, len(data) - pos)
                if room <= 0:
                    f = read_frame()
                    if f is None:
                        return False
                    on_control(f)
                    continue
                last = end and pos + room == len(data)
                conn.sendall(frame(DATA, END_STREAM if last else 0, stream, data[pos:pos + room]))
                state["conn_window"] -= room
                state["windows"][stream] -= room
                pos += room
                if stream and data is not None and len(data) == BIG:
                    with self.lock:
                        self.big_sent += room
            return True

        while not self.stop.is_set():
            f = read_frame()
            if f is None:
                return
            kind, flags, stream, payload = f
            if kind != HEADERS:
                on_control(f)
                continue
            fields = dict(decoder.decode(payload))
            path = fields.get(":path", "")
            with self.lock:
                self.requests.append(path)
            state["windows"][stream] = state["initial"]
            if path.startswith("/raw/goaway") and number == 1:
                with self.lock:
                    self.goaways += 1
                conn.sendall(frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)))
                time.sleep(0.2)
                return
            if path.startswith("/raw/reset"):
                conn.sendall(frame(RST_STREAM, 0, stream, struct.pack(">I", 2)))
                continue
            if path.startswith("/raw/big"):
                conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200") +
                                   literal("content-type", "application/octet-stream")))
                if not send_data(stream, bytes(BIG), True):
                    return
                continue
            if path.startswith("/raw/trailers"):
                conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200")))
                send_data(stream, b"hello", False)
                conn.sendall(frame(HEADERS, END_HEADERS | END_STREAM, stream, literal("grpc-status", "0")))
                continue
            body = f"raw {path}".encode()
            conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200") +
                               literal("content-length", str(len(body)))))
            send_data(stream, body, True)


def config(ip: str, port: int, raw_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("h2c-gateway", ip, port),
        mgtest.route_yaml("h2c", "h2c-gateway", "/h2c", "infra-backend-v1"),
        mgtest.route_yaml("mirrored", "h2c-gateway", "/mirrored", "infra-backend-v1", mirror="infra-backend-v2"),
        mgtest.route_yaml("raw", "h2c-gateway", "/raw", "raw-backend", backend_port=raw_port),
        mgtest.service_yaml("infra-backend-v1", target_port=3001, app_protocol=H2C),
        mgtest.service_yaml("infra-backend-v2", target_port=3001, app_protocol=H2C),
        mgtest.service_yaml("raw-backend", port=raw_port, target_port=raw_port, app_protocol=H2C),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)], port=3001),
        mgtest.endpointslice_yaml("infra-backend-v2", [(f"{NET}.3", V2, True)], port=3001),
        mgtest.endpointslice_yaml("raw-backend", [(f"{NET}.4", "raw-backend-pod", True)], port=raw_port),
    )


class H2cUpstream(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        raw_port = mgtest.free_port(f"{NET}.4")
        cls.raw = RawH2Backend(f"{NET}.4", raw_port)
        c.captures.append(cls.raw)
        cfg = c.config_dir() / "config.yaml"
        cfg.write_text(config(cls.gw_ip, cls.gw_port, raw_port))
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.v2 = c.echo(V2, f"{NET}.3")
        cls.gw = c.gateway(cfg, admin_ip=cls.gw_ip)
        cls.v1.wait_ready()
        cls.v2.wait_ready()
        cls.gw.wait_ready()

    def get(self, path: str, **kw) -> mgtest.Response:
        return mgtest.get(self.gw_ip, self.gw_port, path, **kw)

    def test_http1_client_reaches_the_h2c_port_over_http2(self):
        r = self.get("/h2c/one")
        self.assertEqual(r.status, 200, r)
        echo = json.loads(r.body)
        self.assertEqual(echo["proto"], "HTTP/2.0")
        self.assertEqual(echo["path"], "/h2c/one")
        self.assertEqual(echo["pod"], V1)
        entry = wait_for(lambda: next((e for e in self.gw.access_log() if e.get("path") == "/h2c/one"), None),
                         10, "the access log line of /h2c/one")
        self.assertEqual(entry["upstream_protocol"], "h2c")

    def test_http2_client_reaches_the_h2c_port_over_http2(self):
        c = h2frames.RawH2(self.gw_ip, self.gw_port)
        try:
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, h2frames.request_block("/h2c/two", authority="h2c.example")))
            head = c.frames_until(lambda f: f[0] == HEADERS and f[2] == 1)
            self.assertIsNotNone(head)
            self.assertEqual(h2frames.status_of(head[3]), 200)
            body = b""
            while True:
                f = c.frames_until(lambda f: f[0] in (DATA, RST_STREAM) and f[2] == 1)
                self.assertIsNotNone(f)
                self.assertEqual(f[0], DATA)
                body += f[3]
                if f[1] & END_STREAM:
                    break
            echo = json.loads(body)
            self.assertEqual(echo["proto"], "HTTP/2.0")
            self.assertEqual(echo["host"], "h2c.example")
        finally:
            c.close()

    def test_echo_h2c_port_wants_http2_or_the_h2c_upgrade_token(self):
        r = mgtest.get(f"{NET}.2", 3001, "/health")
        self.assertEqual((r.status, r.body), (400, b"Expected h2c request\n"))
        r = mgtest.get(f"{NET}.2", 3001, "/health", headers={"Upgrade": "h2c"})
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["proto"], "HTTP/1.1")  # echoed, no router, no upgrade done
        c = h2frames.RawH2(f"{NET}.2", 3001)
        try:
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, h2frames.request_block("/status/500")))
            head = c.frames_until(lambda f: f[0] == HEADERS and f[2] == 1)
            self.assertEqual(h2frames.status_of(head[3]), 200)  # every path is echoed on this port
        finally:
            c.close()

    def test_many_concurrent_requests_share_few_connections(self):
        before = set(self.v1_peers())
        results = []

        def one(i):
            r = self.get(f"/h2c/many/{i}")
            results.append(r.status)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 60)
        peers = set(self.v1_peers()) - before
        # At most two h2c connections per endpoint per worker (two workers), whatever the concurrency.
        self.assertLessEqual(len(peers), 4, peers)
        # Counted as h2c connections (the raw backend's and the mirror's add a few), not one per request.
        self.assertLessEqual(self.gw.metrics().get("mirrorgate_upstream_h2c_connections_total"), 12)

    def v1_peers(self) -> list[str]:
        out = []
        for line in self.v1.stdout_lines():
            if line.startswith("Echoing back request made to /h2c/many/"):
                out.append(line.rsplit("(", 1)[1].rstrip(")"))
        return out

    def test_large_response_to_a_slow_client_is_held_back_by_flow_control(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.connect((self.gw_ip, self.gw_port))
        s.settimeout(10)
        s.sendall(b"GET /raw/big HTTP/1.1\r\nHost: big.example\r\n\r\n")
        time.sleep(1.5)  # the client reads nothing meanwhile
        with self.raw.lock:
            sent_while_stalled = self.raw.big_sent
        self.assertLess(sent_while_stalled, BIG // 2)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        # Chunked or with a length: count the payload by reading until the end of the stream.
        self.assertIn(b"transfer-encoding: chunked", head.lower())
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            body += chunk
        s.close()
        self.assertGreater(len(body), BIG)
        with self.raw.lock:
            self.assertEqual(self.raw.big_sent, BIG)

    def test_goaway_before_processing_sends_the_request_again(self):
        r = self.get("/raw/goaway")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"raw /raw/goaway")
        self.assertGreaterEqual(self.raw.goaways, 1)

    def test_rst_stream_is_a_502(self):
        r = self.get("/raw/reset")
        self.assertEqual(r.status, 502, r)

    def test_trailers_are_relayed(self):
        c = h2frames.RawH2(self.gw_ip, self.gw_port)
        try:
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                         h2frames.request_block("/raw/trailers", extra=[("te", "trailers")])))
            head = c.frames_until(lambda f: f[0] == HEADERS and f[2] == 1)
            self.assertIsNotNone(head)
            self.assertEqual(h2frames.status_of(head[3]), 200)
            trailer = c.frames_until(lambda f: f[0] == HEADERS and f[2] == 1)
            self.assertIsNotNone(trailer)
            self.assertTrue(trailer[1] & END_STREAM)
            decoder = hpack_decode.Decoder()
            decoder.decode(head[3])
            self.assertIn(("grpc-status", "0"), decoder.decode(trailer[3]))
        finally:
            c.close()

    def test_mirror_copy_to_an_h2c_service_arrives_over_http2(self):
        r = self.get("/mirrored/copy")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["proto"], "HTTP/2.0")
        # The h2c port answers an HTTP/1.1 request without Upgrade: h2c with a 400 it does not log: a
        # logged echo there came over HTTP/2.
        wait_for(lambda: any("request made to /mirrored/copy " in line for line in self.v2.stdout_lines()),
                 10, "the mirror copy on the mirror pod's h2c port")
        copy = wait_for(lambda: next((e for e in self.gw.access_log()
                                      if e.get("type") == "mirror" and e.get("path") == "/mirrored/copy"), None),
                        10, "the access log line of the copy")
        self.assertEqual(copy["outcome"], "completed")
        self.assertEqual(copy["upstream_protocol"], "h2c")


if __name__ == "__main__":
    mgtest.main()
