"""An h2c backend that stops answering in the middle of a body: the gateway gives up on that one stream, and
only on it. The stream is reset (RST_STREAM CANCEL) on the shared connection to the backend, whose other
streams keep working before and after: when the response timeout passes (an HTTP/1.1 client, its answer cut
short), and when the client itself resets its HTTP/2 stream (long before any timeout).

Loopback block 127.0.151.0/24: gateway "short" .1 (--response-timeout 1), gateway "long" .2
(--response-timeout 60), raw HTTP/2 backend .4. One worker each, so that every request of a gateway goes
through the same shared backend connection."""

import socket
import struct
import time

import h2frames
import hpack_decode
import mgtest
from h2frames import DATA, END_HEADERS, END_STREAM, HEADERS, RST_STREAM, SETTINGS
from h2frames import frame, literal
from mgtest import wait_for

NET = "127.0.151"
H2C = "kubernetes.io/h2c"
STALL_LENGTH = 100_000  # declared by /stall, of which only STALL_SENT bytes ever come
STALL_SENT = 1000
CANCEL = 8


class StallingH2Backend(mgtest.ThreadedTcpServer):
    """An HTTP/2 server with prior knowledge: /stall... answers a head with a Content-Length and a first piece
    of the body, then nothing more on that stream; any other path gets "ok <path>" at once. Records which
    connection carried which stream, and every RST_STREAM it receives with its error code."""

    def __init__(self, ip: str, port: int):
        super().__init__(ip, port, conn_timeout=None)
        self.streams: dict[str, tuple[int, int]] = {}  # path -> (connection number, stream id)
        self.resets: list[tuple[int, int, int]] = []   # (connection number, stream id, error code)
        self.start_accepting()

    def serve(self, conn: socket.socket, peer, number: int) -> None:
        buf = h2frames.read_preface(conn)
        if buf is None:
            return
        decoder = hpack_decode.Decoder()
        conn.sendall(frame(SETTINGS, 0, 0))
        while not self.stop.is_set():
            f, buf = h2frames.next_frame(conn, buf)
            if f is None:
                return
            kind, flags, stream, payload = f
            if kind == SETTINGS and not flags & 1:
                conn.sendall(frame(SETTINGS, 1, 0))
            elif kind == RST_STREAM:
                with self.lock:
                    self.resets.append((number, stream, struct.unpack(">I", payload)[0]))
            elif kind == HEADERS:
                path = dict(decoder.decode(payload)).get(":path", "")
                with self.lock:
                    self.streams[path] = (number, stream)
                if path.startswith("/stall"):
                    conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200") +
                                       literal("content-length", str(STALL_LENGTH))) +
                                 frame(DATA, 0, stream, b"x" * STALL_SENT))
                else:
                    body = f"ok {path}".encode()
                    conn.sendall(frame(HEADERS, END_HEADERS, stream, literal(":status", "200") +
                                       literal("content-length", str(len(body)))) +
                                 frame(DATA, END_STREAM, stream, body))

    def stream_of(self, path: str) -> tuple[int, int]:
        with self.lock:
            return self.streams[path]

    def reset_of(self, path: str) -> int | None:
        """The error code of the RST_STREAM that ended `path`'s stream, None while there is none."""
        with self.lock:
            where = self.streams.get(path)
            return next((code for number, stream, code in self.resets if where == (number, stream)), None)


def config(ip: str, port: int, raw_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml("deadline-gateway", ip, port),
        mgtest.route_yaml("raw", "deadline-gateway", "/", "raw-backend", backend_port=raw_port),
        mgtest.service_yaml("raw-backend", port=raw_port, target_port=raw_port, app_protocol=H2C),
        mgtest.endpointslice_yaml("raw-backend", [(f"{NET}.4", "raw-backend-pod", True)], port=raw_port),
    )


class H2cStreamDeadline(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        raw_port = mgtest.free_port(f"{NET}.4")
        cls.raw = StallingH2Backend(f"{NET}.4", raw_port)
        c.captures.append(cls.raw)
        cls.gateways = {}
        for name, host, timeout in (("short", 1, "1"), ("long", 2, "60")):
            ip = f"{NET}.{host}"
            port = mgtest.free_port(ip)
            cfg = c.config_dir(name) / "config.yaml"
            cfg.write_text(config(ip, port, raw_port))
            gw = c.gateway(cfg, admin_ip=ip, workers=1, extra_args=["--response-timeout", timeout],
                           name=f"mirrorgate-{name}")
            cls.gateways[name] = (gw, ip, port)
        for gw, _, _ in cls.gateways.values():
            gw.wait_ready()

    def get_ok(self, gateway: str, path: str) -> tuple[int, int]:
        _, ip, port = self.gateways[gateway]
        r = mgtest.get(ip, port, path)
        self.assertEqual((r.status, r.body), (200, f"ok {path}".encode()), r)
        return self.raw.stream_of(path)

    def test_a_stalled_body_past_the_response_timeout_resets_only_its_stream(self):
        _, ip, port = self.gateways["short"]
        s = socket.create_connection((ip, port), timeout=15)
        try:
            s.sendall(b"GET /stall/timeout HTTP/1.1\r\nHost: stall.example\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < STALL_SENT:
                chunk = s.recv(65536)
                self.assertTrue(chunk, data)
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            self.assertIn(f"content-length: {STALL_LENGTH}".encode(), head.lower())
            stalled_connection, _ = self.raw.stream_of("/stall/timeout")
            # While that stream hangs, another one on the same backend connection is answered.
            self.assertEqual(self.get_ok("short", "/ok/during")[0], stalled_connection)
            # The response timeout ends the client's answer short: closing is the only honest signal.
            started = time.monotonic()
            while chunk := s.recv(65536):
                body += chunk
            self.assertLess(len(body), STALL_LENGTH)
            self.assertLess(time.monotonic() - started, 10)
        finally:
            s.close()
        self.assertEqual(wait_for(lambda: self.raw.reset_of("/stall/timeout"), 10,
                                  "the RST_STREAM of the stalled stream"), CANCEL)
        # The shared connection lives on: the next request still goes over it.
        self.assertEqual(self.get_ok("short", "/ok/after")[0], stalled_connection)

    def test_a_client_reset_of_a_stalled_stream_resets_the_backend_stream_only(self):
        _, ip, port = self.gateways["long"]
        c = h2frames.RawH2(ip, port, timeout=15)
        try:
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, h2frames.request_block("/stall/reset")))
            self.assertIsNotNone(c.frames_until(lambda f: f[0] == HEADERS and f[2] == 1))
            self.assertIsNotNone(c.frames_until(lambda f: f[0] == DATA and f[2] == 1))
            stalled_connection, _ = self.raw.stream_of("/stall/reset")
            c.send(frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
            # Well within the 60 s response timeout: the client's reset alone ends the backend's stream.
            self.assertEqual(wait_for(lambda: self.raw.reset_of("/stall/reset"), 10,
                                      "the RST_STREAM of the stream the client reset"), CANCEL)
            # The client's connection and the backend's shared one both go on.
            c.send(frame(HEADERS, END_HEADERS | END_STREAM, 3, h2frames.request_block("/ok/next")))
            head = c.frames_until(lambda f: f[0] == HEADERS and f[2] == 3)
            self.assertIsNotNone(head)
            self.assertEqual(h2frames.status_of(head[3]), 200)
        finally:
            c.close()
        self.assertEqual(self.raw.stream_of("/ok/next")[0], stalled_connection)


if __name__ == "__main__":
    mgtest.main()
