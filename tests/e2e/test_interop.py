"""Interop with real clients that are not ours: headless Chromium loads a page over HTTP/2 through an HTTPS
listener (a certificate made here, pinned in the browser by its key) and opens a WebSocket from that page;
the Python `websockets` library talks to the echo's /ws through the gateway over HTTP/1.1, in clear and over
TLS; the `h2` library (hyper's HTTP/2 stack) opens a WebSocket by extended CONNECT (RFC 8441) and frames its
messages with `websockets`' own frame codec. The other e2e tests speak HTTP/2 and WebSocket with the
project's own frame helpers (h2frames.py, wsframes.py); these show that independent implementations agree.

Both libraries come from PyPI through scripts/deps.sh; Chromium and chromedriver from Debian.

Loopback block 127.0.63.0/24: the seed scenario's Gateway (HTTP) and a second Gateway (HTTPS, for
www.example.com) on .1, the pods on .2-.5."""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import websockets.frames
import websockets.streams
import websockets.sync.client

import browser
import mgtest
from mgtest import unique_id, wait_for
from test_tls import make_certificate, secret_yaml

NET = "127.0.63"
HOST = "www.example.com"
ORIGIN = "https://www.example.com"


def spki_sha256(certificate_pem: str) -> str:
    """The base64 SHA-256 of a certificate's public key: what Chromium's --ignore-certificate-errors-spki-list
    pins (the certificate is trusted by its key, as a test CA would be, without touching a system store)."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=certificate_pem.encode(),
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der,
                            capture_output=True, check=True).stdout
    return base64.b64encode(digest).decode()


class Interop(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.ip = f"{NET}.1"
        cls.tls_port = mgtest.free_port(cls.ip)
        crt, key = make_certificate(c.config_dir("certs"), HOST)
        cls.certificate = crt
        extra = mgtest.join_docs(
            secret_yaml("interop-cert", crt, key),
            mgtest.https_gateway_yaml("interop-tls", cls.ip, cls.tls_port, HOST, "interop-cert"),
            mgtest.route_yaml("interop-tls", "interop-tls", "/", "infra-backend-v1", mirror="infra-backend-v2",
                              section="https"),
            mgtest.route_yaml("ws", "mirror-gateway", "/ws", "infra-backend-v1"))
        seed = mgtest.start_seed(c, NET, {"interop.yaml": extra})
        cls.gw, cls.port, cls.pods = seed.gw, seed.port, seed.pods
        wait_for(lambda: mgtest.port_open(cls.ip, cls.tls_port), mgtest.START_TIMEOUT, "the HTTPS listener")
        cls.browser = browser.start(c, [f"--host-resolver-rules=MAP {HOST} {cls.ip}",
                                        f"--ignore-certificate-errors-spki-list={spki_sha256(crt)}"])

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "browser", None):
            cls.browser.quit()
        super().tearDownClass()

    def tls_context(self, alpn: list[str]) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.certificate)
        ctx.set_alpn_protocols(alpn)
        return ctx

    def tunnels(self) -> float:
        return self.gw.metrics().get("mirrorgate_downstream_tunnels_total")

    def assert_echoes(self, ws, label: str) -> None:
        """Messages both ways: text, a binary frame (the echo answers every chunk as text, echo-basic §9),
        a burst larger than one TCP segment, and a ping answered by a pong."""
        ws.send(f"hello {label}")
        self.assertEqual(ws.recv(timeout=5), f"hello {label}")
        ws.send(b"binary \x01\x02")
        self.assertEqual(ws.recv(timeout=5), "binary \x01\x02")
        burst = [f"{label} message {i} " + "x" * 200 for i in range(50)]
        for m in burst:
            ws.send(m)
        received = "".join(ws.recv(timeout=5) for _ in range(len(burst)))
        # Boundaries hold for small messages but the echo may merge reads: compare the stream.
        while len(received) < len("".join(burst)):
            received += ws.recv(timeout=5)
        self.assertEqual(received, "".join(burst))
        self.assertTrue(ws.ping().wait(5), "no pong")

    def test_websockets_library_over_http1(self):
        before = self.tunnels()
        with websockets.sync.client.connect(f"ws://{self.ip}:{self.port}/ws", origin=ORIGIN,
                                            open_timeout=5, close_timeout=2) as ws:
            self.assertEqual(ws.response.status_code, 101)
            self.assert_echoes(ws, "h1")
        self.assertEqual(self.tunnels(), before + 1)

    def test_websockets_library_over_tls(self):
        sock = socket.create_connection((self.ip, self.tls_port), timeout=5)
        # TLS 1.2: the library's sync client reads from one thread while it writes from another, on one
        # Python SSLSocket; a TLS 1.3 session ticket arriving during its first write then races inside
        # OpenSSL ("[SSL] internal error" in the client, now and then). TLS 1.3 is covered by test_tls.
        ctx = self.tls_context(["http/1.1"])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with websockets.sync.client.connect(f"wss://{HOST}:{self.tls_port}/ws", sock=sock, origin=ORIGIN,
                                            ssl=ctx, server_hostname=HOST,
                                            open_timeout=5, close_timeout=2) as ws:
            self.assertEqual(ws.response.status_code, 101)
            self.assert_echoes(ws, "tls")

    def test_websocket_over_h2_extended_connect_with_the_h2_library(self):
        raw = socket.create_connection((self.ip, self.tls_port), timeout=5)
        sock = self.tls_context(["h2"]).wrap_socket(raw, server_hostname=HOST)
        self.assertEqual(sock.selected_alpn_protocol(), "h2")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        events: list = []

        def pump(until) -> None:
            deadline = time.monotonic() + 5
            while not until():
                self.assertLess(time.monotonic(), deadline, f"no answer; events so far: {events}")
                data = sock.recv(65536)
                self.assertTrue(data, "the gateway closed the connection")
                events.extend(conn.receive_data(data))
                sock.sendall(conn.data_to_send())

        pump(lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events))
        self.assertEqual(conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL), 1)
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                                   (":authority", HOST), (":path", "/ws"), ("sec-websocket-version", "13"),
                                   ("origin", ORIGIN)])
        sock.sendall(conn.data_to_send())
        pump(lambda: any(isinstance(e, h2.events.ResponseReceived) for e in events))
        status = dict(next(e for e in events if isinstance(e, h2.events.ResponseReceived)).headers)[":status"]
        self.assertEqual(status, "200")

        # websockets' sans-I/O frame parser: a generator that yields while it needs more bytes.
        reader = websockets.streams.StreamReader()
        messages: list[bytes] = []
        parser = [websockets.frames.Frame.parse(reader.read_exact, mask=False)]
        fed = 0

        def frames_arrived(n: int) -> bool:
            nonlocal fed
            data = [e for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == stream]
            for e in data[fed:]:
                reader.feed_data(e.data)
                conn.acknowledge_received_data(e.flow_controlled_length, stream)
            fed = len(data)
            while True:
                try:
                    next(parser[0])
                    return len(messages) >= n  # it waits for more bytes
                except StopIteration as done:
                    messages.append(done.value.data)
                    parser[0] = websockets.frames.Frame.parse(reader.read_exact, mask=False)

        for text in ("over h2 one", "over h2 two"):
            frame = websockets.frames.Frame(websockets.frames.Opcode.TEXT, text.encode())
            conn.send_data(stream, frame.serialize(mask=True))
        sock.sendall(conn.data_to_send())
        pump(lambda: frames_arrived(2))
        self.assertEqual(b"".join(messages), b"over h2 oneover h2 two")
        conn.end_stream(stream)
        sock.sendall(conn.data_to_send())
        sock.close()

    def test_chromium_loads_a_page_over_h2_and_the_request_is_mirrored(self):
        path = f"/interop/page-{unique_id()}"
        self.browser.go(f"https://{HOST}:{self.tls_port}{path}")
        text = self.browser.js("return document.body.innerText;")
        self.assertIn(path, text, text[:500])
        self.assertEqual(self.browser.js(
            "return performance.getEntriesByType('navigation')[0].nextHopProtocol;"), "h2")
        entries = wait_for(lambda: [e for e in self.gw.access_log() if e.get("path") == path
                                    and e.get("type") != "mirror"], 5, "the page's access log line")
        self.assertEqual(entries[0].get("protocol"), "HTTP/2", entries[0])
        v2 = [p for p in self.pods if "v2" in p.pod]
        wait_for(lambda: any(p.has_echoed(path) for p in v2), 5, "the copy of the page's request at v2")

    def test_chromium_opens_a_websocket_from_an_h2_page(self):
        self.browser.go(f"https://{HOST}:{self.tls_port}/interop/ws-page")
        before = self.tunnels()
        target = f"/ws?from=chromium-{unique_id()}"
        echoed = self.browser.js_async("""
            const done = arguments[arguments.length - 1];
            const ws = new WebSocket(`wss://${location.host}${arguments[0]}`);
            const got = [];
            ws.onopen = () => { ws.send('from chromium 1'); ws.send('from chromium 2'); };
            ws.onmessage = (m) => { got.push(m.data); if (got.join('').length >= 30) { ws.close(); done(got.join('')); } };
            ws.onerror = () => done('error');
            setTimeout(() => done('timeout: ' + got.join('')), 5000);
        """, target)
        self.assertEqual(echoed, "from chromium 1from chromium 2")
        wait_for(lambda: self.tunnels() == before + 1, 5, "the browser's tunnel counted")
        # RFC 8441: the browser opened it as a stream of its HTTP/2 connection (logged when the tunnel ends).
        lines = wait_for(lambda: [e for e in self.gw.access_log() if e.get("path") == target
                                  and e.get("type") != "mirror"], 5, "the tunnel's access log line")
        self.assertEqual(lines[0].get("protocol"), "HTTP/2", lines[0])


if __name__ == "__main__":
    mgtest.main()
